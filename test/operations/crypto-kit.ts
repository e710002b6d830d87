/**
 * Helpers for the cryptographic-operation tests (crypto-*.test.ts): register a key from a
 * published vector and activate it, and build Encrypt/Decrypt/MAC payloads from the spec tables
 * (KMIP 2.1 §6.1.17, §6.1.13, §6.1.31-32; 1.4 §4.29-4.34) independently of the server's code.
 */
import { attr, findChild, symmetricKeyObject, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { ObjectType, Operation } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { attrs, ok, uidNode, uidOf } from './object-kit.js';

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const toHex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex') : '(none)');

/** Register `object` (default: a Raw symmetric key of `material`) with `mask`, then Activate it unless told not to. */
export async function registerKey(
  c: KmipClient,
  v: KmipVersion,
  material: Uint8Array,
  algorithm: number,
  mask: number,
  opts: { activate?: boolean; extra?: readonly TtlvNode[]; objectType?: number; object?: StructureNode } = {},
): Promise<string> {
  const objectType = opts.objectType ?? ObjectType.SymmetricKey;
  const object = opts.object ?? symmetricKeyObject(material, algorithm);
  const p = await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, objectType), attrs(v, [attr.cryptographicUsageMask(mask), ...(opts.extra ?? [])]), object]);
  const uid = uidOf(p);
  if (opts.activate !== false) await ok(c, v, Operation.Activate, [uidNode(uid)]);
  return uid;
}

export interface Params {
  mode?: number;
  padding?: number;
  tagLength?: number;
  randomIV?: boolean;
  hashing?: number;
  algorithm?: number;
  initialCounterValue?: number;
  maskGenerator?: number;
  maskGeneratorHashing?: number;
  pSource?: Uint8Array;
}

/** Cryptographic Parameters (1.4 §3.6 / 2.1 §7.6 field order). */
export function cryptoParams(p: Params): StructureNode {
  const kids: TtlvNode[] = [];
  if (p.mode !== undefined) kids.push(t.enum(Tag.BlockCipherMode, p.mode));
  if (p.padding !== undefined) kids.push(t.enum(Tag.PaddingMethod, p.padding));
  if (p.hashing !== undefined) kids.push(t.enum(Tag.HashingAlgorithm, p.hashing));
  if (p.algorithm !== undefined) kids.push(t.enum(Tag.CryptographicAlgorithm, p.algorithm));
  if (p.randomIV !== undefined) kids.push(t.bool(Tag.RandomIV, p.randomIV));
  if (p.tagLength !== undefined) kids.push(t.int(Tag.TagLength, p.tagLength));
  if (p.initialCounterValue !== undefined) kids.push(t.int(Tag.InitialCounterValue, p.initialCounterValue));
  if (p.maskGenerator !== undefined) kids.push(t.enum(Tag.MaskGenerator, p.maskGenerator));
  if (p.maskGeneratorHashing !== undefined) kids.push(t.enum(Tag.MaskGeneratorHashingAlgorithm, p.maskGeneratorHashing));
  if (p.pSource !== undefined) kids.push(t.bytes(Tag.PSource, p.pSource));
  return t.struct(Tag.CryptographicParameters, kids);
}

export interface CipherRequest {
  uid?: string;
  params?: Params;
  data?: Uint8Array;
  iv?: Uint8Array;
  aad?: Uint8Array;
  tag?: Uint8Array;
  correlation?: Uint8Array;
  init?: boolean;
  final?: boolean;
}

/** Encrypt/Decrypt request payload (2.1 Tables 214 / 196 order). */
export function cipherPayload(r: CipherRequest): TtlvNode[] {
  const out: TtlvNode[] = [];
  if (r.uid !== undefined) out.push(uidNode(r.uid));
  if (r.params) out.push(cryptoParams(r.params));
  if (r.data) out.push(t.bytes(Tag.Data, r.data));
  if (r.iv) out.push(t.bytes(Tag.IVCounterNonce, r.iv));
  if (r.correlation) out.push(t.bytes(Tag.CorrelationValue, r.correlation));
  if (r.init !== undefined) out.push(t.bool(Tag.InitIndicator, r.init));
  if (r.final !== undefined) out.push(t.bool(Tag.FinalIndicator, r.final));
  if (r.aad) out.push(t.bytes(Tag.AuthenticatedEncryptionAdditionalData, r.aad));
  if (r.tag) out.push(t.bytes(Tag.AuthenticatedEncryptionTag, r.tag));
  return out;
}

export function bytesOf(p: StructureNode, tag: number): Uint8Array | undefined {
  const n = findChild(p, tag);
  return n?.type === 'ByteString' ? n.value : undefined;
}
