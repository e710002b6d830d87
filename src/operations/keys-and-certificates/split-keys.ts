/**
 * What Create Split Key and Join Split Key share: the Split Key object structure (KMIP 1.4 §2.2.5,
 * 2.1 §2.8 Table 9) built from a part and read back, and the loading rules of a key whose material
 * the operation handles (the caller may see it: the operation's own grant and Get).
 */
import { LinkType, ObjectType, ResultReason, State } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload, required } from '../../kmip/payload.js';
import { readKeyBlock } from '../../objects/object-body.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import type { OperationContext } from '../context.js';
import { versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { flag, instance, links } from '../../objects/typed-attributes.js';
import { isDestroyed } from '../../objects/lifecycle.js';
import { loadManaged, notFound, objectGroups, openBody } from '../service/object-service.js';

/** The Key Block facts a part carries over from the split secret. */
export interface KeyFacts {
  readonly keyFormatType: number;
  readonly algorithm?: number;
  readonly length?: number;
}

export interface SplitFields {
  readonly parts: number;
  readonly threshold: number;
  readonly method: number;
}

/** A Split Key body: the split's fields, this part's identifier and a Key Block holding its material. */
export function splitKeyBody(f: SplitFields, id: number, material: Uint8Array, key: KeyFacts): StructureNode {
  const kb: TtlvNode[] = [item('KeyFormatType', key.keyFormatType), item('KeyValue', [item('KeyMaterial', material)])];
  if (key.algorithm !== undefined) kb.push(item('CryptographicAlgorithm', key.algorithm));
  if (key.length !== undefined) kb.push(item('CryptographicLength', key.length));
  return {
    tag: Tag.SplitKey,
    type: 'Structure',
    value: [item('SplitKeyParts', f.parts), item('KeyPartIdentifier', id), item('SplitKeyThreshold', f.threshold), item('SplitKeyMethod', f.method), item('KeyBlock', kb)],
  };
}

const SplitKeySchema = {
  parts: required(Tag.SplitKeyParts, 'Integer'),
  id: required(Tag.KeyPartIdentifier, 'Integer'),
  threshold: required(Tag.SplitKeyThreshold, 'Integer'),
  method: required(Tag.SplitKeyMethod, 'Enumeration'),
  primeFieldSize: optional(Tag.PrimeFieldSize, 'BigInteger'),
  keyBlock: required(Tag.KeyBlock, 'Structure'),
};

export interface LoadedKey {
  readonly record: ObjectRecord;
  readonly body: StructureNode;
  readonly material: Uint8Array;
  readonly facts: KeyFacts;
}

export interface LoadedPart extends LoadedKey, SplitFields {
  readonly id: number;
}

/**
 * Load an object whose plain material `operation` handles. Refusals: not found or not the
 * caller's to Get (the material would reach the caller) as not found; archived; an object type
 * not `allowed` (Invalid Field / Invalid Object Type); destroyed or stored wrapped (Key Value Not
 * Present); Compromised (Invalid Field / Wrong Key Lifecycle State); HSM-resident (Feature Not
 * Supported); not Extractable / Sensitive (1.4+: those reasons, else Permission Denied).
 */
export async function loadMaterial(ctx: OperationContext, uid: string, operation: string, types: { readonly allowed: ReadonlySet<number>; readonly what: string }): Promise<LoadedKey> {
  const v = ctx.version;
  const { record, state } = await loadManaged(ctx, uid, operation);
  if (!ctx.services.access.allows(ctx.principal, 'Get', record.owner, objectGroups(record.attributes))) throw notFound(ctx, uid);
  if (!types.allowed.has(record.objectType)) throw new KmipError(versionReason(v, 'ObjectTypeNotAccepted'), `object ${uid} is not ${types.what}`);
  if (isDestroyed(state) || !record.sealedBody) throw new KmipError(ResultReason.KeyValueNotPresent, `object ${uid} has been destroyed`);
  if (state === State.Compromised) throw new KmipError(versionReason(v, 'InputWrongKeyLifecycleState'), `object ${uid} is Compromised`);
  if (record.hsmKey !== undefined) throw new KmipError(ResultReason.FeatureNotSupported, `object ${uid} lives in the HSM; its value never leaves it`);
  if (flag(record.attributes, 'Extractable') === false) throw new KmipError(versionReason(v, 'NotExtractable'), `object ${uid} is not Extractable`);
  if (flag(record.attributes, 'Sensitive') === true) throw new KmipError(versionReason(v, 'Sensitive'), `object ${uid} is Sensitive`);
  const body = await openBody(ctx, record);
  const kb = readKeyBlock(
    body.value.find((c) => c.tag === Tag.KeyBlock),
    'stored object',
  );
  if (kb.wrapped || !kb.material) throw new KmipError(ResultReason.KeyValueNotPresent, `object ${uid} is stored wrapped or holds no usable bytes`);
  const algNode = instance(record.attributes, 'CryptographicAlgorithm');
  const lenNode = instance(record.attributes, 'CryptographicLength');
  const algorithm = kb.algorithm ?? (algNode?.type === 'Enumeration' ? algNode.value : undefined);
  const length = kb.length ?? (lenNode?.type === 'Integer' ? lenNode.value : undefined);
  return {
    record,
    body,
    material: kb.material,
    facts: { keyFormatType: kb.keyFormatType, ...(algorithm !== undefined && { algorithm }), ...(length !== undefined && { length }) },
  };
}

/** Load a Split Key part for Join Split Key (loadMaterial's rules). */
export async function loadPart(ctx: OperationContext, uid: string): Promise<LoadedPart> {
  const key = await loadMaterial(ctx, uid, 'JoinSplitKey', { allowed: new Set([ObjectType.SplitKey]), what: 'a Split Key' });
  const f = readPayload(key.body, SplitKeySchema, { what: 'stored Split Key' });
  return { ...key, parts: f.parts.value, id: f.id.value, threshold: f.threshold.value, method: f.method.value };
}

/** The targets of a record's Links of `linkType`. */
export function linkTargets(record: Pick<ObjectRecord, 'attributes'>, linkType: number): string[] {
  return links(record.attributes).flatMap((l) => (l.linkType === linkType ? [l.uid] : []));
}

/** The Parent Link targets of a record (the key a part was split from). */
export const parentLinks = (record: ObjectRecord): string[] => linkTargets(record, LinkType.ParentLink);

/**
 * Do parts made by Create Split Key (chained by Next Link in Key Part Identifier order) come from
 * one split? From each given part, `steps` Next Links must lead to the next given part. Parts
 * without a chain (registered ones) are not judged here: undefined. Only Link attributes are read
 * on the way; a broken chain (a link removed, a record gone) reads as not one split.
 */
export async function chainedTogether(ctx: OperationContext, parts: readonly LoadedPart[]): Promise<boolean | undefined> {
  const sorted = [...parts].sort((a, b) => a.id - b.id);
  const chained = sorted.map((p) => linkTargets(p.record, LinkType.NextLink).length > 0 || linkTargets(p.record, LinkType.PreviousLink).length > 0);
  if (chained.every((c) => !c)) return undefined;
  if (!chained.every((c) => c)) return false;
  for (let k = 0; k + 1 < sorted.length; k++) {
    let at: Pick<ObjectRecord, 'attributes'> | undefined = sorted[k]!.record;
    let uid = sorted[k]!.record.uid;
    for (let step = sorted[k]!.id; step < sorted[k + 1]!.id; step++) {
      const next: string[] = at ? linkTargets(at, LinkType.NextLink) : [];
      if (next.length !== 1) return false;
      uid = next[0]!;
      at = step + 1 < sorted[k + 1]!.id ? await ctx.services.store.get(uid) : undefined;
    }
    if (uid !== sorted[k + 1]!.record.uid) return false;
  }
  return true;
}
