/**
 * The audit records of one request message, as values: what each batch item's record says.
 * This module builds records and writes nothing; the unit of work
 * (src/operations/unit-of-work.ts) decides when and how they are written (with the item's
 * change, or after it; synced or not) and is the only caller.
 *
 * - An item whose change is committed: one record, Success, with the uids it wrote and the
 *   names of the attributes whose values changed (`committedItem`).
 * - Any other item (read-only, failed, refused, or whose commit failed): one record with its
 *   result, the uids of the response or the request (else the ID Placeholder it failed on),
 *   the attribute names it asked for, and for Locate how many objects it found (`resultItem`).
 * - An Undo batch rolled back: one OperationUndone record per undone item (`undone`); a
 *   rollback that could not be written, one BatchUndo record with OperationFailed (`undoFailed`).
 * Records are never removed: the log shows what happened.
 */
import type { ResponseItem } from '../kmip/messages.js';
import { enumValueName, tagName } from '../kmip/registry.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { ResultStatus } from '../kmip/generated/enums.gen.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { encode } from '../ttlv/encode.js';
import { LOCATE_SAMPLE, type AuditEvent } from './record.js';

export interface RequestIdentity {
  readonly connectionId: string;
  readonly requestNo: number;
  readonly client?: string;
  readonly addr?: string;
  readonly kmip?: string;
}

export function operationName(op: number | undefined): string {
  if (op === undefined) return 'Unknown';
  return enumValueName('Operation', op) ?? `0x${(op >>> 0).toString(16)}`;
}

/** Attribute names a payload mentions (Attribute Name, Attribute Reference, 2.x Attributes): names only. */
export function attributeNames(node: TtlvNode | undefined, out = new Set<string>(), depth = 0): Set<string> {
  if (!node || node.type !== 'Structure' || depth > 8) return out;
  for (const c of node.value) {
    if (c.tag === Tag.AttributeName && c.type === 'TextString') out.add(c.value.replace(/\s+/g, ''));
    else if (c.tag === Tag.AttributeReference && c.type === 'Enumeration') out.add(tagName(c.value));
    else if (c.tag === Tag.Attributes && c.type === 'Structure') for (const a of c.value) out.add(tagName(a.tag));
    else if (c.type === 'Structure' && c.tag !== Tag.KeyBlock) attributeNames(c, out, depth + 1);
  }
  return out;
}

function topUids(payload: StructureNode | undefined): string[] {
  const out: string[] = [];
  if (payload) for (const c of payload.value) if (c.tag === Tag.UniqueIdentifier && (c.type === 'TextString' || c.type === 'Identifier')) out.push(c.value);
  return out;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Names of the attributes whose values differ between two versions of a record. */
function changedAttributes(record: ObjectRecord, previous: ObjectRecord | undefined): string[] {
  const keys = new Set([...record.attributes.keys(), ...(previous?.attributes.keys() ?? [])]);
  const same = (a: readonly TtlvNode[] | undefined, b: readonly TtlvNode[] | undefined) =>
    a !== undefined && b !== undefined && a.length === b.length && a.every((n, i) => Buffer.from(encode(n)).equals(Buffer.from(encode(b[i]!))));
  return [...keys].filter((k) => !same(record.attributes.get(k), previous?.attributes.get(k))).sort();
}

export interface ItemStart {
  readonly index: number;
  readonly operation: number;
  /** clock() when the item started. */
  readonly started: number;
  readonly requestPayload: StructureNode | undefined;
}

export class RequestRecords {
  /** Operation and uids of each finished item, by batch index (for undo records). */
  private readonly ended = new Map<number, { op: string; uids: readonly string[] }>();

  constructor(
    private readonly who: RequestIdentity,
    private readonly clock: () => number,
  ) {}

  private base(index: number | undefined): Pick<AuditEvent, 'kind' | 'time' | 'ref' | 'client' | 'addr' | 'kmip'> {
    const { connectionId, requestNo, client, addr, kmip } = this.who;
    return {
      kind: 'op',
      time: new Date(this.clock()).toISOString(),
      ref: `${connectionId}/${requestNo}${index !== undefined ? `/${index}` : ''}`,
      client,
      addr,
      kmip,
    };
  }

  /** The record of an item whose change is being committed (it rides in the same commit). */
  committedItem(it: ItemStart, result: ResponseItem, changes: readonly { record: ObjectRecord; previous?: ObjectRecord }[]): AuditEvent {
    const op = operationName(result.operation ?? it.operation);
    const uids = [...new Set(changes.map((c) => c.record.uid))];
    this.ended.set(it.index, { op, uids });
    return {
      ...this.base(it.index),
      op,
      uids,
      attrs: [...new Set(changes.flatMap((c) => changedAttributes(c.record, c.previous)))].sort(),
      status: 'Success',
      ms: this.clock() - it.started,
    };
  }

  /** The record of an item that committed nothing (`it` absent: a whole message refused before its items ran). */
  resultItem(it: ItemStart | undefined, result: ResponseItem, idPlaceholder: string | undefined): AuditEvent {
    const ok = result.status === ResultStatus.Success;
    const op = operationName(result.operation ?? it?.operation);
    const responseUids = topUids(result.payload);
    const requestUids = topUids(it?.requestPayload);
    const uids = responseUids.length > 0 ? responseUids : requestUids.length > 0 ? requestUids : idPlaceholder !== undefined && !ok ? [idPlaceholder] : [];
    if (it) this.ended.set(it.index, { op, uids });
    const names = it ? attributeNames(it.requestPayload) : undefined;
    const isLocate = op === 'Locate';
    // Fields set one by one, in the order they always had (no spread of a fresh object per field: a Get's record is on the hot path).
    const e: Writable<AuditEvent> = this.base(it?.index) as Writable<AuditEvent>;
    e.op = op;
    if (uids.length > 0) e.uids = isLocate ? uids.slice(0, LOCATE_SAMPLE) : uids;
    if (isLocate && ok) e.found = responseUids.length;
    if (names && names.size > 0) e.attrs = [...names].sort();
    e.status = enumValueName('ResultStatus', result.status) ?? String(result.status);
    if (!ok) {
      e.reason = result.reason !== undefined ? (enumValueName('ResultReason', result.reason) ?? String(result.reason)) : undefined;
      e.message = result.message;
    }
    if (it) e.ms = this.clock() - it.started;
    return e;
  }

  /** One OperationUndone record per undone item (by batch index), for the rollback's commit. */
  undone(indices: readonly number[], message: string): AuditEvent[] {
    return indices.map((index) => {
      const e = this.ended.get(index);
      return { ...this.base(index), op: e?.op ?? 'Unknown', ...(e && e.uids.length > 0 ? { uids: e.uids } : {}), status: 'OperationUndone', message };
    });
  }

  /** An Undo batch could not be rolled back: its items stand. */
  undoFailed(uids: readonly string[], message: string): AuditEvent {
    return { ...this.base(undefined), op: 'BatchUndo', ...(uids.length > 0 ? { uids } : {}), status: 'OperationFailed', reason: 'GeneralFailure', message };
  }
}

/** The record of a refused connection or a failed client authentication. */
export function authFailureEvent(p: { connectionId: string; addr: string | undefined; message: string; time: number; tls?: boolean }): AuditEvent {
  return {
    kind: 'auth',
    time: new Date(p.time).toISOString(),
    ref: p.connectionId,
    addr: p.addr,
    op: p.tls ? 'TlsHandshake' : 'Authenticate',
    status: 'OperationFailed',
    reason: 'AuthenticationNotSuccessful',
    message: p.message,
  };
}
