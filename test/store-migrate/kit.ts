/** Shared by the migration tests: read a whole store, add audit entries to a stopped folder, make targets. */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { anchorFileOf } from '../../src/audit/anchor-config.js';
import { gatherAnchors, readAnchorFiles, runVerify } from '../../src/audit/verify-run.js';
import { DEFAULT_CONFIG } from '../../src/config/config.js';
import { DataFolder } from '../../src/folder/data-folder.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import type { ObjectStore } from '../../src/store/object-store.js';
import { openStore } from '../../src/store/index.js';
import { sharedPostgres } from '../support/postgres.js';

export interface Dump {
  readonly records: Map<string, ObjectRecord>;
  readonly audit: Buffer[];
  readonly head: { readonly seq: number; readonly link: Uint8Array };
  /** key → revision and value (UTF-8). */
  readonly meta: Map<string, { revision: number; value: string }>;
}

/** Everything a store holds (a LevelDB path is opened and closed; a store is read as it is). */
export async function dumpStore(from: string | ObjectStore): Promise<Dump> {
  const store = typeof from === 'string' ? new LevelStore({ path: from }) : from;
  if (typeof from === 'string') await store.open();
  try {
    const snap = await store.snapshot();
    const records = new Map<string, ObjectRecord>();
    const audit: Buffer[] = [];
    for await (const r of snap.records()) records.set(r.uid, r);
    for await (const e of snap.auditEntries(1)) audit.push(Buffer.from(e.bytes));
    const head = snap.auditHead;
    await snap.close();
    const meta = new Map<string, { revision: number; value: string }>();
    let after: string | undefined;
    for (;;) {
      const page = await store.meta.list('', { ...(after !== undefined && { after }), limit: 100 });
      for (const e of page) meta.set(e.key, { revision: e.revision, value: Buffer.from(e.value).toString('utf8') });
      if (page.length < 100) break;
      after = page[page.length - 1]!.key;
    }
    return { records, audit, head, meta };
  } finally {
    if (typeof from === 'string') await store.close();
  }
}

/**
 * Append `n` operation records to a stopped folder's audit trail through the real AuditTrail
 * (its checkpoints every 50, and the shutdown checkpoint), as a busy server would have.
 */
export async function addAuditEntries(dataDir: string, n: number): Promise<void> {
  const folder = await DataFolder.open({ dataDir, keys: 'open' });
  try {
    const trail = await folder.openTrail({ log: pino({ level: 'silent' }), checkpointEvery: 50 });
    for (let i = 0; i < n; i += 100) {
      const events = Array.from({ length: Math.min(100, n - i) }, (_, j) => ({
        kind: 'op' as const,
        time: new Date().toISOString(),
        ref: `migrate-test/${i + j}`,
        client: 'kms-client',
        op: 'Get',
        uids: [`uid-${i + j}`],
        status: 'Success',
      }));
      await trail.commitAlone(events);
    }
  } finally {
    await folder.close();
  }
}

/** A fresh, empty target store: a new database of the run's PostgreSQL server, or a LevelDB folder. */
export async function newTarget(work: string, kind: 'postgresql' | 'leveldb' = 'postgresql'): Promise<{ store: ObjectStore; url?: string; close(): Promise<void> }> {
  if (kind === 'leveldb') {
    const store = new LevelStore({ path: mkdtempSync(join(work, 'target-')) });
    await store.open();
    return { store, close: () => store.close() };
  }
  const url = await (await sharedPostgres()).newDatabase();
  const store = await openStore({ kind: 'postgresql', url, poolSize: 2 });
  return { store, url, close: () => store.close() };
}

/** The audit trail over the database, verified as `kms audit verify` does: the folder's audit key, its anchor file. */
export async function verifyTrailOver(dir: string, storeUrl: string): Promise<{ ok: boolean; entries: number; text: string }> {
  const folder = await DataFolder.open({ dataDir: dir, storeUrl, keys: 'open', mustExist: true, allowMigrating: true });
  try {
    const anchors = await gatherAnchors(readAnchorFiles([{ file: anchorFileOf({ ...DEFAULT_CONFIG, dataDir: dir }).file, explicit: true }]), folder.auditKey);
    const out = await runVerify({ reader: folder.store.audit, key: folder.auditKey, every: 100_000, anchors });
    return { ok: out.result.ok, entries: folder.store.audit.head().seq, text: JSON.stringify(out.result) };
  } finally {
    await folder.close();
  }
}
