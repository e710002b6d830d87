/**
 * Unit cases for the KMIP XML encoding (KMIP Additional Message Encodings v1.0 §5.1) and
 * its XML reader, plus a fast-check round-trip property.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bigIntFromBytes, nodesEqual, t, type TtlvNode } from '../../src/ttlv/node.js';
import { KmipEncodingError, type KmipEncodingErrorCode } from '../../src/kmip/encoding-errors.js';
import { tagFromName } from '../../src/kmip/registry.js';
import { parseKmipXml, parseKmipXmlItem, toKmipXml, type ParseOptions } from '../../src/kmip/xml.js';
import { readXml } from '../../src/kmip/xml-reader.js';

function tag(name: string): number {
  const v = tagFromName(name);
  if (v === undefined) throw new Error(`no tag ${name}`);
  return v;
}

function one(xml: string, opts?: ParseOptions): TtlvNode {
  const nodes = parseKmipXml(xml, opts);
  expect(nodes.length).toBe(1);
  return nodes[0] as TtlvNode;
}

function scalar(xml: string, opts?: ParseOptions): TtlvNode['value'] {
  return one(xml, opts).value;
}

function xmlError(xml: string, opts?: ParseOptions): KmipEncodingError {
  try {
    parseKmipXml(xml, opts);
  } catch (e) {
    if (e instanceof KmipEncodingError) return e;
    throw new Error(`expected KmipEncodingError, got ${String(e)}`);
  }
  throw new Error('expected an error, parsed fine');
}

function expectError(xml: string, code: KmipEncodingErrorCode, message: RegExp, opts?: ParseOptions): KmipEncodingError {
  const e = xmlError(xml, opts);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  return e;
}

// ------------------------------------------------------------------ arbitrary TTLV trees

/** XML 1.0 can carry any character except C0 controls (other than tab, LF, CR), U+FFFE/F and lone surrogates. */
const xmlChar = fc
  .integer({ min: 0x09, max: 0x10ffff })
  .filter((cp) => cp === 0x09 || cp === 0x0a || cp === 0x0d || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000)
  .map((cp) => String.fromCodePoint(cp));
const xmlText = fc.oneof(
  fc.array(xmlChar, { maxLength: 12 }).map((a) => a.join('')),
  fc.constantFrom('', ' ', '$NOW', '$UNIQUE_IDENTIFIER_0', '&amp;', '<a>', '"\'', ' x ', 'a\r\nb'),
);
/** Tags: the registry's 0x42 range densely (most have names, enums or masks), extension tags, and a few unknown. */
const arbTag = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x420001, max: 0x420180 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0x540000, max: 0x54ffff }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffffff }) },
);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const smallDates = fc.bigInt({ min: -62135596800n, max: 253402300799n });
const bytes = fc.uint8Array({ maxLength: 24 });
const bigIntBytes = fc.integer({ min: 0, max: 3 }).chain((n) => fc.uint8Array({ minLength: n * 8, maxLength: n * 8 }));

function arbScalar(tagArb: fc.Arbitrary<number>): fc.Arbitrary<TtlvNode> {
  return tagArb.chain((tg) =>
    fc.oneof(
      i32.map((v) => t.int(tg, v)),
      i64.map((v) => t.long(tg, v)),
      bigIntBytes.map((v) => t.bigint(tg, v)),
      u32.map((v) => t.enum(tg, v)),
      fc.integer({ min: 0, max: 40 }).map((v) => t.enum(tg, v)),
      fc.boolean().map((v) => t.bool(tg, v)),
      xmlText.map((v) => t.text(tg, v)),
      bytes.map((v) => t.bytes(tg, v)),
      fc.oneof(smallDates, i64).map((v) => t.date(tg, v)),
      u32.map((v) => t.interval(tg, v)),
      fc
        .oneof(
          smallDates.map((s) => s * 1_000_000n + 123n),
          i64,
        )
        .map((v) => t.dateExt(tg, v)),
      xmlText.map((v): TtlvNode => ({ tag: tg, type: 'Identifier', value: v })),
      xmlText.map((v): TtlvNode => ({ tag: tg, type: 'Reference', value: v })),
      xmlText.map((v): TtlvNode => ({ tag: tg, type: 'NameReference', value: v })),
    ),
  );
}

/** A 1.x Attribute whose value's meaning comes from its name. */
const arbAttribute: fc.Arbitrary<TtlvNode> = fc
  .tuple(
    fc.constantFrom('Object Type', 'Cryptographic Algorithm', 'Cryptographic Usage Mask', 'State', 'Cryptographic Length', 'x-Custom', 'Nonsense'),
    fc.oneof(
      u32.map((v) => ['e', v] as const),
      i32.map((v) => ['i', v] as const),
      fc.integer({ min: 0, max: 8 }).map((v) => ['e', v] as const),
    ),
  )
  .map(([name, [kind, v]]) => t.struct(tag('Attribute'), [t.text(tag('AttributeName'), name), kind === 'e' ? t.enum(tag('AttributeValue'), v) : t.int(tag('AttributeValue'), v)]));

const arbTree: fc.Arbitrary<TtlvNode> = fc.letrec<{ node: TtlvNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbScalar(arbTag),
    arbAttribute,
    fc.tuple(arbTag, fc.array(tie('node'), { maxLength: 5 })).map(([tg, kids]) => t.struct(tg, kids)),
  ),
})).node;

function roundTrip(node: TtlvNode): TtlvNode {
  const back = parseKmipXmlItem(toKmipXml(node));
  expect(nodesEqual(back, node)).toBe(true);
  return back;
}

describe('XML reader', () => {
  it('reads the declaration, comments, whitespace, self-closing and empty elements', () => {
    const root = readXml(`<?xml version="1.0" encoding="UTF-8"?>\n<!-- c1 -->\n<A>\n  <!-- c2 -->\n  <B/>\n  <C></C>\n  <?pi x?>\n</A>\n<!-- c3 -->\n`);
    expect(root.name).toBe('A');
    expect(root.children.map((c) => c.name)).toEqual(['B', 'C']);
    expect(root.children.map((c) => c.line)).toEqual([5, 6]);
  });

  it('expands the five entities and decimal / hex character references', () => {
    const root = readXml(`<A v="&amp;&lt;&gt;&quot;&apos; &#913;&#x3A9;&#x1F600;"/>`);
    expect(root.attrs.get('v')).toBe(`&<>"' ΑΩ😀`);
  });

  it('accepts \' or " quotes, and the other quote inside', () => {
    const root = readXml(`<A a='say "hi"' b="it's" c = "x" />`);
    expect(root.attrs.get('a')).toBe('say "hi"');
    expect(root.attrs.get('b')).toBe("it's");
    expect(root.attrs.get('c')).toBe('x');
  });

  it('normalizes literal whitespace in attribute values but keeps character references (XML §3.3.3)', () => {
    const root = readXml(`<A v="a\tb\nc\r\nd" w="a&#9;b&#10;c&#13;d"/>`);
    expect(root.attrs.get('v')).toBe('a b c d');
    expect(root.attrs.get('w')).toBe('a\tb\nc\rd');
  });

  it.each([
    ['<A>', /not closed/],
    ['<A><B></A>', /mismatched end tag <\/A>, expected <\/B>/],
    ['<A></A></A>', /unbalanced end tag after the root/],
    ['<A/><B/>', /content after the root element/],
    ['<A>a ]]> b</A>', /']]>' in character data/],
    ['<A>a & b</A>', /bare '&' in character data/],
    ['<A/>text', /text outside the root element|content after the root/],
    ['<A v=x/>', /must be quoted/],
    ['<A v="x/>', /unterminated value/],
    ['<A v="&nbsp;"/>', /unknown entity &nbsp;/],
    ['<A v="a & b"/>', /bare '&'/],
    ['<A v="&#0;"/>', /not a legal XML character/],
    ['<A v="1" v="2"/>', /duplicate attribute v/],
    ['<A v="<"/>', /'<' in value/],
    ['<A><![CDATA[x]]></A>', /CDATA/],
    ['<!DOCTYPE A><A/>', /DOCTYPE/],
    ['<A><!-- x -- y --></A>', /'--' inside a comment/],
    [' <?xml version="1.0"?><A/>', /XML declaration not at the start/],
    ['', /no root element/],
    ['<A a="1"b="2"/>', /whitespace before attribute/],
  ])('rejects %j', (xml, message) => {
    let err: unknown;
    try {
      readXml(xml);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KmipEncodingError);
    expect((err as KmipEncodingError).code).toBe('XML_SYNTAX');
    expect((err as KmipEncodingError).message).toMatch(message);
  });

  it('refuses nesting deeper than 256 elements with a coded error, not a stack overflow', () => {
    for (const xml of ['<A>'.repeat(300) + '</A>'.repeat(300), '<A>'.repeat(100_000)]) {
      expect(() => readXml(xml)).toThrow(/nested deeper than 256/);
    }
    expect(readXml('<A>'.repeat(256) + '</A>'.repeat(256)).name).toBe('A');
  });

  it('reports character data between elements (with its line) instead of keeping it', () => {
    const root = readXml('<A>\n  <B/>\n  # a comment &amp; more\n  <C/>\n</A>');
    expect(root.textLine).toBe(3);
    expect(root.children.map((c) => c.textLine)).toEqual([undefined, undefined]);
  });

  it('reports the line of a syntax error', () => {
    const e = expectError('<RequestMessage>\n  <RequestHeader>\n  </RequestMessage>', 'XML_SYNTAX', /line 3/);
    expect(e.line).toBe(3);
  });
});

describe('parseKmipXml / toKmipXml', () => {
  it('returns the messages of a test-case file and the root of a single-message document', () => {
    const msg = `<RequestMessage><RequestHeader><BatchCount type="Integer" value="1"/></RequestHeader></RequestMessage>`;
    expect(parseKmipXml(`<KMIP>${msg}${msg}</KMIP>`).length).toBe(2);
    expect(parseKmipXml(`<KmipTestCase>\n${msg}\n</KmipTestCase>`).length).toBe(1);
    const nodes = parseKmipXml(msg);
    expect(nodes).toEqual([t.struct(tag('RequestMessage'), [t.struct(tag('RequestHeader'), [t.int(tag('BatchCount'), 1)])])]);
  });

  it('ignores commentary text directly in the test-case root, rejects text inside items', () => {
    const msg = `<RequestMessage><RequestHeader><BatchCount type="Integer" value="1"/></RequestHeader></RequestMessage>`;
    expect(parseKmipXml(`<KMIP>\n#\n# [[DeriveKey using SHA_256]]\n#\n${msg}\n</KMIP>`).length).toBe(1);
    const e = expectError(`<KMIP>\n<RequestMessage>\n<RequestHeader>\n  1\n</RequestHeader>\n</RequestMessage>\n</KMIP>`, 'XML_SYNTAX', /unexpected text inside <RequestHeader> \(line 4\)/);
    expect(e.path).toBe('KMIP/RequestMessage/RequestHeader');
    expectError(`<BatchCount type="Integer" value="1">1</BatchCount>`, 'XML_SYNTAX', /unexpected text inside <BatchCount>/);
  });

  it('reads empty structures in every spelling and writes them self-closed', () => {
    const empty = t.struct(tag('RequestPayload'), []);
    for (const xml of ['<RequestPayload/>', '<RequestPayload></RequestPayload>', '<RequestPayload type="Structure"/>', '<RequestPayload>\n</RequestPayload>']) {
      expect(one(xml)).toEqual(empty);
    }
    expect(toKmipXml(empty)).toBe('<RequestPayload/>');
  });

  it('writes indented XML by default and one line with indent ""', () => {
    const node = t.struct(tag('ProtocolVersion'), [t.int(tag('ProtocolVersionMajor'), 1), t.int(tag('ProtocolVersionMinor'), 4)]);
    expect(toKmipXml(node)).toBe('<ProtocolVersion>\n  <ProtocolVersionMajor type="Integer" value="1"/>\n  <ProtocolVersionMinor type="Integer" value="4"/>\n</ProtocolVersion>');
    expect(toKmipXml(node, { indent: '' })).toBe('<ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion>');
    expect(toKmipXml(node, { indent: '\t' })).toContain('\n\t<ProtocolVersionMajor');
  });

  it('round-trips entities, quotes and whitespace in text', () => {
    const text = `a & b < c > d "e" 'f' \ttab\nnewline\r\nCRLF Α  two  spaces `;
    const node = t.text(tag('NameValue'), text);
    const xml = toKmipXml(node);
    expect(xml).toBe(`<NameValue type="TextString" value="a &amp; b &lt; c &gt; d &quot;e&quot; 'f' &#9;tab&#10;newline&#13;&#10;CRLF Α  two  spaces "/>`);
    roundTrip(node);
    expect(scalar(`<NameValue type="TextString" value='Greek Capital Alpha (&#913;) &lt;kmip3@kmip.com>'/>`)).toBe('Greek Capital Alpha (Α) <kmip3@kmip.com>');
  });

  it('refuses to write a control character XML 1.0 cannot carry', () => {
    expect(() => toKmipXml(t.text(tag('NameValue'), 'a\u0001b'))).toThrow(KmipEncodingError);
  });

  describe('unknown / extension tags', () => {
    it('writes a tag the registry does not know as <TTLV tag="0x540001"> and reads it back', () => {
      const node = t.struct(tag('Attributes'), [t.text(0x540001, 'vendor text'), t.struct(0x540002, [t.int(0x540003, -7)]), t.struct(0x54ffff, [])]);
      const xml = toKmipXml(node);
      expect(xml).toContain('<TTLV tag="0x540001" type="TextString" value="vendor text"/>');
      expect(xml).toContain('<TTLV tag="0x540002">');
      expect(xml).toContain('</TTLV>');
      expect(xml).toContain('<TTLV tag="0x54FFFF"/>');
      roundTrip(node);
    });

    it('reads the general TTLV form with a name= attribute, for known tags too, and the x540001 element form', () => {
      expect(one('<TTLV tag="0x54FFFF" name="SomeExtension" type="DateTime" value="2001-01-01T10:00:00+10:00"/>')).toEqual(t.date(0x54ffff, 978307200n));
      expect(one('<TTLV tag="0x420057" type="Enumeration" value="SymmetricKey"/>')).toEqual(t.enum(tag('ObjectType'), 2));
      expect(one('<x540001 type="LongInteger" value="-2"/>')).toEqual(t.long(0x540001, -2n));
      expect(one('<ActivationDate xmlns="urn:oasis:tc:kmip:xmlns" type="DateTime" value="2001-01-01T10:00:00+10:00"/>')).toEqual(t.date(tag('ActivationDate'), 978307200n));
    });

    it('rejects a TTLV element without a hex tag', () => {
      expectError('<TTLV type="Integer" value="1"/>', 'UNKNOWN_TAG', /without a tag=/);
      expectError('<TTLV tag="ObjectType" type="Integer" value="1"/>', 'UNKNOWN_TAG', /not a 0x-prefixed 3-byte hex tag/);
      expectError('<TTLV tag="0x000000" type="Integer" value="1"/>', 'UNKNOWN_TAG', /out of range/);
    });
  });

  describe('enumerations', () => {
    it('reads names and hex, writes names', () => {
      expect(scalar('<ObjectType type="Enumeration" value="SymmetricKey"/>')).toBe(2);
      expect(scalar('<ObjectType type="Enumeration" value="0x00000002"/>')).toBe(2);
      expect(toKmipXml(t.enum(tag('ObjectType'), 2))).toBe('<ObjectType type="Enumeration" value="SymmetricKey"/>');
      expect(toKmipXml(t.enum(tag('ResultReason'), 0x07))).toBe('<ResultReason type="Enumeration" value="InvalidField"/>');
      // An accepted alias (older spelling) reads as its value; output uses the canonical name.
      expect(scalar('<ResultReason type="Enumeration" value="NotAuthorized"/>')).toBe(scalar('<ResultReason type="Enumeration" value="NotAuthorised"/>'));
    });

    it('keeps a vendor value 0x80000001 as 8-digit hex', () => {
      expect(scalar('<OpaqueDataType type="Enumeration" value="0x80000001"/>')).toBe(0x80000001);
      expect(toKmipXml(t.enum(tag('OpaqueDataType'), 0x80000001))).toBe('<OpaqueDataType type="Enumeration" value="0x80000001"/>');
      expect(toKmipXml(t.enum(tag('ObjectType'), 0x8000))).toBe('<ObjectType type="Enumeration" value="0x00008000"/>');
      roundTrip(t.enum(tag('CryptographicAlgorithm'), 0x80000001));
    });

    it('writes an enumeration of a tag without an enumeration, or of an unknown tag, as hex', () => {
      expect(toKmipXml(t.enum(tag('BatchCount'), 5))).toBe('<BatchCount type="Enumeration" value="0x00000005"/>');
      expect(toKmipXml(t.enum(0x540001, 1))).toBe('<TTLV tag="0x540001" type="Enumeration" value="0x00000001"/>');
    });

    it('reads and writes 2.x Attribute Reference values as tag names', () => {
      expect(scalar('<AttributeReference type="Enumeration" value="CryptographicAlgorithm"/>')).toBe(tag('CryptographicAlgorithm'));
      expect(toKmipXml(t.enum(tag('AttributeReference'), tag('State')))).toBe('<AttributeReference type="Enumeration" value="State"/>');
      expect(toKmipXml(t.enum(tag('AttributeReference'), 0x540001))).toBe('<AttributeReference type="Enumeration" value="0x00540001"/>');
    });

    it('reads the 2.x Unique Identifier enumeration', () => {
      expect(scalar('<UniqueIdentifier type="Enumeration" value="IDPlaceholder"/>')).toBe(1);
    });

    it('rejects unknown names with the element path and line', () => {
      const e = expectError(
        '<KMIP>\n<RequestMessage>\n  <BatchItem>\n    <Operation type="Enumeration" value="Creat"/>\n  </BatchItem>\n</RequestMessage>\n</KMIP>',
        'UNKNOWN_NAME',
        /"Creat" is not a value of enumeration Operation/,
      );
      expect(e.path).toBe('KMIP/RequestMessage/BatchItem/Operation');
      expect(e.line).toBe(4);
      expect(e.message).toMatch(/line 4/);
      expectError('<OpaqueDataType type="Enumeration" value="Vendor"/>', 'UNKNOWN_NAME', /not a value of enumeration OpaqueDataType/);
      expectError('<BatchCount type="Enumeration" value="One"/>', 'UNKNOWN_NAME', /no enumeration is known/);
      expectError('<AttributeReference type="Enumeration" value="NoSuchTag"/>', 'UNKNOWN_NAME', /not a tag name/);
      expectError('<ObjectType type="Enumeration" value="0x100000000"/>', 'BAD_VALUE', /more than 8 hex digits/);
    });
  });

  describe('masks', () => {
    const CUM = 'CryptographicUsageMask';
    it('reads names separated by spaces (any amount) or |, hex components, and decimal', () => {
      expect(scalar(`<${CUM} type="Integer" value="Encrypt Decrypt"/>`)).toBe(12);
      expect(scalar(`<${CUM} type="Integer" value="Decrypt   Encrypt"/>`)).toBe(12);
      expect(scalar(`<${CUM} type="Integer" value="Encrypt|Decrypt"/>`)).toBe(12);
      expect(scalar(`<${CUM} type="Integer" value="0x0000100c"/>`)).toBe(0x100c);
      expect(scalar(`<${CUM} type="Integer" value="CertificateSign 0x00000004 0x0000008"/>`)).toBe(0x100c);
      expect(scalar(`<${CUM} type="Integer" value="CertificateSign 0x0000000c"/>`)).toBe(0x100c);
      expect(scalar(`<${CUM} type="Integer" value="12"/>`)).toBe(12);
      expect(scalar(`<ProtectionStorageMask type="Integer" value="Software Hardware"/>`)).toBe(3);
      expect(scalar(`<StorageStatusMask type="Integer" value="OnLineStorage"/>`)).toBe(1);
    });

    it('writes flag names (bit order), unnamed bits as one hex component, 0 as 0', () => {
      expect(toKmipXml(t.int(tag(CUM), 0x100c))).toBe(`<${CUM} type="Integer" value="Encrypt Decrypt CertificateSign"/>`);
      expect(toKmipXml(t.int(tag(CUM), 0x4000000c | 0))).toBe(`<${CUM} type="Integer" value="Encrypt Decrypt 0x40000000"/>`);
      expect(toKmipXml(t.int(tag(CUM), 0x80000000 | 0))).toBe(`<${CUM} type="Integer" value="0x80000000"/>`);
      expect(toKmipXml(t.int(tag(CUM), 0))).toBe(`<${CUM} type="Integer" value="0"/>`);
      for (const v of [0, 1, 12, 0x4000000c, -1, 0x00ffffff]) roundTrip(t.int(tag(CUM), v));
    });

    it('rejects unknown flag names', () => {
      expectError(`<${CUM} type="Integer" value="Encrypt Frobnicate"/>`, 'UNKNOWN_NAME', /"Frobnicate" not in mask CryptographicUsageMask/);
    });
  });

  describe('Attribute Value takes its meaning from the sibling Attribute Name (1.x)', () => {
    const attr = (name: string, type: string, value: string): string =>
      `<Attribute><AttributeName type="TextString" value="${name}"/><AttributeIndex type="Integer" value="0"/><AttributeValue type="${type}" value="${value}"/></Attribute>`;
    const valueOf = (xml: string): TtlvNode['value'] => {
      const s = one(xml);
      if (s.type !== 'Structure') throw new Error('not a structure');
      return (s.value[2] as TtlvNode).value;
    };

    it('enumerations and masks of the named attribute', () => {
      expect(valueOf(attr('Object Type', 'Enumeration', 'SymmetricKey'))).toBe(2);
      expect(valueOf(attr('Cryptographic Algorithm', 'Enumeration', 'AES'))).toBe(3);
      expect(valueOf(attr('State', 'Enumeration', 'PreActive'))).toBe(1);
      expect(valueOf(attr('Cryptographic Usage Mask', 'Integer', 'Decrypt Encrypt'))).toBe(12);
      expect(valueOf(attr('Certificate Type', 'Enumeration', 'X_509'))).toBe(1);
      expect(valueOf(attr('Cryptographic Length', 'Integer', '256'))).toBe(256);
    });

    it('writes them back by name', () => {
      const node = one(attr('Cryptographic Usage Mask', 'Integer', 'Decrypt Encrypt'));
      expect(toKmipXml(node)).toContain('<AttributeValue type="Integer" value="Encrypt Decrypt"/>');
      const node2 = one(attr('Object Type', 'Enumeration', 'PrivateKey'));
      expect(toKmipXml(node2)).toContain('<AttributeValue type="Enumeration" value="PrivateKey"/>');
      roundTrip(node);
      roundTrip(node2);
    });

    it('custom attributes ("x-…") have no names: numbers and hex only', () => {
      expect(valueOf(attr('x-VendorAttribute2', 'Integer', '1'))).toBe(1);
      expect(valueOf(attr('x-Custom', 'Enumeration', '0x00000002'))).toBe(2);
      expectError(attr('x-Custom', 'Enumeration', 'SymmetricKey'), 'UNKNOWN_NAME', /AttributeValue: enumeration value "SymmetricKey" cannot be resolved \(no enumeration is known/);
      expectError(attr('x-Custom', 'Integer', 'Encrypt'), 'BAD_VALUE', /not a valid Integer/);
      expect(toKmipXml(one(attr('x-Custom', 'Enumeration', '0x00000002')))).toContain('value="0x00000002"');
    });

    it('an Attribute Value without an Attribute Name sibling is plain', () => {
      expectError('<Attribute><AttributeValue type="Enumeration" value="AES"/></Attribute>', 'UNKNOWN_NAME', /no enumeration is known/);
    });
  });

  describe('numbers', () => {
    it('Integer: decimal, 0x hex (two’s complement), range', () => {
      expect(scalar('<BatchCount type="Integer" value="10"/>')).toBe(10);
      expect(scalar('<BatchCount type="Integer" value="-2147483648"/>')).toBe(-2147483648);
      expect(scalar('<BatchCount type="Integer" value="0x0000000A"/>')).toBe(10);
      expect(scalar('<BatchCount type="Integer" value="0xffffffff"/>')).toBe(-1);
      expectError('<BatchCount type="Integer" value="2147483648"/>', 'BAD_VALUE', /outside the signed 32-bit range/);
      expectError('<BatchCount type="Integer" value="ten"/>', 'BAD_VALUE', /BatchCount: "ten" is not a valid Integer/);
      expectError('<BatchCount type="Integer" value="1.5"/>', 'BAD_VALUE', /not a valid Integer/);
      expectError('<BatchCount type="Integer" value=""/>', 'BAD_VALUE', /not a valid Integer/);
      expect(toKmipXml(t.int(tag('BatchCount'), -5))).toBe('<BatchCount type="Integer" value="-5"/>');
    });

    it('LongInteger: 64-bit decimal and hex', () => {
      expect(scalar('<UsageLimitsCount type="LongInteger" value="1152921504606846976"/>')).toBe(1n << 60n);
      expect(scalar('<UsageLimitsCount type="LongInteger" value="0xfffffffffffffffe"/>')).toBe(-2n);
      expect(scalar('<UsageLimitsCount type="LongInteger" value="-9223372036854775808"/>')).toBe(-(1n << 63n));
      expectError('<UsageLimitsCount type="LongInteger" value="9223372036854775808"/>', 'BAD_VALUE', /signed 64-bit/);
      roundTrip(t.long(tag('UsageLimitsCount'), -(1n << 63n)));
    });

    it('Interval: unsigned 32-bit', () => {
      expect(scalar('<LeaseTime type="Interval" value="4294967295"/>')).toBe(0xffffffff);
      expect(scalar('<Offset type="Interval" value="0x0000001b"/>')).toBe(27);
      expectError('<LeaseTime type="Interval" value="-1"/>', 'BAD_VALUE', /unsigned 32-bit/);
    });

    it('BigInteger: exact bytes, negative and sign-extended values survive', () => {
      const neg = scalar('<D type="BigInteger" value="ffffffffffffff85"/>'.replace(/D/g, 'PrivateExponent')) as Uint8Array;
      expect(bigIntFromBytes(neg)).toBe(-123n);
      // Sign extension beyond the minimal 8 bytes is kept, not re-minimized.
      const ext = scalar('<PrivateExponent type="BigInteger" value="ffffffffffffffffffffffffffffff85"/>') as Uint8Array;
      expect(ext.length).toBe(16);
      expect(bigIntFromBytes(ext)).toBe(-123n);
      const pos = scalar('<PrivateExponent type="BigInteger" value="00000000000000000000000000000080"/>') as Uint8Array;
      expect(pos.length).toBe(16);
      expect(toKmipXml(t.bigint(tag('PrivateExponent'), ext))).toBe('<PrivateExponent type="BigInteger" value="ffffffffffffffffffffffffffffff85"/>');
      roundTrip(t.bigint(tag('PrivateExponent'), ext));
      roundTrip(t.bigint(tag('PrivateExponent'), pos));
      // Short forms are sign-extended to a multiple of 8 bytes.
      expect(bigIntFromBytes(scalar('<PrivateExponent type="BigInteger" value="ff85"/>') as Uint8Array)).toBe(-123n);
      expect(Buffer.from(scalar('<PrivateExponent type="BigInteger" value="80"/>') as Uint8Array).toString('hex')).toBe('ffffffffffffff80');
      expect(Buffer.from(scalar('<PrivateExponent type="BigInteger" value="0x7f"/>') as Uint8Array).toString('hex')).toBe('000000000000007f');
      expectError('<PrivateExponent type="BigInteger" value="-123"/>', 'BAD_VALUE', /expected hex digits/);
    });

    it('Boolean: true / false (and 1 / 0), nothing else', () => {
      expect(scalar('<BatchOrderOption type="Boolean" value="true"/>')).toBe(true);
      expect(scalar('<BatchOrderOption type="Boolean" value="0"/>')).toBe(false);
      expect(scalar('<BatchOrderOption type="Boolean" value="0x0000000000000001"/>')).toBe(true);
      expectError('<BatchOrderOption type="Boolean" value="yes"/>', 'BAD_VALUE', /not a valid Boolean/);
      expectError('<BatchOrderOption type="Boolean" value="True"/>', 'BAD_VALUE', /not a valid Boolean/);
    });

    it('ByteString: hex without 0x, either case', () => {
      expect(Buffer.from(scalar('<MACSignature type="ByteString" value="C50F77"/>') as Uint8Array).toString('hex')).toBe('c50f77');
      expect((scalar('<MACSignature type="ByteString" value=""/>') as Uint8Array).length).toBe(0);
      expect(toKmipXml(t.bytes(tag('MACSignature'), Uint8Array.of(0xc5, 0x0f, 0x77)))).toBe('<MACSignature type="ByteString" value="c50f77"/>');
      expectError('<MACSignature type="ByteString" value="C50F7"/>', 'BAD_VALUE', /even number of hex digits/);
      expectError('<MACSignature type="ByteString" value="0xC50F77"/>', 'BAD_VALUE', /without 0x/);
    });
  });

  describe('dates', () => {
    const at = (v: string): TtlvNode['value'] => scalar(`<ActivationDate type="DateTime" value="${v}"/>`);

    it('accepts any UTC offset, Z, no zone, fractions (truncated) and hex', () => {
      expect(at('2001-01-01T10:00:00+10:00')).toBe(978307200n);
      expect(at('2001-01-01T00:00:00Z')).toBe(978307200n);
      expect(at('2001-01-01T00:00:00')).toBe(978307200n);
      expect(at('2000-12-31T18:30:00-05:30')).toBe(978307200n);
      expect(at('2001-01-01T00:00:00.999+00:00')).toBe(978307200n);
      expect(at('0x000000003a505520')).toBe(978343200n); // 2001-01-01T10:00:00Z
      expect(at('1969-12-31T23:59:59+00:00')).toBe(-1n);
      expect(at('2000-02-29T00:00:00+00:00')).toBe(951782400n);
    });

    it('writes the +00:00 form the corpus uses', () => {
      expect(toKmipXml(t.date(tag('ActivationDate'), 978307200n))).toBe('<ActivationDate type="DateTime" value="2001-01-01T00:00:00+00:00"/>');
      expect(toKmipXml(t.date(tag('ActivationDate'), 0x5396bc24n))).toContain('2014-06-10T08:04:52+00:00');
      // Outside years 1..9999 ISO-8601 is not usable; hex keeps it lossless.
      expect(toKmipXml(t.date(tag('ActivationDate'), -(1n << 63n)))).toContain('value="0x8000000000000000"');
      for (const v of [0n, -1n, 253402300799n, 253402300800n, -62135596800n, -62135596801n, (1n << 63n) - 1n]) roundTrip(t.date(tag('ActivationDate'), v));
    });

    it('Date-Time Extended carries microseconds', () => {
      const v = scalar('<TTLV tag="0x540010" type="DateTimeExtended" value="2001-01-01T10:00:00.123456+10:00"/>');
      expect(v).toBe(978307200123456n);
      expect(toKmipXml(t.dateExt(0x540010, 978307200123456n))).toContain('value="2001-01-01T00:00:00.123456+00:00"');
      expect(toKmipXml(t.dateExt(0x540010, -1n))).toContain('value="1969-12-31T23:59:59.999999+00:00"');
      roundTrip(t.dateExt(0x540010, -1n));
    });

    it('rejects impossible dates and bad forms', () => {
      for (const v of ['2001-02-29T00:00:00Z', '2001-13-01T00:00:00Z', '2001-01-01T24:00:00Z', '2001-01-01 00:00:00Z', '2001-01-01T00:00:00+15:00', 'yesterday']) {
        expectError(`<ActivationDate type="DateTime" value="${v}"/>`, 'BAD_VALUE', /not a valid DateTime/);
      }
    });
  });

  describe('placeholders', () => {
    it('are plain text in text items', () => {
      expect(scalar('<UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>')).toBe('$UNIQUE_IDENTIFIER_0');
      expect(scalar('<UniqueIdentifier type="Identifier" value="$UNIQUE_IDENTIFIER_0"/>')).toBe('$UNIQUE_IDENTIFIER_0');
    });

    it('are bound by the callback in other items, which gets the name, type and tag name', () => {
      const calls: string[] = [];
      const placeholders: ParseOptions['placeholders'] = (name, type, tagName) => {
        calls.push(`${name} ${type} ${tagName}`);
        if (name === '$NOW-3600') return 1000n - 3600n;
        if (name === '$DATA_0') return Uint8Array.of(1, 2);
        return undefined;
      };
      expect(scalar('<ActivationDate type="DateTime" value="$NOW-3600"/>', { placeholders })).toBe(-2600n);
      expect(scalar('<TTLV tag="0x540001" type="ByteString" value="$DATA_0"/>', { placeholders })).toEqual(Uint8Array.of(1, 2));
      expect(calls).toEqual(['$NOW-3600 DateTime ActivationDate', '$DATA_0 ByteString 0x540001']);
    });

    it('without a value are errors naming the placeholder', () => {
      expectError('<TimeStamp type="DateTime" value="$NOW"/>', 'PLACEHOLDER', /placeholder \$NOW \(DateTime\) has no value/);
      expectError('<Data type="ByteString" value="$DATA_0"/>', 'PLACEHOLDER', /\$DATA_0/, { placeholders: () => undefined });
    });

    it('with a value of the wrong type are errors', () => {
      expectError('<TimeStamp type="DateTime" value="$NOW"/>', 'BAD_TYPE', /placeholder \$NOW is not a DateTime/, { placeholders: () => 5 });
      expectError('<BatchCount type="Integer" value="$N"/>', 'BAD_TYPE', /not a Integer/, { placeholders: () => 2 ** 31 });
    });
  });

  describe('structure errors', () => {
    it('unknown element names, types and attributes', () => {
      const e = expectError('<RequestMessage>\n<Frobnicator type="Integer" value="1"/>\n</RequestMessage>', 'UNKNOWN_TAG', /unknown element <Frobnicator>/);
      expect(e.path).toBe('RequestMessage/Frobnicator');
      expect(e.line).toBe(2);
      expectError('<BatchCount type="Int" value="1"/>', 'BAD_TYPE', /unknown type="Int"/);
      expectError('<BatchCount type="Integer" value="1" extra="2"/>', 'BAD_VALUE', /unexpected attribute extra=/);
      expectError('<BatchCount xmlns="urn:other" type="Integer" value="1"/>', 'BAD_VALUE', /unexpected namespace/);
    });

    it('values on structures, children on scalars, missing values', () => {
      expectError('<RequestHeader value="1"/>', 'BAD_VALUE', /structure <RequestHeader> has a value=/);
      expectError('<BatchCount type="Integer" value="1"><BatchCount type="Integer" value="1"/></BatchCount>', 'BAD_TYPE', /has child elements/);
      expectError('<BatchCount type="Integer"/>', 'BAD_VALUE', /has no value= attribute/);
    });
  });

  it('property: toKmipXml / parseKmipXml is the identity on arbitrary trees', () => {
    fc.assert(
      fc.property(arbTree, fc.constantFrom('  ', '', '\t'), (node, indent) => {
        const xml = toKmipXml(node, { indent });
        const back = parseKmipXmlItem(xml);
        return nodesEqual(back, node);
      }),
      { numRuns: 400 },
    );
  });
});
