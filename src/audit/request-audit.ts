/**
 * The audit records of one request message (`ctx.audit`). The dispatcher opens an item
 * before its handler runs and closes it with the result; a handler that changes state calls
 * `saveRecords`, which asks `forCommit` for the entries to write in the same store batch:
 * the records still waiting (earlier read-only items, so the log keeps item order) plus this
 * item's own record, written as a success — the change is only durable if it succeeds.
 * What is left is written by `flush`, which the dispatcher awaits before the response goes.
 * An item that fails after its change was committed gets a second record (`afterCommit`).
 * An Undo batch that is rolled back adds one OperationUndone record per undone item, in the
 * rollback's own commit (`forUndo`); a rollback that could not be written, a BatchUndo record
 * with OperationFailed (`undoFailed`). Records are never removed: the log shows what happened.
 * With `audit.readSync` "batched", `flush` does not wait for the disk sync when every item was
 * a read-only operation and nothing was committed (read-durability.ts).
 */
import type { ResponseItem } from '../kmip/messages.js';
import { enumValueName, tagName } from '../kmip/registry.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { ResultStatus } from '../kmip/generated/enums.gen.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { encode } from '../ttlv/encode.js';
import type { AuditAppend } from '../store/object-store.js';
import { LOCATE_SAMPLE, type AuditEvent } from './record.js';
import type { AuditTrail } from './trail.js';
import { isReadOnlyOperation } from './read-durability.js';

export interface RequestIdentity {
  readonly connectionId: string;
  readonly requestNo: number;
  readonly client?: string;
  readonly addr?: string;
  readonly kmip?: string;
}

interface OpenItem {
  readonly index: number;
  readonly operation: number;
  readonly started: number;
  readonly requestPayload: StructureNode | undefined;
  /** Attribute names from the request. */
  readonly requested: readonly string[];
  committed: boolean;
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
  return (payload?.value ?? []).flatMap((c) => (c.tag === Tag.UniqueIdentifier && (c.type === 'TextString' || c.type === 'Identifier') ? [c.value] : []));
}

/** Names of the attributes whose values differ between two versions of a record. */
function changedAttributes(record: ObjectRecord, previous: ObjectRecord | undefined): string[] {
  const keys = new Set([...record.attributes.keys(), ...(previous?.attributes.keys() ?? [])]);
  const same = (a: readonly TtlvNode[] | undefined, b: readonly TtlvNode[] | undefined) =>
    a !== undefined && b !== undefined && a.length === b.length && a.every((n, i) => Buffer.from(encode(n)).equals(Buffer.from(encode(b[i]!))));
  return [...keys].filter((k) => !same(record.attributes.get(k), previous?.attributes.get(k))).sort();
}

export class RequestAudit {
  private pending: AuditEvent[] = [];
  private inFlight: AuditEvent[] | undefined;
  private item: OpenItem | undefined;
  /** Operation and uids of each finished item, by batch index (for undo records). */
  private readonly ended = new Map<number, { op: string; uids: readonly string[] }>();
  /** Every item so far was a read-only operation, and nothing was committed (read-durability.ts). */
  private readsOnly = true;

  constructor(
    readonly trail: AuditTrail,
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

  /** Before an item's handler runs. */
  begin(index: number, operation: number, payload: StructureNode | undefined): void {
    this.item = { index, operation, started: this.clock(), requestPayload: payload, requested: [...attributeNames(payload)].sort(), committed: false };
  }

  /** Entries for a store commit made by the current item (see the file comment). */
  forCommit(changes: readonly { record: ObjectRecord; previous?: ObjectRecord }[]): AuditAppend[] {
    const it = this.item;
    const events = [...this.pending];
    if (it) {
      events.push({
        ...this.base(it.index),
        op: operationName(it.operation),
        uids: changes.map((c) => c.record.uid),
        attrs: [...new Set(changes.flatMap((c) => changedAttributes(c.record, c.previous)))].sort(),
        status: 'Success',
        ms: this.clock() - it.started,
        ...(it.committed ? { message: 'further change by the same item' } : {}),
      });
    }
    this.inFlight = events;
    return this.trail.appendsFor(events);
  }

  /** After that commit: on success the entries are durable; on failure they are still owed. */
  afterCommit(ok: boolean): void {
    const events = this.inFlight ?? [];
    this.inFlight = undefined;
    if (!ok) return;
    this.readsOnly = false;
    this.pending = [];
    if (this.item) this.item.committed = true;
    this.trail.committed(events);
  }

  /** The item's result is known. */
  end(result: ResponseItem, idPlaceholder: string | undefined): void {
    const it = this.item;
    this.item = undefined;
    if (!it || !isReadOnlyOperation(it.operation)) this.readsOnly = false;
    const ok = result.status === ResultStatus.Success;
    const op = operationName(result.operation ?? it?.operation);
    const responseUids = topUids(result.payload);
    const requestUids = topUids(it?.requestPayload);
    const uids = responseUids.length > 0 ? responseUids : requestUids.length > 0 ? requestUids : idPlaceholder !== undefined && !ok ? [idPlaceholder] : [];
    if (it) this.ended.set(it.index, { op, uids });
    if (it?.committed && ok) return; // its record went with its change
    const isLocate = op === 'Locate';
    this.pending.push({
      ...this.base(it?.index),
      op,
      ...(uids.length > 0 ? { uids: isLocate ? uids.slice(0, LOCATE_SAMPLE) : uids } : {}),
      ...(isLocate && ok ? { found: responseUids.length } : {}),
      ...(it && it.requested.length > 0 ? { attrs: it.requested } : {}),
      status: enumValueName('ResultStatus', result.status) ?? String(result.status),
      ...(ok ? {} : { reason: result.reason !== undefined ? (enumValueName('ResultReason', result.reason) ?? String(result.reason)) : undefined, message: result.message }),
      ...(it ? { ms: this.clock() - it.started } : {}),
      ...(it?.committed ? { afterCommit: true as const } : {}),
    });
  }

  /**
   * Entries for the commit that rolls an Undo batch back: what is still owed, then one
   * OperationUndone record per undone item (by batch index). Follow with `afterCommit`.
   */
  forUndo(indices: readonly number[], message: string): AuditAppend[] {
    this.readsOnly = false;
    const events = [...this.pending];
    for (const index of indices) {
      const e = this.ended.get(index);
      events.push({ ...this.base(index), op: e?.op ?? 'Unknown', ...(e && e.uids.length > 0 ? { uids: e.uids } : {}), status: 'OperationUndone', message });
    }
    this.inFlight = events;
    return this.trail.appendsFor(events);
  }

  /** An Undo batch could not be rolled back: its items stand (written by `flush`). */
  undoFailed(uids: readonly string[], message: string): void {
    this.readsOnly = false;
    this.pending.push({ ...this.base(undefined), op: 'BatchUndo', ...(uids.length > 0 ? { uids } : {}), status: 'OperationFailed', reason: 'GeneralFailure', message });
  }

  /** A whole message refused before its items ran: one record per item (or one, unparsed). */
  refused(items: readonly ResponseItem[]): void {
    for (const r of items) this.end(r, undefined);
  }

  /** Written before the response goes: with sync, or (batched reads) synced within the window. */
  get deferSync(): boolean {
    return this.readsOnly && this.trail.readSync === 'batched';
  }

  /** Write what is still owed, durably (see `deferSync`). Throws when the audit log cannot be written. */
  async flush(): Promise<void> {
    const events = this.pending;
    this.pending = [];
    await this.trail.commitAlone(events, { deferSync: this.deferSync });
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
