/**
 * Reading the audit trail for the console, newest first, filtered, with a bound on how many
 * records one call reads (console.auditScanMax); checkpoints and restore anchors are skipped.
 */
import { decodeRecord, type OpRecord } from '../../audit/record.js';
import type { AuditLogReader } from '../../store/object-store.js';

export interface AuditFilter {
  /** A Unique Identifier the record touched. */
  readonly key?: string;
  /** The client identity. */
  readonly identity?: string;
  /** Operation name (case-insensitive), "Authenticate", "ConnectionDropped", … */
  readonly op?: string;
  /** "success", "failure", or a Result Reason name. */
  readonly result?: string;
  /** ISO 8601 or anything Date.parse reads; inclusive. */
  readonly since?: string;
  readonly until?: string;
}

export interface ScanOptions {
  /** Start at this sequence number and go down (default: the head). */
  readonly before?: number;
  /** Stop after this many matches. */
  readonly limit: number;
  /** Read at most this many records. */
  readonly scanMax: number;
}

export interface ScanResult {
  readonly rows: (OpRecord & { seq: number })[];
  /** The next (older) sequence number to continue from, when the scan stopped early. */
  readonly next?: number;
  readonly scanned: number;
  /** True when scanMax stopped the scan before the start of the log. */
  readonly bounded: boolean;
}

const CHUNK = 500;

export function parseTime(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

export function matchesFilter(r: OpRecord, f: AuditFilter, since?: number, until?: number): boolean {
  if (f.key && !(r.uids ?? []).includes(f.key)) return false;
  if (f.identity && r.client !== f.identity) return false;
  if (f.op && r.op.toLowerCase() !== f.op.toLowerCase()) return false;
  if (f.result) {
    const want = f.result.toLowerCase();
    if (want === 'success') {
      if (r.status !== 'Success') return false;
    } else if (want === 'failure') {
      if (r.status === 'Success') return false;
    } else if ((r.reason ?? '').toLowerCase() !== want) return false;
  }
  if (since !== undefined || until !== undefined) {
    const t = Date.parse(r.time);
    if (since !== undefined && t < since) return false;
    if (until !== undefined && t > until) return false;
  }
  return true;
}

/** Newest first: records (op, auth, conn) matching `f`, from `before` down. */
export async function* newestFirst(reader: AuditLogReader, before?: number): AsyncGenerator<OpRecord & { seq: number }> {
  let hi = Math.min(before ?? Infinity, reader.head().seq);
  while (hi >= 1) {
    const from = Math.max(1, hi - CHUNK + 1);
    const entries = await reader.read(from, hi - from + 1);
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (e.seq > hi) continue;
      let r;
      try {
        r = decodeRecord(e.bytes);
      } catch {
        continue; // verify reports a damaged entry; the console just skips it
      }
      if (r.kind === 'checkpoint' || r.kind === 'restore') {
        yield { ...(r as unknown as OpRecord), kind: 'conn', op: `(${r.kind})`, status: '', ref: '', seq: e.seq, skip: true } as OpRecord & { seq: number };
        continue;
      }
      yield { ...(r as OpRecord), seq: e.seq };
    }
    hi = from - 1;
  }
}

export async function scanAudit(reader: AuditLogReader, f: AuditFilter, o: ScanOptions): Promise<ScanResult> {
  const since = parseTime(f.since);
  const until = parseTime(f.until);
  const rows: (OpRecord & { seq: number })[] = [];
  let scanned = 0;
  for await (const r of newestFirst(reader, o.before)) {
    if (scanned >= o.scanMax) return { rows, next: r.seq, scanned, bounded: true };
    scanned++;
    if ((r as { skip?: boolean }).skip) continue;
    if (!matchesFilter(r, f, since, until)) continue;
    if (rows.length >= o.limit) return { rows, next: r.seq, scanned, bounded: false };
    rows.push(r);
  }
  return { rows, scanned, bounded: false };
}
