/**
 * What operation handlers share: resolving the Unique Identifier (or the ID Placeholder),
 * loading an object the principal may touch (others get Item Not Found, so existence does
 * not leak), the effective lifecycle state, sealing and opening object content, saving
 * records (with the Quantum Safe rule and the size budgets every saved object must meet), and the attributes the server computes rather than stores.
 */
import { KmipError } from '../../kmip/errors.js';
import { ObjectType, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { encodedLength } from '../../ttlv/encode.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { parseCustomKey, type AttributeKey, type AttributeMap, type ObjectRecord } from '../../objects/managed-object.js';
import type { SaveOptions } from '../unit-of-work.js';
import { quantumSafeSpec } from '../../policy/crypto-policy.js';
import { budgetExceeded, budgetsOf, exceeds } from '../../policy/budgets.js';
import type { OperationContext } from '../context.js';

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
