/**
 * Key usage report: for each key, what the store says (type, algorithm and length, state,
 * usage mask, owner) and what the audit log says (who used it, for which operations, how
 * often, first and last use).
 */
import { enumValueName } from '../kmip/registry.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import type { ObjectStore } from '../store/object-store.js';
import { decodeRecord } from './record.js';

export interface ReportFilter {
  readonly identity?: string;
  readonly key?: string;
  /** ISO times, inclusive. */
  readonly since?: string;
  readonly until?: string;
}

export interface UsageLine {
  readonly identity: string;
  readonly operation: string;
  readonly count: number;
  /** How many of those failed. */
  readonly failed: number;
  readonly first: string;
  readonly last: string;
}

export interface KeyReport {
  readonly uid: string;
  /** Absent when the store no longer holds the object. */
  readonly objectType?: string;
  readonly algorithm?: string;
  readonly length?: number;
  readonly state?: string;
  readonly usageMask?: number;
  readonly owner?: string;
  readonly uses: UsageLine[];
}

function firstValue(r: ObjectRecord, key: string): number | undefined {
  const n = r.attributes.get(key)?.[0];
  return n && (n.type === 'Enumeration' || n.type === 'Integer') ? n.value : undefined;
}

function describe(uid: string, r: ObjectRecord | undefined): Omit<KeyReport, 'uses'> {
  if (!r) return { uid };
  const alg = firstValue(r, 'CryptographicAlgorithm');
  return {
    uid,
    objectType: enumValueName('ObjectType', r.objectType) ?? String(r.objectType),
    ...(alg !== undefined ? { algorithm: enumValueName('CryptographicAlgorithm', alg) ?? String(alg) } : {}),
    ...(firstValue(r, 'CryptographicLength') !== undefined ? { length: firstValue(r, 'CryptographicLength') } : {}),
    state: enumValueName('State', r.state) ?? String(r.state),
    ...(firstValue(r, 'CryptographicUsageMask') !== undefined ? { usageMask: firstValue(r, 'CryptographicUsageMask') } : {}),
    owner: r.owner,
  };
}

export async function buildReport(store: ObjectStore, filter: ReportFilter = {}): Promise<KeyReport[]> {
  // uid → "identity\0operation" → line
  const usage = new Map<string, Map<string, { identity: string; operation: string; count: number; failed: number; first: string; last: string }>>();
  for (let from = 1; ;) {
    const page = await store.audit.read(from, 1000);
    if (page.length === 0) break;
    from = page[page.length - 1]!.seq + 1;
    for (const e of page) {
      const r = decodeRecord(e.bytes);
      if (r.kind !== 'op' || !r.uids || r.client === undefined) continue;
      if (filter.identity !== undefined && r.client !== filter.identity) continue;
      if (filter.since !== undefined && r.time < filter.since) continue;
      if (filter.until !== undefined && r.time > filter.until) continue;
      for (const uid of new Set(r.uids)) {
        if (filter.key !== undefined && uid !== filter.key) continue;
        let m = usage.get(uid);
        if (!m) usage.set(uid, (m = new Map()));
        const k = `${r.client}\0${r.op}`;
        const line = m.get(k);
        if (r.status === 'OperationUndone') {
          // The second record of a use an Undo batch rolled back: not a new use; it did not stand.
          if (line) line.failed++;
          continue;
        }
        const failed = r.status === 'Success' ? 0 : 1;
        if (!line) m.set(k, { identity: r.client, operation: r.op, count: 1, failed, first: r.time, last: r.time });
        else {
          line.count++;
          line.failed += failed;
          if (r.time < line.first) line.first = r.time;
          if (r.time > line.last) line.last = r.time;
        }
      }
    }
  }
  const uids = new Set<string>();
  if (filter.key !== undefined) uids.add(filter.key);
  else {
    for (let after: string | undefined; ;) {
      const page = await store.list(after, 1000);
      if (page.length === 0) break;
      for (const u of page) uids.add(u);
      after = page[page.length - 1];
    }
    for (const u of usage.keys()) uids.add(u);
  }
  const out: KeyReport[] = [];
  for (const uid of [...uids].sort()) {
    const uses = [...(usage.get(uid)?.values() ?? [])].sort((a, b) => a.identity.localeCompare(b.identity) || a.operation.localeCompare(b.operation));
    if (filter.identity !== undefined && uses.length === 0) continue;
    out.push({ ...describe(uid, await store.get(uid)), uses });
  }
  return out;
}

const COLUMNS = ['uid', 'objectType', 'algorithm', 'length', 'state', 'usageMask', 'owner', 'identity', 'operation', 'count', 'failed', 'first', 'last'] as const;

/** One row per key × identity × operation (one row for a key nobody used). */
export function reportRows(report: readonly KeyReport[]): Record<(typeof COLUMNS)[number], string>[] {
  return report.flatMap((k) => {
    const base = {
      uid: k.uid,
      objectType: k.objectType ?? '(gone)',
      algorithm: k.algorithm ?? '',
      length: k.length?.toString() ?? '',
      state: k.state ?? '',
      usageMask: k.usageMask?.toString() ?? '',
      owner: k.owner ?? '',
    };
    const uses = k.uses.length > 0 ? k.uses : [undefined];
    return uses.map((u) => ({
      ...base,
      identity: u?.identity ?? '',
      operation: u?.operation ?? '',
      count: String(u?.count ?? 0),
      failed: String(u?.failed ?? 0),
      first: u?.first ?? '',
      last: u?.last ?? '',
    }));
  });
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatReport(report: readonly KeyReport[], format: 'table' | 'json' | 'csv'): string {
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n';
  const rows = reportRows(report);
  if (format === 'csv') return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
  const width = COLUMNS.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((s, i) => s.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(COLUMNS.map((c) => r[c])))].join('\n') + '\n';
}
