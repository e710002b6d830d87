/**
 * `kms audit`: check, report on and follow the audit trail of a data folder.
 *
 *   kms audit verify   the whole hash chain and every checkpoint; the first break, by position
 *   kms audit report   per key: store facts plus who used it, how, how often, first/last use
 *   kms audit tail     the last records as JSON lines; --follow for new ones
 *
 * verify and report on a running server ask it through its admin socket (DATA/admin/kms.sock,
 * the server's own user only; src/admin/queries.ts) and print the same lines; with no server
 * running they open the stopped data folder (LevelDB allows one process).
 * tail on a running server reads a copy of the database taken each poll.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { parseArgs } from 'node:util';
import type { KmsConfig } from '../config/config.js';
import { cliConfig, parseCli } from './args.js';
import { DataFolder } from '../folder/data-folder.js';
import { adminSocketPath, folderLayout } from '../folder/layout.js';
import { MIGRATION_ANCHOR_PREFIX } from '../folder/protector-migration.js';
import { decodeRecord } from '../audit/record.js';
import { buildReport, formatReport, type KeyReport } from '../audit/report.js';
import { gatherAnchors, readAnchorFiles, runVerify, type AnchorFileLines, type GatheredAnchors, type VerifyOutcome } from '../audit/verify-run.js';
import { requestWithProgress } from '../admin/client.js';
import { anchorFileOf } from '../audit/anchor-config.js';
import type { ObjectStore } from '../store/object-store.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms audit <verify|report|tail> [options]

  verify   check the whole audit log: hash chain, checkpoints (HMAC under the audit
           key), positions; reports the first broken record and its position
  report   for each key: type, algorithm, length, state, usage mask, owner, and from
           the audit log the identities that used it, for which operations, how
           often, first and last use
  tail     print the last records (JSON lines); --follow prints new ones as they come

Options:
  --data-dir DIR     the data folder (default: from --config / KMS_DATA_DIR / kms-data)
  --config FILE      the server's config file (for the data folder and the hsm section)
  --store URL        a cluster's PostgreSQL database (KMS_STORE; config key store):
                     read-only, while the nodes run; the whole cluster's one chain is
                     verified with this node's keys and anchors (docs/cluster-nodes.md)
  report:
    --identity ID    only uses by this client identity
    --key UID        only this key
    --since TIME     only uses at or after TIME (ISO 8601)
    --until TIME     only uses at or before TIME
    --format F       table (default), json, csv
  tail:
    -n N             how many records to show first (default 20)
    --follow         keep printing new records (Ctrl-C to stop)
    --interval MS    poll interval with --follow (default 1000)
  verify:
    --progress N     a progress line on stderr every N entries (default 10000)
    --anchor FILE    an anchor outside the data folder to check the trail against
                     (repeatable): the anchor file, or log lines holding "audit
                     checkpoint" records (default: the configured audit.anchorFile,
                     else DIR.audit-anchor.jsonl; with an HSM the token's anchor
                     object is read too). The trail must reach the latest entry an
                     anchor names and hold that very entry: a trail cut back to
                     an earlier checkpoint fails (TRUNCATED).
    --no-anchor      check the data folder alone (says so)
  -h, --help         this help

verify and report on a running server ask it through its admin socket (DIR/admin/
kms.sock) and print the same as on the stopped folder: the server seals its trail with a
checkpoint first and verifies up to it, with the anchors of its configuration (audit.
anchorFile, the token's anchor object); --anchor FILE is read here and its lines sent.
With no server running they open the stopped data folder.
Exit codes: 0 ok, 1 the audit log is broken, 2 usage error, 3 the data folder or key
could not be read.`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  store: { type: 'string' },
  identity: { type: 'string' },
  key: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  format: { type: 'string' },
  n: { type: 'string', short: 'n' },
  follow: { type: 'boolean' },
  interval: { type: 'string' },
  progress: { type: 'string' },
  anchor: { type: 'string', multiple: true },
  'no-anchor': { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function configFor(values: Values): KmsConfig {
  return cliConfig(values);
}

/** A stopped folder's store, without its keys (closing the store closes the folder); a running server holds its lock. */
async function openStore(dir: string, storeUrl?: string): Promise<ObjectStore> {
  // A cluster's database (--store URL) is read without the folder's lock: read-only.
  if (storeUrl !== undefined) return (await DataFolder.open({ dataDir: dir, keys: 'none', store: 'read-only', storeUrl })).store;
  return (await DataFolder.open({ dataDir: dir, keys: 'none' })).store;
}

/** Print what verify found (the same lines for a stopped folder and a running server) and give the exit code. */
function printVerify(o: VerifyOutcome, io: CliIo): number {
  const { result, anchors } = o;
  const against = anchors
    ? anchors.sources.length > 0
      ? `checked against ${anchors.sources.join('; ')}${anchors.missing.length ? ` (${anchors.missing.join('; ')})` : ''}`
      : `checked against nothing outside the data folder (${anchors.missing.join('; ')}): a trail cut back to one of its checkpoints would not show`
    : 'checked against nothing outside the data folder (--no-anchor): a trail cut back to one of its checkpoints would not show';
  if (!result.ok && result.anchors && !result.anchors.ok) {
    io.stdout.write(`${result.failure!.message}\n`);
    io.stdout.write(`the hash chain and checkpoints verify (${result.entries} entries, sealed through entry ${result.sealedThrough}); ${against}\n`);
    return ExitCode.InvalidInput;
  }
  if (!result.ok) {
    const f = result.failure!;
    io.stdout.write(`BROKEN at position ${f.position} (entry ${f.seq}): ${f.message}\n`);
    io.stdout.write(`${result.entries} entries before it verified, ${result.checkpoints} checkpoints, sealed through entry ${result.sealedThrough}\n`);
    return ExitCode.InvalidInput;
  }
  // The trail says where it was anchored: an anchor that is not there cannot vouch for its end.
  const lacking = anchors ? result.anchoredTo.filter((t) => (t === 'file' && !anchors.fileRead) || (t === 'token' && !anchors.tokenRead)) : [];
  if (lacking.length > 0) {
    io.stdout.write(
      `ANCHOR MISSING: the trail's checkpoints were anchored to the ${lacking.join(' and the ')} (${anchors!.missing.join('; ')}); without it a trail cut back to a checkpoint cannot be told apart: give the anchor with --anchor FILE (the anchor file or the shipped log lines), or --no-anchor to check the data folder alone\n`,
    );
    return ExitCode.InvalidInput;
  }
  io.stdout.write(`OK: ${result.entries} entries, ${result.checkpoints} checkpoints (audit key ${o.keyId}), sealed through entry ${result.sealedThrough}\n`);
  if (result.restore?.backup.startsWith(MIGRATION_ANCHOR_PREFIX)) {
    const r = result.restore;
    io.stdout.write(
      `migrated: the anchor at entry ${r.seq} (under this audit key, written by kms protector migrate ${r.backup.slice(MIGRATION_ANCHOR_PREFIX.length)}) seals entries 1..${r.covers} and vouches for the ${r.importedCheckpoints} checkpoint(s) made under the earlier audit key\n`,
    );
  } else if (result.restore) {
    const r = result.restore;
    io.stdout.write(
      `restored: entries 1..${r.covers} were imported from backup ${r.backup}; their hash chain verifies, and the restore anchor at entry ${r.seq} (under this server's audit key) vouches for the ${r.importedCheckpoints} checkpoint(s) made under the old server's key\n`,
    );
  }
  const a = result.anchors;
  const reach = a?.latest
    ? `: the trail reaches the latest anchored entry ${a.latest.seq} (${a.latest.time}, ${a.latest.source}) and holds it`
    : a
      ? ': no anchor line under this audit key yet'
      : '';
  const aside = a && (a.superseded || a.otherKeys) ? `; left aside: ${a.superseded} line(s) of a trail restored over, ${a.otherKeys} under other audit keys` : '';
  io.stdout.write(`anchors: ${against}${reach}${aside}\n`);
  return ExitCode.Ok;
}

const progressLine = (started: number) => (n: number, total: number) => `verified ${n}${total ? ` of ${total}` : ''} entries (${Math.round((Date.now() - started) / 1000)} s)\n`;

/** Verify through a running server's admin socket; undefined when no server answers there. */
async function verifyOnline(values: Values, config: KmsConfig, every: number, io: CliIo): Promise<number | undefined> {
  // --anchor FILE is read here (the server may not see the file) and its lines sent along.
  let files: AnchorFileLines[] = [];
  try {
    if (values.anchor) files = readAnchorFiles(values.anchor.map((file) => ({ file, explicit: true }))) as AnchorFileLines[];
  } catch (e) {
    io.stderr.write(`kms audit verify: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  const started = Date.now();
  const line = progressLine(started);
  const request = {
    op: 'audit-verify',
    every,
    noAnchor: values['no-anchor'] === true,
    anchorFiles: values.anchor ? files.map((f) => ({ file: f.file, skipped: f.skipped, lines: f.lines.length })) : undefined,
  };
  const body = files.flatMap((f) => f.lines.map((l) => JSON.stringify(l)));
  let outcome: VerifyOutcome | undefined;
  try {
    outcome = await requestWithProgress<VerifyOutcome, { entries: number; total: number }>(
      adminSocketPath(config.dataDir),
      request,
      'verify',
      (p) => io.stderr.write(line(p.entries, p.total)),
      body,
    );
  } catch (e) {
    io.stderr.write(`kms audit verify: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  return outcome && printVerify(outcome, io);
}

async function verify(values: Values, io: CliIo): Promise<number> {
  const every = values.progress === undefined ? 10_000 : Number(values.progress);
  if (!Number.isSafeInteger(every) || every < 1) throw new UsageError('--progress must be a positive integer');
  if (values['no-anchor'] && values.anchor) throw new UsageError('give --anchor or --no-anchor, not both');
  const config = configFor(values);
  const online = await verifyOnline(values, config, every, io);
  if (online !== undefined) return online;
  let folder: DataFolder;
  let anchors: GatheredAnchors | undefined;
  try {
    // The audit key the folder's custody record names (also mid-migration: verify is read-only).
    folder = await DataFolder.open({
      dataDir: config.dataDir,
      ...(config.hsm && { hsm: config.hsm }),
      keys: 'open',
      mustExist: true,
      allowMigrating: true,
      ...(config.store !== undefined && { storeUrl: config.store, store: 'read-only' as const }),
    });
  } catch (e) {
    io.stderr.write(`kms audit verify: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  try {
    if (!values['no-anchor']) {
      const given = values.anchor ?? [];
      const files = given.length > 0 ? given.map((f) => ({ file: f, explicit: true })) : [{ file: anchorFileOf(config).file, explicit: false }];
      anchors = await gatherAnchors(readAnchorFiles(files), folder.auditKey);
    }
  } catch (e) {
    await folder.close();
    io.stderr.write(`kms audit verify: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  try {
    const line = progressLine(Date.now());
    const outcome = await runVerify({ reader: folder.store.audit, key: folder.auditKey, every, ...(anchors && { anchors }), onProgress: (n, total) => io.stderr.write(line(n, total)) });
    return printVerify(outcome, io);
  } finally {
    await folder.close();
  }
}

function isoTime(v: string | undefined, flag: string): string | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`${flag} must be an ISO 8601 time`);
  return new Date(t).toISOString();
}

async function report(values: Values, io: CliIo): Promise<number> {
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json' && format !== 'csv') throw new UsageError('--format must be table, json or csv');
  const filter = {
    ...(values.identity !== undefined ? { identity: values.identity } : {}),
    ...(values.key !== undefined ? { key: values.key } : {}),
    ...(values.since !== undefined ? { since: isoTime(values.since, '--since') } : {}),
    ...(values.until !== undefined ? { until: isoTime(values.until, '--until') } : {}),
  };
  const config = configFor(values);
  try {
    const online = await requestWithProgress<{ report: KeyReport[] }, never>(adminSocketPath(config.dataDir), { op: 'audit-report', filter }, 'report');
    if (online) {
      io.stdout.write(formatReport(online.report, format));
      return ExitCode.Ok;
    }
  } catch (e) {
    io.stderr.write(`kms audit report: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  let store: ObjectStore;
  try {
    store = await openStore(config.dataDir, config.store);
  } catch (e) {
    io.stderr.write(`kms audit report: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  try {
    io.stdout.write(formatReport(await buildReport(store, filter), format));
    return ExitCode.Ok;
  } finally {
    await store.close();
  }
}

/** Read the log from `dir`: directly when free, else from a copy (a running server holds the lock). */
async function withLog<T>(dir: string, storeUrl: string | undefined, f: (store: ObjectStore) => Promise<T>): Promise<T> {
  let store: ObjectStore;
  let copy: string | undefined;
  if (storeUrl !== undefined) store = await openStore(dir, storeUrl);
  else
    try {
      store = await openStore(dir);
    } catch {
      copy = mkdtempSync(join(tmpdir(), 'kms-audit-tail-'));
      cpSync(folderLayout(dir).db, folderLayout(copy).db, { recursive: true, filter: (src) => !src.endsWith('LOCK') });
      store = await openStore(copy);
    }
  try {
    return await f(store);
  } finally {
    await store.close();
    if (copy) rmSync(copy, { recursive: true, force: true });
  }
}

async function tail(values: Values, io: CliIo): Promise<number> {
  const n = values.n === undefined ? 20 : Number(values.n);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError('-n must be a non-negative integer');
  const interval = values.interval === undefined ? 1000 : Number(values.interval);
  if (!Number.isSafeInteger(interval) || interval < 10) throw new UsageError('--interval must be at least 10 (milliseconds)');
  const config = configFor(values);
  let next = 0;
  const printFrom = async (store: ObjectStore, from: number): Promise<number> => {
    for (;;) {
      const page = await store.audit.read(from, 1000);
      if (page.length === 0) return from;
      for (const e of page) io.stdout.write(JSON.stringify(decodeRecord(e.bytes)) + '\n');
      from = page[page.length - 1]!.seq + 1;
    }
  };
  try {
    next = await withLog(config.dataDir, config.store, (store) => printFrom(store, Math.max(1, store.audit.head().seq - n + 1)));
  } catch (e) {
    io.stderr.write(`kms audit tail: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  if (!values.follow) return ExitCode.Ok;
  let stop = false;
  const onSignal = () => (stop = true);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop) {
      await new Promise((r) => setTimeout(r, interval));
      try {
        next = await withLog(config.dataDir, config.store, (store) => printFrom(store, next));
      } catch (e) {
        io.stderr.write(`kms audit tail: ${(e as Error).message} (retrying)\n`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return ExitCode.Ok;
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'verify, report on and follow the tamper-evident audit trail',
  help: HELP,
  async run(argv, io) {
    const parsed = parseCli(argv, OPTIONS);
    const [sub, ...extra] = parsed.positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
    switch (sub) {
      case 'verify':
        return verify(parsed.values, io);
      case 'report':
        return report(parsed.values, io);
      case 'tail':
        return tail(parsed.values, io);
      default:
        throw new UsageError(sub === undefined ? 'give a subcommand: verify, report or tail' : `unknown subcommand ${sub}`);
    }
  },
};
