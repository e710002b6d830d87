/**
 * `kms store migrate --from DIR --to postgresql://…`: move a stopped LevelDB data folder's
 * store into an empty PostgreSQL database, resumably, and verify it (src/backup/migrate.ts).
 */
import { resolve } from 'node:path';
import { MigrateError, MigrationMismatch, migrateStore, verifyMigration, type MigrateProgress, type VerifyReport } from '../backup/migrate.js';
import type { ObjectStore } from '../store/object-store.js';
import { parseCli } from './args.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { redactStoreUrl as redactUrl } from '../config/store-url.js';
import { CLUSTER_CUSTODY_KEY, openTargetStore, targetCustody } from './store-target.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms store migrate --from DIR --to postgresql://USER@HOST:PORT/DB [--verify-only]

kms store migrate
  Copies the store of a STOPPED data folder (LevelDB, DIR/db) into an EMPTY PostgreSQL
  database, then verifies the copy:
  - every record as it is, still sealed under the folder's keys (nothing is unwrapped:
    the folder keeps its master key or token KEKs), at its own revision;
  - the server metadata (client registry, leases; not the per-host readiness stamps);
  - the audit log entry for entry: same positions, same bytes, same hash chain, so
    'kms audit verify' passes over the database with the folder's audit key and anchors;
  - the folder's custody record, the way cluster nodes read it when they join.
  Verification reads both through consistent snapshots and compares the counts, every
  record's bytes, every audit entry's bytes and the heads, and every metadata entry.
  A summary goes to stdout; progress to stderr. Exit 0 only once verified.

  Interrupted (Ctrl-C, kill, a lost connection)? Run the same command again: it resumes
  where the last commit left it (each commit records how far it got) and never writes
  an audit entry twice or out of order. The folder must not change in between: a server
  started on it meanwhile makes the migration refuse (start over into a new database).
  A database that holds anything else (another server's store, a migration of another
  folder) is refused and left untouched. The folder's LevelDB lock is held while it is
  read, so a server cannot start on it during the copy; a running server is refused.

  Afterwards: kms serve --data-dir DIR --store URL (the folder keeps its certificates,
  keys and anchors; its db/ is no longer used: keep it until you have a new backup).

Options:
  --from DIR         the data folder (stopped)
  --to URL           the PostgreSQL database (default: KMS_STORE); a password in the URL
                     is never printed (prefer ~/.pgpass or PGPASSWORD)
  --verify-only      only compare the folder with a database it was migrated into
  --batch N          records (counted once per revision) per commit (default 500)
  -h, --help         this help

Exit codes: 0 copied and verified (--verify-only: verified); 1 verification found a
difference (listed on stderr); 2 usage error; 3 I/O error (the folder or the database
cannot be read or written: run again to resume); 4 refused: the database holds another
store or a migration of another folder, the folder changed since the migration began,
or a server is running on it; 5 (--verify-only) the database holds no migration of it.`;

const OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  'verify-only': { type: 'boolean' },
  batch: { type: 'string' },
} as const;

function progressLine(io: CliIo): (p: MigrateProgress) => void {
  let last = 0;
  let lastPhase = '';
  return (p) => {
    const now = Date.now();
    if (p.phase === lastPhase && p.done !== p.total && now - last < 1000) return;
    last = now;
    lastPhase = p.phase;
    io.stderr.write(`migrate: ${p.phase} ${p.done}/${p.total}\n`);
  };
}

function printReport(io: CliIo, v: VerifyReport): void {
  io.stdout.write(`verified: ${v.records} records, ${v.metaEntries} metadata entries, ${v.auditEntries} audit entries (head ${v.auditHead.slice(0, 16) || 'none'}…) byte-equal\n`);
}

function failed(e: unknown, io: CliIo): number {
  if (e instanceof UsageError) throw e;
  io.stderr.write(`kms store migrate: ${e instanceof Error ? e.message : String(e)}\n`);
  if (e instanceof MigrationMismatch) {
    for (const p of e.report.problems) io.stderr.write(`  ${p}\n`);
    return ExitCode.InvalidInput;
  }
  if (e instanceof MigrateError) {
    switch (e.code) {
      case 'REFUSED':
        return ExitCode.Refused;
      case 'NOT_MIGRATED':
        return ExitCode.NotFound;
      case 'MISMATCH':
        return ExitCode.InvalidInput;
      default:
        return ExitCode.Io;
    }
  }
  return ExitCode.Io;
}

async function migrate(values: { from?: string; to?: string; 'verify-only'?: boolean; batch?: string }, io: CliIo): Promise<number> {
  if (values.from === undefined) throw new UsageError('--from DIR is required');
  const url = values.to ?? process.env.KMS_STORE;
  if (url === undefined || url === '') throw new UsageError('--to postgresql://… is required (or KMS_STORE)');
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError(`--to must be a postgresql:// URL, got ${redactUrl(url)}`);
  let batch: number | undefined;
  if (values.batch !== undefined) {
    if (!/^[1-9][0-9]{0,6}$/.test(values.batch)) throw new UsageError('--batch must be a positive integer');
    batch = Number(values.batch);
  }
  const dataDir = resolve(values.from);
  let target: ObjectStore;
  try {
    target = await openTargetStore(url);
  } catch (e) {
    io.stderr.write(`kms store migrate: cannot open ${redactUrl(url)}: ${e instanceof Error ? e.message : String(e)}\n`);
    return ExitCode.Io;
  }
  const onProgress = progressLine(io);
  try {
    if (values['verify-only']) {
      const r = await verifyMigration({ dataDir, target, onProgress, targetOwnKeys: [CLUSTER_CUSTODY_KEY] });
      io.stdout.write(`${dataDir} -> ${redactUrl(url)}: migration of ${r.state.started}${r.state.verified ? `, verified ${r.state.verified}` : ', not finished'}\n`);
      printReport(io, r.verify);
      return r.state.phase === 'verified' || r.state.phase === 'copied' ? ExitCode.Ok : ExitCode.InvalidInput;
    }
    const r = await migrateStore({
      dataDir,
      target,
      onProgress,
      ...(batch !== undefined && { opsPerCommit: batch }),
      firstCommit: async () => targetCustody(dataDir),
      targetOwnKeys: [CLUSTER_CUSTODY_KEY],
      onStart: (s) => {
        if (!s.resumed) io.stderr.write(`migrate: ${dataDir} -> ${redactUrl(url)}: ${s.state.sourceRecords} records, ${s.state.sourceAuditSeq} audit entries\n`);
        else if (s.state.phase === 'verified') io.stderr.write(`migrate: already migrated (verified ${s.state.verified}); verifying again\n`);
        else
          io.stderr.write(
            `migrate: resuming the migration begun ${s.state.started} (phase ${s.state.phase}${s.state.lastUid !== undefined ? `, after record ${s.state.lastUid}` : ''}, the database's audit log at ${s.targetAuditSeq})\n`,
          );
      },
    });
    io.stdout.write(
      `${r.resumed ? 'resumed and ' : ''}migrated ${dataDir} -> ${redactUrl(url)}: copied ${r.copied.records} records, ${r.copied.metaEntries} metadata entries, ${r.copied.auditEntries} audit entries in this run\n`,
    );
    printReport(io, r.verify);
    io.stdout.write(`serve it with: kms serve --data-dir ${dataDir} --store ${redactUrl(url)}\n`);
    return ExitCode.Ok;
  } catch (e) {
    return failed(e, io);
  } finally {
    await target.close().catch(() => undefined);
  }
}

export const storeCommand: Command = {
  name: 'store',
  summary: 'move a data folder to PostgreSQL (kms store migrate), resumable and verified',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, OPTIONS);
    const [sub, ...rest] = positionals;
    if (sub !== 'migrate') throw new UsageError(sub === undefined ? 'kms store migrate: the only subcommand' : `unknown subcommand ${sub}`);
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    return migrate(values, io);
  },
};
