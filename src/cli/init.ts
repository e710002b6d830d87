/**
 * `kms init`: make a new data folder — key backend, recovery setup for backups, server
 * certificates, config file — and refuse one that already holds anything.
 */
import { chmodSync, constants, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { checkStoreUrl, redactStoreUrl } from '../config/store-url.js';
import { join, relative, resolve } from 'node:path';
import { BackupError } from '../backup/errors.js';
import { makeSharedRecipient, recipientsFromFiles, type Recipient, type RecoveryConfig, type ShareFile } from '../backup/recovery.js';
import { DataFolder } from '../folder/data-folder.js';
import { assertEmptyFolder, configFileContent, folderLayout } from '../folder/layout.js';
import { ensureDevCerts } from '../pki/dev-certs.js';
import { failure, HSM_HELP, HSM_OPTIONS, hsmFromFlags } from './backup-options.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { parseCli } from './args.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms init --data-dir DIR [--hsm-…] (--recovery-key PEM... | --shares N --threshold M --shares-out DIR2)

Creates a new data folder DIR (it must not exist or be empty):
  DIR/db/             the database (empty)
  DIR/kms.json        config: the data folder and the key backend (start the server with
                      kms serve --config DIR/kms.json); never holds a PIN
  DIR/master.key      the software master key (mode 0600), unless --hsm-module is given:
                      then the KEK and the audit key are generated inside the token
  DIR/recovery.json   who can open backups (public keys only)
  DIR/certs/          a development CA, a server certificate and a client certificate
                      (kms certs issue --client NAME enrolls more agents)

Recovery (at least one; both may be given): backups are encrypted under a fresh key per
file, wrapped to each recovery key, so they can be restored on a new server with a
different HSM.
  --recovery-key PEM     a public key (RSA ≥ 2048 bits, or EC P-256), PEM; repeatable.
                         Keep its private key offline: restore needs it.
  --shares N             make a P-256 recovery key and split its private key into N
  --threshold M          Shamir shares (any M restore; M-1 reveal nothing), written to
  --shares-out DIR2      DIR2/share-<i>-of-<N>.json (mode 0600), one per custodian. The
                         private key itself is not kept anywhere. DIR2 must not be inside
                         DIR, and must be empty or absent.

${HSM_HELP}

A node of a cluster (a PostgreSQL database shared by several kms serve processes, each with
its own data folder; docs/cluster-nodes.md):
  --store URL        postgresql://USER:PASSWORD@HOST:PORT/DB (or KMS_STORE): the folder
                     holds no db/; the first folder made over a database records its
                     keys there (no secret), every later one joins them. Not written to
                     kms.json (the password): start with kms serve --store URL or KMS_STORE
  --join             join the database's keys. Software master key: give
  --master-key FILE  a copy of a node's master.key, checked against the database's record
                     and copied into DIR (0600). With --hsm-… the same token is used and
                     the recorded KEK and audit key are found by label and CKA_ID.

Options:
  --data-dir DIR     the new data folder (required)
  -h, --help         this help

Exit codes: 0 initialised; 2 usage error (or an unusable recovery key); 3 I/O or HSM
error (nothing is left behind); 4 DIR is already initialised (not empty).`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  'recovery-key': { type: 'string', multiple: true },
  shares: { type: 'string' },
  threshold: { type: 'string' },
  'shares-out': { type: 'string' },
  store: { type: 'string' },
  join: { type: 'boolean' },
  'master-key': { type: 'string' },
  ...HSM_OPTIONS,
} as const;

function int(v: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return Number(v);
}

export const initCommand: Command = {
  name: 'init',
  summary: 'create a data folder: key backend, backup recovery keys or shares, certificates',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseCli(argv, OPTIONS, { positionals: false });
    if (values['data-dir'] === undefined) throw new UsageError('--data-dir DIR is required');
    const dir = resolve(values['data-dir']);
    const layout = folderLayout(dir);
    const hsm = hsmFromFlags(values);
    const storeUrl = values.store ?? (process.env.KMS_STORE || undefined);
    if (storeUrl !== undefined) {
      try {
        checkStoreUrl(storeUrl, values.store !== undefined ? '--store' : 'KMS_STORE');
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    if (values.join && storeUrl === undefined) throw new UsageError('--join needs --store URL (the database whose keys this folder joins)');
    if (values['master-key'] !== undefined && !values.join) throw new UsageError('--master-key FILE goes with --join');
    if (values.join && !hsm && values['master-key'] === undefined) throw new UsageError("--join with the software master key needs --master-key FILE (a copy of a node's master.key)");
    if (values.join && hsm && values['master-key'] !== undefined) throw new UsageError('--master-key is for the software master key, not with --hsm-module');
    const total = int(values.shares, '--shares', 1, 255);
    const threshold = int(values.threshold, '--threshold', 1, 255);
    const sharesOutFlag = values['shares-out'];
    if ((total === undefined) !== (threshold === undefined)) throw new UsageError('--shares and --threshold go together');
    if (total !== undefined && threshold! > total) throw new UsageError('--threshold cannot exceed --shares');
    if (total !== undefined && sharesOutFlag === undefined) throw new UsageError("--shares needs --shares-out DIR2 (where the custodians' share files go)");
    if (total === undefined && sharesOutFlag !== undefined) throw new UsageError('--shares-out needs --shares and --threshold');
    const keyFiles = values['recovery-key'] ?? [];
    if (keyFiles.length === 0 && total === undefined) throw new UsageError('a recovery setup is required: --recovery-key PEM (repeatable) and/or --shares N --threshold M --shares-out DIR2');
    const sharesOut = sharesOutFlag === undefined ? undefined : resolve(sharesOutFlag);
    if (sharesOut !== undefined && !relative(dir, sharesOut).startsWith('..') && relative(dir, sharesOut) !== sharesOut) {
      throw new UsageError('--shares-out must be outside the data folder (the shares are for custodians, not for the server)');
    }

    let recipients: Recipient[];
    try {
      recipients = recipientsFromFiles(keyFiles);
      if (new Set(recipients.map((r) => r.keyId)).size !== recipients.length) throw new BackupError('BAD_KEY', 'the same recovery key was given twice');
      assertEmptyFolder(dir, 'already initialised (kms init makes a new data folder only)');
      if (sharesOut !== undefined) assertEmptyFolder(sharesOut, 'the share files would overwrite something');
    } catch (e) {
      return failure('init', e, io);
    }

    const existed = existsSync(dir);
    const sharesExisted = sharesOut !== undefined && existsSync(sharesOut);
    try {
      if (values['master-key'] !== undefined) {
        // Joining with the software master key: the copy is checked against the database's record by DataFolder.open.
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        copyFileSync(values['master-key'], layout.masterKey, constants.COPYFILE_EXCL);
        chmodSync(layout.masterKey, 0o600);
      }
      // The folder's lock (the store) before any key is made: DataFolder.open.
      const folder = await DataFolder.open({ dataDir: dir, ...(hsm && { hsm }), keys: 'create', ...(storeUrl !== undefined && { storeUrl }), ...(values.join && { join: true }) });
      const kekId = folder.protector.kekId;
      const auditKeyId = folder.auditKey.id;
      await folder.close();
      let shares: ShareFile[] = [];
      if (total !== undefined) {
        const made = makeSharedRecipient(threshold!, total);
        recipients.push(made.recipient);
        shares = made.shares;
      }
      const certs = await ensureDevCerts(layout.certs);
      const recovery: RecoveryConfig = { format: 1, recipients };
      writeFileSync(layout.recovery, JSON.stringify(recovery, null, 2) + '\n', { mode: 0o600 });
      writeFileSync(layout.config, configFileContent(dir, hsm), { mode: 0o600 });
      if (sharesOut !== undefined) {
        mkdirSync(sharesOut, { recursive: true, mode: 0o700 });
        for (const s of shares) writeFileSync(join(sharesOut, `share-${s.index}-of-${s.total}.json`), JSON.stringify(s) + '\n', { mode: 0o600, flag: 'wx' });
      }
      const lines = [
        `initialised ${dir}`,
        `  keys:      ${hsm ? `KEK ${kekId} in token ${hsm.tokenLabel ?? `slot ${hsm.slot}`}` : `software master key ${layout.masterKey} (not an HSM)`}; audit key ${auditKeyId}`,
        ...recipients.map((r) => `  recovery:  ${r.kind} key ${r.keyId}${r.shares ? ` split into ${r.shares.total} shares, any ${r.shares.threshold} restore (${sharesOut})` : ''}`),
        `  certs:     CA ${certs.ca.cert}, server ${certs.server.cert}, client ${certs.client.cert}`,
        ...(storeUrl !== undefined ? [`  store:     ${redactStoreUrl(storeUrl)}${values.join ? ' (joined its keys)' : ''}`] : []),
        `  start:     kms serve --config ${layout.config}${storeUrl !== undefined ? ' --store URL (or KMS_STORE)' : ''}`,
      ];
      io.stdout.write(lines.join('\n') + '\n');
      return ExitCode.Ok;
    } catch (e) {
      // Leave nothing half-made.
      if (existed) for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
      else rmSync(dir, { recursive: true, force: true });
      if (sharesOut !== undefined && !sharesExisted) rmSync(sharesOut, { recursive: true, force: true });
      return failure('init', e, io);
    }
  },
};
