/**
 * `kms keys list|show`: the managed objects of a stopped server's data folder, of a cluster's
 * PostgreSQL database (`--store URL`, read-only, while the nodes run), or of a running server
 * through KMIP. Attributes only: key material is never read or printed.
 */
import { readFileSync } from 'node:fs';
import type { parseArgs } from 'node:util';
import { cliConfig, parseCli } from './args.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { enumFromUserText, FolderSource, KmipSource, SourceError, STATE_NAMES, TYPE_NAMES, type KeyDetail, type KeyFilter, type KeySource, type KeySummary } from './keys-source.js';
import type { CliIo, Command } from './command.js';
import { keysRotation } from './keys-rotation.js';

const HELP = `Usage: kms keys list [filters] [source] [--format table|json|csv]
       kms keys show UID [source] [--json]
       kms keys rotation [--data-dir DIR | --config FILE] [--run] [--json]

  list   every managed object: uid, object type, algorithm, length, state, names, owner
  show   one object: every attribute (never key material), its links, owner and whether
         it still holds content
  rotation  a RUNNING server's key rotation policies, the keys due (or past due and not
         rotated, with why) and the scheduler's last runs, through its admin socket;
         --run asks for a run now (docs/rotation.md)

Source (one of):
  --data-dir DIR     a STOPPED server's data folder (KMS_DATA_DIR; default ./kms-data);
                     refused while a server runs on it (its database is locked)
  --config FILE      read the data folder (and store) from the server's config file
  --store URL        a cluster's PostgreSQL database (KMS_STORE; config key store):
                     read-only, while the nodes run; no data folder needed, no lock
                     taken (docs/cluster-nodes.md)
  --server HOST:PORT ask a running server through KMIP 2.1 over mutual TLS, as the identity
                     of --cert/--key; it sees what that identity may see (an administrator
                     sees all). KMIP has no owner attribute: the owner column stays empty.
    --cert FILE      client certificate (PEM)
    --key FILE       client private key (PEM)
    --ca FILE        CA certificate the server's certificate chains to (PEM)
    --servername N   name to check the server certificate against (default: HOST)

Filters (list):
  --state STATE      ${STATE_NAMES.join(', ')}
  --type TYPE        ${TYPE_NAMES.join(', ')}
                     (case and '-'/'_' are ignored: pre-active, symmetric-key)
  --name NAME        objects with this Name

Output:
  --format F         table (default), json, csv (list); table or json (show)
  --json, --csv      the same as --format json / --format csv
  -h, --help         this help

Exit codes: 0 ok, 2 usage error, 3 the data folder or server could not be read (in use,
missing, cannot connect), 4 the server refused the request, 5 no such object (show).`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  store: { type: 'string' },
  server: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  servername: { type: 'string' },
  state: { type: 'string' },
  type: { type: 'string' },
  name: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  run: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function formatOf(values: Values, allowed: readonly string[]): string {
  const picks = [values.format, values.json ? 'json' : undefined, values.csv ? 'csv' : undefined].filter((x) => x !== undefined);
  if (new Set(picks).size > 1) throw new UsageError('give one output format');
  const f = picks[0] ?? 'table';
  if (!allowed.includes(f)) throw new UsageError(`--format must be ${allowed.join(' or ')}`);
  return f;
}

function filterOf(values: Values): KeyFilter {
  const f: { state?: number; objectType?: number; name?: string } = {};
  if (values.state !== undefined) {
    f.state = enumFromUserText('State', values.state);
    if (f.state === undefined) throw new UsageError(`unknown --state ${values.state} (one of ${STATE_NAMES.join(', ')})`);
  }
  if (values.type !== undefined) {
    f.objectType = enumFromUserText('ObjectType', values.type);
    if (f.objectType === undefined) throw new UsageError(`unknown --type ${values.type} (one of ${TYPE_NAMES.join(', ')})`);
  }
  if (values.name !== undefined) f.name = values.name;
  return f;
}

function parseServer(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new UsageError(`--server must be HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: (m[1] ?? m[2])!, port };
}

/** Open the source the flags name (checked before anything is opened). */
async function openSource(values: Values): Promise<KeySource> {
  const remote = ['cert', 'key', 'ca', 'servername'].filter((k) => values[k as keyof Values] !== undefined);
  if (values.server !== undefined) {
    if (values['data-dir'] !== undefined || values.config !== undefined || values.store !== undefined) throw new UsageError('give either --server or --data-dir/--config/--store, not both');
    const { host, port } = parseServer(values.server);
    if (values.cert === undefined || values.key === undefined || values.ca === undefined) throw new UsageError('--server needs --cert, --key and --ca');
    let files: { cert: Buffer; key: Buffer; ca: Buffer };
    try {
      files = { cert: readFileSync(values.cert), key: readFileSync(values.key), ca: readFileSync(values.ca) };
    } catch (e) {
      throw new SourceError('io', `cannot read the TLS files: ${(e as Error).message}`);
    }
    return KmipSource.connect({ host, port, ...files, ...(values.servername !== undefined ? { servername: values.servername } : {}) });
  }
  if (remote.length > 0) throw new UsageError(`--${remote[0]} needs --server`);
  const config = cliConfig(values);
  // A cluster's database (--store URL, KMS_STORE, the config's store) is read without the folder's lock.
  if (config.store !== undefined) return FolderSource.openShared(config.store, config.storePool);
  return FolderSource.open(config.dataDir);
}

const COLUMNS: readonly { head: string; get: (k: KeySummary) => string }[] = [
  { head: 'UID', get: (k) => k.uid },
  { head: 'TYPE', get: (k) => k.objectType },
  { head: 'ALGORITHM', get: (k) => k.algorithm ?? '' },
  { head: 'LENGTH', get: (k) => (k.length !== undefined ? String(k.length) : '') },
  { head: 'STATE', get: (k) => k.state },
  { head: 'NAMES', get: (k) => k.names.join(', ') },
  { head: 'OWNER', get: (k) => k.owner ?? '' },
];

function csvField(s: string): string {
  return /[",\r\n]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatList(keys: readonly KeySummary[], format: string): string {
  if (format === 'json') return JSON.stringify(keys, null, 2) + '\n';
  if (format === 'csv') {
    const rows = [COLUMNS.map((c) => c.head.toLowerCase()), ...keys.map((k) => COLUMNS.map((c) => (c.head === 'NAMES' ? k.names.join(';') : c.get(k))))];
    return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
  }
  const rows = [COLUMNS.map((c) => c.head), ...keys.map((k) => COLUMNS.map((c) => c.get(k)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  return lines.join('\n') + `\n${keys.length} object${keys.length === 1 ? '' : 's'}\n`;
}

function shown(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function formatShow(d: KeyDetail, format: string): string {
  if (format === 'json') return JSON.stringify(d, null, 2) + '\n';
  const head: [string, string][] = [
    ['Unique Identifier', d.uid],
    ['Object Type', d.objectType],
    ['State', d.state],
    ['Owner', d.owner ?? '(not known over KMIP)'],
    ['Key material', d.content],
  ];
  const w = Math.max(...head.map(([k]) => k.length));
  const aw = Math.max(0, ...d.attributes.map((a) => a.name.length));
  return (
    [
      ...head.map(([k, v]) => `${k.padEnd(w)}  ${v}`),
      'Attributes:',
      ...d.attributes.flatMap((a) => a.values.map((v, i) => `  ${(i === 0 ? a.name : '').padEnd(aw)}  ${shown(v)}`)),
      `Links:${d.links.length === 0 ? ' none' : ''}`,
      ...d.links.map((l) => `  ${l.type} -> ${l.uid}`),
    ].join('\n') + '\n'
  );
}

async function run(values: Values, positionals: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = positionals;
  if (sub === 'rotation') {
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    if (values.server !== undefined || values.store !== undefined)
      throw new UsageError(`rotation asks the running server through its admin socket: give --data-dir or --config, not --${values.server !== undefined ? 'server' : 'store'}`);
    return keysRotation(cliConfig(values), { run: values.run === true, json: values.json === true || values.format === 'json' }, io);
  }
  if (values.run !== undefined) throw new UsageError('--run is for kms keys rotation');
  if (sub !== 'list' && sub !== 'show') throw new UsageError(sub === undefined ? 'give a subcommand: list, show or rotation' : `unknown subcommand ${sub}`);
  let uid: string | undefined;
  let format: string;
  let filter: KeyFilter = {};
  if (sub === 'show') {
    if (rest.length !== 1) throw new UsageError('show needs exactly one UID');
    uid = rest[0]!;
    if (values.state !== undefined || values.type !== undefined || values.name !== undefined) throw new UsageError('--state, --type and --name are list filters');
    format = formatOf(values, ['table', 'json']);
  } else {
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    format = formatOf(values, ['table', 'json', 'csv']);
    filter = filterOf(values);
  }
  let source: KeySource | undefined;
  try {
    source = await openSource(values);
    if (uid === undefined) {
      io.stdout.write(formatList(await source.list(filter), format));
      return ExitCode.Ok;
    }
    const d = await source.show(uid);
    if (!d) {
      io.stderr.write(`kms keys show: no object ${uid}${values.server !== undefined ? ' (or not one this identity may see)' : ''}\n`);
      return ExitCode.NotFound;
    }
    io.stdout.write(formatShow(d, format));
    return ExitCode.Ok;
  } catch (e) {
    if (e instanceof SourceError) {
      io.stderr.write(`kms keys ${sub}: ${e.message}\n`);
      return e.kind === 'refused' ? ExitCode.Refused : ExitCode.Io;
    }
    if (e instanceof UsageError) throw e;
    io.stderr.write(`kms keys ${sub}: ${(e as Error).message}\n`);
    return ExitCode.Io;
  } finally {
    await source?.close();
  }
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'list and show managed objects (a stopped data folder, or a server over KMIP)',
  help: HELP,
  async run(argv, io) {
    const parsed = parseCli(argv, OPTIONS);
    return run(parsed.values, parsed.positionals, io);
  },
};
