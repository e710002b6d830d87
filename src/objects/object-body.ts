/**
 * Object content ("body"): the managed object structure a client registers and Get returns —
 * Symmetric Key, Public Key, Private Key, Split Key, Secret Data, PGP Key (each around a Key
 * Block), Certificate, Certificate Request (2.x), Opaque Object, Template (1.x).
 * KMIP 1.4 §2.2 Tables 45-52 and §2.1.3 (Key Block), §2.1.4 (Key Value); KMIP 2.1 §2 and §2.1.3.
 *
 * The body is stored as the object structure itself, sealed (operations/service/save.ts `sealBody`);
 * it never reaches the store or a log in the clear. This module:
 * - checks a registered structure (`parseObject`): required parts present, right item types, the
 *   tag matching the Object Type — failures are Invalid Field (KMIP 1.4 §11.4 "Object Type does not
 *   match type of cryptographic object provided"; a structure that breaks its schema);
 * - derives the attributes its content carries (Cryptographic Algorithm/Length from the Key Block,
 *   Certificate Type/Length, Opaque Data Type; an X.509 certificate's subject, issuer, serial number,
 *   signature algorithm and key, objects/certificate-attributes.ts) and its Digest (SHA-256, 1.4
 *   §3.17 / 2.1 §4.19); checks a Certificate Request's self-signature (PKCS#10 DER or PEM);
 * - accepts a metadata-only Key Block (KMIP 1.2+: no Key Value, the value lives where the Key Value
 *   Location says; 1.4 §2.1.3 and §3.41-3.42, 2.1 §4.27-4.28) for the object types Key Value Present
 *   applies to; such an object has no Digest and its record carries Key Value Present false
 *   (`isMetadataOnly`), which operations/service/save.ts `openBody` refuses to hand to value users;
 * - builds the Symmetric Key body Create makes (Key Format Type Raw);
 * - converts a symmetric key between Raw and Transparent Symmetric Key for Get.
 */
import { createHash } from 'node:crypto';
import { CertificateType, HashingAlgorithm, KeyFormatType, ObjectType, ResultReason, SplitKeyMethod } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { KmipError } from '../kmip/errors.js';
import { optional, readPayload, repeated, required, type Schema } from '../kmip/payload.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { readAttribute1x, type AttributeInstance } from './attributes.js';
import { certificateAttributes } from './certificate-attributes.js';
import { readCertificate, readRequest, X509Error } from '../pki/x509-read.js';
import type { AttributeKey } from './managed-object.js';

/** The structure tag of each object type's content. */
export const OBJECT_TAG: ReadonlyMap<number, number> = new Map([
  [ObjectType.Certificate, Tag.Certificate],
  [ObjectType.SymmetricKey, Tag.SymmetricKey],
  [ObjectType.PublicKey, Tag.PublicKey],
  [ObjectType.PrivateKey, Tag.PrivateKey],
  [ObjectType.SplitKey, Tag.SplitKey],
  [ObjectType.Template, Tag.Template],
  [ObjectType.SecretData, Tag.SecretData],
  [ObjectType.OpaqueObject, Tag.OpaqueObject],
  [ObjectType.PGPKey, Tag.PGPKey],
  [ObjectType.CertificateRequest, Tag.CertificateRequest],
]);

const OBJECT_TAGS: ReadonlySet<number> = new Set(OBJECT_TAG.values());

/**
 * A Register / Import request payload split into the object structures it carries (any of the
 * Object Type's structures) and the rest, which the operation reads with its schema.
 */
export function takeObjects(node: TtlvNode | undefined): { objects: TtlvNode[]; rest: TtlvNode | undefined } {
  const children = node?.type === 'Structure' ? node.value : [];
  return {
    objects: children.filter((c) => OBJECT_TAGS.has(c.tag)),
    rest: node === undefined ? undefined : ({ ...node, value: children.filter((c) => !OBJECT_TAGS.has(c.tag)) } as TtlvNode),
  };
}

/** Object types whose content is a Key Block (plus, for some, a few fields around it). */
export const KEY_BLOCK_TYPES: ReadonlySet<number> = new Set([
  ObjectType.SymmetricKey,
  ObjectType.PublicKey,
  ObjectType.PrivateKey,
  ObjectType.SplitKey,
  ObjectType.SecretData,
  ObjectType.PGPKey,
]);

export interface DerivedAttribute {
  readonly key: AttributeKey;
  readonly node: TtlvNode;
}

export interface ParsedObject {
  /** The structure to seal. */
  readonly body: StructureNode;
  /** Attributes the content itself states (to be checked against, or added to, the request's). */
  readonly derived: readonly DerivedAttribute[];
  /** Digest attribute value, when the server can compute one. */
  readonly digest?: TtlvNode;
  /** Template only: the attributes the template holds. */
  readonly templateAttributes?: readonly AttributeInstance[];
  /** A metadata-only key: its Key Block has no Key Value (the server sets Key Value Present false). */
  readonly metadataOnly?: true;
}

/**
 * Object types that may be registered without a Key Value (KMIP 1.2+): those Key Value Present
 * applies to — Symmetric Key, Private Key, Split Key, Secret Data (1.4 Table 142); in 2.x it applies
 * to all objects (2.1 Table 85), so a Public Key and a PGP Key too.
 */
function mayOmitKeyValue(objectType: number, version: KmipVersion): boolean {
  if (version.major === 1 && version.minor < 2) return false;
  const oneX = [ObjectType.SymmetricKey, ObjectType.PrivateKey, ObjectType.SplitKey, ObjectType.SecretData] as number[];
  return oneX.includes(objectType) || (version.major >= 2 && (objectType === ObjectType.PublicKey || objectType === ObjectType.PGPKey));
}

/** Whether a stored object is metadata-only: the server set its Key Value Present to false at Register. */
export function isMetadataOnly(attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>): boolean {
  const n = attrs.get('KeyValuePresent')?.[0];
  return n?.type === 'Boolean' && n.value === false;
}

/** The Key Value Present attribute the server sets on a metadata-only object. */
export const KEY_VALUE_ABSENT: TtlvNode = { tag: Tag.KeyValuePresent, type: 'Boolean', value: false };

function bad(message: string): never {
  throw new KmipError(ResultReason.InvalidField, message);
}

const KeyBlockSchema = {
  keyFormatType: required(Tag.KeyFormatType, 'Enumeration'),
  keyCompressionType: optional(Tag.KeyCompressionType, 'Enumeration'),
  // Optional since KMIP 1.2: a metadata-only object's Key Block omits its Key Value (see mayOmitKeyValue).
  keyValue: optional(Tag.KeyValue, 'Structure', 'ByteString'),
  cryptographicAlgorithm: optional(Tag.CryptographicAlgorithm, 'Enumeration'),
  cryptographicLength: optional(Tag.CryptographicLength, 'Integer'),
  keyWrappingData: optional(Tag.KeyWrappingData, 'Structure'),
};

const KeyValueSchema = {
  keyMaterial: required(Tag.KeyMaterial, 'ByteString', 'Structure'),
  attributes: repeated(Tag.Attribute, 'Structure'),
};

const TransparentSymmetricSchema = { key: required(Tag.Key, 'ByteString') };

export interface KeyBlockInfo {
  readonly keyFormatType: number;
  readonly wrapped: boolean;
  /** False for a metadata-only Key Block: no Key Value (the value lives elsewhere, 1.4 §3.41-3.42). */
  readonly valuePresent: boolean;
  readonly algorithm?: number;
  readonly length?: number;
  /** The plain key bytes, when the block is not wrapped and the format has them as one byte string. */
  readonly material?: Uint8Array;
}

/** Check a Key Block and read what the server needs from it. */
export function readKeyBlock(node: TtlvNode | undefined, what: string): KeyBlockInfo {
  const kb = readPayload(node, KeyBlockSchema, { what: `${what} Key Block` });
  const wrapped = kb.keyWrappingData !== undefined;
  let material: Uint8Array | undefined;
  if (kb.keyValue === undefined) {
    if (wrapped) bad(`${what} Key Block: Key Wrapping Data without a Key Value`);
  } else if (!wrapped) {
    if (kb.keyValue.type !== 'Structure') bad(`${what} Key Block: an unwrapped Key Value must be a structure`);
    const kv = readPayload(kb.keyValue, KeyValueSchema, { what: `${what} Key Value` });
    const m = kv.keyMaterial;
    if (m.type === 'ByteString') {
      if (m.value.length === 0) bad(`${what}: empty Key Material`);
      material = m.value;
    } else if (kb.keyFormatType.value === KeyFormatType.TransparentSymmetricKey) {
      const t = readPayload(m, TransparentSymmetricSchema, { what: `${what} Transparent Symmetric Key` });
      if (t.key.value.length === 0) bad(`${what}: empty Key`);
      material = t.key.value;
    } else if (m.value.length === 0) {
      bad(`${what}: empty Key Material`);
    }
  } else if (kb.keyValue.type === 'ByteString' && kb.keyValue.value.length === 0) {
    bad(`${what}: empty wrapped Key Value`);
  }
  if (kb.cryptographicLength !== undefined && kb.cryptographicLength.value <= 0) bad(`${what}: Cryptographic Length must be positive`);
  return {
    keyFormatType: kb.keyFormatType.value,
    wrapped,
    valuePresent: kb.keyValue !== undefined,
    ...(kb.cryptographicAlgorithm && { algorithm: kb.cryptographicAlgorithm.value }),
    ...(kb.cryptographicLength && { length: kb.cryptographicLength.value }),
    ...(material && { material }),
  };
}

function keyBlockOf(body: StructureNode): TtlvNode | undefined {
  return body.value.find((c) => c.tag === Tag.KeyBlock);
}

function digestNode(data: Uint8Array, keyFormatType?: number): TtlvNode {
  const parts: TtlvNode[] = [
    { tag: Tag.HashingAlgorithm, type: 'Enumeration', value: HashingAlgorithm.SHA_256 },
    { tag: Tag.DigestValue, type: 'ByteString', value: createHash('sha256').update(data).digest() },
  ];
  if (keyFormatType !== undefined) parts.push({ tag: Tag.KeyFormatType, type: 'Enumeration', value: keyFormatType });
  return { tag: Tag.Digest, type: 'Structure', value: parts };
}

const enumAttr = (key: AttributeKey, tag: number, value: number): DerivedAttribute => ({ key, node: { tag, type: 'Enumeration', value } });
const intAttr = (key: AttributeKey, tag: number, value: number): DerivedAttribute => ({ key, node: { tag, type: 'Integer', value } });

/**
 * Check the object structure a Register request carries for `objectType` and derive what its
 * content states. Refusals: Invalid Field.
 */
export function parseObject(objectType: number, node: TtlvNode | undefined, version: KmipVersion): ParsedObject {
  const tag = OBJECT_TAG.get(objectType);
  if (tag === undefined) bad(`objects of type ${objectType} cannot be registered`);
  if (node === undefined) bad('the request carries no object');
  if (node.tag !== tag) bad('the object does not match the Object Type');
  if (node.type !== 'Structure') bad('the object must be a structure');
  const body = node;
  const what = 'registered object';
  const derived: DerivedAttribute[] = [];

  if (KEY_BLOCK_TYPES.has(objectType)) {
    const fields: Schema =
      objectType === ObjectType.SecretData
        ? { secretDataType: required(Tag.SecretDataType, 'Enumeration'), keyBlock: required(Tag.KeyBlock, 'Structure') }
        : objectType === ObjectType.SplitKey
          ? {
              splitKeyParts: required(Tag.SplitKeyParts, 'Integer'),
              keyPartIdentifier: required(Tag.KeyPartIdentifier, 'Integer'),
              splitKeyThreshold: required(Tag.SplitKeyThreshold, 'Integer'),
              splitKeyMethod: required(Tag.SplitKeyMethod, 'Enumeration'),
              primeFieldSize: optional(Tag.PrimeFieldSize, 'BigInteger'),
              keyBlock: required(Tag.KeyBlock, 'Structure'),
            }
          : objectType === ObjectType.PGPKey
            ? { pgpKeyVersion: required(Tag.PGPKeyVersion, 'Integer'), keyBlock: required(Tag.KeyBlock, 'Structure') }
            : { keyBlock: required(Tag.KeyBlock, 'Structure') };
    const parsed = readPayload(body, fields, { what }) as Record<string, TtlvNode | undefined>;
    if (objectType === ObjectType.SplitKey) checkSplitKey(parsed);
    const kb = readKeyBlock(parsed.keyBlock, what);
    if (!kb.valuePresent && !mayOmitKeyValue(objectType, version)) bad(`${what} Key Block: KeyValue is required`);
    if (objectType !== ObjectType.SecretData) {
      if (kb.algorithm !== undefined) derived.push(enumAttr('CryptographicAlgorithm', Tag.CryptographicAlgorithm, kb.algorithm));
      const length = kb.length ?? (objectType === ObjectType.SymmetricKey && kb.material ? kb.material.length * 8 : undefined);
      if (length !== undefined) derived.push(intAttr('CryptographicLength', Tag.CryptographicLength, length));
    }
    if (objectType === ObjectType.SymmetricKey && kb.material && kb.length !== undefined && kb.length !== kb.material.length * 8) {
      bad(`${what}: Cryptographic Length ${kb.length} does not match ${kb.material.length * 8} bits of key material`);
    }
    // No Digest for a metadata-only key: there is no value to hash.
    return {
      body,
      derived,
      ...(kb.material && !kb.wrapped && { digest: digestNode(kb.material, kb.keyFormatType) }),
      ...(!kb.valuePresent && { metadataOnly: true as const }),
    };
  }

  switch (objectType) {
    case ObjectType.Certificate: {
      const c = readPayload(body, { type: required(Tag.CertificateType, 'Enumeration'), value: required(Tag.CertificateValue, 'ByteString') }, { what });
      if (c.value.value.length === 0) bad('empty Certificate Value');
      derived.push(enumAttr('CertificateType', Tag.CertificateType, c.type.value));
      derived.push(intAttr('CertificateLength', Tag.CertificateLength, c.value.value.length));
      if (c.type.value === CertificateType.X_509) {
        // The certificate must parse (1.4 §11.4, 2.1 Table 294: Invalid Field); what it states becomes attributes.
        try {
          derived.push(...certificateAttributes(readCertificate(c.value.value)));
        } catch (e) {
          if (e instanceof X509Error) bad(`the X.509 certificate is malformed: ${e.message}`);
          throw e;
        }
      }
      const fmt = c.type.value === CertificateType.X_509 ? KeyFormatType.X_509 : undefined;
      return { body, derived, digest: digestNode(c.value.value, fmt) };
    }
    case ObjectType.CertificateRequest: {
      const c = readPayload(body, { type: required(Tag.CertificateRequestType, 'Enumeration'), value: required(Tag.CertificateRequestValue, 'ByteString') }, { what });
      if (c.value.value.length === 0) bad('empty Certificate Request Value');
      try {
        readRequest(c.type.value, c.value.value);
      } catch (e) {
        if (e instanceof X509Error) bad(`the certificate request is not acceptable: ${e.message}`);
        throw e;
      }
      return { body, derived, digest: digestNode(c.value.value) };
    }
    case ObjectType.OpaqueObject: {
      // Opaque Data Type: any value, including the extension range (PyKMIP sends 0x80000000).
      const o = readPayload(body, { type: required(Tag.OpaqueDataType, 'Enumeration'), value: required(Tag.OpaqueDataValue, 'ByteString') }, { what });
      derived.push(enumAttr('OpaqueDataType', Tag.OpaqueDataType, o.type.value));
      return { body, derived, digest: digestNode(o.value.value) };
    }
    case ObjectType.Template: {
      const t = readPayload(body, { attributes: repeated(Tag.Attribute, 'Structure') }, { what: 'Template' });
      if (t.attributes.length === 0) bad('a Template holds at least one Attribute');
      const templateAttributes = t.attributes.map((a) => readAttribute1x(a, version));
      if (templateAttributes.some((a) => a.key === 'Name')) bad('a Template structure may not contain a Name attribute (KMIP 1.4 §11.4)');
      return { body, derived, templateAttributes };
    }
    default:
      return bad(`objects of type ${objectType} cannot be registered`);
  }
}

function checkSplitKey(p: Record<string, TtlvNode | undefined>): void {
  const num = (n: TtlvNode | undefined): number => (n?.type === 'Integer' || n?.type === 'Enumeration' ? n.value : NaN);
  const parts = num(p.splitKeyParts);
  const id = num(p.keyPartIdentifier);
  const threshold = num(p.splitKeyThreshold);
  if (!(parts >= 1)) bad('Split Key Parts must be at least 1');
  if (!(id >= 1 && id <= parts)) bad('Key Part Identifier must be between 1 and Split Key Parts (KMIP 1.4 §2.2.5)');
  if (!(threshold >= 1 && threshold <= parts)) bad('Split Key Threshold must be between 1 and Split Key Parts');
  if (num(p.splitKeyMethod) === SplitKeyMethod.PolynomialSharingPrimeField && p.primeFieldSize === undefined) {
    bad('Prime Field Size is required for Polynomial Sharing Prime Field');
  }
}

/** The Symmetric Key structure Create stores: Key Block { Raw, Key Value { Key Material }, algorithm, length }. */
/**
 * A Symmetric Key body in Raw format. `key` undefined: an HSM-resident key's body, the Key
 * Block's metadata without a Key Value (the value never leaves the token).
 */
export function symmetricKeyBody(key: Uint8Array | undefined, algorithm: number, bits: number): StructureNode {
  return {
    tag: Tag.SymmetricKey,
    type: 'Structure',
    value: [
      {
        tag: Tag.KeyBlock,
        type: 'Structure',
        value: [
          { tag: Tag.KeyFormatType, type: 'Enumeration', value: KeyFormatType.Raw },
          ...(key ? [{ tag: Tag.KeyValue, type: 'Structure' as const, value: [{ tag: Tag.KeyMaterial, type: 'ByteString' as const, value: key }] }] : []),
          { tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: algorithm },
          { tag: Tag.CryptographicLength, type: 'Integer', value: bits },
        ],
      },
    ],
  };
}

/** The Digest of a freshly made Raw key. */
export function rawKeyDigest(key: Uint8Array): TtlvNode {
  return digestNode(key, KeyFormatType.Raw);
}

export type FormatResult = { readonly ok: true; readonly body: StructureNode } | { readonly ok: false; readonly why: string };

/**
 * The body in the Key Format Type a Get asks for. A symmetric key converts between Raw and
 * Transparent Symmetric Key (1.4 §2.1.7.1: Key Material { Key }); any object returns as stored in
 * its own format; a certificate also answers to X.509. Everything else is refused.
 */
export function inKeyFormat(objectType: number, body: StructureNode, requested: number): FormatResult {
  const kbNode = keyBlockOf(body);
  if (!kbNode || kbNode.type !== 'Structure') {
    const natural = objectType === ObjectType.Certificate && body.value.some((c) => c.tag === Tag.CertificateType && c.value === CertificateType.X_509);
    return natural && requested === KeyFormatType.X_509 ? { ok: true, body } : { ok: false, why: 'this object has no Key Block to format' };
  }
  const kb = readKeyBlock(kbNode, 'stored object');
  if (kb.keyFormatType === requested) return { ok: true, body };
  const convertible = new Set<number>([KeyFormatType.Raw, KeyFormatType.TransparentSymmetricKey]);
  if (objectType !== ObjectType.SymmetricKey || kb.wrapped || !kb.material || !convertible.has(kb.keyFormatType) || !convertible.has(requested)) {
    return { ok: false, why: 'the key can only be returned in the format it is stored in (and, for symmetric keys, Raw or Transparent Symmetric Key)' };
  }
  const material: TtlvNode =
    requested === KeyFormatType.Raw
      ? { tag: Tag.KeyMaterial, type: 'ByteString', value: kb.material }
      : { tag: Tag.KeyMaterial, type: 'Structure', value: [{ tag: Tag.Key, type: 'ByteString', value: kb.material }] };
  const newKb: StructureNode = {
    tag: Tag.KeyBlock,
    type: 'Structure',
    value: kbNode.value.map((c): TtlvNode => {
      if (c.tag === Tag.KeyFormatType) return { tag: Tag.KeyFormatType, type: 'Enumeration', value: requested };
      if (c.tag === Tag.KeyValue && c.type === 'Structure') return { ...c, value: c.value.map((k) => (k.tag === Tag.KeyMaterial ? material : k)) };
      return c;
    }),
  };
  return { ok: true, body: { ...body, value: body.value.map((c) => (c.tag === Tag.KeyBlock ? newKb : c)) } };
}

/** The Key Compression Type of a stored body's Key Block, if any. */
export function keyCompressionTypeOf(body: StructureNode): number | undefined {
  const kb = keyBlockOf(body);
  const c = kb?.type === 'Structure' ? kb.value.find((n) => n.tag === Tag.KeyCompressionType) : undefined;
  return c?.type === 'Enumeration' ? c.value : undefined;
}

/** The Key Format Type of a stored body's Key Block, if any. */
export function keyFormatTypeOf(body: StructureNode): number | undefined {
  const kb = keyBlockOf(body);
  const f = kb?.type === 'Structure' ? kb.value.find((n) => n.tag === Tag.KeyFormatType) : undefined;
  return f?.type === 'Enumeration' ? f.value : undefined;
}

/** Whether a stored body's Key Block is wrapped (has Key Wrapping Data). */
export function isWrapped(body: StructureNode): boolean {
  const kb = keyBlockOf(body);
  return kb?.type === 'Structure' && kb.value.some((n) => n.tag === Tag.KeyWrappingData);
}
