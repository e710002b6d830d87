/**
 * `kms restore --in FILE --data-dir DIR`: fill an empty data folder from a backup, on a
 * server with its own key backend (src/backup/restore.ts).
 */
import { resolve } from 'node:path';
import { restoreBackup } from '../backup/restore.js';
import { CREDENTIAL_HELP, CREDENTIAL_OPTIONS, credentialFromFlags, failure, HSM_HELP, HSM_OPTIONS, hsmFromFlags, progressPrinter } from './backup-options.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { parseCli } from './args.js';
import { checkStoreUrl, redactStoreUrl } from '../config/store-url.js';
import type { CliIo, Command } from './command.js';

export function hsmResidentWarning(n: number): string {
  return `warning: ${n} object(s) are HSM-resident keys (non-extractable by design): the backup carries their records and references, not their values; they work only where the token holds the same keys (the HSM vendor's own replication)\n`;
}

const HELP = `Usage: kms restore --in FILE --data-dir DIR (--recovery-key FILE | --share FILE...) [--hsm-…] [--store URL]

Restores a backup made by 'kms backup' into DIR, which must not exist or be empty.
The whole file is decrypted and checked first; a damaged or tampered file is refused
before anything is written. Then every key is re-sealed under THIS server's key backend
(a new software master key, or the KEK in the token given by --hsm-…), the audit log is
imported as it was and sealed by a restore anchor under this server's audit key, and
the certificates and recovery setup of the backed-up server are put back. The work is
done in a staging folder next to DIR and renamed onto it at the end: a failed restore
leaves nothing behind.

With --store URL (or KMS_STORE) the records and the audit log go into that PostgreSQL
database, which must be empty (a database that holds anything is refused, exit 4); DIR
gets the new keys, certificates and recovery setup as above, and the database the
cluster custody record, so other nodes can join it (docs/cluster-nodes.md). If such a
restore fails after it began writing, drop and re-create the database before retrying.
A backup of a cluster restores into a LevelDB folder too (no --store), and the other
way round.

Then start the server with: kms serve --config DIR/kms.json (with --store URL when the
URL carries a password: it is never written to kms.json)

${CREDENTIAL_HELP}

${HSM_HELP}

Options:
  --in FILE          the backup
  --data-dir DIR     the new data folder
  --store URL        restore into this empty postgresql:// database (KMS_STORE)
  -h, --help         this help

Progress goes to stderr.
Exit codes: 0 restored; 1 the backup file is damaged or tampered with (nothing written);
2 usage error; 3 I/O or HSM error; 4 DIR is not empty, or the credential does not open
this backup.`;

const OPTIONS = { in: { type: 'string' }, 'data-dir': { type: 'string' }, store: { type: 'string' }, ...CREDENTIAL_OPTIONS, ...HSM_OPTIONS } as const;

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a backup into an empty data folder, rewrapping every key',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseCli(argv, OPTIONS, { positionals: false });
    if (values.in === undefined) throw new UsageError('--in FILE is required');
    if (values['data-dir'] === undefined) throw new UsageError('--data-dir DIR is required');
    const hsm = hsmFromFlags(values);
    const dataDir = resolve(values['data-dir']);
    const url = values.store ?? (process.env.KMS_STORE || undefined);
    if (url !== undefined) {
      try {
        checkStoreUrl(url, values.store !== undefined ? '--store' : 'KMS_STORE');
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    try {
      const credential = credentialFromFlags(values);
      const r = await restoreBackup({
        file: resolve(values.in),
        dataDir,
        credential,
        ...(hsm ? { hsm } : {}),
        ...(url !== undefined && { store: { url } }),
        onProgress: progressPrinter(io, 'restore'),
      });
      io.stdout.write(
        `restored backup ${r.backup} into ${dataDir}: ${r.objects} objects re-sealed under ${r.kekId}, ${r.meta} client registry entries, ${r.auditEntries} audit entries imported and anchored under audit key ${r.auditKeyId}\n` +
          (url !== undefined ? `into the database ${redactStoreUrl(url)}\n` : '') +
          `start it with: kms serve --config ${dataDir}/kms.json${url !== undefined ? ` --store ${redactStoreUrl(url)}` : ''}\n`,
      );
      if (r.hsmResident > 0) io.stderr.write(hsmResidentWarning(r.hsmResident));
      return ExitCode.Ok;
    } catch (e) {
      return failure('restore', e, io);
    }
  },
};
