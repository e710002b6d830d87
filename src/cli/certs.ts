/**
 * `kms certs issue --client NAME`: enroll an agent. Issues a client certificate (CN = NAME,
 * extended key usage clientAuth) signed by the data folder's development CA, so the server
 * accepts it and knows the agent as NAME.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { issueClientCert } from '../pki/dev-certs.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms certs issue --client NAME [options]

Issue a client certificate for an agent (a storage array, a tape library, a script),
signed by the CA in the data folder (made by 'kms serve' on its first start). The server
knows the agent by NAME (the certificate's CN, its default identity source).

Options:
  --client NAME    the agent's identity (letters, digits, '.', '_', '-')
  --data-dir DIR   data folder whose certs/ holds ca.pem and ca.key (KMS_DATA_DIR;
                   default ./kms-data)
  --config FILE    read the data folder from the server's config file
  --out DIR        where to write NAME.pem and NAME.key (default: DIR/certs/clients)
  --days N         validity in days (default 825)
  -h, --help       this help

The private key is written with mode 0600. Give the agent NAME.pem, NAME.key and the
CA certificate (DIR/certs/ca.pem).
Exit codes: 0 issued, 2 usage error, 3 the CA could not be read or the files written.`;

export const certsCommand: Command = {
  name: 'certs',
  summary: 'issue client certificates for agents (kms certs issue --client NAME)',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub !== 'issue') throw new UsageError(sub === undefined ? 'a subcommand is required: issue' : `unknown subcommand '${sub}'`);
    let values: Record<string, string | undefined>;
    try {
      ({ values } = parseArgs({ args: rest, options: { client: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, days: { type: 'string' } } }) as {
        values: Record<string, string | undefined>;
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const name = values.client;
    if (!name || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new UsageError('--client NAME is required (letters, digits, ".", "_", "-"; at most 64)');
    const days = values.days === undefined ? undefined : Number(values.days);
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 3650)) throw new UsageError('--days must be a whole number from 1 to 3650');
    let dataDir: string;
    try {
      dataDir = loadConfig({ env: process.env, flags: { dataDir: values['data-dir'], config: values.config } }).dataDir;
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
    const caDir = join(dataDir, 'certs');
    if (!existsSync(join(caDir, 'ca.pem')) || !existsSync(join(caDir, 'ca.key'))) {
      io.stderr.write(`kms certs: no CA in ${caDir} (start 'kms serve --data-dir ${dataDir}' once to make it)\n`);
      return ExitCode.Io;
    }
    const out = resolve(values.out ?? join(caDir, 'clients'));
    try {
      const paths = await issueClientCert(caDir, name, out, days === undefined ? {} : { days });
      io.stdout.write(`issued ${name}: ${paths.cert}\n         key: ${paths.key} (mode 0600)\n          CA: ${join(caDir, 'ca.pem')}\n`);
      return ExitCode.Ok;
    } catch (e) {
      io.stderr.write(`kms certs: cannot issue: ${(e as Error).message}\n`);
      return ExitCode.Io;
    }
  },
};
