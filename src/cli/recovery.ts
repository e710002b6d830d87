/**
 * `kms recovery add|list|remove`: the recovery keys of an existing data folder
 * (DATA/recovery.json, public keys only), so that any folder — also the one `npm start` makes
 * — can be backed up. Backups read the file when they are taken, so a running server picks up
 * a change at its next backup. The file is written atomically, mode 0600.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { BackupError } from '../backup/errors.js';
import { makeSharedRecipient, recipientsFromFiles } from '../backup/recovery.js';
import { createFileDurably } from '../hsm/software/durable-file.js';
import { assertEmptyFolder, folderLayout } from '../folder/layout.js';
import { readRecipients, writeRecoverySetup } from '../folder/recovery-setup.js';
import { cliConfig, parseCli } from './args.js';
import { failure } from './backup-options.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms recovery add (--recovery-key PEM... | --shares N --threshold M --shares-out DIR2) [--data-dir DIR | --config FILE]
       kms recovery list [--data-dir DIR | --config FILE]
       kms recovery remove KEY-ID [--data-dir DIR | --config FILE]

The recovery keys of an existing data folder (DIR/recovery.json): backups are encrypted
under a fresh key per file, wrapped to each of them ('kms backup' needs at least one).
  add      --recovery-key PEM   a public key (RSA >= 2048 bits, or EC P-256), PEM; repeatable.
                                Keep its private key offline: restore needs it.
           --shares N --threshold M --shares-out DIR2
                                a new P-256 recovery key whose private key is split into N
                                Shamir shares (any M restore), written to DIR2 (outside DIR,
                                empty or absent), one per custodian; the key is not kept
  list     the recovery keys: key id, kind, shares
  remove   drop one by its key id (the last one cannot be removed: add another first).
           Backups already taken stay readable by the keys they were made for.

Options:
  --data-dir DIR     the data folder (default: from --config / KMS_DATA_DIR / kms-data)
  --config FILE      the server's config file (for the data folder)
  -h, --help         this help

A running server needs no restart: each backup reads DIR/recovery.json.
Exit codes: 0 ok, 2 usage error or an unusable key, 3 I/O error, 4 refused, 5 no such key.`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  'recovery-key': { type: 'string', multiple: true },
  shares: { type: 'string' },
  threshold: { type: 'string' },
  'shares-out': { type: 'string' },
} as const;

const current = (dir: string) => readRecipients(folderLayout(dir).recovery);

function assertDataFolder(dir: string): void {
  const layout = folderLayout(dir);
  if (!existsSync(layout.db) && !existsSync(layout.custody)) throw new BackupError('IO', `${dir} is not a data folder (no db/): start the server once, or kms init`);
}

function int(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 255) throw new UsageError(`${flag} must be a whole number from 1 to 255`);
  return Number(v);
}

function add(dir: string, values: Record<string, unknown>, io: CliIo): number {
  const keyFiles = (values['recovery-key'] as string[] | undefined) ?? [];
  const total = int(values.shares as string | undefined, '--shares');
  const threshold = int(values.threshold as string | undefined, '--threshold');
  const outFlag = values['shares-out'] as string | undefined;
  if ((total === undefined) !== (threshold === undefined)) throw new UsageError('--shares and --threshold go together');
  if (total !== undefined && threshold! > total) throw new UsageError('--threshold cannot exceed --shares');
  if ((total === undefined) !== (outFlag === undefined)) throw new UsageError('--shares needs --shares-out DIR2, and --shares-out needs --shares');
  if (keyFiles.length === 0 && total === undefined) throw new UsageError('give --recovery-key PEM (repeatable) and/or --shares N --threshold M --shares-out DIR2');
  const out = outFlag === undefined ? undefined : resolve(outFlag);
  if (out !== undefined && !relative(dir, out).startsWith('..') && relative(dir, out) !== out)
    throw new UsageError('--shares-out must be outside the data folder (the shares are for custodians, not for the server)');
  try {
    assertDataFolder(dir);
    const have = current(dir);
    const added = recipientsFromFiles(keyFiles);
    const ids = new Set(have.map((r) => r.keyId));
    for (const r of added) {
      if (ids.has(r.keyId)) throw new BackupError('BAD_KEY', `recovery key ${r.keyId} is already set up (or given twice)`);
      ids.add(r.keyId);
    }
    if (out !== undefined) {
      assertEmptyFolder(out, 'the share files would overwrite something');
      const made = makeSharedRecipient(threshold!, total!);
      mkdirSync(out, { recursive: true, mode: 0o700 });
      for (const s of made.shares) createFileDurably(join(out, `share-${s.index}-of-${s.total}.json`), Buffer.from(JSON.stringify(s) + '\n'));
      added.push(made.recipient);
    }
    writeRecoverySetup(folderLayout(dir).recovery, [...have, ...added]);
    for (const r of added)
      io.stdout.write(`added recovery key ${r.keyId} (${r.kind}${r.shares ? `, split into ${r.shares.total} shares, any ${r.shares.threshold} restore: ${out}` : ''})\n`);
    io.stdout.write(`${dir}: ${have.length + added.length} recovery key(s); kms backup can run now\n`);
    return ExitCode.Ok;
  } catch (e) {
    return failure('recovery add', e, io);
  }
}

function list(dir: string, io: CliIo): number {
  try {
    assertDataFolder(dir);
    const rs = current(dir);
    if (rs.length === 0) io.stdout.write(`${dir}: no recovery keys (kms backup is refused until one is added: kms recovery add)\n`);
    for (const r of rs) io.stdout.write(`${r.keyId}  ${r.kind}${r.shares ? `  shares: any ${r.shares.threshold} of ${r.shares.total} (set ${r.shares.set})` : ''}\n`);
    return ExitCode.Ok;
  } catch (e) {
    return failure('recovery list', e, io);
  }
}

function remove(dir: string, keyId: string, io: CliIo): number {
  try {
    assertDataFolder(dir);
    const rs = current(dir);
    const left = rs.filter((r) => r.keyId !== keyId);
    if (left.length === rs.length) {
      io.stderr.write(`kms recovery remove: no recovery key ${keyId} in ${dir} (kms recovery list)\n`);
      return ExitCode.NotFound;
    }
    if (left.length === 0) {
      io.stderr.write(`kms recovery remove: ${keyId} is the folder's last recovery key: add another first (backups need one)\n`);
      return ExitCode.Refused;
    }
    writeRecoverySetup(folderLayout(dir).recovery, left);
    io.stdout.write(`removed recovery key ${keyId}; ${left.length} left\n`);
    return ExitCode.Ok;
  } catch (e) {
    return failure('recovery remove', e, io);
  }
}

export const recoveryCommand: Command = {
  name: 'recovery',
  summary: 'the backup recovery keys of a data folder: add, list, remove',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, OPTIONS);
    const [sub, ...rest] = positionals;
    const dir = cliConfig(values).dataDir;
    if (sub !== 'add' && (values['recovery-key'] !== undefined || values.shares !== undefined || values.threshold !== undefined || values['shares-out'] !== undefined)) {
      throw new UsageError('--recovery-key, --shares, --threshold and --shares-out are for add');
    }
    if (sub === 'add' && rest.length === 0) return add(dir, values, io);
    if (sub === 'list' && rest.length === 0) return list(dir, io);
    if (sub === 'remove' && rest.length === 1) return remove(dir, rest[0]!, io);
    if (sub === 'remove') throw new UsageError('kms recovery remove KEY-ID: give one key id (kms recovery list)');
    throw new UsageError(sub === undefined ? 'which: add, list or remove?' : `unexpected arguments: ${positionals.join(' ')}`);
  },
};
