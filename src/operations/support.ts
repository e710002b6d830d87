/**
 * What operation handlers share: resolving the Unique Identifier (or the ID Placeholder),
 * loading an object the principal may touch (others get Item Not Found, so existence does
 * not leak), the effective lifecycle state, sealing and opening object content, saving
 * records (with the Quantum Safe rule and the size budgets every saved object must meet), and the attributes the server computes rather than stores.
 */
import { KmipError } from '../kmip/errors.js';
import { ObjectType, ResultReason } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { decode } from '../ttlv/decode.js';
import { encode, encodedLength } from '../ttlv/encode.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { parseCustomKey, type AttributeKey, type AttributeMap, type ObjectRecord } from '../objects/managed-object.js';
import { effectiveState } from '../objects/lifecycle.js';
import { isMetadataOnly } from '../objects/object-body.js';
import { withDerived } from '../objects/server-set.js';
import { ProtectorError } from '../hsm/key-protector.js';
import { StoreError } from '../store/object-store.js';
import type { SaveOptions } from './unit-of-work.js';
import { quantumSafeSpec } from '../policy/crypto-policy.js';
import { budgetExceeded, budgetsOf, exceeds } from '../policy/budgets.js';
import type { OperationContext } from './context.js';

/** The object a request names: its own Unique Identifier, else the batch's ID Placeholder. */
export function resolveUid(ctx: OperationContext, uid: TtlvNode | undefined): string {
  if (uid !== undefined) {
    if (uid.type !== 'TextString' && uid.type !== 'Identifier') throw new KmipError(ResultReason.InvalidField, 'Unique Identifier must be a Text String');
    return uid.value;
  }
  if (ctx.batch.idPlaceholder !== undefined) return ctx.batch.idPlaceholder;
  throw new KmipError(ResultReason.InvalidField, 'no Unique Identifier given and no ID Placeholder from an earlier batch item');
}

export interface LoadedObject {
  readonly record: ObjectRecord;
  /** The lifecycle state now, with the date attributes applied. */
  readonly state: number;
}

export function objectGroups(attrs: AttributeMap): string[] {
  return (attrs.get('ObjectGroup') ?? []).flatMap((n) => (n.type === 'TextString' ? [n.value] : []));
}

/**
 * The refusal for an object that does not exist or that the principal may not see (the two
 * are indistinguishable): Item Not Found in 1.x, Object Not Found in 2.x (2.1 operation
 * error tables; test case BL-M-4-21).
 */
export function notFound(ctx: OperationContext, uid: string): KmipError {
  return new KmipError(ctx.version.major >= 2 ? ResultReason.ObjectNotFound : ResultReason.ItemNotFound, `no object ${uid}`);
}

/** Load an object for `operation`; missing and not-permitted both read as not found. */
export async function loadObject(ctx: OperationContext, uid: string, operation: string): Promise<LoadedObject> {
  let record: ObjectRecord | undefined;
  try {
    record = await ctx.services.store.get(uid);
  } catch (e) {
    if (e instanceof StoreError && e.code === 'CORRUPT') {
      throw new KmipError(ResultReason.GeneralFailure, `object ${uid} is damaged in storage and cannot be read`, { cause: e });
    }
    throw e;
  }
  if (!record || !ctx.services.access.allows(ctx.principal, operation, record.owner, objectGroups(record.attributes))) {
    throw notFound(ctx, uid);
  }
  return { record, state: effectiveState(record.state, record.attributes, ctx.now) };
}

/**
 * Save records: checked here (the Quantum Safe rule and the size budgets every saved object
 * must meet), then staged in the item's unit of work (`ctx.work`, operations/unit-of-work.ts),
 * which commits them atomically and durably with the item's audit record when the item
 * succeeds; a concurrent change is refused there (or met by `opts.onConflict`), never
 * overwritten. Every state change of an operation goes through here (so an Undo batch can roll
 * it back). `deletions` removes whole records (a 1.x Template on Destroy) in the same commit.
 */
export async function saveRecords(
  ctx: OperationContext,
  changes: readonly { record: ObjectRecord; previous?: ObjectRecord }[],
  deletions: readonly ObjectRecord[] = [],
  opts: SaveOptions = {},
): Promise<void> {
  for (const c of changes) checkQuantumSafe(c.record, c.previous);
  for (const c of changes) checkObjectSize(ctx, c.record, c.previous);
  ctx.work.save({ changes, deletions }, opts);
}

/**
 * The size budgets (policy/budgets.ts), checked here because every object saved comes through:
 * no new attribute value above limits.maxAttributeValueBytes (TTLV-encoded), and no object
 * above limits.maxObjectBytes (sealed content plus every attribute value) unless the change
 * does not make it larger. Refused: Server Limit Exceeded (1.x: General Failure).
 */
function checkObjectSize(ctx: OperationContext, record: ObjectRecord, previous: ObjectRecord | undefined): void {
  const budgets = budgetsOf(ctx.services);
  const size = objectSize(record, (key, node, bytes) => {
    if (!exceeds(bytes, budgets.maxAttributeValueBytes) || previous?.attributes.get(key)?.includes(node)) return;
    throw budgetExceeded('maxAttributeValueBytes', budgets.maxAttributeValueBytes, `a value of ${attributeLabel(key)} of ${bytes} bytes is too large`);
  });
  if (exceeds(size, budgets.maxObjectBytes) && (previous === undefined || size > objectSize(previous))) {
    throw budgetExceeded('maxObjectBytes', budgets.maxObjectBytes, `the object would be ${size} bytes`);
  }
}

/** An object's size for limits.maxObjectBytes: its sealed content and every attribute value, TTLV-encoded. */
export function objectSize(record: ObjectRecord, each?: (key: AttributeKey, node: TtlvNode, bytes: number) => void): number {
  let size = record.sealedBody?.length ?? 0;
  for (const [key, nodes] of record.attributes) {
    for (const node of nodes) {
      const bytes = encodedLength(node);
      each?.(key, node, bytes);
      size += bytes;
    }
  }
  return size;
}

function attributeLabel(key: AttributeKey): string {
  const custom = parseCustomKey(key);
  return custom ? `custom attribute ${custom.vendor}-${custom.name}` : key;
}

/** Objects whose Cryptographic Algorithm is a public-key one (policy/crypto-policy.ts `quantumSafeSpec`). */
const PUBLIC_KEY_OBJECTS: ReadonlySet<number> = new Set<number>([ObjectType.PublicKey, ObjectType.PrivateKey, ObjectType.Certificate, ObjectType.CertificateRequest, ObjectType.PGPKey]);

/** An attribute's first stored value when it is a Boolean, Enumeration or Integer (else undefined). */
function scalar(attrs: AttributeMap, key: AttributeKey): boolean | number | undefined {
  const n = attrs.get(key)?.[0];
  return n?.type === 'Boolean' || n?.type === 'Enumeration' || n?.type === 'Integer' ? n.value : undefined;
}

/**
 * The Quantum Safe rule (policy/crypto-policy.ts), checked here because every object made,
 * registered, re-keyed, derived, imported or changed is saved here: a record that is new, or that
 * now says Quantum Safe True, or whose algorithm or length changed while it says so, must meet it.
 * Refused: General Failure (the Quantum Safe profile's test case QS-M-2), naming the rule.
 */
function checkQuantumSafe(record: ObjectRecord, previous: ObjectRecord | undefined): void {
  const attrs = record.attributes;
  if (scalar(attrs, 'QuantumSafe') !== true) return;
  const algorithm = scalar(attrs, 'CryptographicAlgorithm');
  const bits = scalar(attrs, 'CryptographicLength');
  const was = previous?.attributes;
  if (was && scalar(was, 'QuantumSafe') === true && scalar(was, 'CryptographicAlgorithm') === algorithm && scalar(was, 'CryptographicLength') === bits) return;
  const decision = quantumSafeSpec({
    publicKeyObject: PUBLIC_KEY_OBJECTS.has(record.objectType),
    ...(typeof algorithm === 'number' && { algorithm }),
    ...(typeof bits === 'number' && { bits }),
  });
  if (!decision.ok) throw new KmipError(ResultReason.GeneralFailure, `Quantum Safe refused: ${decision.why}`);
}

/** Seal object content (a Key Block, certificate value, …) for storage, bound to `uid`. */
export async function sealBody(ctx: OperationContext, uid: string, body: StructureNode): Promise<{ sealedBody: Uint8Array; kekId: string }> {
  const protector = ctx.services.protector;
  const kekId = protector.kekId; // read before seal: see KeyProtector.kekId
  return { sealedBody: await protector.seal(uid, encode(body)), kekId };
}

/** Key Value Not Present (1.2+; Permission Denied at 1.0/1.1, which lack the reason): a metadata-only object. */
export function keyValueNotPresent(ctx: OperationContext, uid: string): KmipError {
  const v = ctx.version;
  const reason = v.major === 1 && v.minor < 2 ? ResultReason.PermissionDenied : ResultReason.KeyValueNotPresent;
  return new KmipError(reason, `object ${uid} is metadata-only: its key value is not on this server (see its Key Value Location)`);
}

/**
 * Open an object's sealed content. A record that fails authentication is reported, never served.
 * A metadata-only object (Key Value Present false, objects/object-body.ts) has no value to use:
 * it is refused with Key Value Not Present, unless the caller only serves the content as stored
 * (`metadataOnly: 'serve'`: Get).
 */
export async function openBody(ctx: OperationContext, record: ObjectRecord, opts: { readonly metadataOnly?: 'serve' } = {}): Promise<StructureNode> {
  if (!record.sealedBody || !record.kekId) throw new KmipError(ResultReason.KeyValueNotPresent, `object ${record.uid} has no content (destroyed)`);
  if (opts.metadataOnly !== 'serve' && isMetadataOnly(record.attributes)) throw keyValueNotPresent(ctx, record.uid);
  let plain: Uint8Array;
  try {
    plain = await ctx.services.protector.open(record.uid, record.sealedBody, record.kekId);
  } catch (e) {
    if (e instanceof ProtectorError) {
      ctx.log.error({ uid: record.uid, code: e.code }, 'sealed object content failed to open');
      throw new KmipError(ResultReason.GeneralFailure, `object ${record.uid} failed its integrity check and cannot be served`, { cause: e });
    }
    throw e;
  }
  const node = decode(plain);
  if (node.type !== 'Structure') throw new KmipError(ResultReason.GeneralFailure, `object ${record.uid} content is malformed`);
  return node;
}

/**
 * The attributes as a client sees them: what is stored, plus those the server derives from
 * the record (Unique Identifier, Object Type, State — effective now), and with `derived` the
 * always-valued attributes the record does not store (objects/server-set.ts `derivedAttributes`:
 * Short Unique Identifier, Protection Storage Mask, the Sensitive/Extractable defaults, …).
 */
export function allAttributes(record: ObjectRecord, state: number, opts: { readonly derived?: boolean } = {}): Map<AttributeKey, readonly TtlvNode[]> {
  const out = new Map<AttributeKey, readonly TtlvNode[]>();
  out.set('UniqueIdentifier', [{ tag: Tag.UniqueIdentifier, type: 'TextString', value: record.uid }]);
  out.set('ObjectType', [{ tag: Tag.ObjectType, type: 'Enumeration', value: record.objectType }]);
  out.set('State', [{ tag: Tag.State, type: 'Enumeration', value: state }]);
  for (const [k, v] of record.attributes) if (!out.has(k)) out.set(k, v);
  return opts.derived ? withDerived(record, out) : out;
}

/** A copy of `attrs` with `key` set to `nodes` (removed when empty). */
export function withAttribute(attrs: AttributeMap, key: AttributeKey, nodes: readonly TtlvNode[]): Map<AttributeKey, readonly TtlvNode[]> {
  const m = new Map(attrs);
  if (nodes.length === 0) m.delete(key);
  else m.set(key, nodes);
  return m;
}

export function dateNode(tag: number, seconds: bigint): TtlvNode {
  return { tag, type: 'DateTime', value: seconds };
}

/** Stamp Last Change Date (server-maintained) on a changed attribute map. */
export function touched(attrs: AttributeMap, now: bigint): Map<AttributeKey, readonly TtlvNode[]> {
  return withAttribute(attrs, 'LastChangeDate', [dateNode(Tag.LastChangeDate, now)]);
}
