/**
 * Key wrapping on Get (Key Wrapping Specification, KMIP 1.4 §2.1.6 Table 24, 2.1 §7.18 Table 370)
 * and on Register (a Key Block carrying Key Wrapping Data, 1.4 §2.1.5 Table 20, 2.1 §3.3 Table 15).
 *
 * Wrapping Method Encrypt, with the Encryption Key Information's key:
 * - an AES Symmetric Key: Block Cipher Mode NIST Key Wrap (RFC 3394; also the default when no
 *   mode is given) or AES Key Wrap Padding (RFC 5649);
 * - an RSA Public Key (to wrap) / Private Key (to unwrap): Padding Method OAEP (the default),
 *   Hashing Algorithm SHA-1 (default) … SHA-512, MGF1 over the same hash.
 * The parameters are the Encryption Key Information's Cryptographic Parameters, else the wrapping
 * key's Cryptographic Parameters attribute. On Get, parameters given in the specification must match
 * an instance of that attribute (2.1 §7.18; 1.4 §2.1.6): otherwise Item Not Found (1.x, 1.4 §11.12
 * "Cryptographic Parameters associated with the object do not exist or do not match") / Bad
 * Cryptographic Parameters (2.x).
 * Encoding Option (1.1+): TTLV Encoding (the default) wraps the TTLV-encoded Key Value structure,
 * holding the Attribute Names' attributes when asked; No Encoding wraps the Key Material byte
 * string alone — with Attribute Names, or a structured (Transparent) Key Material: Encoding Option
 * Error (Invalid Field in 1.0, which lacks it).
 * Wrapping Method Encrypt then MAC/sign with a MAC key (HMAC-SHA*, AES-CMAC; MAC Generate to make,
 * MAC Verify to check) in the MAC/Signature Key Information: the MAC over the wrapped bytes goes in
 * MAC/Signature, and Register checks it (constant time; a mismatch is Cryptographic Failure) before
 * unwrapping. Not built: MAC/sign alone, MAC/sign then encrypt, TR-31, signing keys — Feature Not
 * Supported on Get; Register stores such a key as given.
 *
 * The wrapping key's checks (1.4 §11.12, 2.1 Table 222):
 * - missing or not the caller's: Item Not Found (1.x) / Wrapping Object Not Found (2.x);
 * - archived: Object Archived (1.x) / Wrapping Object Archived (2.x);
 * - destroyed: Permission Denied (1.x) / Wrapping Object Destroyed (2.x);
 * - not a key that can wrap this way: Illegal Operation (1.x) / Invalid Object Type (2.x);
 * - wrapping needs Active (and before its Protect Stop Date); unwrapping Active, Deactivated or
 *   Compromised (2.1 §4.57): Permission Denied (1.x) / Wrong Key Lifecycle State (2.x);
 * - Cryptographic Usage Mask without Wrap Key (wrapping) / Unwrap Key (unwrapping; at 1.x, whose
 *   spec gives the bit no rule and whose test cases unwrap under a Wrap-Key-only KEK, Wrap Key or
 *   Unwrap Key): Permission Denied (1.x) / Incompatible Cryptographic Usage Mask (2.x);
 * - a mechanism not served (or not allowed by the configured crypto policy, e.g. its OAEP hashes):
 *   Invalid Field (1.x) / Unsupported Cryptographic Parameters (2.x); an unwrap whose integrity check
 *   fails: Cryptographic Failure;
 * - an HSM-resident wrapping key: Feature Not Supported (not built).
 */
import type { KeyObject } from 'node:crypto';
import { BlockCipherMode, CryptographicAlgorithm, EncodingOption, ObjectType, PaddingMethod, ResultReason, State, WrappingMethod } from '../../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../kmip/generated/masks.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload, repeated, required } from '../../kmip/payload.js';
import { decode } from '../../ttlv/decode.js';
import { encode } from '../../ttlv/encode.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import { keyFromAttributeName1x, writeAttribute1x, writeAttribute2x } from '../../objects/attributes.js';
import { keyBlockOfBody, keyFromBlock, KeyFormatError } from '../../objects/key-formats.js';
import { dateAttribute, isDestroyed } from '../../objects/lifecycle.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import { readKeyBlock } from '../../objects/object-body.js';
import { aesUnwrap, aesWrap } from '../../crypto/key-wrap.js';
import { CryptoError } from '../../crypto/errors.js';
import { macEquals, openMac, rsaDecrypt, rsaEncrypt, type CryptoParams } from '../../crypto/mechanism.js';
import type { CipherPolicy } from '../../policy/crypto-policy.js';
import type { OperationContext } from '../context.js';
import { checkAsymmetricUse, checkSymmetricUse } from '../crypto/key-policy-check.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { attribute, instance, instances, isArchived } from '../../objects/typed-attributes.js';
import { servedAttributes } from '../../objects/served-attributes.js';
import { cryptoPolicyOf, mechanism, readCryptoParams } from './crypto-params.js';
import { keyCustody } from '../key-custody.js';

/**
 * How key wrapping reaches the keys it wraps and unwraps with: load with the access check, and
 * open the sealed content. The object service hands its own down (operations/service/object-service.ts
 * `objectKeys`), so this module never calls back up into it.
 */
export interface KeySource {
  load(ctx: OperationContext, uid: string, operation: string): Promise<{ readonly record: ObjectRecord; readonly state: number }>;
  open(ctx: OperationContext, record: ObjectRecord): Promise<StructureNode>;
}

/**
 * Server-internal attribute key (as locate-order.ts's): the Key Wrapping Data of a key the server
 * unwrapped at Register — the marker that its sealed body also holds the registered form. Never
 * shown to a client (no KMIP tag name), never copied by Re-key.
 */
export const REGISTERED_WRAPPING_KEY = '$registeredWrapping';

/**
 * A private tag (TTLV extension range, as the record codec's) for the child of a sealed body that
 * keeps the Key Block exactly as registered (wrapped), for Key Wrap Type As Registered. It lives
 * only inside the sealed body; `withoutRegisteredForm` takes it out before a body is returned.
 */
export const REGISTERED_FORM_TAG = 0x54ff90;

/** The body to seal: the plain object plus the registered (wrapped) Key Block. */
export function withRegisteredForm(plain: StructureNode, registeredKeyBlock: StructureNode): StructureNode {
  return { ...plain, value: [...plain.value, { tag: REGISTERED_FORM_TAG, type: 'Structure', value: [registeredKeyBlock] }] };
}

/** A stored body split into the object a client may see and the registered Key Block, if kept. */
export function withoutRegisteredForm(body: StructureNode): { body: StructureNode; registered?: StructureNode } {
  const kept = body.value.find((c) => c.tag === REGISTERED_FORM_TAG);
  if (!kept) return { body };
  const kb = kept.type === 'Structure' ? kept.value.find((c) => c.tag === Tag.KeyBlock) : undefined;
  return { body: { ...body, value: body.value.filter((c) => c.tag !== REGISTERED_FORM_TAG) }, ...(kb?.type === 'Structure' && { registered: kb }) };
}

const KeyInformationSchema = {
  uid: required(Tag.UniqueIdentifier, 'TextString'),
  params: optional(Tag.CryptographicParameters, 'Structure'),
};
const SpecificationSchema = {
  method: required(Tag.WrappingMethod, 'Enumeration'),
  encryption: optional(Tag.EncryptionKeyInformation, 'Structure'),
  macSignature: optional(Tag.MACSignatureKeyInformation, 'Structure'),
  attributeNames: repeated(Tag.AttributeName, 'TextString'),
  encoding: optional(Tag.EncodingOption, 'Enumeration'),
};
const WrappingDataSchema = {
  method: required(Tag.WrappingMethod, 'Enumeration'),
  encryption: optional(Tag.EncryptionKeyInformation, 'Structure'),
  macSignature: optional(Tag.MACSignatureKeyInformation, 'Structure'),
  mac: optional(Tag.MACSignature, 'ByteString'),
  iv: optional(Tag.IVCounterNonce, 'ByteString'),
  encoding: optional(Tag.EncodingOption, 'Enumeration'),
};

/** What the key is loaded for: wrapping / unwrapping (Encryption Key Information), MAC / MAC verify (MAC/Signature Key Information). */
type Direction = 'wrap' | 'unwrap' | 'mac' | 'macVerify';
const PROTECTING: ReadonlySet<Direction> = new Set(['wrap', 'mac']);
const DIRECTION_TYPES: Readonly<Record<Direction, readonly number[]>> = {
  wrap: [ObjectType.SymmetricKey, ObjectType.PublicKey],
  unwrap: [ObjectType.SymmetricKey, ObjectType.PrivateKey],
  mac: [ObjectType.SymmetricKey],
  macVerify: [ObjectType.SymmetricKey],
};

/** The wrapping key, checked and opened. */
interface WrappingKey {
  readonly record: ObjectRecord;
  readonly algorithm: number | undefined;
  readonly material?: Uint8Array;
  readonly keyObject?: KeyObject;
}

const encodingError = (ctx: OperationContext, message: string): KmipError => new KmipError(versionReason(ctx.version, 'EncodingOptionError'), message);

/**
 * Load the key `uid` to wrap or unwrap with. `missing` decides what a key the caller cannot see
 * gives: the refusal (Get), or undefined (Register stores the key as given).
 */
async function loadWrappingKey(ctx: OperationContext, keys: KeySource, uid: string, dir: Direction, operation: string, missing: 'refuse' | 'skip'): Promise<WrappingKey | undefined> {
  const v = ctx.version;
  let record: ObjectRecord;
  let state: number;
  try {
    ({ record, state } = await keys.load(ctx, uid, operation));
  } catch (e) {
    if (e instanceof KmipError && (e.reason === ResultReason.ItemNotFound || e.reason === ResultReason.ObjectNotFound)) {
      if (missing === 'skip') return undefined;
      throw new KmipError(versionReason(v, 'WrappingObjectNotFound'), `no wrapping key ${uid}`);
    }
    throw e;
  }
  if (isArchived(record.attributes)) throw new KmipError(versionReason(v, 'WrappingObjectArchived'), `the wrapping key ${uid} is archived`);
  if (!DIRECTION_TYPES[dir].includes(record.objectType)) {
    throw new KmipError(
      versionReason(v, 'ObjectTypeNotUsable'),
      dir === 'mac' || dir === 'macVerify'
        ? `the object ${uid} cannot MAC a wrapped key (a Symmetric Key can; signing keys are not built)`
        : `the object ${uid} cannot ${dir} keys (a Symmetric Key, or an RSA ${dir === 'wrap' ? 'Public' : 'Private'} Key, can)`,
    );
  }
  if (isDestroyed(state) || !record.sealedBody) throw new KmipError(versionReason(v, 'WrappingObjectDestroyed'), `the wrapping key ${uid} has been destroyed`);
  const wrongState = versionReason(v, 'WrongKeyLifecycleState');
  if (PROTECTING.has(dir)) {
    if (state !== State.Active) throw new KmipError(wrongState, `the wrapping key ${uid} is not Active`);
    const stop = dateAttribute(record.attributes, 'ProtectStopDate');
    if (stop !== undefined && ctx.now > stop) throw new KmipError(wrongState, `the wrapping key ${uid} is past its Protect Stop Date`);
  } else {
    if (state !== State.Active && state !== State.Deactivated && state !== State.Compromised) {
      throw new KmipError(wrongState, `the unwrapping key ${uid} is not Active, Deactivated or Compromised`);
    }
    const start = dateAttribute(record.attributes, 'ProcessStartDate');
    if (start !== undefined && ctx.now < start) throw new KmipError(wrongState, `the unwrapping key ${uid} is before its Process Start Date`);
  }
  // Unwrapping: Unwrap Key (2.1 §12.1 "Applies to Get operation when unwrapping is required"). KMIP
  // 1.x gives the bit no rule, and its test cases (TC-WRAP-1/2/3-14) unwrap under a Wrap-Key-only
  // KEK, so at 1.x either bit allows it.
  const bits: Record<Direction, number> = {
    wrap: CryptographicUsageMask.WrapKey,
    unwrap: is2x(v) ? CryptographicUsageMask.UnwrapKey : CryptographicUsageMask.UnwrapKey | CryptographicUsageMask.WrapKey,
    mac: CryptographicUsageMask.MACGenerate,
    macVerify: CryptographicUsageMask.MACVerify,
  };
  const bitName: Record<Direction, string> = { wrap: 'Wrap Key', unwrap: 'Unwrap Key', mac: 'MAC Generate', macVerify: 'MAC Verify' };
  if (((attribute(record.attributes, 'CryptographicUsageMask') ?? 0) & bits[dir]) === 0) {
    throw new KmipError(versionReason(v, 'IncompatibleCryptographicUsageMask'), `the key ${uid}'s Cryptographic Usage Mask does not allow ${bitName[dir]}`);
  }
  keyCustody(ctx).requireHostValue(record, `the key ${uid} lives in the HSM; wrapping with HSM-resident keys is not built`);
  const body = await keys.open(ctx, record);
  const kbNode = keyBlockOfBody(body);
  const kb = readKeyBlock(kbNode, 'stored key');
  if (kb.wrapped || !kbNode) throw new KmipError(versionReason(v, 'KeyValueNotPresent'), `the key ${uid} is stored wrapped; the server cannot use it`);
  const algorithm = kb.algorithm ?? attribute(record.attributes, 'CryptographicAlgorithm');
  if (record.objectType === ObjectType.SymmetricKey) {
    if (!kb.material) throw new KmipError(ResultReason.KeyValueNotPresent, `the key ${uid} has no usable key material`);
    // The crypto policy for protecting uses (operations/crypto/key-policy-check.ts); unwrapping stays possible.
    if (PROTECTING.has(dir)) checkSymmetricUse(ctx, uid, algorithm, kb.material);
    return { record, algorithm, material: kb.material };
  }
  let keyObject: KeyObject;
  try {
    keyObject = keyFromBlock(record.objectType, kbNode);
  } catch (e) {
    if (e instanceof KeyFormatError) throw new KmipError(ResultReason.KeyFormatTypeNotSupported, `the wrapping key ${uid} cannot be read: ${e.message}`);
    throw e;
  }
  if (PROTECTING.has(dir)) checkAsymmetricUse(ctx, uid, algorithm, keyObject);
  return { record, algorithm, keyObject };
}

/** Run the mechanism of `key` with `params` in `dir` over `data`. Mechanism errors are CryptoErrors. */
function runMechanism(key: WrappingKey, params: CryptoParams, dir: 'wrap' | 'unwrap', data: Uint8Array, policy: CipherPolicy): Uint8Array {
  if (key.material) {
    if (key.algorithm !== CryptographicAlgorithm.AES) throw new CryptoError('UNSUPPORTED', 'symmetric key wrapping is served with AES keys only');
    const mode = params.blockCipherMode ?? BlockCipherMode.NISTKeyWrap;
    const variant = mode === BlockCipherMode.NISTKeyWrap ? 'kw' : mode === BlockCipherMode.AESKeyWrapPadding ? 'kwp' : undefined;
    if (!variant) throw new CryptoError('UNSUPPORTED', 'AES key wrapping is served with Block Cipher Mode NIST Key Wrap (RFC 3394) or AES Key Wrap Padding (RFC 5649)');
    return dir === 'wrap' ? aesWrap(key.material, data, variant) : aesUnwrap(key.material, data, variant);
  }
  const k = key.keyObject!;
  if (k.asymmetricKeyType !== 'rsa') throw new CryptoError('UNSUPPORTED', 'asymmetric key wrapping is served with RSA keys only');
  if ((params.paddingMethod ?? PaddingMethod.OAEP) !== PaddingMethod.OAEP) throw new CryptoError('UNSUPPORTED', 'RSA key wrapping is served with OAEP only');
  const oaep: CryptoParams = { ...params, paddingMethod: PaddingMethod.OAEP };
  return dir === 'wrap' ? rsaEncrypt(k, oaep, data, policy) : rsaDecrypt(k, oaep, data, policy);
}

/** The MAC of the wrapped bytes (Encrypt then MAC/sign): HMAC or AES-CMAC with the MAC key. */
function macOf(key: WrappingKey, params: CryptoParams, wrapped: Uint8Array): Uint8Array {
  if (!key.material) throw new CryptoError('UNSUPPORTED', 'MAC/sign wrapping is served with MAC keys (HMAC, AES-CMAC) only');
  const m = openMac(key.algorithm, key.material, params);
  m.update(wrapped);
  return m.digest();
}

/** Whether the request's Cryptographic Parameters match one instance of the key's attribute (every given field equal). */
/** Same tag, type and value; byte strings (P Source, the OAEP label) by content, not by identity. */
function sameField(a: TtlvNode, b: TtlvNode): boolean {
  if (a.tag !== b.tag || a.type !== b.type) return false;
  if (a.type === 'ByteString' && b.type === 'ByteString') return Buffer.from(a.value).equals(Buffer.from(b.value));
  return a.value === b.value;
}

function paramsMatch(given: StructureNode, key: ObjectRecord): boolean {
  return instances(key.attributes, 'CryptographicParameters').some((inst) => given.value.every((g) => inst.value.some((c) => sameField(c, g))));
}

function keyInformation(node: TtlvNode | undefined, what: string): { uid: string; params?: StructureNode } | undefined {
  if (node === undefined) return undefined;
  const k = readPayload(node, KeyInformationSchema, { what });
  return { uid: k.uid.value, ...(k.params?.type === 'Structure' && { params: k.params }) };
}

/** What a Get asked for in its Key Wrapping Specification. */
export interface WrappingRequest {
  readonly method: number;
  readonly encryption: { readonly uid: string; readonly params?: StructureNode };
  /** Encrypt then MAC/sign: the MAC key. */
  readonly mac?: { readonly uid: string; readonly params?: StructureNode };
  readonly attributeNames: readonly string[];
  readonly encoding?: number;
}

/** Read and check a Key Wrapping Specification (Encrypt, and Encrypt then MAC/sign with a MAC key, are built). */
export function readWrappingSpecification(node: TtlvNode): WrappingRequest {
  const s = readPayload(node, SpecificationSchema, { what: 'Key Wrapping Specification' });
  if (!s.encryption && !s.macSignature) throw new KmipError(ResultReason.InvalidField, 'a Key Wrapping Specification needs Encryption Key Information or MAC/Signature Key Information');
  const encryptOnly = s.method.value === WrappingMethod.Encrypt && s.encryption && !s.macSignature;
  const encryptThenMac = s.method.value === WrappingMethod.EncryptThenMACSign && s.encryption && s.macSignature;
  if (!encryptOnly && !encryptThenMac) {
    throw new KmipError(
      ResultReason.FeatureNotSupported,
      'the Wrapping Methods served are Encrypt (Encryption Key Information) and Encrypt then MAC/sign (both Key Informations; a MAC key)',
    );
  }
  const enc = keyInformation(s.encryption, 'Encryption Key Information')!;
  const mac = keyInformation(s.macSignature, 'MAC/Signature Key Information');
  return {
    method: s.method.value,
    encryption: enc,
    ...(mac && { mac }),
    attributeNames: s.attributeNames.map((a) => a.value),
    ...(s.encoding && { encoding: s.encoding.value }),
  };
}

/** The Key Value as it is wrapped: its TTLV encoding, or the Key Material bytes alone (No Encoding). */
function plaintextOf(ctx: OperationContext, kb: StructureNode, encoding: number | undefined, attributes: readonly TtlvNode[], namesGiven = false): Uint8Array {
  const kv = kb.value.find((c) => c.tag === Tag.KeyValue);
  if (kv?.type !== 'Structure') throw new KmipError(ResultReason.KeyValueNotPresent, 'the key has no plain Key Value to wrap');
  if (encoding === EncodingOption.NoEncoding) {
    if (namesGiven || attributes.length > 0) throw encodingError(ctx, 'No Encoding cannot carry attributes: drop the Attribute Names or use TTLV Encoding');
    const m = kv.value.find((c) => c.tag === Tag.KeyMaterial);
    if (m?.type !== 'ByteString') throw encodingError(ctx, 'No Encoding needs Key Material that is a byte string (not a Transparent structure)');
    return m.value;
  }
  if (encoding !== undefined && encoding !== EncodingOption.TTLVEncoding) throw encodingError(ctx, `Encoding Option ${encoding} is not served`);
  const material = kv.value.filter((c) => c.tag === Tag.KeyMaterial);
  const attrs = is2x(ctx.version) ? (attributes.length > 0 ? [item('Attributes', [...attributes]) as TtlvNode] : []) : attributes;
  return encode(item('KeyValue', [...material, ...attrs]));
}

/** The attributes the Attribute Names ask to wrap with the key, in the version's Key Value form. */
function wrappedAttributes(ctx: OperationContext, target: ObjectRecord, state: number, names: readonly string[]): TtlvNode[] {
  if (names.length === 0) return [];
  const all = servedAttributes(target, state, ctx.version);
  const out: TtlvNode[] = [];
  for (const name of names) {
    const key = keyFromAttributeName1x(name, ctx.version);
    (all.get(key) ?? []).forEach((n, i) => out.push(is2x(ctx.version) ? writeAttribute2x(key, n) : writeAttribute1x(key, n, i)));
  }
  return out;
}

/** The body with its Key Block's Key Value replaced by `wrapped` and Key Wrapping Data added. */
function wrappedBody(ctx: OperationContext, body: StructureNode, kb: StructureNode, wrapped: Uint8Array, wrappingData: StructureNode, encoding: number | undefined): StructureNode {
  // The Key Value of a wrapped key is a Byte String (2.x; 1.x when the whole TTLV Key Value was
  // wrapped — 1.4 §2.1.4 and the 1.4 profile case AX-M-2-14). At 1.x with No Encoding only the
  // Key Material was wrapped, and it goes back in its place: Key Value { Key Material <wrapped> },
  // as the 1.4 test case TC-WRAP-1-14 and 1.x clients (PyKMIP 0.10, which cannot read the Byte
  // String form) exchange it.
  const keyValue: TtlvNode = is2x(ctx.version) || encoding !== EncodingOption.NoEncoding ? item('KeyValue', wrapped) : item('KeyValue', [item('KeyMaterial', wrapped)]);
  const newKb: StructureNode = {
    ...kb,
    value: [...kb.value.filter((c) => c.tag !== Tag.KeyWrappingData).map((c): TtlvNode => (c.tag === Tag.KeyValue ? keyValue : c)), wrappingData],
  };
  return { ...body, value: body.value.map((c) => (c.tag === Tag.KeyBlock ? newKb : c)) };
}

/**
 * Get: wrap `body` (already in the requested Key Format Type) of `target` as `spec` asks.
 * The key must have a plain Key Block; certificates and opaque objects have none.
 */
export async function wrapForGet(ctx: OperationContext, target: ObjectRecord, state: number, body: StructureNode, spec: WrappingRequest, keys: KeySource): Promise<StructureNode> {
  const v = ctx.version;
  const kb = keyBlockOfBody(body);
  if (!kb) throw new KmipError(versionReason(v, 'ObjectTypeNotUsable'), 'only objects with a Key Block can be returned wrapped');
  if (kb.value.some((c) => c.tag === Tag.KeyWrappingData)) {
    throw new KmipError(versionReason(v, 'KeyWrapTypeNotSupported'), 'the key is stored wrapped under a key the server does not hold; it cannot be wrapped again');
  }
  const key = (await loadWrappingKey(ctx, keys, spec.encryption.uid, 'wrap', 'Get', 'refuse'))!;
  if (key.record.uid === target.uid) throw new KmipError(ResultReason.InvalidField, 'a key cannot wrap itself');
  if (spec.encryption.params && !paramsMatch(spec.encryption.params, key.record)) {
    throw new KmipError(
      versionReason(v, 'MacKeyParametersNotFound'),
      "the Cryptographic Parameters in the Encryption Key Information match none of the wrapping key's Cryptographic Parameters attribute",
    );
  }
  // The parameters used: the specification's, else the key's attribute; Key Wrapping Data names them.
  const paramsNode = spec.encryption.params ?? instance(key.record.attributes, 'CryptographicParameters');
  const params = readCryptoParams(paramsNode) ?? {};
  const plaintext = plaintextOf(ctx, kb, spec.encoding, wrappedAttributes(ctx, target, state, spec.attributeNames), spec.attributeNames.length > 0);
  const wrapped = await mechanism(ctx, () => runMechanism(key, params, 'wrap', plaintext, cryptoPolicyOf(ctx).cipher));
  let macPart: TtlvNode[] = [];
  if (spec.mac) {
    const macKey = (await loadWrappingKey(ctx, keys, spec.mac.uid, 'mac', 'Get', 'refuse'))!;
    if (spec.mac.params && !paramsMatch(spec.mac.params, macKey.record)) {
      throw new KmipError(versionReason(v, 'MacKeyParametersNotFound'), "the Cryptographic Parameters in the MAC/Signature Key Information match none of the MAC key's");
    }
    const macParamsNode = spec.mac.params ?? instance(macKey.record.attributes, 'CryptographicParameters');
    const tag = await mechanism(ctx, () => macOf(macKey, readCryptoParams(macParamsNode) ?? {}, wrapped));
    macPart = [
      {
        tag: Tag.MACSignatureKeyInformation,
        type: 'Structure',
        value: [item('UniqueIdentifier', spec.mac.uid), ...(macParamsNode?.type === 'Structure' ? [{ ...macParamsNode, tag: Tag.CryptographicParameters }] : [])],
      },
      item('MACSignature', tag),
    ];
  }
  const wrappingData: StructureNode = {
    tag: Tag.KeyWrappingData,
    type: 'Structure',
    value: [
      item('WrappingMethod', spec.method),
      {
        tag: Tag.EncryptionKeyInformation,
        type: 'Structure',
        value: [item('UniqueIdentifier', spec.encryption.uid), ...(paramsNode?.type === 'Structure' ? [{ ...paramsNode, tag: Tag.CryptographicParameters }] : [])],
      },
      ...macPart,
      ...(spec.encoding !== undefined ? [item('EncodingOption', spec.encoding) as TtlvNode] : []),
    ],
  };
  return wrappedBody(ctx, body, kb, wrapped, wrappingData, spec.encoding);
}

/**
 * Unwrap a Key Block carrying Key Wrapping Data (Encrypt, Encryption Key Information).
 * - `register`: when the caller holds a wrapping key that may unwrap it (Unwrap Key, Active /
 *   Deactivated / Compromised, a type that unwraps), the key is unwrapped; Register stores the plain
 *   body with the registered Key Block beside it (withRegisteredForm, REGISTERED_WRAPPING_KEY);
 *   otherwise undefined: the body is
 *   stored as given (Register "SHALL store the object as provided"; test case TC-WRAP-1-14 registers
 *   under a Wrap-Key-only KEK and expects Success).
 * - `get` (Key Wrap Type Not Wrapped of a key stored wrapped): the wrapping key's refusals are
 *   thrown with their reasons; undefined only when the server does not hold it.
 * Both: MAC/sign methods give undefined; a failed integrity check is Cryptographic Failure.
 */
export async function unwrapBody(
  ctx: OperationContext,
  body: StructureNode,
  mode: 'register' | 'get',
  keys: KeySource,
): Promise<{ body: StructureNode; wrappingData: StructureNode; registeredKeyBlock: StructureNode } | undefined> {
  const kb = keyBlockOfBody(body);
  const data = kb?.value.find((c) => c.tag === Tag.KeyWrappingData);
  if (!kb || data?.type !== 'Structure') return undefined;
  const d = readPayload(data, WrappingDataSchema, { what: 'Key Wrapping Data' });
  const encryptOnly = d.method.value === WrappingMethod.Encrypt && d.encryption && !d.macSignature;
  const encryptThenMac = d.method.value === WrappingMethod.EncryptThenMACSign && d.encryption && d.macSignature && d.mac;
  if (!encryptOnly && !encryptThenMac) return undefined;
  const enc = keyInformation(d.encryption, 'Encryption Key Information')!;
  let key: WrappingKey | undefined;
  try {
    key = await loadWrappingKey(ctx, keys, enc.uid, 'unwrap', mode === 'register' ? 'Register' : 'Get', 'skip');
  } catch (e) {
    if (mode === 'register' && e instanceof KmipError && e.reason !== ResultReason.GeneralFailure) return undefined;
    throw e;
  }
  if (!key) return undefined;
  let macKey: WrappingKey | undefined;
  const macInfo = keyInformation(d.macSignature, 'MAC/Signature Key Information');
  if (macInfo) {
    try {
      macKey = await loadWrappingKey(ctx, keys, macInfo.uid, 'macVerify', mode === 'register' ? 'Register' : 'Get', 'skip');
    } catch (e) {
      if (mode === 'register' && e instanceof KmipError && e.reason !== ResultReason.GeneralFailure) return undefined;
      throw e;
    }
    if (!macKey) return undefined;
  }
  const encoding = d.encoding?.value;
  const kv = kb.value.find((c) => c.tag === Tag.KeyValue);
  // The wrapped bytes: the Key Value byte string, or (the 1.x form, TC-WRAP-1-14) its Key Material.
  const inner = kv?.type === 'Structure' ? kv.value.find((c) => c.tag === Tag.KeyMaterial) : undefined;
  const wrappedBytes = kv?.type === 'ByteString' ? kv.value : inner?.type === 'ByteString' ? inner.value : undefined;
  if (!wrappedBytes) throw new KmipError(ResultReason.InvalidField, 'a wrapped Key Value must be a byte string');
  if (macKey && macInfo) {
    // Encrypt then MAC/sign: the MAC over the wrapped bytes is checked first (constant time).
    const k = macKey;
    const macParams = readCryptoParams(macInfo.params) ?? readCryptoParams(instance(k.record.attributes, 'CryptographicParameters')) ?? {};
    const expected = await mechanism(ctx, () => macOf(k, macParams, wrappedBytes));
    if (!d.mac || !macEquals(expected, d.mac.value)) throw new KmipError(ResultReason.CryptographicFailure, 'the MAC of the wrapped key does not verify');
  }
  const params = readCryptoParams(enc.params) ?? readCryptoParams(instance(key.record.attributes, 'CryptographicParameters')) ?? {};
  const plain = await mechanism(ctx, () => runMechanism(key, params, 'unwrap', wrappedBytes, cryptoPolicyOf(ctx).cipher));
  let keyValue: TtlvNode;
  if (encoding === EncodingOption.NoEncoding) {
    keyValue = item('KeyValue', [item('KeyMaterial', plain)]);
  } else if (encoding === undefined || encoding === EncodingOption.TTLVEncoding) {
    try {
      keyValue = decode(plain);
    } catch (e) {
      throw new KmipError(ResultReason.InvalidField, 'the unwrapped Key Value is not a TTLV Key Value structure (is the Encoding Option right?)', { cause: e });
    }
    if (keyValue.tag !== Tag.KeyValue || keyValue.type !== 'Structure') throw new KmipError(ResultReason.InvalidField, 'the unwrapped data is not a Key Value structure');
    // Attributes wrapped with the key are not applied; the request's attributes are the object's.
    keyValue = { ...keyValue, value: keyValue.value.filter((c) => c.tag === Tag.KeyMaterial) };
  } else {
    throw encodingError(ctx, `Encoding Option ${encoding} is not served`);
  }
  const plainKb: StructureNode = { ...kb, value: kb.value.filter((c) => c.tag !== Tag.KeyWrappingData).map((c) => (c.tag === Tag.KeyValue ? keyValue : c)) };
  return { body: { ...body, value: body.value.map((c) => (c.tag === Tag.KeyBlock ? plainKb : c)) }, wrappingData: data, registeredKeyBlock: kb };
}
