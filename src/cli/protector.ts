/**
 * `kms protector`: which keys protect a data folder, and moving it to another protector.
 *
 *   kms protector status    the folder's custody record (custody.json): protector, token,
 *                           KEKs, audit key, a migration in progress, earlier protectors
 *   kms protector migrate   move the folder from the software master key to a KEK in a
 *                           PKCS#11 token, or to another token (src/folder/protector-migration.ts)
 *
 * migrate on a running server goes through its admin socket (the server keeps serving);
 * otherwise it opens the stopped folder. Either way it can be run again to finish.
 */
import { loadConfig, ConfigError, type HsmConfig } from '../config/config.js';
import { requestMigration } from '../admin/requests.js';
import { CustodyError, describeCustody, readCustody } from '../folder/custody.js';
import { DataFolder } from '../folder/data-folder.js';
import type { RewrapProgress } from '../folder/kek-rotation.js';
import { adminSocketPath } from '../folder/layout.js';
import { MigrationError, migrateProtector } from '../folder/protector-migration.js';
import { resolvePin } from '../hsm/pkcs11/pin.js';
import { cliConfig, parseCli } from './args.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms protector status [--data-dir DIR | --config FILE]
       kms protector migrate --config TARGET.json [--from-config OLD.json] [--data-dir DIR]

  status    print the folder's custody record (DIR/custody.json): the protector it is sealed
            under (software master key, or token, KEKs and audit key by label and id), a
            migration in progress, and earlier protectors
  migrate   move the folder to the PKCS#11 token named by the hsm section of TARGET.json:
            from the software master key, or from another token. A new KEK and audit key
            are made in the target token (recorded first), every object is rewrapped under
            the new KEK, and an anchor under the new audit key keeps the audit log
            verifiable (kms audit verify). On a running server it goes through the admin
            socket and the server keeps serving; on a stopped folder it does the work
            itself. Interrupted? Run it again with the same target: it continues.

Options:
  --config FILE       the TARGET configuration: its hsm section (module, tokenLabel or slot,
                      pin / pinFile / pinEnv, default KMS_HSM_PIN) and dataDir
  --from-config FILE  stopped folder sealed under a token: the configuration that opens it
                      (its hsm section); not needed from the software master key
  --data-dir DIR      the data folder (default: from --config / KMS_DATA_DIR / kms-data)
  -h, --help          this help

After a migration, start the server with the target configuration: a server started with
the old one is refused (exit 6). HSM-resident keys (non-extractable token keys) cannot move
to another token: a folder holding any is refused. See docs/custody.md.
Exit codes: 0 ok, 2 usage error, 3 the data folder or a token could not be opened,
4 refused (see the message), 6 key custody (the folder and the configuration disagree).`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  'from-config': { type: 'string' },
} as const;

function status(dataDir: string, io: CliIo): number {
  const c = readCustody(dataDir);
  if (!c) {
    io.stdout.write(`${dataDir}: no custody record yet (recorded at the folder's next start)\n`);
    return ExitCode.Ok;
  }
  const p = c.protector;
  io.stdout.write(`${dataDir}: sealed under ${describeCustody(p)}\n  recorded ${c.created} (${c.origin})\n`);
  if (p.kind === 'software') io.stdout.write(`  master key ${p.kekId}, audit key ${p.auditKeyId}\n`);
  else {
    io.stdout.write(`  token "${p.token.label}" serial ${p.token.serial} (${p.token.manufacturer} ${p.token.model}) via ${p.module}\n`);
    for (const k of p.keks) io.stdout.write(`  KEK ${k.label} id ${k.id} ${k.state} since ${k.since}\n`);
    io.stdout.write(`  audit key ${p.auditKey.label} id ${p.auditKey.id}\n`);
  }
  if (c.migration) io.stdout.write(`  MIGRATION IN PROGRESS (${c.migration.id}, ${c.migration.phase}) to ${describeCustody(c.migration.to)}: run kms protector migrate again to finish\n`);
  for (const h of c.history ?? []) io.stdout.write(`  before ${h.until}: ${describeCustody(h.protector)} (migration ${h.migration})\n`);
  return ExitCode.Ok;
}

function fromConfig(file: string | undefined): HsmConfig | undefined {
  if (file === undefined) return undefined;
  try {
    const c = loadConfig({ env: {}, flags: { config: file } });
    if (!c.hsm) throw new UsageError(`${file} has no hsm section`);
    return c.hsm;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

async function migrate(values: { 'data-dir'?: string; config?: string; 'from-config'?: string }, io: CliIo): Promise<number> {
  if (values.config === undefined) throw new UsageError('--config TARGET.json is required (its hsm section names the target token)');
  const config = cliConfig(values);
  if (!config.hsm) throw new UsageError(`${values.config} has no hsm section: a folder migrates to a PKCS#11 token`);
  const to = config.hsm;
  let last = 0;
  const progress = (where: string) => (p: RewrapProgress) => {
    if (Date.now() - last < 1000 && p.scanned < p.total) return;
    last = Date.now();
    io.stderr.write(`pass ${p.pass}: ${p.scanned}/${p.total} objects scanned, ${p.rewrapped} rewrapped${where}\n`);
  };
  const done = (r: { from: string; to: string; rewrapped: number; auditKey: string; resumed: boolean }, where: string) => {
    io.stdout.write(`protector migrated${where}${r.resumed ? ' (resumed)' : ''}: ${r.from} -> ${r.to}; ${r.rewrapped} objects rewrapped; audit key ${r.auditKey}\n`);
    io.stdout.write(`start the server with the target configuration from now on (its hsm section)\n`);
    return ExitCode.Ok;
  };
  try {
    const pin = resolvePin(to, process.env);
    const online = await requestMigration(adminSocketPath(config.dataDir), to, pin, progress(' (running server)'));
    if (online) return done(online, ' by the running server');
    const custody = readCustody(config.dataDir);
    const from = fromConfig(values['from-config']);
    if (custody?.protector.kind === 'hsm' && !from)
      throw new UsageError(`${config.dataDir} is sealed under ${describeCustody(custody.protector)}: give --from-config with the configuration that opens it`);
    const folder = await DataFolder.open({ dataDir: config.dataDir, ...(from && { hsm: from }), keys: 'open', mustExist: true, allowMigrating: true });
    try {
      const r = await migrateProtector({
        dataDir: config.dataDir,
        ...(config.audit && { audit: config.audit }),
        store: folder.store,
        protector: folder.protector,
        auditKey: folder.auditKey,
        to,
        pin,
        onProgress: progress(''),
        actor: `operator (kms protector migrate, uid ${process.getuid?.() ?? '?'})`,
      });
      await r.newProtector.close();
      return done(r, '');
    } finally {
      await folder.close();
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    io.stderr.write(`kms protector migrate: ${(e as Error).message}\n`);
    return e instanceof CustodyError ? ExitCode.Custody : e instanceof MigrationError ? ExitCode.Refused : ExitCode.Io;
  }
}

export const protectorCommand: Command = {
  name: 'protector',
  summary: 'the keys a data folder is sealed under: status, migrate (software -> HSM, token -> token)',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, OPTIONS);
    const sub = positionals[0];
    if (sub === 'status') return status(cliConfig(values).dataDir, io);
    if (sub === 'migrate') return migrate(values, io);
    throw new UsageError(sub === undefined ? 'which: status or migrate?' : `unknown subcommand '${sub}'`);
  },
};
