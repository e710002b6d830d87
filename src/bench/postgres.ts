/**
 * A throwaway PostgreSQL 15 server for `kms bench --store-backends …,pg1,pg2`: `initdb` into a
 * folder of the bench's temporary folder, a free loopback port, trust authentication on
 * loopback only, fsync on (the same durability as the LevelDB rows), started detached in its own
 * process group (so the bench counts its CPU time with the nodes'). PostgreSQL refuses to run as
 * root: when the bench runs as root, its programs run as the `postgres` user (`runuser`), in
 * folders that user owns. Each mix gets a fresh database (CREATE DATABASE, from a preloaded
 * template database for the spread mixes).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort, stopGroup } from './servers.js';

/** Where Debian's postgresql-15 puts its programs (KMS_PG_BIN overrides). */
export const PG_BIN = process.env['KMS_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';

export interface BenchPostgres {
  readonly port: number;
  /** Leader of the server's process group. */
  readonly pid: number;
  /** A new empty database (or a copy of `template`); its postgresql:// URL. */
  newDatabase(template?: string): Promise<string>;
  stop(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;

/** The `postgres` user's ids when we run as root (its programs then run as it), else undefined. */
export function pgOwner(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  };
}

/** Command and arguments to run a PostgreSQL program (as `postgres` when we are root). */
export function pgCommand(program: string, args: string[]): [string, string[]] {
  const bin = join(PG_BIN, program);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

/** Whether the server at `url` answers a query (a 2 s connection timeout). */
export async function canConnect(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function admin<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

let databases = 0;

/** initdb + start in `dir` (made here). */
export async function startBenchPostgres(dir: string): Promise<BenchPostgres> {
  if (!existsSync(join(PG_BIN, 'postgres'))) throw new Error(`PostgreSQL 15 is not installed (${PG_BIN}/postgres; Debian postgresql-15)`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o711);
  // The `postgres` user must reach its folder: the bench's own (0700) temporary folder above it
  // lets others pass through, never list (the data folders in it stay 0700).
  if (asRoot) chmodSync(dirname(dir), 0o711);
  const owner = pgOwner();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const [icmd, iargs] = pgCommand('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  try {
    execFileSync(icmd, iargs, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`initdb failed: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).slice(-1000)}`);
  }
  writeFileSync(join(data, 'pg_hba.conf'), '# loopback only, trust (the bench server)\nlocal all all trust\nhost all all 127.0.0.1/32 trust\n');
  const port = await freePort();
  const conf = [
    `port = ${port}`,
    `listen_addresses = '127.0.0.1'`,
    `unix_socket_directories = '${dir}'`,
    'fsync = on',
    'max_connections = 300',
    'shared_buffers = 128MB',
    'logging_collector = off',
    '',
  ];
  writeFileSync(join(data, 'postgresql.conf'), `${readFileSync(join(data, 'postgresql.conf'), 'utf8')}\n${conf.join('\n')}`);
  if (owner) for (const f of ['pg_hba.conf', 'postgresql.conf']) chownSync(join(data, f), owner.uid, owner.gid);
  const log = join(dir, 'server.log');
  const fd = openSync(log, 'a');
  if (owner) chownSync(log, owner.uid, owner.gid);
  const [cmd, argv] = pgCommand('postgres', ['-D', data]);
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid as number;
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  let exited = false;
  child.once('exit', () => (exited = true));
  let up = false;
  for (const end = Date.now() + 60_000; Date.now() < end && !exited; await new Promise((r) => setTimeout(r, 100))) {
    if (await canConnect(adminUrl)) {
      up = true;
      break;
    }
  }
  if (!up) {
    await stopGroup(pid, 2000);
    throw new Error(`PostgreSQL did not start: ${readFileSync(log, 'utf8').slice(-1500)}`);
  }
  return {
    port,
    pid,
    async newDatabase(template) {
      const name = `kms_bench_${process.pid}_${++databases}`;
      await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}${template !== undefined ? ` TEMPLATE ${template}` : ''}`));
      return `postgresql://postgres@127.0.0.1:${port}/${name}`;
    },
    // SIGINT to the postmaster: fast shutdown (its group: runuser and the postmaster's children).
    stop: () => stopGroup(pid, 15_000),
  };
}

/** The database name in a URL newDatabase made. */
export function databaseOf(url: string): string {
  return new URL(url).pathname.slice(1);
}
