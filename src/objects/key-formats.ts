/**
 * Public and private key formats (KMIP 1.4 §2.1.7, §9.1.3.2.3 Key Format Type; 2.1 §2.1.9-2.1.10,
 * §11.27): reading a Key Block into a node:crypto KeyObject and writing a KeyObject as a Key Block
 * in any format the key can take.
 *
 * Formats: PKCS#1 (RSA private RSAPrivateKey / public RSAPublicKey), PKCS#8 (private keys of any
 * algorithm), X.509 (SubjectPublicKeyInfo, public keys), ECPrivateKey (SEC 1 / RFC 5915, EC private
 * keys), Transparent RSA Private/Public Key (Modulus, exponents and CRT values as Big Integers),
 * Transparent EC Private/Public Key (Recommended Curve with D / Q String; the 1.x ECDSA, ECDH and
 * ECMQV transparent formats have the same structure and are read and written alike). Ed25519 keys
 * take PKCS#8 / X.509 and the Transparent EC forms with Recommended Curve CURVE25519 (D the 32-byte
 * seed, Q String the 32-byte public key).
 *
 * Stored forms: a generated RSA key is kept as PKCS#1 (what the OASIS test cases return, e.g.
 * AKLC-M-1-21), other generated keys as PKCS#8 / X.509; a registered key stays as registered. Get
 * converts on request (`convertKeyBody`); a conversion the key cannot take is refused with a
 * reason string (Key Format Type Not Supported in the operation).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CryptographicAlgorithm, KeyFormatType, ObjectType, RecommendedCurve } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import type { NodeOf, StructureNode, TtlvNode } from '../ttlv/node.js';

/** A key format problem: the operation maps it onto its Result Reason. */
export class KeyFormatError extends Error {
  constructor(
    readonly code: 'MALFORMED' | 'UNSUPPORTED',
    message: string,
  ) {
    super(message);
    this.name = 'KeyFormatError';
  }
}

const malformed = (m: string): never => {
  throw new KeyFormatError('MALFORMED', m);
};
const unsupported = (m: string): never => {
  throw new KeyFormatError('UNSUPPORTED', m);
};

/** The KMIP curves this server knows, with node's names and DER OIDs. */
interface CurveInfo {
  readonly kmip: number;
  readonly node: 'P-256' | 'P-384' | 'P-521';
  readonly bits: number;
  readonly oid: string;
}
export const EC_CURVES: readonly CurveInfo[] = [
  { kmip: RecommendedCurve.P_256, node: 'P-256', bits: 256, oid: '06082a8648ce3d030107' },
  { kmip: RecommendedCurve.P_384, node: 'P-384', bits: 384, oid: '06052b81040022' },
  { kmip: RecommendedCurve.P_521, node: 'P-521', bits: 521, oid: '06052b81040023' },
];

const TRANSPARENT_EC_PRIVATE = new Set<number>([
  KeyFormatType.TransparentECPrivateKey,
  KeyFormatType.TransparentECDSAPrivateKey,
  KeyFormatType.TransparentECDHPrivateKey,
  KeyFormatType.TransparentECMQVPrivateKey,
]);
const TRANSPARENT_EC_PUBLIC = new Set<number>([
  KeyFormatType.TransparentECPublicKey,
  KeyFormatType.TransparentECDSAPublicKey,
  KeyFormatType.TransparentECDHPublicKey,
  KeyFormatType.TransparentECMQVPublicKey,
]);

/** What a key states about itself. */
export interface KeyFacts {
  /** Cryptographic Algorithm: RSA, EC (or the algorithm the caller already named), Ed25519. */
  readonly algorithm: number;
  /** Cryptographic Length: modulus bits, curve field bits, 256 for Ed25519 (its 32-byte keys). */
  readonly length: number;
  readonly curve?: number;
}

export function keyFacts(key: KeyObject): KeyFacts {
  const t = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (t === 'rsa') return { algorithm: CryptographicAlgorithm.RSA, length: d.modulusLength ?? 0 };
  if (t === 'ec') {
    const c = EC_CURVES.find((x) => x.node === d.namedCurve || nodeAlias(x.node) === d.namedCurve);
    if (!c) return unsupported(`curve ${String(d.namedCurve)} is not supported`);
    return { algorithm: CryptographicAlgorithm.EC, length: c.bits, curve: c.kmip };
  }
  if (t === 'ed25519') return { algorithm: CryptographicAlgorithm.Ed25519, length: 256, curve: RecommendedCurve.CURVE25519 };
  return unsupported(`${String(t)} keys are not supported`);
}

function nodeAlias(n: CurveInfo['node']): string {
  return n === 'P-256' ? 'prime256v1' : n === 'P-384' ? 'secp384r1' : 'secp521r1';
}

// ----------------------------------------------------------------------------------- reading

function kbChild(kb: StructureNode, tag: number): TtlvNode | undefined {
  return kb.value.find((c) => c.tag === tag);
}

function keyMaterialOf(kb: StructureNode): TtlvNode {
  const kv = kbChild(kb, Tag.KeyValue);
  if (kv?.type !== 'Structure') return malformed('the Key Block has no plain Key Value (wrapped keys cannot be converted)');
  const m = kv.value.find((c) => c.tag === Tag.KeyMaterial);
  if (!m) return malformed('the Key Value has no Key Material');
  return m;
}

function bytesOf(s: StructureNode, tag: number, type: 'BigInteger' | 'ByteString', what: string): Uint8Array {
  const n = s.value.find((c) => c.tag === tag);
  if (n?.type !== type) return malformed(`${what} is missing`);
  return n.value;
}

function enumOf(s: StructureNode, tag: number, what: string): number {
  const n = s.value.find((c) => c.tag === tag);
  if (n?.type !== 'Enumeration') return malformed(`${what} is missing`);
  return n.value;
}

/** Big Integer bytes (two's complement) → unsigned big-endian magnitude, minimal. */
function unsigned(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return Buffer.from(b.subarray(i));
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** Left-pad to `n` bytes (curve coordinates and scalars have a fixed size). */
function fixed(b: Uint8Array, n: number): Buffer {
  const u = unsigned(b);
  if (u.length > n) return malformed('a key component is longer than its curve allows');
  return Buffer.concat([Buffer.alloc(n - u.length), u]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const der = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);

/** RFC 5915 ECPrivateKey without the optional public key (OpenSSL computes it). */
function sec1FromScalar(curve: CurveInfo, d: Buffer): Buffer {
  const len = Math.ceil(curve.bits / 8);
  return der(0x30, Buffer.concat([Buffer.from([2, 1, 1]), der(0x04, fixed(d, len)), der(0xa0, Buffer.from(curve.oid, 'hex'))]));
}

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A DER key read by its stated Key Format Type; when that fails (or the type is Raw), by the
 * other DER structures its object type can hold. Deployed clients mislabel: PyKMIP's own
 * integration suite registers PKCS#1 bytes as PKCS#8 (after the KMIP 1.1 test documents) and
 * SubjectPublicKeyInfo / PKCS#8 bytes as Raw. The bytes are stored and returned as registered.
 */
function fromDer(objectType: number, format: number, bytes: Uint8Array): KeyObject {
  const priv = objectType === ObjectType.PrivateKey;
  const mislabelled = priv ? PRIVATE_DER : PUBLIC_DER;
  if (format === KeyFormatType.Raw) return fromAnyDer(priv, bytes, mislabelled) ?? unsupported(`Key Format Type ${format} is not a byte-string key format this server reads`);
  try {
    return fromStatedDer(objectType, format, bytes);
  } catch (e) {
    if (e instanceof KeyFormatError || !mislabelled.includes(DER_TYPE_OF[format] ?? '')) throw e;
    const other = fromAnyDer(priv, bytes, mislabelled);
    if (other) return other;
    throw e;
  }
}

const PRIVATE_DER: readonly string[] = ['pkcs8', 'pkcs1', 'sec1'];
const PUBLIC_DER: readonly string[] = ['spki', 'pkcs1'];
const DER_TYPE_OF: Readonly<Record<number, string>> = {
  [KeyFormatType.PKCS_1]: 'pkcs1',
  [KeyFormatType.PKCS_8]: 'pkcs8',
  [KeyFormatType.X_509]: 'spki',
  [KeyFormatType.ECPrivateKey]: 'sec1',
};

function fromAnyDer(priv: boolean, bytes: Uint8Array, types: readonly string[]): KeyObject | undefined {
  const key = Buffer.from(bytes);
  for (const type of types) {
    try {
      return priv ? createPrivateKey({ key, format: 'der', type: type as 'pkcs8' | 'pkcs1' | 'sec1' }) : createPublicKey({ key, format: 'der', type: type as 'spki' | 'pkcs1' });
    } catch {
      // not this structure
    }
  }
  return undefined;
}

function fromStatedDer(objectType: number, format: number, bytes: Uint8Array): KeyObject {
  const key = Buffer.from(bytes);
  const priv = objectType === ObjectType.PrivateKey;
  switch (format) {
    case KeyFormatType.PKCS_1:
      return priv ? createPrivateKey({ key, format: 'der', type: 'pkcs1' }) : createPublicKey({ key, format: 'der', type: 'pkcs1' });
    case KeyFormatType.PKCS_8:
      return priv ? createPrivateKey({ key, format: 'der', type: 'pkcs8' }) : unsupported('PKCS#8 holds private keys');
    case KeyFormatType.X_509:
      return priv ? unsupported('X.509 (SubjectPublicKeyInfo) holds public keys') : createPublicKey({ key, format: 'der', type: 'spki' });
    case KeyFormatType.ECPrivateKey:
      return priv ? createPrivateKey({ key, format: 'der', type: 'sec1' }) : unsupported('ECPrivateKey holds private keys');
    default:
      return unsupported(`Key Format Type ${format} is not a byte-string key format this server reads`);
  }
}

function fromTransparent(objectType: number, format: number, s: StructureNode): KeyObject {
  const priv = objectType === ObjectType.PrivateKey;
  const big = (tag: number, what: string) => b64u(unsigned(bytesOf(s, tag, 'BigInteger', what)));
  if (format === KeyFormatType.TransparentRSAPrivateKey && priv) {
    return createPrivateKey({
      key: {
        kty: 'RSA',
        n: big(Tag.Modulus, 'Modulus'),
        e: big(Tag.PublicExponent, 'Public Exponent (this server needs the CRT form)'),
        d: big(Tag.PrivateExponent, 'Private Exponent'),
        p: big(Tag.P, 'P'),
        q: big(Tag.Q, 'Q'),
        dp: big(Tag.PrimeExponentP, 'Prime Exponent P'),
        dq: big(Tag.PrimeExponentQ, 'Prime Exponent Q'),
        qi: big(Tag.CRTCoefficient, 'CRT Coefficient'),
      },
      format: 'jwk',
    });
  }
  if (format === KeyFormatType.TransparentRSAPublicKey && !priv) {
    return createPublicKey({ key: { kty: 'RSA', n: big(Tag.Modulus, 'Modulus'), e: big(Tag.PublicExponent, 'Public Exponent') }, format: 'jwk' });
  }
  if ((priv && TRANSPARENT_EC_PRIVATE.has(format)) || (!priv && TRANSPARENT_EC_PUBLIC.has(format))) {
    const curveValue = enumOf(s, Tag.RecommendedCurve, 'Recommended Curve');
    if (curveValue === RecommendedCurve.CURVE25519) {
      if (priv) return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, fixed(bytesOf(s, Tag.D, 'BigInteger', 'D'), 32)]), format: 'der', type: 'pkcs8' });
      const q = bytesOf(s, Tag.QString, 'ByteString', 'Q String');
      if (q.length !== 32) return malformed('an Ed25519 Q String is 32 bytes');
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(q) }, format: 'jwk' });
    }
    const curve = EC_CURVES.find((c) => c.kmip === curveValue) ?? unsupported(`Recommended Curve ${curveValue} is not supported`);
    const size = Math.ceil(curve.bits / 8);
    if (priv) {
      // Import the scalar alone (OpenSSL computes the public point), then re-import through JWK so
      // that exports carry the public key as well (PKCS#8 / ECPrivateKey with the optional publicKey).
      const bare = createPrivateKey({ key: sec1FromScalar(curve, unsigned(bytesOf(s, Tag.D, 'BigInteger', 'D'))), format: 'der', type: 'sec1' });
      return createPrivateKey({ key: bare.export({ format: 'jwk' }), format: 'jwk' });
    }
    const q = bytesOf(s, Tag.QString, 'ByteString', 'Q String');
    if (q.length !== 1 + 2 * size || q[0] !== 0x04) return malformed('Q String must be an uncompressed point (04 ‖ X ‖ Y)');
    return createPublicKey({ key: { kty: 'EC', crv: curve.node, x: b64u(q.subarray(1, 1 + size)), y: b64u(q.subarray(1 + size)) }, format: 'jwk' });
  }
  return unsupported(`Key Format Type ${format} does not hold a ${priv ? 'private' : 'public'} key this server reads`);
}

/** The key a (plain) Public Key / Private Key Key Block holds. Errors: KeyFormatError. */
export function keyFromBlock(objectType: number, kb: StructureNode): KeyObject {
  const fmt = kbChild(kb, Tag.KeyFormatType);
  if (fmt?.type !== 'Enumeration') return malformed('the Key Block has no Key Format Type');
  if (kbChild(kb, Tag.KeyWrappingData)) return unsupported('the key is wrapped');
  const m = keyMaterialOf(kb);
  try {
    if (m.type === 'ByteString') return fromDer(objectType, fmt.value, m.value);
    if (m.type === 'Structure') return fromTransparent(objectType, fmt.value, m);
  } catch (e) {
    if (e instanceof KeyFormatError) throw e;
    // node:crypto/OpenSSL refused the bytes: a malformed key. The cause is dropped (never log key bytes).
    return malformed('the key material cannot be parsed in its Key Format Type');
  }
  return malformed('the Key Material has an unexpected item type');
}

/** The object body's Key Block, if any. */
export function keyBlockOfBody(body: StructureNode): StructureNode | undefined {
  const kb = body.value.find((c) => c.tag === Tag.KeyBlock);
  return kb?.type === 'Structure' ? kb : undefined;
}

// ----------------------------------------------------------------------------------- writing

/** Unsigned magnitude → Big Integer bytes: positive two's complement, padded to a multiple of 8. */
function bigIntegerBytes(mag: Uint8Array): Buffer {
  let u = unsigned(mag);
  if ((u[0] ?? 0) & 0x80) u = Buffer.concat([Buffer.from([0]), u]);
  const pad = (8 - (u.length % 8)) % 8;
  return Buffer.concat([Buffer.alloc(pad), u]);
}

const bigNode = (tag: number, b64: string | undefined): NodeOf<'BigInteger'> => ({
  tag,
  type: 'BigInteger',
  value: bigIntegerBytes(Buffer.from(b64 ?? malformed('key component missing'), 'base64url')),
});

function keyMaterial(key: KeyObject, format: number): TtlvNode {
  const priv = key.type === 'private';
  const t = key.asymmetricKeyType;
  const bytes = (b: Buffer): TtlvNode => ({ tag: Tag.KeyMaterial, type: 'ByteString', value: b });
  const struct = (v: TtlvNode[]): TtlvNode => ({ tag: Tag.KeyMaterial, type: 'Structure', value: v });
  switch (format) {
    case KeyFormatType.PKCS_1:
      if (t !== 'rsa') return unsupported('PKCS#1 holds RSA keys only');
      return bytes(key.export({ format: 'der', type: 'pkcs1' }));
    case KeyFormatType.PKCS_8:
      if (!priv) return unsupported('PKCS#8 holds private keys; use X.509 for a public key');
      return bytes(key.export({ format: 'der', type: 'pkcs8' }));
    case KeyFormatType.X_509:
      if (priv) return unsupported('X.509 (SubjectPublicKeyInfo) holds public keys');
      return bytes(key.export({ format: 'der', type: 'spki' }));
    case KeyFormatType.ECPrivateKey:
      if (!priv || t !== 'ec') return unsupported('ECPrivateKey holds EC private keys only');
      return bytes(key.export({ format: 'der', type: 'sec1' }));
    case KeyFormatType.TransparentRSAPrivateKey:
    case KeyFormatType.TransparentRSAPublicKey: {
      if (t !== 'rsa') return unsupported('the Transparent RSA formats hold RSA keys only');
      if (priv !== (format === KeyFormatType.TransparentRSAPrivateKey)) return unsupported('that Transparent RSA format is for the other half of the pair');
      const j = key.export({ format: 'jwk' });
      if (!priv) return struct([bigNode(Tag.Modulus, j.n), bigNode(Tag.PublicExponent, j.e)]);
      return struct([
        bigNode(Tag.Modulus, j.n),
        bigNode(Tag.PrivateExponent, j.d),
        bigNode(Tag.PublicExponent, j.e),
        bigNode(Tag.P, j.p),
        bigNode(Tag.Q, j.q),
        bigNode(Tag.PrimeExponentP, j.dp),
        bigNode(Tag.PrimeExponentQ, j.dq),
        bigNode(Tag.CRTCoefficient, j.qi),
      ]);
    }
    default: {
      const wantPriv = TRANSPARENT_EC_PRIVATE.has(format);
      if (!wantPriv && !TRANSPARENT_EC_PUBLIC.has(format)) return unsupported(`Key Format Type ${format} is not supported for this key`);
      if (wantPriv !== priv) return unsupported('that Transparent EC format is for the other half of the pair');
      if (t !== 'ec' && t !== 'ed25519') return unsupported('the Transparent EC formats hold EC and Ed25519 keys only');
      const facts = keyFacts(key);
      const curveNode: TtlvNode = { tag: Tag.RecommendedCurve, type: 'Enumeration', value: facts.curve ?? 0 };
      const j = key.export({ format: 'jwk' });
      if (priv) return struct([curveNode, bigNode(Tag.D, j.d)]);
      const x = Buffer.from(j.x ?? '', 'base64url');
      if (t === 'ed25519') return struct([curveNode, { tag: Tag.QString, type: 'ByteString', value: x }]);
      const size = Math.ceil(facts.length / 8);
      const q = Buffer.concat([Buffer.from([4]), fixed(x, size), fixed(Buffer.from(j.y ?? '', 'base64url'), size)]);
      return struct([curveNode, { tag: Tag.QString, type: 'ByteString', value: q }]);
    }
  }
}

/** A Key Block holding `key` in `format` (Cryptographic Algorithm/Length as given). */
export function keyBlockFor(key: KeyObject, format: number, algorithm: number, length: number): StructureNode {
  return {
    tag: Tag.KeyBlock,
    type: 'Structure',
    value: [
      { tag: Tag.KeyFormatType, type: 'Enumeration', value: format },
      { tag: Tag.KeyValue, type: 'Structure', value: [keyMaterial(key, format)] },
      { tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: algorithm },
      { tag: Tag.CryptographicLength, type: 'Integer', value: length },
    ],
  };
}

/** The stored form of a generated key: RSA as PKCS#1, others as PKCS#8 (private) / X.509 (public). */
export function canonicalFormat(key: KeyObject): number {
  if (key.asymmetricKeyType === 'rsa') return KeyFormatType.PKCS_1;
  return key.type === 'private' ? KeyFormatType.PKCS_8 : KeyFormatType.X_509;
}

/** The Public Key / Private Key body for `key` in its canonical format. */
export function asymmetricKeyBody(key: KeyObject, algorithm: number, length: number, format = canonicalFormat(key)): StructureNode {
  return { tag: key.type === 'private' ? Tag.PrivateKey : Tag.PublicKey, type: 'Structure', value: [keyBlockFor(key, format, algorithm, length)] };
}

/**
 * A stored Public/Private Key body in another Key Format Type (Get). The Key Block keeps its
 * Cryptographic Algorithm/Length and drops nothing else the client registered except the Key
 * Value's own attributes. Errors: KeyFormatError (UNSUPPORTED for an impossible conversion).
 */
export function convertKeyBody(objectType: number, body: StructureNode, requested: number): StructureNode {
  const kb = keyBlockOfBody(body) ?? malformed('the object has no Key Block');
  const key = keyFromBlock(objectType, kb);
  const material = keyMaterial(key, requested);
  const newKb: StructureNode = {
    ...kb,
    value: kb.value.map((c): TtlvNode => {
      if (c.tag === Tag.KeyFormatType) return { tag: Tag.KeyFormatType, type: 'Enumeration', value: requested };
      if (c.tag === Tag.KeyValue && c.type === 'Structure') return { ...c, value: c.value.map((k) => (k.tag === Tag.KeyMaterial ? material : k)) };
      return c;
    }),
  };
  return { ...body, value: body.value.map((c) => (c.tag === Tag.KeyBlock ? newKb : c)) };
}

/** Whether Get should try `convertKeyBody` for this object (a public or private key). */
export function isAsymmetricKeyType(objectType: number): boolean {
  return objectType === ObjectType.PublicKey || objectType === ObjectType.PrivateKey;
}

/**
 * Get's hook: a Public/Private Key in the requested Key Format Type, or why not (the key is
 * wrapped, unreadable, or cannot take that format).
 */
export function asymmetricInKeyFormat(
  objectType: number,
  body: StructureNode,
  requested: number,
): { readonly ok: true; readonly body: StructureNode } | { readonly ok: false; readonly why: string } {
  try {
    return { ok: true, body: convertKeyBody(objectType, body, requested) };
  } catch (e) {
    if (e instanceof KeyFormatError) return { ok: false, why: e.message };
    throw e;
  }
}

/**
 * Register's hook: the Cryptographic Algorithm and Length a plain Public/Private Key states
 * through its content (used only where neither the request nor the Key Block gives them). A key
 * this module cannot read states nothing.
 */
export function asymmetricDerived(objectType: number, body: StructureNode): { key: 'CryptographicAlgorithm' | 'CryptographicLength'; node: TtlvNode }[] {
  const kb = keyBlockOfBody(body);
  if (!kb || !isAsymmetricKeyType(objectType)) return [];
  let facts: KeyFacts;
  try {
    facts = keyFacts(keyFromBlock(objectType, kb));
  } catch {
    return [];
  }
  return [
    { key: 'CryptographicAlgorithm', node: { tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: facts.algorithm } },
    { key: 'CryptographicLength', node: { tag: Tag.CryptographicLength, type: 'Integer', value: facts.length } },
  ];
}
