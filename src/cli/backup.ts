/**
 * `kms backup --out FILE`: a consistent, encrypted backup of a data folder — through the
 * running server's admin socket when it is up, else from the stopped folder directly.
 * `kms backup verify FILE`: decrypt and check a whole backup without restoring it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type KmsConfig } from '../config/config.js';
import { parseCli } from './args.js';
import { requestBackup } from '../admin/requests.js';
import type { BackupSummary } from '../backup/content.js';
import { folderLayout } from '../folder/layout.js';
import { verifyBackupFile } from '../backup/restore.js';
import { backupStoppedFolder, toFile } from '../backup/take.js';
import { CREDENTIAL_HELP, CREDENTIAL_OPTIONS, credentialFromFlags, failure, progressPrinter } from './backup-options.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { hsmResidentWarning } from './restore.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms backup --out FILE [--data-dir DIR | --config FILE] [--store URL]
       kms backup verify FILE (--recovery-key FILE | --share FILE...)

kms backup --out FILE
  Writes a consistent point-in-time backup of the data folder: every object with its
  attributes, state and key material, the audit log and its head, and the server
  certificates. If the server is running, it makes the backup itself (through its
  admin socket DIR/admin/kms.sock, reachable only by the server's user) while it keeps
  serving; if it is stopped, the folder is read directly (its key backend is opened to
  unwrap the keys: master.key, or the token named in DIR/kms.json / --config).
  The file is encrypted (AES-256-GCM, in authenticated chunks) under a fresh key that
  only the recovery keys set up by 'kms init' can unwrap (DIR/recovery.json); the
  server itself cannot read it back. Written to FILE.partial-* and renamed when complete.
  With a PostgreSQL store (--store URL, KMS_STORE, or store in the config): a running
  node of the cluster takes it through its admin socket, else the database is read
  directly with this folder's keys; either way from one consistent snapshot of the
  database while the nodes keep serving (docs/store-migration.md).

kms backup verify FILE
  Decrypts and checks the whole file without restoring: every chunk's tag, the order
  and completeness of its contents, every record, and the audit hash chain up to the
  recorded head. Needs a recovery credential (the chunks are authenticated under the
  file key, which only a recovery key unwraps):
${CREDENTIAL_HELP}

Options:
  --out FILE         where to write the backup (must not exist)
  --data-dir DIR     the data folder (KMS_DATA_DIR; default ./kms-data); its kms.json is
                     read when present
  --config FILE      a config file naming the data folder and its hsm section
  --store URL        the postgresql:// database of a cluster (KMS_STORE; default: the
                     folder's own LevelDB); the password is never printed
  -h, --help         this help

Progress goes to stderr.
Exit codes: 0 ok; 1 the backup file is damaged or tampered with (verify); 2 usage error
or no recovery setup; 3 I/O error, or the database is locked by a server whose admin
socket does not answer; 4 the credential does not open this backup.`;

const OPTIONS = {
  out: { type: 'string' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  store: { type: 'string' },
  ...CREDENTIAL_OPTIONS,
} as const;

/** The data folder's config: --config, else DIR/kms.json when there is one. */
export function folderConfig(values: { 'data-dir'?: string | undefined; config?: string | undefined; store?: string | undefined }): KmsConfig {
  try {
    const base = loadConfig({ env: process.env, flags: { dataDir: values['data-dir'], config: values.config, store: values.store } });
    const own = folderLayout(base.dataDir).config;
    if (values.config === undefined && existsSync(own)) return loadConfig({ env: process.env, flags: { dataDir: values['data-dir'], config: own, store: values.store } });
    return base;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

class NotRunning extends Error {}

async function backup(values: Record<string, unknown>, io: CliIo): Promise<number> {
  const outFlag = values.out as string | undefined;
  if (outFlag === undefined) throw new UsageError('--out FILE is required');
  const out = resolve(outFlag);
  if (existsSync(out)) throw new UsageError(`${out} already exists`);
  const config = folderConfig(values as { 'data-dir'?: string; config?: string; store?: string });
  const progress = progressPrinter(io, 'backup');
  let summary: BackupSummary;
  try {
    try {
      let lastNote = 0;
      summary = await toFile(out, async (sink) => {
        const s = await requestBackup(folderLayout(config.dataDir).adminSocket, sink, (n) => {
          if (Date.now() - lastNote >= 1000) {
            lastNote = Date.now();
            io.stderr.write(`backup: received ${(n / 1048576).toFixed(1)} MiB from the running server\n`);
          }
        });
        if (!s) throw new NotRunning();
        return s;
      });
      io.stderr.write(`backup: taken by the running server (${summary.objects} objects, ${summary.auditEntries} audit entries)\n`);
    } catch (e) {
      if (!(e instanceof NotRunning)) throw e;
      const shared = config.store !== undefined ? { url: config.store, ...(config.storePool && { pool: config.storePool }) } : undefined;
      summary = await backupStoppedFolder(config.dataDir, config.hsm, out, progress, shared);
    }
  } catch (e) {
    return failure('backup', e, io);
  }
  io.stdout.write(`backup ${summary.id}: ${summary.objects} objects, ${summary.meta} client registry entries, ${summary.auditEntries} audit entries, ${summary.bytes} bytes -> ${out}\n`);
  if (summary.hsmResident > 0) io.stderr.write(hsmResidentWarning(summary.hsmResident));
  return ExitCode.Ok;
}

async function verify(file: string, values: Record<string, unknown>, io: CliIo): Promise<number> {
  try {
    const credential = credentialFromFlags(values);
    const r = await verifyBackupFile(resolve(file), credential, progressPrinter(io, 'verify'));
    io.stdout.write(
      `OK: backup ${r.header.id} of ${r.header.created}: ${r.objects} objects, ${r.meta} client registry entries, ${r.auditEntries} audit entries (head ${r.manifest.auditHead.slice(0, 16) || 'none'}…), ${r.files} files; every chunk authenticated\n`,
    );
    return ExitCode.Ok;
  } catch (e) {
    return failure('backup verify', e, io);
  }
}

export const backupCommand: Command = {
  name: 'backup',
  summary: 'take an encrypted backup (also of a running server); verify one',
  help: HELP,
  async run(argv, io) {
    const parsed = parseCli(argv, OPTIONS);
    const [sub, ...rest] = parsed.positionals;
    if (sub === 'verify') {
      if (rest.length !== 1) throw new UsageError('kms backup verify FILE: give one file');
      return verify(rest[0]!, parsed.values, io);
    }
    if (sub !== undefined) throw new UsageError(`unexpected argument ${sub}`);
    if (parsed.values['recovery-key'] !== undefined || parsed.values.share !== undefined) throw new UsageError('--recovery-key and --share are for verify');
    return backup(parsed.values, io);
  },
};
