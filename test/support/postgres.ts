/**
 * Throwaway PostgreSQL 15 servers for tests.
 *
 * `sharedPostgres()`: ONE server per vitest run, started by the first test file that asks for it
 * (test/support/postgres-global.ts gives every file the run's folder, `inject('kmsPgRoot')`;
 * a lock folder in it picks the file that starts the server, the others wait for its URL) and
 * stopped by that globalSetup's teardown. Files make their own databases with `newDatabase()`.
 *
 * `startPostgres()`: a server of one's own (for tests that stop and restart it), stopped with
 * `destroy()`.
 *
 * Each server: `initdb` into a temp folder (owned by the `postgres` user when running as root:
 * PostgreSQL refuses to run as root, so its programs run through `runuser -u postgres`), a free
 * loopback port, its unix socket in the temp folder, trust authentication on loopback only,
 * fsync on. A run that was killed leaves its server behind: the next start stops every server
 * whose owning process is gone (`owner.pid` in its folder) and removes its folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { canConnect, pgCommand, pgOwner } from '../../src/bench/postgres.js';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's folder for the shared PostgreSQL server (test/support/postgres-global.ts). */
    kmsPgRoot: string;
  }
}

const PREFIX = 'kms-pg-';

export interface TestPostgres {
  /** URL of the server's `postgres` database, as the superuser `postgres`. */
  readonly url: string;
  /** Create a fresh, empty database; returns its URL. */
  newDatabase(): Promise<string>;
}

export interface OwnPostgres extends TestPostgres {
  readonly port: number;
  /** Stop the server (fast shutdown), keeping its data; `start()` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stop it and remove its folder. */
  destroy(): Promise<void>;
}

/** Give `path` to the `postgres` user when we run as root (its server then runs as it). */
function ownedByPostgres(path: string): void {
  const owner = pgOwner();
  if (owner) chownSync(path, owner.uid, owner.gid);
}

function run(program: string, args: string[]): Promise<void> {
  const [cmd, argv] = pgCommand(program, args);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${program} exited with ${String(code)}: ${out.slice(-2000)}`))));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stop the postmaster of `dataDir`: SIGINT (fast shutdown: a checkpoint, data kept) or, with
 * `discard`, SIGQUIT (immediate: no checkpoint, for a folder about to be removed); SIGKILL if it
 * is still there after `graceMs`.
 */
async function stopPostmaster(dataDir: string, graceMs = 10_000, discard = false): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === undefined || !alive(pid)) return;
  const signals: [NodeJS.Signals, number][] = [
    [discard ? 'SIGQUIT' : 'SIGINT', graceMs],
    ['SIGKILL', 3000],
  ];
  for (const [sig, wait] of signals) {
    try {
      process.kill(pid, sig);
    } catch {
      return;
    }
    for (const end = Date.now() + wait; Date.now() < end; await sleep(50)) if (!alive(pid)) return;
  }
}

/** Stop the servers of runs whose owner is gone, and remove their folders. */
async function cleanStale(): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const dir = join(tmpdir(), n);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
    } catch {
      continue; // being set up right now, or not ours
    }
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    for (const data of [join(dir, 'data'), join(dir, 'server', 'data')]) await stopPostmaster(data, 3000, true);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function createDatabase(adminUrl: string): Promise<string> {
  const name = `kms_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: adminUrl });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end().catch(() => undefined);
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One server in `dir` (created here; must not exist or be empty). */
class Server implements OwnPostgres {
  port = 0;
  private child: ChildProcess | undefined;
  private readonly data: string;

  constructor(private readonly dir: string) {
    this.data = join(dir, 'data');
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  newDatabase(): Promise<string> {
    return createDatabase(this.url);
  }

  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    ownedByPostgres(this.dir);
    await run('initdb', ['-D', this.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    writeFileSync(join(this.data, 'pg_hba.conf'), '# loopback only, trust (a test server)\nlocal all all trust\nhost all all 127.0.0.1/32 trust\n');
    ownedByPostgres(join(this.data, 'pg_hba.conf'));
  }

  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.port === 0 || attempt > 0) this.port = await freePort();
      try {
        await this.startOnce();
        return;
      } catch (e) {
        if (attempt >= 2 || !/could not bind|already in use/i.test(String(e))) throw e;
      }
    }
  }

  private async startOnce(): Promise<void> {
    const conf = [
      `port = ${this.port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${this.dir}'`,
      'fsync = on',
      'max_connections = 200',
      'shared_buffers = 32MB',
      'logging_collector = off',
      '',
    ].join('\n');
    // The last setting of a key wins: appending on each start is fine.
    appendFileSync(join(this.data, 'postgresql.conf'), conf);
    const log = join(this.dir, 'server.log');
    const fd = openSync(log, 'a');
    ownedByPostgres(log);
    const [cmd, argv] = pgCommand('postgres', ['-D', this.data]);
    const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.unref();
    this.child = child;
    let exited = false;
    child.on('exit', () => (exited = true));
    for (const end = Date.now() + 60_000; Date.now() < end; await sleep(100)) {
      if (exited) break;
      if (await canConnect(this.url)) return;
    }
    const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
    await stopPostmaster(this.data, 3000, true);
    throw new Error(`PostgreSQL did not start on port ${this.port}: ${tail}`);
  }

  async stop(): Promise<void> {
    await stopPostmaster(this.data);
    this.child = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A server of one's own; `destroy()` it in afterAll. */
export async function startPostgres(): Promise<OwnPostgres> {
  await cleanStale();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  chmodSync(dir, 0o711); // the `postgres` user must reach its folder inside
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const s = new Server(join(dir, 'server'));
  const own: OwnPostgres = {
    get port() {
      return s.port;
    },
    get url() {
      return s.url;
    },
    newDatabase: () => s.newDatabase(),
    start: () => s.start(),
    stop: () => s.stop(),
    destroy: async () => {
      await stopPostmaster(join(dir, 'server', 'data'), 5000, true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await s.init();
    await s.start();
  } catch (e) {
    await own.destroy();
    throw e;
  }
  return own;
}

/** Make the run's folder (globalSetup); its owner is this process. */
export async function prepareSharedRoot(): Promise<string> {
  await cleanStale();
  const root = mkdtempSync(join(tmpdir(), PREFIX));
  chmodSync(root, 0o711); // the `postgres` user must reach its folder inside
  writeFileSync(join(root, 'owner.pid'), String(process.pid));
  return root;
}

/** Stop the run's shared server, if one was started, and remove the folder (globalSetup teardown). */
export async function teardownSharedRoot(root: string): Promise<void> {
  await stopPostmaster(join(root, 'server', 'data'), 5000, true);
  rmSync(root, { recursive: true, force: true });
}

let shared: Promise<TestPostgres> | undefined;

/** The run's shared server (started by the first file that asks). */
export function sharedPostgres(): Promise<TestPostgres> {
  shared ??= openShared();
  return shared;
}

async function openShared(): Promise<TestPostgres> {
  const root = inject('kmsPgRoot');
  if (!root) throw new Error('no kmsPgRoot: test/support/postgres-global.ts must be a globalSetup of vitest.config');
  const urlFile = join(root, 'url');
  const errFile = join(root, 'error');
  let mine = false;
  try {
    mkdirSync(join(root, 'lock'));
    mine = true;
  } catch {
    // another file starts it
  }
  let url: string;
  if (mine) {
    const s = new Server(join(root, 'server'));
    try {
      await s.init();
      await s.start();
    } catch (e) {
      writeFileSync(errFile, String(e));
      throw e;
    }
    writeFileSync(`${urlFile}.tmp`, s.url);
    renameSync(`${urlFile}.tmp`, urlFile);
    url = s.url;
  } else {
    for (const end = Date.now() + 120_000; ; await sleep(100)) {
      if (existsSync(urlFile)) {
        url = readFileSync(urlFile, 'utf8');
        break;
      }
      if (existsSync(errFile)) throw new Error(`the shared PostgreSQL server did not start: ${readFileSync(errFile, 'utf8')}`);
      if (Date.now() > end) throw new Error('timed out waiting for the shared PostgreSQL server');
    }
  }
  return { url, newDatabase: () => createDatabase(url) };
}
