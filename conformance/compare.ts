/**
 * Compare a server's ResponseMessage with the one a test case expects.
 *
 * The baseline is exact: tags, item types, structure, order and values. Placeholders relax
 * it where the file says a value varies (bind.ts): a bound `$NAME` must equal its value, an
 * unbound one is bound here, `$NOW` (`$NOW±N`) must lie in the case's time window.
 *
 * Every other difference that still passes is a named rule (`RULES`), taken from the
 * "Permitted Test Case Variations" the README summarises, each applied only at the one place
 * it belongs, and counted when used so a report can say which tolerances a pass relied on.
 * Nothing is skipped: a tolerated subtree is still required to be there unless its rule
 * says the item may be absent.
 */
import type { TtlvNode } from '../src/ttlv/node.js';
import { enumValueFromName, tagFromName, tagName } from '../src/kmip/registry.js';
import { formatDateTime } from '../src/kmip/text-values.js';
import { toKmipXml } from '../src/kmip/xml.js';
import { CRYPTO_OUTPUT_TAGS, isNow, randomisedSignature, type Bindings, type ExpNode } from './bind.js';

export const RULES = {
  'result-message': {
    summary: 'ResultMessage text may differ, and the item may be absent or added (it is free text for people).',
    where: 'ResultMessage directly in a response BatchItem',
  },
  'vendor-identification': {
    summary: 'VendorIdentification text may differ.',
    where: 'VendorIdentification in a Query response payload',
  },
  'server-information': {
    summary: 'ServerInformation contents are vendor-specific and not compared (the item itself must be there).',
    where: 'ServerInformation in a Query response payload',
  },
  'extra-attributes': {
    summary: 'The server may return more attributes than the case shows (it sets more); every expected one must appear with an equal value (in any order only under attribute-order).',
    where:
      'Get Attributes and Export responses: the Attributes structure (2.x) or the Attribute items (1.x); Get Attribute List response: AttributeName (1.x) / AttributeReference (2.x) items',
  },
  'attribute-order': {
    summary:
      'The KMIP specifications give the attributes of a Get Attributes, Export or Get Attribute List answer no order (the reference servers of the cases differ between the two operations); the expected ones may come in another order.',
    where: 'the same items as extra-attributes',
  },
  'query-extras': {
    summary: 'A Query response may list more Operation, ObjectType and ExtensionInformation items than the case shows, in any order; every expected one must be there.',
    where: 'Operation, ObjectType and ExtensionInformation items of a Query response payload',
  },
  'discover-versions-extras': {
    summary: 'Discover Versions may list more protocol versions; the expected ones must appear in the same order.',
    where: 'ProtocolVersion items of a Discover Versions response payload',
  },
  'attribute-index-zero': {
    summary: 'KMIP 1.x: an AttributeIndex of 0 may be omitted (or added) — it is the default.',
    where: 'AttributeIndex with value 0 inside an Attribute structure, protocol 1.x',
  },
  'time-stamps': {
    summary: 'A literal response-header TimeStamp is the time of the original run; any time within the case window passes.',
    where: 'ResponseHeader/TimeStamp given as a literal date',
  },
  'reconstructed-times': {
    summary: 'The 1.0–1.2 files reconstructed from HTML print literal times where later files write $NOW: a literal response date passes when equal or within the case window.',
    where: 'literal DateTime items of responses in <KmipTestCase> (1.0–1.2) files',
  },
  digest: {
    summary: 'The Digest attribute the server computes may use another algorithm, key format or value (a server choice, and a random key has a random digest).',
    where: 'HashingAlgorithm, DigestValue and KeyFormatType inside a Digest attribute of a response (2.x Digest structure, 1.x AttributeValue of an Attribute named "Digest")',
  },
  'rng-algorithm': {
    summary:
      'The Random Number Generator attribute names the generator the server used (a server choice): its RNGAlgorithm value may differ (the cases print ANSIX9_31; this server states DRBG); the rest must be equal.',
    where: 'RNGAlgorithm inside a Random Number Generator attribute of a response (2.x RandomNumberGenerator structure, 1.x AttributeValue of an Attribute named "Random Number Generator")',
  },
  'server-correlation-value': {
    summary: 'A literal ServerCorrelationValue is the one the original server chose, and a server MAY send one: any value passes, and so does its absence.',
    where: 'ResponseHeader/ServerCorrelationValue given as a literal',
  },
  'generated-key-material': {
    summary:
      'Some files (all 1.0–1.2 ones, and SKFF/TL/TC-ECC cases up to 2.1) print the key bytes their server generated instead of $KEY_MATERIAL; a KeyMaterial no request of the file supplied is server-generated and passes with any value of the same length.',
    where: 'literal KeyMaterial (ByteString) in a response, when no request of the file carries those bytes',
  },
  'reconstructed-whitespace': {
    summary:
      'The 1.0–1.2 files keep the runs of spaces of their HTML source ("Unique   Identifier"); HTML shows one space, so text values are read with each run collapsed (requests and responses).',
    where: 'TextString values of <KmipTestCase> files, applied when the file is loaded (bind.ts)',
  },
  'varying-crypto-output': {
    summary:
      "Cryptographic output that depends on something this server chose differs from the file: key material it generated in this case (Create, Create Key Pair, Re-key, Derive Key), an IV it generated (the request gave none), or randomness the operation itself uses (RNG Retrieve; RSA encryption, whose OAEP and PKCS#1 v1.5 paddings are randomised; RSA-PSS, ECDSA and DSA signatures, named by the Sign request or the key's registration). Such a literal passes with any value of the same length (a signature with any length: DER-encoded ECDSA signatures vary), and is then bound like a placeholder: a later request that sends the literal back (Decrypt of the ciphertext, Verify of the signature) sends this server's value, and a later response that shows it must show this server's value.",
    where:
      'literal Data, IVCounterNonce, AuthenticatedEncryptionTag, SignatureData, MACData (ByteString) in the response payload of Encrypt, Decrypt, Sign, MAC or RNG Retrieve, under the conditions named',
  },
  'message-extensions': {
    summary: 'The server may add non-critical MessageExtension items.',
    where: 'MessageExtension (CriticalityIndicator false) in a response BatchItem',
  },
} as const;

export type RuleName = keyof typeof RULES;
export const RULE_NAMES = Object.keys(RULES) as RuleName[];

export interface Diff {
  /** Path by tag names, e.g. `ResponseMessage/BatchItem/ResponsePayload/UniqueIdentifier`. */
  readonly path: string;
  readonly expected: string;
  readonly got: string;
  /** XML line of the expected item, when there is one. */
  readonly line?: number;
}

/** Seconds since the epoch, inclusive bounds. */
export interface TimeWindow {
  readonly from: bigint;
  readonly to: bigint;
}

export interface CompareOptions {
  readonly bindings: Bindings;
  /** Where `$NOW` may fall: from the case start to this response's arrival, plus slack. */
  readonly window: TimeWindow;
  /** The file is a reconstructed 1.0–1.2 one (`<KmipTestCase>`). */
  readonly reconstructed?: boolean;
  /** Hex of the byte literals the file's requests carry (see `reconstructed-key-material`). */
  readonly requestBytes?: ReadonlySet<string>;
  /** Rules in force; default all. Tests switch them off one at a time. */
  readonly rules?: readonly RuleName[];
  /** The request as sent (placeholders bound): what its batch items asked for (`varying-crypto-output`). */
  readonly request?: TtlvNode;
}

export interface CompareResult {
  readonly diffs: Diff[];
  /** How often each rule let a difference pass. */
  readonly applied: Map<RuleName, number>;
}

function tag(name: string): number {
  const t = tagFromName(name);
  if (t === undefined) throw new Error(`registry has no tag ${name}`);
  return t;
}

function op(name: string): number {
  const v = enumValueFromName('Operation', name);
  if (v === undefined) throw new Error(`registry has no operation ${name}`);
  return v;
}

const T = {
  ResponseHeader: tag('ResponseHeader'),
  ProtocolVersion: tag('ProtocolVersion'),
  ProtocolVersionMajor: tag('ProtocolVersionMajor'),
  TimeStamp: tag('TimeStamp'),
  BatchItem: tag('BatchItem'),
  Operation: tag('Operation'),
  ResponsePayload: tag('ResponsePayload'),
  ResultMessage: tag('ResultMessage'),
  VendorIdentification: tag('VendorIdentification'),
  ServerInformation: tag('ServerInformation'),
  Attributes: tag('Attributes'),
  Attribute: tag('Attribute'),
  AttributeIndex: tag('AttributeIndex'),
  AttributeName: tag('AttributeName'),
  AttributeValue: tag('AttributeValue'),
  AttributeReference: tag('AttributeReference'),
  ObjectType: tag('ObjectType'),
  ExtensionInformation: tag('ExtensionInformation'),
  MessageExtension: tag('MessageExtension'),
  Digest: tag('Digest'),
  HashingAlgorithm: tag('HashingAlgorithm'),
  DigestValue: tag('DigestValue'),
  KeyFormatType: tag('KeyFormatType'),
  RandomNumberGenerator: tag('RandomNumberGenerator'),
  RNGAlgorithm: tag('RNGAlgorithm'),
  ServerCorrelationValue: tag('ServerCorrelationValue'),
  KeyMaterial: tag('KeyMaterial'),
  CriticalityIndicator: tag('CriticalityIndicator'),
  RequestPayload: tag('RequestPayload'),
  UniqueIdentifier: tag('UniqueIdentifier'),
  IVCounterNonce: tag('IVCounterNonce'),
  SignatureData: tag('SignatureData'),
};

const OP = {
  Query: op('Query'),
  DiscoverVersions: op('DiscoverVersions'),
  GetAttributes: op('GetAttributes'),
  GetAttributeList: op('GetAttributeList'),
  Export: op('Export'),
  Encrypt: op('Encrypt'),
  Decrypt: op('Decrypt'),
  Sign: op('Sign'),
  MAC: op('MAC'),
  RNGRetrieve: op('RNGRetrieve'),
};

const PUBLIC_KEY = enumValueFromName('ObjectType', 'PublicKey');

interface Scope {
  readonly path: string;
  /** Operation of the enclosing BatchItem (from the expected item). */
  readonly op?: number;
  readonly v1: boolean;
  readonly inHeader: boolean;
  readonly inBatchItem: boolean;
  /** Inside a Digest structure. */
  readonly inDigest?: boolean;
  /** Inside a Random Number Generator attribute value. */
  readonly inRng?: boolean;
  /** Position of the enclosing BatchItem among the message's batch items. */
  readonly batchIndex?: number;
  /** Directly inside a BatchItem's ResponsePayload. */
  readonly inPayload?: boolean;
}

class Sink {
  readonly diffs: Diff[] = [];
  readonly applied = new Map<RuleName, number>();
  constructor(private readonly enabled: ReadonlySet<RuleName>) {}
  on(rule: RuleName): boolean {
    return this.enabled.has(rule);
  }
  use(rule: RuleName): void {
    this.applied.set(rule, (this.applied.get(rule) ?? 0) + 1);
  }
  diff(d: Diff): void {
    this.diffs.push(d);
  }
  fork(): Sink {
    return new Sink(this.enabled);
  }
  absorb(o: Sink): void {
    this.diffs.push(...o.diffs);
    for (const [k, n] of o.applied) this.applied.set(k, (this.applied.get(k) ?? 0) + n);
  }
}

/** Compare one response message; bindings made by it are committed only if it matches. */
export function compareMessage(expected: ExpNode, actual: TtlvNode, opts: CompareOptions): CompareResult {
  const sink = new Sink(new Set(opts.rules ?? RULE_NAMES));
  const major = findScalar(expected.node, [T.ResponseHeader, T.ProtocolVersion, T.ProtocolVersionMajor]);
  const scope: Scope = { path: tagName(expected.node.tag), v1: typeof major === 'number' && major < 2, inHeader: false, inBatchItem: false };
  const b = opts.bindings.child();
  const ctx: Ctx = {
    window: opts.window,
    reconstructed: opts.reconstructed ?? false,
    requestBytes: opts.requestBytes ?? new Set(),
    varying: opts.request ? varyingOutputs(opts.request, actual, opts.bindings) : [],
  };
  cmp(expected, actual, scope, b, sink, ctx);
  // Bind what could be bound even on failure: later steps then fail for their own reasons.
  b.commit();
  return { diffs: sink.diffs, applied: sink.applied };
}

interface Ctx {
  readonly window: TimeWindow;
  readonly reconstructed: boolean;
  readonly requestBytes: ReadonlySet<string>;
  /** Per batch item: whether its cryptographic output may vary (`varying-crypto-output`). */
  readonly varying: readonly boolean[];
}

function items(n: TtlvNode | undefined, t: number): TtlvNode[] {
  return n?.type === 'Structure' ? n.value.filter((c) => c.tag === t) : [];
}

/**
 * For each batch item of a request/response pair: does its cryptographic output depend on a
 * choice of this server (rule `varying-crypto-output`)? The key is the request's Unique
 * Identifier, or the response's when the request used the ID Placeholder.
 */
export function varyingOutputs(request: TtlvNode, response: TtlvNode, bindings: Bindings): boolean[] {
  const reqItems = items(request, T.BatchItem);
  return items(response, T.BatchItem).map((item, i) => {
    const opv = items(item, T.Operation)[0]?.value;
    if (opv === OP.RNGRetrieve) return true;
    if (opv !== OP.Encrypt && opv !== OP.Decrypt && opv !== OP.Sign && opv !== OP.MAC) return false;
    const reqPayload = items(reqItems[i], T.RequestPayload)[0];
    const respPayload = items(item, T.ResponsePayload)[0];
    const uid = items(reqPayload, T.UniqueIdentifier)[0]?.value ?? items(respPayload, T.UniqueIdentifier)[0]?.value;
    const obj = typeof uid === 'string' ? bindings.object(uid) : undefined;
    if (obj?.generated) return true;
    if (opv === OP.Encrypt && obj?.objectType === PUBLIC_KEY) return true;
    if (opv === OP.Sign && (obj?.randomisedSignature === true || randomisedSignature(reqPayload))) return true;
    const serverIv = opv === OP.Encrypt && items(reqPayload, T.IVCounterNonce).length === 0 && items(respPayload, T.IVCounterNonce).length > 0;
    return serverIv;
  });
}

function findScalar(node: TtlvNode, path: readonly number[]): unknown {
  let cur: TtlvNode | undefined = node;
  for (const t of path) {
    if (!cur || cur.type !== 'Structure') return undefined;
    cur = cur.value.find((c) => c.tag === t);
  }
  return cur?.value;
}

/** Compact text of a node for diffs: the value of a scalar, one-line XML of a structure. */
export function show(node: TtlvNode | undefined): string {
  if (!node) return '(absent)';
  const xml = toKmipXml(node, { indent: '' });
  if (node.type !== 'Structure') {
    const m = /value="([^"]*)"/.exec(xml);
    return `${node.type} ${m?.[1] ?? xml}`;
  }
  return xml.length > 400 ? xml.slice(0, 400) + '…' : xml;
}

function showTime(secs: bigint): string {
  return formatDateTime(secs);
}

function child(s: Scope, seg: string, patch: Partial<Scope> = {}): Scope {
  return { ...s, path: `${s.path}/${seg}`, ...patch };
}

function valuesEqual(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  return a === b;
}

function cmp(e: ExpNode, a: TtlvNode, s: Scope, b: Bindings, out: Sink, ctx: Ctx): void {
  const en = e.node;
  if (en.tag !== a.tag) {
    out.diff({ path: s.path, expected: `item ${tagName(en.tag)}: ${show(en)}`, got: `item ${tagName(a.tag)}: ${show(a)}`, line: e.line });
    return;
  }
  if (en.type !== a.type) {
    out.diff({ path: s.path, expected: `type ${en.type}`, got: `type ${a.type}: ${show(a)}`, line: e.line });
    return;
  }
  if (en.type === 'Structure' && a.type === 'Structure') {
    if (en.tag === T.ServerInformation && s.op === OP.Query && out.on('server-information')) {
      out.use('server-information');
      return;
    }
    cmpChildren(e, a.value, s, b, out, ctx);
    return;
  }
  cmpScalar(e, a, s, b, out, ctx);
}

function cmpScalar(e: ExpNode, a: TtlvNode, s: Scope, b: Bindings, out: Sink, ctx: Ctx): void {
  const p = e.placeholder;
  const en = e.node;
  if (p) {
    if (isNow(p)) {
      if (a.type !== 'DateTime' && a.type !== 'DateTimeExtended') {
        out.diff({ path: s.path, expected: `${p.text} (a time)`, got: show(a), line: e.line });
        return;
      }
      const secs = a.type === 'DateTimeExtended' ? a.value / 1_000_000n : a.value;
      const off = BigInt(p.offset);
      const from = ctx.window.from + off;
      const to = ctx.window.to + off;
      if (secs < from || secs > to) {
        out.diff({ path: s.path, expected: `${p.text}: between ${showTime(from)} and ${showTime(to)}`, got: show(a), line: e.line });
      }
      return;
    }
    const bound = b.get(p.name);
    if (bound === undefined) {
      b.set(p.name, a.value);
      return;
    }
    if (!valuesEqual(bound, a.value)) {
      out.diff({ path: s.path, expected: `${p.text} = ${show({ ...a, value: bound } as TtlvNode)}`, got: show(a), line: e.line });
    }
    return;
  }
  if (valuesEqual(en.value, a.value)) return;
  if (en.type === 'ByteString' && a.type === 'ByteString' && s.inPayload && CRYPTO_OUTPUT_TAGS.has(en.tag) && out.on('varying-crypto-output')) {
    const eq = b.equivalent(en.value);
    if (eq) {
      if (valuesEqual(eq, a.value)) return out.use('varying-crypto-output');
      out.diff({ path: s.path, expected: `${show(en)} (this run: ${show({ ...a, value: eq })})`, got: show(a), line: e.line });
      return;
    }
    // Same length, except a signature: DER-encoded ECDSA/DSA signatures vary by a byte or two.
    if (ctx.varying[s.batchIndex ?? -1] === true && (en.value.length === a.value.length || en.tag === T.SignatureData)) {
      b.bindEquivalent(en.value, a.value);
      return out.use('varying-crypto-output');
    }
  }
  if (en.tag === T.ResultMessage && s.inBatchItem && out.on('result-message')) return out.use('result-message');
  if (en.tag === T.VendorIdentification && s.op === OP.Query && out.on('vendor-identification')) return out.use('vendor-identification');
  if (en.tag === T.ServerCorrelationValue && s.inHeader && out.on('server-correlation-value')) return out.use('server-correlation-value');
  if (
    en.tag === T.KeyMaterial &&
    en.type === 'ByteString' &&
    a.type === 'ByteString' &&
    en.value.length === a.value.length &&
    !ctx.requestBytes.has(Buffer.from(en.value).toString('hex')) &&
    out.on('generated-key-material')
  ) {
    return out.use('generated-key-material');
  }
  if (s.inRng && en.tag === T.RNGAlgorithm && out.on('rng-algorithm')) return out.use('rng-algorithm');
  if (s.inDigest && (en.tag === T.DigestValue || en.tag === T.HashingAlgorithm || en.tag === T.KeyFormatType) && out.on('digest')) return out.use('digest');
  if (en.type === 'DateTime' && a.type === 'DateTime') {
    const inWindow = a.value >= ctx.window.from && a.value <= ctx.window.to;
    if (inWindow && en.tag === T.TimeStamp && s.inHeader && out.on('time-stamps')) return out.use('time-stamps');
    if (inWindow && ctx.reconstructed && out.on('reconstructed-times')) return out.use('reconstructed-times');
  }
  out.diff({ path: s.path, expected: show(en), got: show(a), line: e.line });
}

type Policy = {
  /** Rule under which an actual item with no expected counterpart may pass. */
  extra(a: TtlvNode): RuleName | undefined;
  /** Rule under which an expected item may be absent. */
  omit(e: ExpNode): RuleName | undefined;
};

function attributeNamed(attribute: ExpNode, name: string): boolean {
  const n = attribute.children.find((c) => c.node.tag === T.AttributeName);
  return n !== undefined && n.node.value === name;
}

function childScope(parent: ExpNode, s: Scope): (e: ExpNode | TtlvNode, idx: number) => Scope {
  const counts = new Map<number, number>();
  for (const c of parent.children) counts.set(c.node.tag, (counts.get(c.node.tag) ?? 0) + 1);
  const seen = new Map<number, number>();
  return (x) => {
    const t = 'node' in x ? x.node.tag : x.tag;
    const k = seen.get(t) ?? 0;
    seen.set(t, k + 1);
    const seg = (counts.get(t) ?? 0) > 1 ? `${tagName(t)}[${k}]` : tagName(t);
    const patch: { -readonly [K in keyof Scope]?: Scope[K] } = {};
    if (t === T.ResponseHeader) patch.inHeader = true;
    if (t === T.Digest) patch.inDigest = true;
    if (t === T.AttributeValue && parent.node.tag === T.Attribute && attributeNamed(parent, 'Digest')) patch.inDigest = true;
    if (t === T.RandomNumberGenerator) patch.inRng = true;
    if (t === T.AttributeValue && parent.node.tag === T.Attribute && attributeNamed(parent, 'Random Number Generator')) patch.inRng = true;
    patch.inPayload = parent.node.tag === T.ResponsePayload && s.inBatchItem;
    if (t === T.BatchItem && 'node' in x) {
      patch.inBatchItem = true;
      patch.batchIndex = k;
      const opNode = x.children.find((c) => c.node.tag === T.Operation);
      if (opNode && opNode.node.type === 'Enumeration') patch.op = opNode.node.value;
    }
    return child(s, seg, patch);
  };
}

function cmpChildren(e: ExpNode, actual: readonly TtlvNode[], s: Scope, b: Bindings, out: Sink, ctx: Ctx): void {
  const payloadOf = (o: number) => s.op === o && e.node.tag === T.ResponsePayload;

  // Query: the capability lists are sets the server may extend.
  if (payloadOf(OP.Query) && out.on('query-extras')) {
    const setTags = new Set([T.Operation, T.ObjectType, T.ExtensionInformation]);
    matchAsSet(e, actual, s, b, out, ctx, (t) => setTags.has(t), { extras: 'query-extras', missing: '(absent from the Query response)' });
    return;
  }
  // Get Attributes / Get Attribute List: the attributes are a set the server may extend, and the
  // spec gives them no order.
  const attributeItems = attributeItemsOf(e, s);
  if (attributeItems && out.on('extra-attributes')) {
    matchAsSet(e, actual, s, b, out, ctx, attributeItems, { extras: 'extra-attributes', order: 'attribute-order', missing: '(absent)' });
    return;
  }
  let policy = basePolicy(s, e.node.tag, out);
  if (payloadOf(OP.DiscoverVersions) && out.on('discover-versions-extras')) {
    policy = withExtra(policy, (a) => (a.tag === T.ProtocolVersion ? 'discover-versions-extras' : undefined));
  }
  alignOrdered(e, actual, s, b, out, ctx, policy);
}

/**
 * Which children of `e` are attributes of a Get Attributes / Get Attribute List answer: every
 * child of the 2.x Attributes structure, the 1.x Attribute items, the Attribute Name (1.x) /
 * Attribute Reference (2.x) items. Undefined elsewhere.
 */
function attributeItemsOf(e: ExpNode, s: Scope): ((tag: number) => boolean) | undefined {
  const inPayload = e.node.tag === T.ResponsePayload;
  if ((s.op === OP.GetAttributes || s.op === OP.Export) && e.node.tag === T.Attributes && s.path.endsWith('ResponsePayload/Attributes')) return () => true;
  if (s.op === OP.GetAttributes && inPayload) return (t) => t === T.Attribute;
  if (s.op === OP.GetAttributeList && inPayload) return (t) => t === T.AttributeName || t === T.AttributeReference;
  return undefined;
}

/**
 * The children `inSet` selects are compared as a set: each expected one must match a distinct
 * actual one (the first unused that matches, so repeated instances keep their relative order);
 * actual ones left over pass under `extras`; when the matches are not in the expected order,
 * `order` (if given) is used, else the order is free by the rule that calls this. Other
 * children are compared in order as usual.
 */
function matchAsSet(
  e: ExpNode,
  actual: readonly TtlvNode[],
  s: Scope,
  b: Bindings,
  out: Sink,
  ctx: Ctx,
  inSet: (tag: number) => boolean,
  rules: { extras: RuleName; order?: RuleName; missing: string },
): void {
  const scopeOf = childScope(e, s);
  const used = new Set<number>();
  let last = -1;
  let reordered = false;
  for (const x of e.children.filter((c) => inSet(c.node.tag))) {
    const sc = scopeOf(x, 0);
    let found = -1;
    for (let j = 0; j < actual.length && found < 0; j++) {
      const a = actual[j] as TtlvNode;
      if (!used.has(j) && a.tag === x.node.tag && inSet(a.tag) && tryMatch(x, a, sc, b, out, ctx)) found = j;
    }
    if (found < 0) {
      out.diff({ path: sc.path, expected: show(x.node), got: rules.missing, line: x.line });
      continue;
    }
    used.add(found);
    if (found < last) reordered = true;
    last = Math.max(last, found);
  }
  if (actual.some((a, j) => inSet(a.tag) && !used.has(j))) out.use(rules.extras);
  if (reordered && rules.order) {
    if (out.on(rules.order)) out.use(rules.order);
    else out.diff({ path: s.path, expected: 'the attributes in the order shown', got: 'another order' });
  }
  const rest: ExpNode = { ...e, children: e.children.filter((c) => !inSet(c.node.tag)) };
  alignOrdered(
    rest,
    actual.filter((a) => !inSet(a.tag)),
    s,
    b,
    out,
    ctx,
    basePolicy(s, e.node.tag, out),
  );
}

function withExtra(p: Policy, extra: (a: TtlvNode) => RuleName | undefined): Policy {
  return { extra: (a) => extra(a) ?? p.extra(a), omit: p.omit };
}

function basePolicy(s: Scope, parentTag: number, out: Sink): Policy {
  return {
    extra(a) {
      if (a.tag === T.ResultMessage && parentTag === T.BatchItem && out.on('result-message')) return 'result-message';
      if (a.tag === T.AttributeIndex && s.v1 && a.type === 'Integer' && a.value === 0 && out.on('attribute-index-zero')) return 'attribute-index-zero';
      if (a.tag === T.MessageExtension && parentTag === T.BatchItem && a.type === 'Structure' && out.on('message-extensions')) {
        const crit = a.value.find((c) => c.tag === T.CriticalityIndicator);
        if (crit && crit.type === 'Boolean' && !crit.value) return 'message-extensions';
      }
      return undefined;
    },
    omit(e) {
      if (e.node.tag === T.ResultMessage && parentTag === T.BatchItem && out.on('result-message')) return 'result-message';
      if (e.node.tag === T.ServerCorrelationValue && parentTag === T.ResponseHeader && out.on('server-correlation-value')) return 'server-correlation-value';
      if (e.node.tag === T.AttributeIndex && s.v1 && e.node.type === 'Integer' && e.node.value === 0 && !e.placeholder && out.on('attribute-index-zero')) {
        return 'attribute-index-zero';
      }
      return undefined;
    },
  };
}

/** Compare without reporting; on a match, keep its bindings and rule uses. */
function tryMatch(e: ExpNode, a: TtlvNode, sc: Scope, b: Bindings, out: Sink, ctx: Ctx): boolean {
  const scratch = b.child();
  const sub = out.fork();
  cmp(e, a, sc, scratch, sub, ctx);
  if (sub.diffs.length > 0) return false;
  scratch.commit();
  out.absorb(sub);
  return true;
}

function alignOrdered(parent: ExpNode, actual: readonly TtlvNode[], s: Scope, b: Bindings, out: Sink, ctx: Ctx, policy: Policy): void {
  const exp = parent.children;
  const scopeOf = childScope(parent, s);
  let i = 0;
  let j = 0;
  while (i < exp.length || j < actual.length) {
    const e = exp[i];
    const a = actual[j];
    if (e && a) {
      const sc = scopeOf(e, i);
      if (tryMatch(e, a, sc, b, out, ctx)) {
        i++;
        j++;
        continue;
      }
      // Extra actual items the policy allows, followed by a match for e.
      let matched = -1;
      for (let k = j; k < actual.length && policy.extra(actual[k] as TtlvNode) !== undefined;) {
        k++;
        if (k < actual.length && tryMatch(e, actual[k] as TtlvNode, sc, b, out, ctx)) {
          matched = k;
          break;
        }
      }
      if (matched >= 0) {
        for (let x = j; x < matched; x++) out.use(policy.extra(actual[x] as TtlvNode) as RuleName);
        i++;
        j = matched + 1;
        continue;
      }
      const omitRule = policy.omit(e);
      if (omitRule) {
        out.use(omitRule);
        i++;
        continue;
      }
      const extraRule = policy.extra(a);
      if (extraRule && a.tag !== e.node.tag) {
        out.use(extraRule);
        j++;
        continue;
      }
      if (a.tag !== e.node.tag) {
        // One-step look-ahead: a missing or an unexpected item, reported as such.
        if (actual[j + 1]?.tag === e.node.tag) {
          out.diff({ path: `${s.path}/${tagName(a.tag)}`, expected: '(no such item)', got: `unexpected ${show(a)}` });
          j++;
          continue;
        }
        if (exp[i + 1]?.node.tag === a.tag) {
          out.diff({ path: sc.path, expected: show(e.node), got: '(absent)', line: e.line });
          i++;
          continue;
        }
      }
      cmp(e, a, sc, b, out, ctx);
      i++;
      j++;
      continue;
    }
    if (e) {
      const sc = scopeOf(e, i);
      const omitRule = policy.omit(e);
      if (omitRule) out.use(omitRule);
      else out.diff({ path: sc.path, expected: show(e.node), got: '(absent)', line: e.line });
      i++;
      continue;
    }
    if (a) {
      const extraRule = policy.extra(a);
      if (extraRule) out.use(extraRule);
      else out.diff({ path: `${s.path}/${tagName(a.tag)}`, expected: '(no such item)', got: `unexpected ${show(a)}` });
      j++;
    }
  }
}
