/**
 * Writes development certificates (CA, server, clients) as PEM files.
 *
 *   node dist/scripts/gen-certs.js [--out DIR] [--host NAME]... [--client NAME]... [--days N] [--rsa] [--if-missing]
 *
 * Defaults: --out certs/, hosts localhost 127.0.0.1 ::1, one client "kms-client".
 * For development and tests only; private keys are written with mode 0600.
 */
import { parseArgs } from 'node:util';
import { type DevCertOptions, ensureDevCerts, generateDevCerts } from '../src/pki/dev-certs.js';

const USAGE = `usage: gen-certs [--out DIR] [--host NAME]... [--client NAME]... [--days N] [--rsa] [--if-missing]`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string', default: 'certs' },
        host: { type: 'string', multiple: true },
        client: { type: 'string', multiple: true },
        days: { type: 'string' },
        rsa: { type: 'boolean', default: false },
        'if-missing': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && !(days > 0)) {
    process.stderr.write(`--days must be a positive number\n`);
    return 2;
  }
  const opts: DevCertOptions = {
    ...(values.host && { hosts: values.host }),
    ...(values.client && { clientNames: values.client }),
    ...(days !== undefined && { days }),
    keyType: values.rsa ? 'rsa' : 'ec',
  };
  const paths = values['if-missing'] ? await ensureDevCerts(values.out, opts) : await generateDevCerts(values.out, opts);
  process.stdout.write([`CA:     ${paths.ca.cert}`, `server: ${paths.server.cert}`, ...Object.entries(paths.clients).map(([n, p]) => `client ${n}: ${p.cert}`)].join('\n') + '\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`gen-certs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
