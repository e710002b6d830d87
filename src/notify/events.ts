/**
 * Server-to-client events and their messages. KMIP 1.4 §5 (Server-to-Client Operations: §5.1
 * Notify, §5.2 Put), KMIP 2.1 §6.2. The OASIS test case TC-NP-2-14 shows the 1.x exchange.
 *
 * From a committed change (operations/service/save.ts saveRecords):
 * - an existing object whose attributes (or effective State) changed → Notify, to every
 *   subscriber that may see the object (access policy, Get Attributes): Unique Identifier and
 *   the changed attributes with their new values (Last Change Date among them). A deleted
 *   attribute: 1.x an Attribute structure without Attribute Value (1.4 §5.1); 2.x an Attribute
 *   Reference naming it (our reading of 2.1 §6.2: the 2.x Attributes structure cannot say
 *   "deleted").
 * - a new object → Put, to subscribers of its owner's identity only (it carries the object):
 *   Put Function Replace with Replaced Unique Identifier when it has a Replaced Object Link (Re-key,
 *   Re-key Key Pair, Re-certify), New otherwise; the object as a Get by its owner returns it, and
 *   all its attributes. An object Get would not return in the clear (Sensitive, not Extractable,
 *   HSM-resident, metadata-only) gets no Put.
 * Attributes are given in the form of the subscriber's protocol version (1.x Attribute structures,
 * 2.x Attributes), only those that version defines.
 */
import { randomUUID } from 'node:crypto';
import type { Operation } from '../kmip/generated/enums.gen.js';
import { LinkType, ObjectType, PutFunction } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { protocolVersionNode } from '../kmip/messages.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import { tagDefByName } from '../kmip/registry.js';
import { effectiveState } from '../objects/lifecycle.js';
import { parseCustomKey, type AttributeKey, type ObjectRecord } from '../objects/managed-object.js';
import { writeAttribute1x, writeAttributes2x } from '../objects/attributes.js';
import { encode } from '../ttlv/encode.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import type { CommittedChange, OperationContext, ServerServices } from '../operations/context.js';
import type { Principal } from '../policy/access.js';
import { servedAttributes } from '../objects/served-attributes.js';
import { servedObject } from '../operations/service/object-service.js';

export type S2cEvent =
  { readonly kind: 'notify'; readonly record: ObjectRecord; readonly previous: ObjectRecord } | { readonly kind: 'put'; readonly record: ObjectRecord; readonly replaced?: string };

/** The events a change stands for (none when nothing a client sees changed). */
export function eventsOf(change: CommittedChange): S2cEvent[] {
  const { record, previous } = change;
  if (!previous) {
    if (record.objectType === ObjectType.Template) return [];
    return [{ kind: 'put', record, ...(replacedBy(record) ? { replaced: replacedBy(record)! } : {}) }];
  }
  return [{ kind: 'notify', record, previous }];
}

function replacedBy(record: ObjectRecord): string | undefined {
  for (const link of record.attributes.get('Link') ?? []) {
    if (link.type !== 'Structure') continue;
    const type = link.value.find((c) => c.tag === Tag.LinkType);
    const id = link.value.find((c) => c.tag === Tag.LinkedObjectIdentifier);
    if (type?.type === 'Enumeration' && type.value === LinkType.ReplacedObjectLink && id?.type === 'TextString') return id.value;
  }
  return undefined;
}

const same = (a: readonly TtlvNode[] | undefined, b: readonly TtlvNode[] | undefined): boolean =>
  a !== undefined && b !== undefined && a.length === b.length && a.every((n, i) => Buffer.from(encode(n)).equals(Buffer.from(encode(b[i]!))));

/** A context for building a message as the subscriber would see a Get / Get Attributes answer. */
function subscriberContext(services: ServerServices, principal: Principal, version: KmipVersion): OperationContext {
  return {
    services,
    principal,
    version,
    header: { version, asynchronousRequired: false, asynchronousAllowed: false, batchCount: 1 },
    now: BigInt(Math.floor(services.clock() / 1000)),
    batch: {},
    log: services.log,
    // Building a message reads only: nothing may be staged (a write here is a bug, and fails).
    get work(): never {
      throw new Error('server-to-client messages are built read-only');
    },
  };
}

function attributeItems(version: KmipVersion, list: { key: AttributeKey; node: TtlvNode; index: number }[], deleted: readonly AttributeKey[]): TtlvNode[] {
  if (version.major >= 2) {
    const out: TtlvNode[] = [writeAttributes2x(list)];
    for (const key of deleted) {
      const c = parseCustomKey(key);
      const def = c ? undefined : tagDefByName(key);
      if (c) {
        out.push({
          tag: Tag.AttributeReference,
          type: 'Structure',
          value: [
            { tag: Tag.VendorIdentification, type: 'TextString', value: c.vendor },
            { tag: Tag.AttributeName, type: 'TextString', value: c.name },
          ],
        });
      } else if (def) {
        out.push({ tag: Tag.AttributeReference, type: 'Enumeration', value: def.tag });
      }
    }
    return out;
  }
  const out = list.map((i) => writeAttribute1x(i.key, i.node, i.index));
  for (const key of deleted) {
    const name = writeAttribute1x(key, { tag: Tag.AttributeValue, type: 'TextString', value: '' }) as StructureNode;
    out.push({ ...name, value: name.value.filter((c) => c.tag !== Tag.AttributeValue) });
  }
  return out;
}

/** Notify request payload for `version`, or undefined when nothing the version shows changed. */
export function notifyPayload(services: ServerServices, version: KmipVersion, record: ObjectRecord, previous: ObjectRecord): StructureNode | undefined {
  const now = BigInt(Math.floor(services.clock() / 1000));
  const after = servedAttributes(record, effectiveState(record.state, record.attributes, now), version);
  const before = servedAttributes(previous, effectiveState(previous.state, previous.attributes, now), version);
  const changed: { key: AttributeKey; node: TtlvNode; index: number }[] = [];
  for (const [key, list] of after) {
    if (!same(list, before.get(key))) list.forEach((node, index) => changed.push({ key, node, index }));
  }
  const deleted = [...before.keys()].filter((k) => !after.has(k));
  if (changed.length === 0 && deleted.length === 0) return undefined;
  // "This includes at least the Last Change Date" (1.4 §5.1), even when it stayed in the same second.
  const lcd = after.get('LastChangeDate');
  if (lcd && !changed.some((c) => c.key === 'LastChangeDate')) lcd.forEach((node, index) => changed.push({ key: 'LastChangeDate', node, index }));
  return {
    tag: Tag.RequestPayload,
    type: 'Structure',
    value: [{ tag: Tag.UniqueIdentifier, type: 'TextString', value: record.uid }, ...attributeItems(version, changed, deleted)],
  };
}

/** Put request payload for the owner at `version`, or undefined when the object is not served in the clear. */
export async function putPayload(
  services: ServerServices,
  principal: Principal,
  version: KmipVersion,
  record: ObjectRecord,
  replaced: string | undefined,
): Promise<StructureNode | undefined> {
  const ctx = subscriberContext(services, principal, version);
  const state = effectiveState(record.state, record.attributes, ctx.now);
  let body: StructureNode;
  try {
    body = await servedObject(ctx, record, state, {} as Parameters<typeof servedObject>[3], 'Get');
  } catch {
    return undefined; // Sensitive, not Extractable, destroyed, metadata-only…: no key material goes out
  }
  const attrs = servedAttributes(record, state, version);
  const list: { key: AttributeKey; node: TtlvNode; index: number }[] = [];
  for (const [key, nodes] of attrs) nodes.forEach((node, index) => list.push({ key, node, index }));
  return {
    tag: Tag.RequestPayload,
    type: 'Structure',
    value: [
      { tag: Tag.UniqueIdentifier, type: 'TextString', value: record.uid },
      { tag: Tag.PutFunction, type: 'Enumeration', value: replaced !== undefined ? PutFunction.Replace : PutFunction.New },
      ...(replaced !== undefined ? [{ tag: Tag.ReplacedUniqueIdentifier, type: 'TextString' as const, value: replaced }] : []),
      body,
      ...attributeItems(version, list, []),
    ],
  };
}

/** A server-to-client Request Message carrying one Notify or Put (1.4 §7.1 / 2.1 §8). */
export function s2cRequest(
  version: KmipVersion,
  operation: typeof Operation.Notify | typeof Operation.Put,
  payloadNode: StructureNode,
  nowSeconds: bigint,
): { readonly message: StructureNode; readonly id: Uint8Array } {
  const id = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
  return {
    id,
    message: {
      tag: Tag.RequestMessage,
      type: 'Structure',
      value: [
        {
          tag: Tag.RequestHeader,
          type: 'Structure',
          value: [protocolVersionNode(version), { tag: Tag.TimeStamp, type: 'DateTime', value: nowSeconds }, { tag: Tag.BatchCount, type: 'Integer', value: 1 }],
        },
        {
          tag: Tag.BatchItem,
          type: 'Structure',
          value: [{ tag: Tag.Operation, type: 'Enumeration', value: operation }, { tag: Tag.UniqueBatchItemID, type: 'ByteString', value: id }, payloadNode],
        },
      ],
    },
  };
}
