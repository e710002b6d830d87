/**
 * The comparison itself: exact by default, placeholders bound at first sight and enforced
 * later, `$NOW` within the window, and each named tolerance rule — a difference passes with
 * its rule and fails with that rule switched off, and only where the rule applies.
 */
import { describe, expect, it } from 'vitest';
import { Bindings, loadCase, type ExpNode } from '../../conformance/bind.js';
import { compareMessage, RULE_NAMES, type CompareOptions, type RuleName } from '../../conformance/compare.js';
import { parseKmipXmlItem } from '../../src/kmip/xml.js';
import { formatDateTime } from '../../src/kmip/text-values.js';

const NOW = 1_750_000_000n;
const window = { from: NOW - 10n, to: NOW + 10n };
const nowText = formatDateTime(NOW);

function resp(items: string, opts: { major?: number; minor?: number; header?: string; stamp?: string } = {}): string {
  const { major = 2, minor = 1, header = '', stamp = '$NOW' } = opts;
  return `<ResponseMessage><ResponseHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="${major}"/><ProtocolVersionMinor type="Integer" value="${minor}"/></ProtocolVersion><TimeStamp type="DateTime" value="${stamp}"/>${header}<BatchCount type="Integer" value="1"/></ResponseHeader>${items}</ResponseMessage>`;
}

function item(op: string, payload: string, extra = ''): string {
  return `<BatchItem><Operation type="Enumeration" value="${op}"/><ResultStatus type="Enumeration" value="Success"/>${extra}<ResponsePayload>${payload}</ResponsePayload></BatchItem>`;
}

function expected(xml: string, root = 'KMIP'): ExpNode {
  const m = loadCase(`<${root}>${xml}</${root}>`).messages[0];
  if (!m) throw new Error('no message');
  return m;
}

/** An actual response: placeholders in it are filled with `NOW` for times. */
function actual(xml: string) {
  return parseKmipXmlItem(xml.replaceAll('$NOW', nowText));
}

function cmp(exp: string, act: string, opts: Partial<CompareOptions> & { off?: RuleName; root?: string } = {}) {
  const bindings = opts.bindings ?? new Bindings();
  const rules = opts.off ? RULE_NAMES.filter((r) => r !== opts.off) : undefined;
  return compareMessage(expected(exp, opts.root), actual(act), {
    bindings,
    window,
    ...(rules && { rules }),
    ...(opts.reconstructed !== undefined && { reconstructed: opts.reconstructed }),
    ...(opts.requestBytes && { requestBytes: opts.requestBytes }),
  });
}

/** Passes with every rule, fails with `rule` off, and reports the use of `rule`. */
function expectRule(rule: RuleName, exp: string, act: string, extra: { root?: string; reconstructed?: boolean } = {}) {
  const on = cmp(exp, act, extra);
  expect(on.diffs).toEqual([]);
  expect(on.applied.get(rule)).toBeGreaterThan(0);
  expect(cmp(exp, act, { ...extra, off: rule }).diffs.length).toBeGreaterThan(0);
}

describe('exact comparison', () => {
  it('equal messages pass and use no rule', () => {
    const m = resp(item('Destroy', '<UniqueIdentifier type="TextString" value="abc"/>'));
    const r = cmp(m, m);
    expect(r.diffs).toEqual([]);
    expect(r.applied.size).toBe(0);
  });

  it('a different value, a missing item, an extra item and a different type each fail with the path', () => {
    const exp = resp(item('Create', '<ObjectType type="Enumeration" value="SymmetricKey"/><UniqueIdentifier type="TextString" value="x"/>'));
    const value = cmp(exp, resp(item('Create', '<ObjectType type="Enumeration" value="SecretData"/><UniqueIdentifier type="TextString" value="x"/>')));
    expect(value.diffs[0]?.path).toBe('ResponseMessage/BatchItem/ResponsePayload/ObjectType');
    expect(value.diffs[0]?.expected).toContain('SymmetricKey');
    expect(value.diffs[0]?.got).toContain('SecretData');
    expect(cmp(exp, resp(item('Create', '<ObjectType type="Enumeration" value="SymmetricKey"/>'))).diffs[0]?.got).toBe('(absent)');
    const extra = cmp(exp, resp(item('Create', '<ObjectType type="Enumeration" value="SymmetricKey"/><UniqueIdentifier type="TextString" value="x"/><Offset type="Interval" value="1"/>')));
    expect(extra.diffs[0]?.got).toMatch(/^unexpected/);
    const type = cmp(exp, resp(item('Create', '<ObjectType type="Integer" value="2"/><UniqueIdentifier type="TextString" value="x"/>')));
    expect(type.diffs[0]?.expected).toBe('type Enumeration');
  });

  it('order matters outside the places a rule covers', () => {
    const exp = resp(item('Locate', '<UniqueIdentifier type="TextString" value="a"/><UniqueIdentifier type="TextString" value="b"/>'));
    const act = resp(item('Locate', '<UniqueIdentifier type="TextString" value="b"/><UniqueIdentifier type="TextString" value="a"/>'));
    expect(cmp(exp, act).diffs.length).toBeGreaterThan(0);
  });
});

describe('placeholders', () => {
  it('binds $UNIQUE_IDENTIFIER_n at first sight and enforces it later', () => {
    const b = new Bindings();
    const exp = resp(item('Create', '<UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>'));
    expect(cmp(exp, resp(item('Create', '<UniqueIdentifier type="TextString" value="id-1"/>')), { bindings: b }).diffs).toEqual([]);
    expect(b.get('$UNIQUE_IDENTIFIER_0')).toBe('id-1');
    expect(cmp(exp, resp(item('Create', '<UniqueIdentifier type="TextString" value="id-1"/>')), { bindings: b }).diffs).toEqual([]);
    const wrong = cmp(exp, resp(item('Create', '<UniqueIdentifier type="TextString" value="id-2"/>')), { bindings: b });
    expect(wrong.diffs[0]?.expected).toContain('$UNIQUE_IDENTIFIER_0 = ');
  });

  it('binds non-text placeholders ($KEY_MATERIAL) by value', () => {
    const b = new Bindings();
    const exp = resp(item('Get', '<KeyMaterial type="ByteString" value="$KEY_MATERIAL_0"/>'));
    expect(cmp(exp, resp(item('Get', '<KeyMaterial type="ByteString" value="0102"/>')), { bindings: b }).diffs).toEqual([]);
    expect(cmp(exp, resp(item('Get', '<KeyMaterial type="ByteString" value="0103"/>')), { bindings: b }).diffs).toHaveLength(1);
  });

  it('$NOW passes inside the window and fails outside it', () => {
    const exp = resp(item('Destroy', '<UniqueIdentifier type="TextString" value="x"/>'));
    expect(cmp(exp, resp(item('Destroy', '<UniqueIdentifier type="TextString" value="x"/>'))).diffs).toEqual([]);
    const late = resp(item('Destroy', '<UniqueIdentifier type="TextString" value="x"/>'), { stamp: formatDateTime(NOW + 3600n) });
    expect(cmp(exp, late).diffs[0]?.path).toBe('ResponseMessage/ResponseHeader/TimeStamp');
  });

  it('requests: $NOW-3600 is computed when sent, client-chosen ids are generated and then enforced, unbound ids fail', () => {
    const { messages } = loadCase(
      '<KMIP><RequestMessage><BatchItem><Operation type="Enumeration" value="Register"/><RequestPayload><UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_RANDOM_0"/><ActivationDate type="DateTime" value="$NOW-3600"/></RequestPayload></BatchItem></RequestMessage>' +
        '<RequestMessage><BatchItem><Operation type="Enumeration" value="Get"/><RequestPayload><UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_3"/></RequestPayload></BatchItem></RequestMessage></KMIP>',
    );
    const b = new Bindings();
    const req = b.materialize(messages[0] as ExpNode, NOW);
    const payload = req.type === 'Structure' && req.value[0]?.type === 'Structure' ? req.value[0].value[1] : undefined;
    const fields = payload?.type === 'Structure' ? payload.value : [];
    expect(typeof fields[0]?.value).toBe('string');
    expect(fields[0]?.value).toBe(b.get('$UNIQUE_IDENTIFIER_RANDOM_0'));
    expect(fields[1]?.value).toBe(NOW - 3600n);
    expect(() => b.materialize(messages[1] as ExpNode, NOW)).toThrow(/before any response gave it a value/);
  });
});

describe('tolerance rules', () => {
  it('result-message: other text, absent, or added', () => {
    const exp = resp(
      '<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="DENIED"/></BatchItem>',
    );
    const other = exp.replace('DENIED', 'no object abc');
    expectRule('result-message', exp, other);
    expectRule('result-message', exp, exp.replace('<ResultMessage type="TextString" value="DENIED"/>', ''));
    expectRule('result-message', exp.replace('<ResultMessage type="TextString" value="DENIED"/>', ''), other);
  });

  it('result-message does not excuse a different ResultReason', () => {
    const exp = resp(
      '<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="x"/></BatchItem>',
    );
    expect(cmp(exp, exp.replace('ItemNotFound', 'PermissionDenied')).diffs).toHaveLength(1);
  });

  it('vendor-identification and server-information (Query only)', () => {
    const q = (v: string, info: string) =>
      resp(item('Query', `<Operation type="Enumeration" value="Query"/><VendorIdentification type="TextString" value="${v}"/><ServerInformation>${info}</ServerInformation>`));
    expectRule('vendor-identification', q('OASIS', ''), q('kmip-kms', ''));
    expectRule(
      'server-information',
      q('x', '<ServerName type="TextString" value="a"/>'),
      q('x', '<ServerName type="TextString" value="b"/><ServerSerialNumber type="TextString" value="1"/>'),
    );
    // Presence of ServerInformation is still required.
    expect(cmp(q('x', ''), resp(item('Query', '<Operation type="Enumeration" value="Query"/><VendorIdentification type="TextString" value="x"/>'))).diffs.length).toBeGreaterThan(0);
  });

  it('extra-attributes: 2.x Get Attributes may return more, in order; a missing one still fails', () => {
    const attrs = (inner: string) => resp(item('GetAttributes', `<UniqueIdentifier type="TextString" value="u"/><Attributes>${inner}</Attributes>`));
    const alg = '<CryptographicAlgorithm type="Enumeration" value="AES"/>';
    const len = '<CryptographicLength type="Integer" value="256"/>';
    const state = '<State type="Enumeration" value="PreActive"/>';
    expectRule('extra-attributes', attrs(alg + len), attrs(alg + state + len + state));
    expect(cmp(attrs(alg + len), attrs(alg + state)).diffs.length).toBeGreaterThan(0);
    // Not in other operations' payloads.
    const create = (inner: string) => resp(item('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${inner}`));
    expect(cmp(create(''), create(state)).diffs.length).toBeGreaterThan(0);
  });

  it('attribute-order: Get Attributes / Get Attribute List items in another order; elsewhere order stays strict', () => {
    const attrs = (inner: string) => resp(item('GetAttributes', `<UniqueIdentifier type="TextString" value="u"/><Attributes>${inner}</Attributes>`));
    const alg = '<CryptographicAlgorithm type="Enumeration" value="AES"/>';
    const len = '<CryptographicLength type="Integer" value="256"/>';
    expectRule('attribute-order', attrs(alg + len), attrs(len + alg));
    const name = (n: string) => `<AttributeReference><VendorIdentification type="TextString" value="x"/><AttributeName type="TextString" value="${n}"/></AttributeReference>`;
    const gal = (inner: string) => resp(item('GetAttributeList', `<UniqueIdentifier type="TextString" value="u"/>${inner}`));
    expectRule('attribute-order', gal(name('Barcode') + name('ID')), gal(name('ID') + name('Barcode')));
    // A missing or a different value still fails whatever the order.
    expect(cmp(attrs(alg + len), attrs('<CryptographicLength type="Integer" value="128"/>' + alg)).diffs).toHaveLength(1);
    expect(cmp(gal(name('Barcode') + name('ID')), gal(name('ID'))).diffs).toHaveLength(1);
    // Outside these answers, order is exact.
    const create = (inner: string) => resp(item('Create', inner));
    const ot = '<ObjectType type="Enumeration" value="SymmetricKey"/>';
    const uid = '<UniqueIdentifier type="TextString" value="u"/>';
    expect(cmp(create(ot + uid), create(uid + ot)).diffs.length).toBeGreaterThan(0);
  });

  it('extra-attributes: 1.x Get Attributes Attribute items and Get Attribute List names', () => {
    const a = (name: string, v: string) => `<Attribute><AttributeName type="TextString" value="${name}"/><AttributeValue type="Integer" value="${v}"/></Attribute>`;
    const ga = (inner: string) => resp(item('GetAttributes', `<UniqueIdentifier type="TextString" value="u"/>${inner}`), { major: 1, minor: 4 });
    expectRule('extra-attributes', ga(a('Cryptographic Length', '128')), ga(a('Lease Time', '5') + a('Cryptographic Length', '128')));
    const gal = (names: string[]) =>
      resp(item('GetAttributeList', `<UniqueIdentifier type="TextString" value="u"/>${names.map((n) => `<AttributeName type="TextString" value="${n}"/>`).join('')}`), {
        major: 1,
        minor: 4,
      });
    expectRule('extra-attributes', gal(['State', 'Digest']), gal(['State', 'Initial Date', 'Digest']));
  });

  it('query-extras: more operations and object types, any order; a missing one fails', () => {
    const q = (ops: string[]) => resp(item('Query', ops.map((o) => `<Operation type="Enumeration" value="${o}"/>`).join('') + '<ObjectType type="Enumeration" value="SymmetricKey"/>'));
    expectRule('query-extras', q(['Create', 'Get']), q(['Get', 'Locate', 'Create']));
    const missing = cmp(q(['Create', 'Encrypt']), q(['Create']));
    expect(missing.diffs[0]?.got).toContain('absent from the Query response');
  });

  it('discover-versions-extras: more versions, same order', () => {
    const pv = (vs: [number, number][]) =>
      resp(
        item(
          'DiscoverVersions',
          vs.map(([a, b]) => `<ProtocolVersion><ProtocolVersionMajor type="Integer" value="${a}"/><ProtocolVersionMinor type="Integer" value="${b}"/></ProtocolVersion>`).join(''),
        ),
      );
    expectRule(
      'discover-versions-extras',
      pv([
        [2, 0],
        [1, 4],
      ]),
      pv([
        [2, 1],
        [2, 0],
        [1, 4],
        [1, 0],
      ]),
    );
    expect(
      cmp(
        pv([
          [2, 0],
          [1, 4],
        ]),
        pv([
          [1, 4],
          [2, 0],
        ]),
      ).diffs.length,
    ).toBeGreaterThan(0);
  });

  it('attribute-index-zero: 1.x only', () => {
    const withIndex = '<Attribute><AttributeName type="TextString" value="Name"/><AttributeIndex type="Integer" value="0"/><AttributeValue type="Integer" value="1"/></Attribute>';
    const without = '<Attribute><AttributeName type="TextString" value="Name"/><AttributeValue type="Integer" value="1"/></Attribute>';
    const m = (a: string, major: number) => resp(item('AddAttribute', `<UniqueIdentifier type="TextString" value="u"/>${a}`), { major, minor: major === 1 ? 4 : 0 });
    expectRule('attribute-index-zero', m(withIndex, 1), m(without, 1));
    expectRule('attribute-index-zero', m(without, 1), m(withIndex, 1));
    expect(cmp(m(withIndex, 2), m(without, 2)).diffs.length).toBeGreaterThan(0);
    expect(cmp(m(withIndex.replace('value="0"', 'value="1"'), 1), m(without, 1)).diffs.length).toBeGreaterThan(0);
  });

  it('time-stamps: a literal header TimeStamp within the window; elsewhere a literal date stays exact', () => {
    const body = item('Destroy', '<UniqueIdentifier type="TextString" value="x"/>');
    expectRule('time-stamps', resp(body, { stamp: '2014-06-10T08:03:34+00:00' }), resp(body));
    const lit = (d: string) => resp(item('GetAttributes', `<UniqueIdentifier type="TextString" value="x"/><Attributes><ActivationDate type="DateTime" value="${d}"/></Attributes>`));
    expect(cmp(lit('2014-06-10T08:03:34+00:00'), lit(nowText)).diffs).toHaveLength(1);
  });

  it('reconstructed-times: literal response dates of <KmipTestCase> files', () => {
    const lit = (d: string) =>
      resp(item('GetAttributes', `<UniqueIdentifier type="TextString" value="x"/><Attributes><InitialDate type="DateTime" value="${d}"/></Attributes>`), { major: 1, minor: 0 });
    expectRule('reconstructed-times', lit('2012-04-27T08:12:24+00:00'), lit(nowText), { root: 'KmipTestCase', reconstructed: true });
    expect(cmp(lit('2012-04-27T08:12:24+00:00'), lit(nowText), { reconstructed: false }).diffs).toHaveLength(1);
  });

  it('digest: server-computed digest values differ', () => {
    const d = (v: string) =>
      resp(
        item(
          'GetAttributes',
          `<UniqueIdentifier type="TextString" value="x"/><Attributes><Digest><HashingAlgorithm type="Enumeration" value="SHA_256"/><DigestValue type="ByteString" value="${v}"/></Digest></Attributes>`,
        ),
      );
    expectRule('digest', d('aa'), d('bb'));
    // A DigestValue outside a Digest attribute is compared exactly.
    const other = (v: string) => resp(item('Hash', `<DigestValue type="ByteString" value="${v}"/>`));
    expect(cmp(other('aa'), other('bb')).diffs).toHaveLength(1);
  });

  it('rng-algorithm: only the RNG Algorithm of a Random Number Generator attribute may differ', () => {
    const rng = (alg: string, len = 256) =>
      resp(
        item(
          'GetAttributes',
          `<UniqueIdentifier type="TextString" value="x"/><Attributes><RandomNumberGenerator><RNGAlgorithm type="Enumeration" value="${alg}"/><CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="${len}"/></RandomNumberGenerator></Attributes>`,
        ),
      );
    expectRule('rng-algorithm', rng('ANSIX9_31'), rng('DRBG'));
    // The other fields are compared exactly, and so is an RNG Algorithm elsewhere (Query's RNG Parameters).
    expect(cmp(rng('ANSIX9_31'), rng('DRBG', 128)).diffs).toHaveLength(1);
    const q = (alg: string) => resp(item('Query', `<RNGParameters><RNGAlgorithm type="Enumeration" value="${alg}"/></RNGParameters>`));
    expect(cmp(q('ANSIX9_31'), q('DRBG')).diffs).toHaveLength(1);
    // 1.x: the AttributeValue of an Attribute named "Random Number Generator".
    const rng1 = (alg: string) =>
      resp(
        item(
          'GetAttributes',
          `<UniqueIdentifier type="TextString" value="x"/><Attribute><AttributeName type="TextString" value="Random Number Generator"/><AttributeValue><RNGAlgorithm type="Enumeration" value="${alg}"/></AttributeValue></Attribute>`,
        ),
        { major: 1, minor: 4 },
      );
    expectRule('rng-algorithm', rng1('ANSIX9_31'), rng1('DRBG'));
  });

  it('server-correlation-value: other value or absent', () => {
    const body = item('Destroy', '<UniqueIdentifier type="TextString" value="x"/>');
    const hdr = (v: string) => resp(body, { header: `<ServerCorrelationValue type="TextString" value="${v}"/>` });
    expectRule('server-correlation-value', hdr('65182B56'), hdr('ours'));
    expectRule('server-correlation-value', hdr('65182B56'), resp(body));
  });

  it('generated-key-material: literal key bytes the client never sent, same length only', () => {
    const km = (v: string) => resp(item('Get', `<KeyMaterial type="ByteString" value="${v}"/>`));
    expectRule('generated-key-material', km('0102030405060708'), km('1112131415161718'));
    expect(cmp(km('0102030405060708'), km('11121314')).diffs).toHaveLength(1);
    // Bytes the client registered must come back exactly.
    expect(cmp(km('0102030405060708'), km('1112131415161718'), { requestBytes: new Set(['0102030405060708']) }).diffs).toHaveLength(1);
  });

  it('message-extensions: a non-critical extension may be added, a critical one not', () => {
    const ext = (crit: boolean) =>
      `<MessageExtension><VendorIdentification type="TextString" value="v"/><CriticalityIndicator type="Boolean" value="${crit}"/><VendorExtension/></MessageExtension>`;
    const exp = resp(item('Destroy', '<UniqueIdentifier type="TextString" value="x"/>'));
    const withExt = (crit: boolean) => exp.replace('</ResponsePayload></BatchItem>', `</ResponsePayload>${ext(crit)}</BatchItem>`);
    expectRule('message-extensions', exp, withExt(false));
    expect(cmp(exp, withExt(true)).diffs.length).toBeGreaterThan(0);
  });

  it('reconstructed-whitespace: runs of spaces in <KmipTestCase> text values are read as one', () => {
    const { messages, collapsedTexts } = loadCase(
      '<KmipTestCase><RequestMessage><BatchItem><Operation type="Enumeration" value="GetAttributes"/><RequestPayload><AttributeName type="TextString" value="Unique   Identifier"/></RequestPayload></BatchItem></RequestMessage></KmipTestCase>',
    );
    expect(collapsedTexts).toBe(1);
    const req = new Bindings().materialize(messages[0] as ExpNode, NOW);
    expect(JSON.stringify(req, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toContain('"Unique Identifier"');
    const kmip = loadCase(
      '<KMIP><RequestMessage><BatchItem><Operation type="Enumeration" value="Get"/><RequestPayload><AttributeName type="TextString" value="a  b"/></RequestPayload></BatchItem></RequestMessage></KMIP>',
    );
    expect(kmip.collapsedTexts).toBe(0);
  });

  describe('varying-crypto-output', () => {
    const request = (op: string, payload: string) =>
      parseKmipXmlItem(
        `<RequestMessage><RequestHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="2"/><ProtocolVersionMinor type="Integer" value="1"/></ProtocolVersion><BatchCount type="Integer" value="1"/></RequestHeader><BatchItem><Operation type="Enumeration" value="${op}"/><RequestPayload>${payload}</RequestPayload></BatchItem></RequestMessage>`,
      );
    const uid = (u: string) => `<UniqueIdentifier type="TextString" value="${u}"/>`;
    const data = (v: string) => `<Data type="ByteString" value="${v}"/>`;
    /** Bindings after a Create (server-generated key k1) and a Register of a public key p1 and a symmetric key r1. */
    function world(): Bindings {
      const b = new Bindings();
      b.observeObjects(
        request('Create', '<ObjectType type="Enumeration" value="SymmetricKey"/>'),
        actual(resp(item('Create', `<ObjectType type="Enumeration" value="SymmetricKey"/>${uid('k1')}`))),
      );
      b.observeObjects(request('Register', '<ObjectType type="Enumeration" value="PublicKey"/>'), actual(resp(item('Register', uid('p1')))));
      b.observeObjects(request('Register', '<ObjectType type="Enumeration" value="SymmetricKey"/>'), actual(resp(item('Register', uid('r1')))));
      return b;
    }
    const run = (b: Bindings, op: string, reqPayload: string, exp: string, act: string, off?: RuleName) =>
      compareMessage(expected(resp(item(op, exp))), actual(resp(item(op, act))), {
        bindings: b,
        window,
        request: request(op, reqPayload),
        ...(off && { rules: RULE_NAMES.filter((r) => r !== off) }),
      });

    it('output under a server-generated key: same length passes, then the literal is bound for later requests and responses', () => {
      const b = world();
      const enc = run(b, 'Encrypt', uid('k1') + data('01020304'), uid('k1') + data('aaaaaaaa'), uid('k1') + data('bbbbbbbb'));
      expect(enc.diffs).toEqual([]);
      expect(enc.applied.get('varying-crypto-output')).toBe(1);
      expect(run(world(), 'Encrypt', uid('k1') + data('01020304'), uid('k1') + data('aaaaaaaa'), uid('k1') + data('bbbbbbbb'), 'varying-crypto-output').diffs).toHaveLength(1);
      // A later request sending the literal back sends this run's value…
      const dec = loadCase(
        `<KMIP>${'<RequestMessage><BatchItem><Operation type="Enumeration" value="Decrypt"/><RequestPayload><UniqueIdentifier type="TextString" value="k1"/><Data type="ByteString" value="aaaaaaaa"/></RequestPayload></BatchItem></RequestMessage>'}</KMIP>`,
      ).messages[0] as ExpNode;
      expect(JSON.stringify(b.materialize(dec, NOW), (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? String(v) : v))).toContain(
        '"bbbbbbbb"',
      );
      // …and a later response that shows the literal must show this run's value, not any other.
      expect(run(b, 'Encrypt', uid('k1') + data('05060708'), uid('k1') + data('aaaaaaaa'), uid('k1') + data('bbbbbbbb')).diffs).toEqual([]);
      expect(run(b, 'Encrypt', uid('k1') + data('05060708'), uid('k1') + data('aaaaaaaa'), uid('k1') + data('cccccccc')).diffs).toHaveLength(1);
    });

    it('a different length, a registered symmetric key with a client IV, and non-crypto items stay exact', () => {
      expect(run(world(), 'Encrypt', uid('k1') + data('01020304'), uid('k1') + data('aaaaaaaa'), uid('k1') + data('bbbbbb')).diffs).toHaveLength(1);
      const iv = '<IVCounterNonce type="ByteString" value="00000000000000000000000000000000"/>';
      expect(run(world(), 'Encrypt', uid('r1') + data('01020304') + iv, uid('r1') + data('aaaaaaaa'), uid('r1') + data('bbbbbbbb')).diffs).toHaveLength(1);
      expect(run(world(), 'Decrypt', uid('r1') + data('01020304'), uid('r1') + data('aaaaaaaa'), uid('r1') + data('bbbbbbbb')).diffs).toHaveLength(1);
      expect(
        run(world(), 'Get', uid('k1'), uid('k1') + '<KeyFormatType type="Enumeration" value="Raw"/>', uid('k1') + '<KeyFormatType type="Enumeration" value="Opaque"/>').diffs,
      ).toHaveLength(1);
    });

    it('an IV the server chose, RSA encryption under a registered public key, and RNG Retrieve vary', () => {
      const iv = (v: string) => `<IVCounterNonce type="ByteString" value="${v}"/>`;
      const ivRun = run(world(), 'Encrypt', uid('r1') + data('01020304'), uid('r1') + data('aaaaaaaa') + iv('1111'), uid('r1') + data('bbbbbbbb') + iv('2222'));
      expect(ivRun.diffs).toEqual([]);
      expect(ivRun.applied.get('varying-crypto-output')).toBe(2);
      expect(run(world(), 'Encrypt', uid('p1') + data('01020304'), uid('p1') + data('aaaaaaaa'), uid('p1') + data('bbbbbbbb')).diffs).toEqual([]);
      // Decrypt with a registered key is deterministic: exact.
      expect(run(world(), 'Decrypt', uid('p1') + data('01020304'), uid('p1') + data('aaaaaaaa'), uid('p1') + data('bbbbbbbb')).diffs).toHaveLength(1);
      // Randomised signatures: PSS named by the Sign request, or ECDSA by the key's registration; PKCS#1 v1.5 stays exact.
      const sig = (v: string) => `<SignatureData type="ByteString" value="${v}"/>`;
      const pss = '<CryptographicParameters><PaddingMethod type="Enumeration" value="PSS"/></CryptographicParameters>';
      const pkcs1 = '<CryptographicParameters><PaddingMethod type="Enumeration" value="PKCS1V1_5"/></CryptographicParameters>';
      expect(run(world(), 'Sign', uid('s1') + pss + data('01'), uid('s1') + sig('aaaa'), uid('s1') + sig('bbbb')).diffs).toEqual([]);
      expect(run(world(), 'Sign', uid('s1') + pkcs1 + data('01'), uid('s1') + sig('aaaa'), uid('s1') + sig('bbbb')).diffs).toHaveLength(1);
      const ec = world();
      ec.observeObjects(
        request(
          'Register',
          '<ObjectType type="Enumeration" value="PrivateKey"/><PrivateKey><KeyBlock><KeyFormatType type="Enumeration" value="ECPrivateKey"/><CryptographicAlgorithm type="Enumeration" value="ECDSA"/></KeyBlock></PrivateKey>',
        ),
        actual(resp(item('Register', uid('e1')))),
      );
      expect(run(ec, 'Sign', uid('e1') + data('01'), uid('e1') + sig('aaaaaa'), uid('e1') + sig('bbbb')).diffs).toEqual([]);
      const rng = run(world(), 'RNGRetrieve', '<DataLength type="Integer" value="4"/>', data('aaaaaaaa'), data('bbbbbbbb'));
      expect(rng.diffs).toEqual([]);
      expect(run(world(), 'RNGRetrieve', '<DataLength type="Integer" value="4"/>', data('aaaaaaaa'), data('bbbbbbbb'), 'varying-crypto-output').diffs).toHaveLength(1);
    });
  });

  it('every rule is documented', () => {
    for (const r of RULE_NAMES) expect(r).toMatch(/^[a-z-]+$/);
  });
});
