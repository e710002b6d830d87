/**
 * Helpers shared by Create Key Pair and Re-key Key Pair (and Sign / Signature Verify for loading
 * keys): merging the Common / Private / Public attribute sets (KMIP 1.4 §4.2 Table 166 precedence,
 * 2.1 §6.1.9 Table 189), choosing what to generate under the crypto policy, writing both records
 * in one atomic commit, and opening a stored key as a node:crypto KeyObject.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { CryptographicAlgorithm, HashingAlgorithm, ObjectType, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError, type ResultReasonValue } from '../../kmip/errors.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import { isMultiple, readAttribute1x, readAttribute2x } from '../../objects/attributes.js';
import { applyEvent } from '../../objects/lifecycle.js';
import type { AttributeKey, ObjectRecord } from '../../objects/managed-object.js';
import { newUid } from '../../objects/identifiers.js';
import { EC_CURVES, KeyFormatError, keyBlockOfBody, keyFromBlock } from '../../objects/key-formats.js';
import { keyPairSpec } from '../../policy/crypto-policy.js';
import { CryptographicUsageMask } from '../../kmip/generated/masks.gen.js';
import type { KeyPairSpec } from '../../crypto/asymmetric.js';
import type { OperationContext } from '../context.js';
import { withReplaced } from '../service/new-objects.js';
import { saveRecords } from '../service/save.js';
import { serverDefaultsOf, setServerDefault, stampStored } from '../../objects/server-set.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance, instances, linkNode } from '../../objects/typed-attributes.js';
import { cryptoPolicyOf } from '../service/crypto-params.js';
import { openBody, sealBody } from '../service/object-service.js';

/** The key of an attribute item in a 1.x Template-Attribute or 2.x Attributes structure (undefined: a Template name). */
function itemKey(ctx: OperationContext, n: TtlvNode): AttributeKey | undefined {
  if (!is2x(ctx.version)) return n.tag === Tag.Attribute ? readAttribute1x(n, ctx.version).key : undefined;
  return readAttribute2x(n, ctx.version).key;
}

/**
 * Attributes the spec calls "not common to both keys" (KMIP 1.4 §4.2, 2.1 §6.1.9: "e.g., Name,
 * Cryptographic Usage Mask"): a specific set that gives one replaces the Common set's instances
 * even where the attribute is multi-valued.
 */
const PER_KEY: ReadonlySet<AttributeKey> = new Set(['Name']);

/**
 * One object's attribute source: the Common set's items, less the single-valued (and per-key)
 * attributes the specific set gives (the specific set takes precedence), followed by the specific
 * set's items.
 */
export function mergedSource(ctx: OperationContext, common: TtlvNode | undefined, specific: TtlvNode | undefined): StructureNode {
  const tag = is2x(ctx.version) ? Tag.Attributes : Tag.TemplateAttribute;
  const kids = (n: TtlvNode | undefined): readonly TtlvNode[] => {
    if (n === undefined) return [];
    if (n.type !== 'Structure') throw new KmipError(ResultReason.InvalidField, 'attribute sets must be structures');
    return n.value;
  };
  const own = kids(specific);
  const ownKeys = new Set(own.map((n) => itemKey(ctx, n)).filter((k): k is AttributeKey => k !== undefined && (PER_KEY.has(k) || !isMultiple(k, ctx.version))));
  const fromCommon = kids(common).filter((n) => {
    const k = itemKey(ctx, n);
    return k === undefined || !ownKeys.has(k);
  });
  return { tag, type: 'Structure', value: [...fromCommon, ...own] };
}

const num = (attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>, key: AttributeKey): number | undefined => {
  const n = attrs.get(key)?.[0];
  return n?.type === 'Integer' || n?.type === 'Enumeration' ? n.value : undefined;
};

/** The Recommended Curve in a Cryptographic Domain Parameters attribute. */
function recommendedCurve(attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>): number | undefined {
  const dp = instance(attrs, 'CryptographicDomainParameters');
  const c = dp?.type === 'Structure' ? dp.value.find((x) => x.tag === Tag.RecommendedCurve) : undefined;
  return c?.type === 'Enumeration' ? c.value : undefined;
}

export interface PairChoice {
  readonly spec: KeyPairSpec;
  readonly algorithm: number;
  readonly bits: number;
}

/**
 * What to generate from the two objects' attributes: they must agree on Cryptographic Algorithm,
 * Length and Domain Parameters (2.1 Table 191). EC: the curve from Recommended Curve, else from the
 * Cryptographic Length. Refusals: Missing Data (no algorithm), Invalid Field (1.x) / Invalid
 * Attribute Value (2.x) for disagreement or what the policy refuses (the message names the policy).
 */
export function choosePair(ctx: OperationContext, priv: ReadonlyMap<AttributeKey, readonly TtlvNode[]>, pub: ReadonlyMap<AttributeKey, readonly TtlvNode[]>): PairChoice {
  const bad = versionReason(ctx.version, 'InvalidAttributeValue');
  const alg = num(priv, 'CryptographicAlgorithm');
  if (alg === undefined || num(pub, 'CryptographicAlgorithm') === undefined) throw new KmipError(ResultReason.MissingData, 'Create Key Pair needs a Cryptographic Algorithm');
  if (alg !== num(pub, 'CryptographicAlgorithm')) throw new KmipError(bad, 'the private and public key must have the same Cryptographic Algorithm');
  if (num(priv, 'CryptographicLength') !== num(pub, 'CryptographicLength')) throw new KmipError(bad, 'the private and public key must have the same Cryptographic Length');
  const curve = recommendedCurve(priv);
  if (curve !== recommendedCurve(pub)) throw new KmipError(bad, 'the private and public key must have the same Cryptographic Domain Parameters');
  let bits = num(priv, 'CryptographicLength');
  const isEc = alg === CryptographicAlgorithm.EC || alg === CryptographicAlgorithm.ECDSA || alg === CryptographicAlgorithm.ECDH;
  if (isEc && curve !== undefined) {
    const c = EC_CURVES.find((x) => x.kmip === curve);
    if (!c) throw new KmipError(bad, `Recommended Curve ${curve} is not supported (P-256, P-384, P-521)`);
    if (bits !== undefined && bits !== c.bits) throw new KmipError(bad, `Cryptographic Length ${bits} does not match the curve (${c.bits})`);
    bits = c.bits;
  }
  const d = keyPairSpec(alg, bits, cryptoPolicyOf(ctx).asymmetric);
  if (!d.ok) throw new KmipError(bad, d.why);
  if (d.kind === 'rsa') return { spec: { kind: 'rsa', bits: d.bits }, algorithm: alg, bits: d.bits };
  if (d.kind === 'ed25519') return { spec: { kind: 'ed25519' }, algorithm: alg, bits: d.bits };
  const c = EC_CURVES.find((x) => x.bits === d.bits);
  if (!c) throw new KmipError(bad, 'no such curve');
  return { spec: { kind: 'ec', curve: c.node }, algorithm: alg, bits: d.bits };
}

/** Default usage masks (2.1 §4.14: always has a value): Sign for the private key, Verify for the public. */
export function defaultMasks(priv: Map<AttributeKey, TtlvNode[]>, pub: Map<AttributeKey, TtlvNode[]>): void {
  setServerDefault(priv, 'CryptographicUsageMask', item('CryptographicUsageMask', CryptographicUsageMask.Sign));
  setServerDefault(pub, 'CryptographicUsageMask', item('CryptographicUsageMask', CryptographicUsageMask.Verify));
}

/** Add a Link instance to an attribute map. */
export function addLink(attrs: Map<AttributeKey, TtlvNode[]>, linkType: number, uid: string): void {
  attrs.set('Link', [...instances(attrs, 'Link'), linkNode(linkType, uid)]);
}

/** The Digest of a key body: SHA-256 over its Key Material bytes, with the Key Format Type (1.4 §3.17). */
export function keyDigest(body: StructureNode): TtlvNode | undefined {
  const kb = keyBlockOfBody(body);
  const fmt = kb?.value.find((c) => c.tag === Tag.KeyFormatType);
  const kv = kb?.value.find((c) => c.tag === Tag.KeyValue);
  const m = kv?.type === 'Structure' ? kv.value.find((c) => c.tag === Tag.KeyMaterial) : undefined;
  if (m?.type !== 'ByteString' || fmt?.type !== 'Enumeration') return undefined;
  return {
    tag: Tag.Digest,
    type: 'Structure',
    value: [item('HashingAlgorithm', HashingAlgorithm.SHA_256), item('DigestValue', createHash('sha256').update(m.value).digest()), item('KeyFormatType', fmt.value)],
  };
}

export interface NewObject {
  readonly uid: string;
  readonly objectType: number;
  readonly attributes: Map<AttributeKey, TtlvNode[]>;
  readonly body: StructureNode;
}

/** A new record (lifecycle Create, sealed body) ready to commit with others. */
export async function newRecord(ctx: OperationContext, o: NewObject): Promise<ObjectRecord> {
  const lc = applyEvent(null, { type: 'Create', attributes: o.attributes }, ctx.now, ctx.version);
  stampStored(o.attributes, o.body);
  const attributes = withReplaced(o.attributes, lc.setAttributes);
  const { sealedBody, kekId } = await sealBody(ctx, o.uid, o.body);
  const serverDefaults = serverDefaultsOf(o.attributes);
  return {
    v: 1,
    uid: o.uid,
    objectType: o.objectType,
    owner: ctx.principal.actingFor ?? ctx.principal.id,
    state: lc.state,
    attributes,
    sealedBody,
    kekId,
    ...(serverDefaults.length > 0 && { serverDefaults }),
    revision: 0,
  };
}

/** Commit new records and updates of existing ones in one atomic write. */
export async function commitAll(ctx: OperationContext, fresh: readonly ObjectRecord[], changed: readonly { record: ObjectRecord; previous: ObjectRecord }[] = []): Promise<void> {
  await saveRecords(ctx, [...fresh.map((record) => ({ record })), ...changed]);
}

export { newUid };

/** The key a stored Public/Private Key object holds. Wrapped or unreadable keys: the reason given. */
export async function openKey(ctx: OperationContext, record: ObjectRecord, reason: ResultReasonValue): Promise<KeyObject> {
  const body = await openBody(ctx, record);
  const kb = keyBlockOfBody(body);
  if (!kb) throw new KmipError(reason, `object ${record.uid} holds no key`);
  try {
    return keyFromBlock(record.objectType, kb);
  } catch (e) {
    if (e instanceof KeyFormatError) throw new KmipError(reason, `object ${record.uid}: ${e.message}`);
    throw e;
  }
}

export const isKeyPairType = (t: number): boolean => t === ObjectType.PrivateKey || t === ObjectType.PublicKey;
