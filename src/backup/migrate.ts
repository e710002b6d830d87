/**
 * `kms store migrate`: copy a STOPPED LevelDB data folder's store (records, server metadata,
 * audit log) into another store (PostgreSQL), resumably, then verify the copy.
 *
 * Nothing is unwrapped: records move with their sealed bodies and KEK ids as they are, so the
 * same key custody (the folder's master key or token KEKs) opens them over the new store. The
 * source is opened read-only through its own store, whose LevelDB LOCK also keeps a server
 * from starting on the folder while it is copied (and refuses a folder a server holds).
 *
 * What the copy keeps exactly:
 * - records: every record byte-equal, revision included. The store contract writes a put with
 *   `revision = expectedRevision + 1`, so a record at revision R is written as the chain of
 *   puts 0 → 1 → … → R-1 in ONE commit (the store applies the net effect: one row, at R).
 * - server metadata: every entry (key, value, revision) the same way, but for the keys the
 *   migration itself owns (MIGRATE_PREFIX) and the ephemeral per-host readiness probes
 *   (`health/`) and job leases (`lease/`), which are not state.
 * - the audit log: every entry byte-equal at the same position, each appended through the
 *   store's `seal(seq, prevLink)` with the source's bytes; the seal refuses an entry that
 *   would land anywhere but its own position or that does not chain to the target's head, so
 *   an entry can be neither duplicated nor reordered, whatever happened before.
 *
 * Resuming. Every commit of the copy also writes the migration's state entry
 * (`migrate/state` in the target's meta space, compare-and-set on its revision): the source's
 * fingerprint, its size and audit head when the copy began, and how far each phase got. A
 * re-run reads it and continues after the last committed record / meta key; the audit phase
 * continues from the target's own head. A target that holds anything without a state entry
 * for THIS source is refused (a different store), and so is a source whose records or audit
 * head changed since the copy began (a server ran on it in between).
 *
 * Verifying (also alone: `--verify-only`): both stores read through consistent snapshots and
 * compared in order: counts, every record's bytes, every audit entry's bytes, the audit heads
 * (seq and link), every meta entry. The copy exits 0 only once that passed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { decodeRecord as decodeAuditRecord, sha256 } from '../audit/record.js';
import { DataFolder } from '../folder/data-folder.js';
import { folderLayout } from '../folder/layout.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import { compareUids } from '../store/index-keys.js';
import type { AuditAppend, CommitOp, MetaEntry, ObjectStore, StoreSnapshot } from '../store/object-store.js';
import { StoreError } from '../store/object-store.js';
import { encodeRecord } from '../store/record-codec.js';

/** Meta keys the migration owns in the target (never copied from, nor compared with, the source). */
export const MIGRATE_PREFIX = 'migrate/';
export const MIGRATE_STATE_KEY = `${MIGRATE_PREFIX}state`;
/**
 * Meta keys that are not state: neither copied nor compared. `health/`: per-host readiness
 * stamps. `lease/` (src/rotation/store-leases.ts): leases of running jobs; the source is stopped,
 * so no holder of its leases runs, and the entry's revision grows with every renewal (a year of
 * a running scheduler is hundreds of thousands of revisions, which a copy at the same revision
 * would replay one put at a time). A job on the target takes its lease afresh.
 */
export const EPHEMERAL_META_PREFIXES: readonly string[] = ['health/', 'lease/'];

/**
 * Errors of a migration, by code:
 * - REFUSED: the target holds a different store, or the source changed since the migration
 *   began, or the source folder is in use by a running server;
 * - MISMATCH: verification found a difference between the source and the target;
 * - NOT_MIGRATED: --verify-only on a target that holds no migration of this source;
 * - IO: a store could not be read or written.
 */
export type MigrateErrorCode = 'REFUSED' | 'MISMATCH' | 'NOT_MIGRATED' | 'IO';

export class MigrateError extends Error {
  override readonly name = 'MigrateError';
  constructor(
    readonly code: MigrateErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The migration's own record in the target's meta space (JSON). */
export interface MigrateState {
  readonly format: 1;
  /** sourceFingerprint() of the folder being copied. */
  readonly source: string;
  /** The folder, for messages only. */
  readonly sourceDir: string;
  readonly started: string;
  /** The source as it was when the copy began: a resume refuses a source that changed. */
  readonly sourceRecords: number;
  readonly sourceAuditSeq: number;
  readonly sourceAuditLink: string;
  /** 'records' → 'meta' → 'audit' → 'copied' → 'verified'. */
  readonly phase: 'records' | 'meta' | 'audit' | 'copied' | 'verified';
  /** Last record uid committed (records phase). */
  readonly lastUid?: string;
  /** Last meta key committed (meta phase). */
  readonly lastMeta?: string;
  /** Set when the copy was verified. */
  readonly verified?: string;
  /** How many times a run picked the copy up again after an interruption. */
  readonly resumes: number;
}

export interface MigrateProgress {
  readonly phase: 'records' | 'meta' | 'audit' | 'verify records' | 'verify audit';
  readonly done: number;
  readonly total: number;
}

/** Extra meta ops for the first commit (e.g. the cluster's custody record, written the way the nodes read it). */
export type FirstCommitOps = (target: ObjectStore) => Promise<readonly CommitOp[]>;

export interface MigrateOptions {
  /** The stopped LevelDB data folder. */
  readonly dataDir: string;
  /** The target store, open. */
  readonly target: ObjectStore;
  /** Records per commit (default 500); a record's revision chain counts once per revision. */
  readonly opsPerCommit?: number;
  /** Audit entries per commit (default 2000). */
  readonly auditPerCommit?: number;
  readonly onProgress?: (p: MigrateProgress) => void;
  /** Told once, before copying: whether this run resumes an interrupted one, and from where. */
  readonly onStart?: (s: { readonly resumed: boolean; readonly state: MigrateState; readonly targetAuditSeq: number }) => void;
  /** Meta ops written in the migration's first commit, and excluded from the meta comparison. */
  readonly firstCommit?: FirstCommitOps;
  /** Meta keys (or prefixes ending in '/') the target may hold beyond the source's: excluded from the comparison. */
  readonly targetOwnKeys?: readonly string[];
}

export interface VerifyReport {
  readonly records: number;
  readonly metaEntries: number;
  readonly auditEntries: number;
  /** Hex link of the last audit entry ('' when empty). */
  readonly auditHead: string;
  /** Empty when source and target are equal. The first ones only (at most MAX_PROBLEMS). */
  readonly problems: readonly string[];
}

export interface MigrateSummary {
  readonly resumed: boolean;
  readonly copied: { readonly records: number; readonly metaEntries: number; readonly auditEntries: number };
  readonly verify: VerifyReport;
  readonly state: MigrateState;
}

const MAX_PROBLEMS = 20;
const DEFAULT_OPS_PER_COMMIT = 500;
const DEFAULT_AUDIT_PER_COMMIT = 2000;
const META_PAGE = 256;

/**
 * What identifies a data folder's store across runs: its custody record (the ids of the keys
 * that protect it: made at random for each folder) and its first audit entry (time-stamped),
 * hashed. Two folders never share it; the same folder keeps it while it is stopped.
 */
export async function sourceFingerprint(dataDir: string, snap: StoreSnapshot): Promise<string> {
  const h = createHash('sha256').update('kms-migrate-source-v1\0');
  const custody = folderLayout(dataDir).custody;
  h.update(existsSync(custody) ? readFileSync(custody) : Buffer.alloc(0)).update('\0');
  for await (const e of snap.auditEntries(1)) {
    h.update(e.bytes);
    break;
  }
  return h.digest('hex');
}

/** Open the stopped source folder's store read-only (its lock held while we read). */
async function openSource(dataDir: string): Promise<DataFolder> {
  try {
    return await DataFolder.open({ dataDir, store: 'read-only', keys: 'none', inUse: ': stop it before migrating its store' });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new MigrateError(code === 'IN_USE' ? 'REFUSED' : 'IO', (e as Error).message, { cause: e });
  }
}

function isOwnKey(key: string, own: readonly string[]): boolean {
  return key.startsWith(MIGRATE_PREFIX) || own.some((k) => (k.endsWith('/') ? key.startsWith(k) : key === k));
}

function isEphemeral(key: string): boolean {
  return EPHEMERAL_META_PREFIXES.some((p) => key.startsWith(p));
}

async function* metaEntries(store: ObjectStore): AsyncGenerator<MetaEntry> {
  let after: string | undefined;
  for (;;) {
    const page = await store.meta.list('', { ...(after !== undefined && { after }), limit: META_PAGE });
    for (const e of page) yield e;
    if (page.length < META_PAGE) return;
    after = page[page.length - 1]!.key;
  }
}

async function readState(target: ObjectStore): Promise<{ state: MigrateState; revision: number } | undefined> {
  const e = await target.meta.get(MIGRATE_STATE_KEY);
  if (!e) return undefined;
  let s: MigrateState;
  try {
    s = JSON.parse(Buffer.from(e.value).toString('utf8')) as MigrateState;
  } catch {
    throw new MigrateError('REFUSED', `the target's ${MIGRATE_STATE_KEY} entry is not a migration record`);
  }
  if (s?.format !== 1 || typeof s.source !== 'string') throw new MigrateError('REFUSED', `the target's ${MIGRATE_STATE_KEY} entry is not a migration record this version understands`);
  return { state: s, revision: e.revision };
}

/** Anything in the target but the migration's own entries? */
async function targetHoldsData(target: ObjectStore, own: readonly string[]): Promise<string | undefined> {
  const n = await target.count();
  if (n > 0) return `${n} records`;
  const head = target.audit.head().seq;
  if (head > 0) return `${head} audit entries`;
  for await (const e of metaEntries(target)) if (!isOwnKey(e.key, own) && !isEphemeral(e.key)) return `metadata (${e.key})`;
  return undefined;
}

/** The puts that leave `record` in a fresh store at its own revision (see the file comment). */
function recordChain(record: ObjectRecord): CommitOp[] {
  const ops: CommitOp[] = [];
  for (let r = 0; r < record.revision; r++) ops.push({ type: 'put', record, expectedRevision: r });
  return ops;
}

function metaChain(e: MetaEntry): CommitOp[] {
  const ops: CommitOp[] = [];
  for (let r = 0; r < e.revision; r++) ops.push({ type: 'meta-put', key: e.key, value: e.value, expectedRevision: r });
  return ops;
}

function wrapIo(e: unknown, what: string): never {
  if (e instanceof MigrateError) throw e;
  if (e instanceof StoreError && e.code === 'CONFLICT')
    throw new MigrateError('REFUSED', `${what}: the target changed under the migration (is another migration or a server writing to it?): ${e.message}`, { cause: e });
  throw new MigrateError('IO', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** Copy (or resume copying) the folder's store into `target`, then verify. */
export async function migrateStore(o: MigrateOptions): Promise<MigrateSummary> {
  const opsPerCommit = Math.max(1, o.opsPerCommit ?? DEFAULT_OPS_PER_COMMIT);
  const auditPerCommit = Math.max(1, o.auditPerCommit ?? DEFAULT_AUDIT_PER_COMMIT);
  const own = o.targetOwnKeys ?? [];
  const target = o.target;
  const folder = await openSource(o.dataDir);
  try {
    const source = folder.store;
    const snap = await source.snapshot();
    try {
      const fingerprint = await sourceFingerprint(o.dataDir, snap);
      const linkHex = Buffer.from(snap.auditHead.link).toString('hex');
      let found: { state: MigrateState; revision: number } | undefined;
      try {
        found = await readState(target);
      } catch (e) {
        wrapIo(e, 'reading the target');
      }
      let state: MigrateState;
      let revision: number;
      const resumed = found !== undefined;
      if (found) {
        if (found.state.source !== fingerprint)
          throw new MigrateError(
            'REFUSED',
            `the target database holds a migration of another data folder (${found.state.sourceDir}, begun ${found.state.started}): migrate into an empty database`,
          );
        if (found.state.sourceRecords !== snap.count || found.state.sourceAuditSeq !== snap.auditHead.seq || found.state.sourceAuditLink !== linkHex)
          throw new MigrateError(
            'REFUSED',
            `${o.dataDir} changed since the migration into this database began (then ${found.state.sourceRecords} records and audit head ${found.state.sourceAuditSeq}, now ${snap.count} and ${snap.auditHead.seq}: did a server run on it?): migrate into a new empty database`,
          );
        state = found.state.phase === 'verified' ? found.state : { ...found.state, resumes: found.state.resumes + 1 };
        revision = found.revision;
      } else {
        const holds = await targetHoldsData(target, own).catch((e: unknown) => wrapIo(e, 'reading the target'));
        if (holds !== undefined) throw new MigrateError('REFUSED', `the target database is not empty (it holds ${holds}) and is no migration of ${o.dataDir}: refusing to mix two stores`);
        state = {
          format: 1,
          source: fingerprint,
          sourceDir: folder.dir,
          started: new Date().toISOString(),
          sourceRecords: snap.count,
          sourceAuditSeq: snap.auditHead.seq,
          sourceAuditLink: linkHex,
          phase: 'records',
          resumes: 0,
        };
        revision = 0;
      }
      o.onStart?.({ resumed, state, targetAuditSeq: target.audit.head().seq });

      /** Commit `ops` (and `audit`) with the state moved to `next`, compare-and-set. */
      const commit = async (ops: CommitOp[], next: MigrateState, audit?: AuditAppend[]) => {
        const put: CommitOp = { type: 'meta-put', key: MIGRATE_STATE_KEY, value: Buffer.from(JSON.stringify(next)), expectedRevision: revision };
        try {
          await target.commit([...ops, put], audit ? { audit } : undefined);
        } catch (e) {
          wrapIo(e, `writing to the target (${next.phase})`);
        }
        revision++;
        state = next;
      };

      const copied = { records: 0, metaEntries: 0, auditEntries: 0 };
      if (!resumed) await commit(o.firstCommit ? [...(await o.firstCommit(target))] : [], state);
      else if (state.phase !== 'verified') await commit([], state); // count the resume

      // 1. Records, in uid order, each with its revision chain.
      if (state.phase === 'records') {
        let ops: CommitOp[] = [];
        let last: string | undefined;
        let done = 0;
        for await (const rec of snap.records()) {
          done++;
          if (state.lastUid !== undefined && compareUids(rec.uid, state.lastUid) <= 0) continue;
          ops.push(...recordChain(rec));
          last = rec.uid;
          copied.records++;
          if (ops.length >= opsPerCommit) {
            await commit(ops, { ...state, lastUid: last });
            ops = [];
            o.onProgress?.({ phase: 'records', done, total: snap.count });
          }
        }
        await commit(ops, { ...state, ...(last !== undefined && { lastUid: last }), phase: 'meta' });
        o.onProgress?.({ phase: 'records', done, total: snap.count });
      }

      // 2. Server metadata, in key order.
      if (state.phase === 'meta') {
        let ops: CommitOp[] = [];
        let last: string | undefined;
        for await (const e of metaEntries(source)) {
          if (isEphemeral(e.key) || isOwnKey(e.key, own)) continue;
          if (state.lastMeta !== undefined && e.key <= state.lastMeta) continue;
          ops.push(...metaChain(e));
          last = e.key;
          copied.metaEntries++;
          if (ops.length >= opsPerCommit) {
            await commit(ops, { ...state, lastMeta: last });
            ops = [];
            o.onProgress?.({ phase: 'meta', done: copied.metaEntries, total: copied.metaEntries });
          }
        }
        await commit(ops, { ...state, ...(last !== undefined && { lastMeta: last }), phase: 'audit' });
        o.onProgress?.({ phase: 'meta', done: copied.metaEntries, total: copied.metaEntries });
      }

      // 3. The audit log, from the target's own head on: same positions, same bytes, same chain.
      if (state.phase === 'audit') {
        let head = target.audit.head();
        const total = snap.auditHead.seq;
        if (head.seq > total) throw new MigrateError('REFUSED', `the target's audit log (${head.seq} entries) is longer than the source's (${total})`);
        let batch: { seq: number; bytes: Uint8Array }[] = [];
        const flush = async () => {
          if (batch.length === 0) return;
          const entries = batch;
          batch = [];
          // Each entry's position and previous link are fixed up front: `seal` checks against them
          // and keeps no state, since a store may call it again for the same entry (a retried write).
          const prevs: Buffer[] = entries.map((_, i) => (i === 0 ? Buffer.from(head.link) : sha256(entries[i - 1]!.bytes)));
          const appends: AuditAppend[] = entries.map((e, i) => ({
            seal: (at, prev) => {
              if (at !== e.seq) throw new MigrateError('IO', `audit entry ${e.seq} would land at position ${at}`);
              if (!Buffer.from(prev).equals(prevs[i]!)) throw new MigrateError('IO', `audit entry ${e.seq}: the target's previous link is not the one the migration wrote`);
              return { bytes: e.bytes, link: sha256(e.bytes) };
            },
          }));
          await commit([], state, appends);
          head = target.audit.head();
          const last = entries[entries.length - 1]!;
          if (head.seq !== last.seq || !Buffer.from(head.link).equals(sha256(last.bytes))) throw new MigrateError('IO', `after entry ${last.seq} the target's audit head is ${head.seq}`);
          copied.auditEntries += entries.length;
          o.onProgress?.({ phase: 'audit', done: head.seq, total });
        };
        let prevLink: Buffer | undefined;
        for await (const e of snap.auditEntries(Math.max(1, head.seq))) {
          if (e.seq === head.seq) {
            // The entry the target ends with: it must be the source's very entry.
            if (!sha256(e.bytes).equals(Buffer.from(head.link)))
              throw new MigrateError('REFUSED', `the target's audit entry ${head.seq} is not the source's: refusing to continue the chain`);
            prevLink = sha256(e.bytes);
            continue;
          }
          const rec = decodeAuditRecord(e.bytes);
          const prevHex = (prevLink ?? Buffer.from(head.link)).toString('hex');
          if (rec.seq !== e.seq || rec.prev !== prevHex) throw new MigrateError('IO', `source audit entry ${e.seq} does not chain to entry ${e.seq - 1}`);
          prevLink = sha256(e.bytes);
          batch.push(e);
          if (batch.length >= auditPerCommit) await flush();
        }
        await flush();
        await commit([], { ...state, phase: 'copied' });
      }
      o.onProgress?.({ phase: 'audit', done: target.audit.head().seq, total: snap.auditHead.seq });

      // 4. Verify, then record that it verified.
      const verify = await compareStores(source, snap, target, o.onProgress, own);
      if (verify.problems.length > 0) throw new MigrationMismatch(verify);
      if (state.phase !== 'verified') await commit([], { ...state, phase: 'verified', verified: new Date().toISOString() });
      return { resumed, copied, verify, state };
    } finally {
      await snap.close();
    }
  } finally {
    await folder.close();
  }
}

/** A verification that found differences; `report` lists them. */
export class MigrationMismatch extends MigrateError {
  constructor(readonly report: VerifyReport) {
    super(
      'MISMATCH',
      `the target differs from the source: ${report.problems.length >= MAX_PROBLEMS ? `${MAX_PROBLEMS}+` : report.problems.length} problem(s), the first: ${report.problems[0]}`,
    );
  }
}

/** `--verify-only`: compare a folder's store with a target it was migrated into. */
export async function verifyMigration(o: Pick<MigrateOptions, 'dataDir' | 'target' | 'onProgress' | 'targetOwnKeys'>): Promise<{ verify: VerifyReport; state: MigrateState }> {
  const folder = await openSource(o.dataDir);
  try {
    const snap = await folder.store.snapshot();
    try {
      const fingerprint = await sourceFingerprint(o.dataDir, snap);
      const found = await readState(o.target).catch((e: unknown) => wrapIo(e, 'reading the target'));
      if (!found) throw new MigrateError('NOT_MIGRATED', `the target holds no migration (no ${MIGRATE_STATE_KEY} entry)`);
      if (found.state.source !== fingerprint) throw new MigrateError('NOT_MIGRATED', `the target holds a migration of another data folder (${found.state.sourceDir})`);
      const verify = await compareStores(folder.store, snap, o.target, o.onProgress, o.targetOwnKeys ?? []);
      if (verify.problems.length > 0) throw new MigrationMismatch(verify);
      return { verify, state: found.state };
    } finally {
      await snap.close();
    }
  } finally {
    await folder.close();
  }
}

/** Compare a source snapshot with the target, through a snapshot of the target (see the file comment). */
export async function compareStores(source: ObjectStore, src: StoreSnapshot, target: ObjectStore, onProgress: MigrateOptions['onProgress'], own: readonly string[]): Promise<VerifyReport> {
  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  let dst: StoreSnapshot;
  try {
    dst = await target.snapshot();
  } catch (e) {
    wrapIo(e, 'snapshot of the target');
  }
  try {
    if (src.count !== dst.count) problem(`record count: source ${src.count}, target ${dst.count}`);
    if (src.auditHead.seq !== dst.auditHead.seq) problem(`audit head: source seq ${src.auditHead.seq}, target seq ${dst.auditHead.seq}`);
    else if (!Buffer.from(src.auditHead.link).equals(Buffer.from(dst.auditHead.link))) problem(`audit head ${src.auditHead.seq}: the links differ`);

    // Records, in lockstep (both in ascending uid order).
    let records = 0;
    const a = src.records()[Symbol.asyncIterator]();
    const b = dst.records()[Symbol.asyncIterator]();
    let x = await a.next();
    let y = await b.next();
    while (!x.done || !y.done) {
      if (problems.length >= MAX_PROBLEMS) break;
      const c = x.done ? 1 : y.done ? -1 : compareUids(x.value.uid, y.value.uid);
      if (c < 0) {
        problem(`record ${x.value!.uid}: missing in the target`);
        x = await a.next();
      } else if (c > 0) {
        problem(`record ${y.value!.uid}: in the target only`);
        y = await b.next();
      } else {
        if (!encodeRecord(x.value!).equals(encodeRecord(y.value!))) problem(`record ${x.value!.uid}: the bytes differ (source revision ${x.value!.revision}, target ${y.value!.revision})`);
        records++;
        if (records % 10_000 === 0) onProgress?.({ phase: 'verify records', done: records, total: src.count });
        x = await a.next();
        y = await b.next();
      }
    }
    await a.return?.();
    await b.return?.();
    onProgress?.({ phase: 'verify records', done: records, total: src.count });

    // Audit entries, in lockstep.
    let audits = 0;
    const p = src.auditEntries(1)[Symbol.asyncIterator]();
    const q = dst.auditEntries(1)[Symbol.asyncIterator]();
    let u = await p.next();
    let v = await q.next();
    while (!u.done || !v.done) {
      if (problems.length >= MAX_PROBLEMS) break;
      if (u.done) {
        problem(`audit entry ${v.value!.seq}: in the target only`);
        break;
      }
      if (v.done) {
        problem(`audit entry ${u.value.seq}: missing in the target`);
        break;
      }
      if (u.value.seq !== v.value.seq) {
        problem(`audit entry ${u.value.seq}: the target has entry ${v.value.seq} in its place`);
        break;
      }
      if (!Buffer.from(u.value.bytes).equals(Buffer.from(v.value.bytes))) problem(`audit entry ${u.value.seq}: the bytes differ`);
      audits++;
      if (audits % 100_000 === 0) onProgress?.({ phase: 'verify audit', done: audits, total: src.auditHead.seq });
      u = await p.next();
      v = await q.next();
    }
    await p.return?.();
    await q.return?.();
    onProgress?.({ phase: 'verify audit', done: audits, total: src.auditHead.seq });

    // Server metadata: key, revision and value (the source is locked read-only, nobody writes the target).
    const kept = (e: MetaEntry) => !isEphemeral(e.key) && !isOwnKey(e.key, own);
    const mine = new Map<string, MetaEntry>();
    for await (const e of metaEntries(source)) if (kept(e)) mine.set(e.key, e);
    let metaEntriesSeen = 0;
    try {
      for await (const e of metaEntries(target)) {
        if (!kept(e)) continue;
        const s = mine.get(e.key);
        if (!s) problem(`meta ${e.key}: in the target only`);
        else if (s.revision !== e.revision || !Buffer.from(s.value).equals(Buffer.from(e.value))) problem(`meta ${e.key}: differs (source revision ${s.revision}, target ${e.revision})`);
        else metaEntriesSeen++;
        mine.delete(e.key);
      }
    } catch (e) {
      wrapIo(e, 'reading the target metadata');
    }
    for (const k of mine.keys()) problem(`meta ${k}: missing in the target`);
    return { records, metaEntries: metaEntriesSeen, auditEntries: audits, auditHead: Buffer.from(src.auditHead.link).toString('hex'), problems };
  } finally {
    await dst.close();
  }
}
