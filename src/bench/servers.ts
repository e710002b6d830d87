/**
 * The servers `kms bench` measures, each a child process on 127.0.0.1 in its own process group
 * (so /proc gives its CPU time and RSS, helpers included): our `kms serve` with a data folder,
 * and PyKMIP's reference server (Debian python3-pykmip) with a config file, SQLite database and
 * policy folder in a temporary folder, both with the same certificates. Or an already running
 * server (`--connect`), measured through `--server-pid` when given.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KmipClient, type KmipClientOptions } from '../client/client.js';
import { DEFAULT_CLIENT_NAME, type DevCertPaths } from '../pki/dev-certs.js';
import { preload } from './preload.js';

export interface BenchTarget {
  readonly label: string;
  readonly client: KmipClientOptions;
  /** Several nodes serving the same store: connections are spread over them (client first). */
  readonly clients?: readonly KmipClientOptions[];
  /** More processes (or groups) whose CPU time and RSS count for this target (other nodes, the database). */
  readonly alsoMeasure?: readonly { readonly pid: number; readonly group: boolean }[];
  /** The nodes of a cluster, one target each (for the failover run). */
  readonly nodes?: readonly BenchTarget[];
  /** Process (group) measured through /proc; undefined when unknown. */
  readonly pid?: number;
  /** True when pid leads a process group the bench started. */
  readonly group: boolean;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const { port } = s.address() as { port: number };
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

export async function clientOptions(certs: DevCertPaths, host: string, port: number): Promise<KmipClientOptions> {
  return {
    host,
    port,
    servername: 'localhost',
    ca: await readFile(certs.ca.cert),
    cert: await readFile(certs.client.cert),
    key: await readFile(certs.client.key),
    timeoutMs: 60_000,
  };
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** TERM the process group, then KILL whatever is left after `graceMs`. */
export async function stopGroup(pgid: number, graceMs = 10_000): Promise<void> {
  if (groupAlive(pgid)) process.kill(-pgid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
}

async function waitUntilServing(child: ChildProcess, client: KmipClientOptions, output: () => string, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    try {
      const c = await KmipClient.connect({ ...client, timeoutMs: 2000 });
      await c.close();
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`server did not come up: ${String(last)}\n${output()}`);
}

function capture(child: ChildProcess): () => string {
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

export interface OurServerOptions {
  readonly dataDir: string;
  readonly certs: DevCertPaths;
  /** Write a V8 CPU profile of the server into this folder (node --cpu-prof). */
  readonly cpuProfDir?: string;
  readonly logLevel?: string;
  /** More environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** A postgresql:// URL: the node serves that database (`kms serve --store`). */
  readonly storeUrl?: string;
}

/** limits.maxHandshakesPerAddress of the servers the bench starts (all its clients share one address). */
export const BENCH_HANDSHAKES_PER_ADDRESS = 1024;

/** `kms serve` from this build, as a child process. */
export async function startOurServer(opts: OurServerOptions): Promise<BenchTarget> {
  const port = await freePort();
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const nodeFlags = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
  const c = opts.certs;
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      main,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--https-port',
      '0',
      '--data-dir',
      opts.dataDir,
      '--cert',
      c.server.cert,
      '--key',
      c.server.key,
      '--ca',
      c.ca.cert,
      '--log-level',
      opts.logLevel ?? 'warn',
      ...(opts.storeUrl !== undefined ? ['--store', opts.storeUrl] : []),
    ],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Every bench connection comes from 127.0.0.1, where a real fleet has one address per
      // device: the per-address handshake budget would refuse the bench's own parallel opens.
      env: { ...process.env, KMS_MAX_HANDSHAKES_PER_ADDRESS: String(BENCH_HANDSHAKES_PER_ADDRESS), ...opts.env },
    },
  );
  const output = capture(child);
  const client = await clientOptions(c, '127.0.0.1', port);
  const pid = child.pid as number;
  try {
    await waitUntilServing(child, client, output, 30_000);
  } catch (e) {
    await stopGroup(pid, 2000);
    throw e;
  }
  const exited = new Promise<void>((res) => (child.exitCode !== null ? res() : child.once('exit', () => res())));
  return {
    label: 'kms',
    client,
    pid,
    group: true,
    async stop() {
      await stopGroup(pid, 30_000); // a clean stop writes the CPU profile and the audit checkpoint
      await exited;
    },
  };
}

/**
 * PyKMIP's server configuration in `dir` (server.conf, policies/, pykmip.db): loopback on `port`,
 * our dev certificates, TLS client authentication. Shared by the bench and the interop tests.
 */
export async function writePyKmipServerConfig(dir: string, port: number, certs: DevCertPaths, loggingLevel: 'INFO' | 'WARNING'): Promise<string> {
  await mkdir(join(dir, 'policies'), { recursive: true });
  const path = join(dir, 'server.conf');
  const config = [
    '[server]',
    'hostname=127.0.0.1',
    `port=${port}`,
    `certificate_path=${certs.server.cert}`,
    `key_path=${certs.server.key}`,
    `ca_path=${certs.ca.cert}`,
    'auth_suite=TLS1.2',
    `policy_path=${join(dir, 'policies')}`,
    'enable_tls_client_auth=True',
    `logging_level=${loggingLevel}`,
    `database_path=${join(dir, 'pykmip.db')}`,
    '',
  ].join('\n');
  await writeFile(path, config);
  return path;
}

/** PyKMIP's server (0.10, Debian python3-pykmip), everything in `dir`. */
export async function startPyKmipServer(dir: string, certs: DevCertPaths, python = '/usr/bin/python3'): Promise<BenchTarget> {
  const port = await freePort();
  await writePyKmipServerConfig(dir, port, certs, 'WARNING');
  const child = spawn(python, ['-c', 'import sys; from kmip.services.server.server import main; sys.exit(main())', '-f', join(dir, 'server.conf'), '-l', join(dir, 'server.log')], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
  });
  const output = capture(child);
  const client = await clientOptions(certs, '127.0.0.1', port);
  const pid = child.pid as number;
  try {
    await waitUntilServing(child, client, output, 60_000);
  } catch (e) {
    await stopGroup(pid, 2000);
    throw e;
  }
  return { label: 'pykmip', client, pid, group: true, stop: () => stopGroup(pid, 5000) };
}

/** A server someone else runs. */
export async function attachServer(certs: DevCertPaths, host: string, port: number, pid?: number): Promise<BenchTarget> {
  return { label: 'kms', client: await clientOptions(certs, host, port), ...(pid !== undefined && { pid }), group: false, stop: async () => undefined };
}

/**
 * Starts fresh servers of one kind, each with its own empty (or preloaded) store, so that one
 * mix's leftovers (thousands of keys from Create, requests a slow server still has queued)
 * do not weigh on the next mix.
 */
export interface ServerFactory {
  readonly label: string;
  /** A fresh server; with `preloadCount` > 0 its store first holds that many AES keys (uids returned). */
  start(preloadCount: number): Promise<{ target: BenchTarget; uids: readonly string[] }>;
}

let serial = 0;
/** A new number for a server's folder names. */
export const nextSerial = (): number => ++serial;

/** Our `kms serve` over a LevelDB data folder under `root`; preloaded stores are copied from a template made once. */
export function ourFactory(root: string, certs: DevCertPaths, cpuProfDir?: string): ServerFactory {
  const templates = new Map<number, Promise<{ dir: string; uids: string[] }>>();
  const template = (n: number): Promise<{ dir: string; uids: string[] }> => {
    let t = templates.get(n);
    if (!t) {
      const dir = join(root, `kms-template-${n}`);
      t = mkdir(dir, { recursive: true, mode: 0o700 })
        .then(() => preload(dir, 0, n, DEFAULT_CLIENT_NAME, { sampleSize: n, served: true }))
        .then((r) => ({ dir, uids: r.sampleUids }));
      templates.set(n, t);
    }
    return t;
  };
  return {
    label: 'kms',
    async start(n) {
      const dataDir = join(root, `kms-${++serial}`);
      let uids: string[] = [];
      if (n > 0) {
        const t = await template(n);
        await cp(t.dir, dataDir, { recursive: true });
        uids = t.uids;
      }
      const target = await startOurServer({ dataDir, certs, ...(cpuProfDir !== undefined && { cpuProfDir }) });
      return { target, uids };
    },
  };
}

/** The preload script for PyKMIP's database (next to this module's source). */
function pykmipPreloadScript(): string {
  for (const rel of ['./pykmip_preload.py', '../../../src/bench/pykmip_preload.py']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('pykmip_preload.py not found next to src/bench');
}

/** PyKMIP's server, each in a fresh folder under `root`; preloaded databases are copied from a template. */
export function pykmipFactory(root: string, certs: DevCertPaths, python: string): ServerFactory {
  const templates = new Map<number, Promise<{ db: string; uids: string[] }>>();
  const template = (n: number): Promise<{ db: string; uids: string[] }> => {
    let t = templates.get(n);
    if (!t) {
      const dir = join(root, `pykmip-template-${n}`);
      const db = join(dir, 'pykmip.db');
      t = mkdir(dir, { recursive: true }).then(
        () =>
          new Promise((res, rej) =>
            execFile(python, [pykmipPreloadScript(), db, DEFAULT_CLIENT_NAME, String(n)], { maxBuffer: 64 * n + 65536 }, (err, stdout, stderr) =>
              err ? rej(new Error(`PyKMIP preload failed: ${err.message} ${stderr.slice(-2000)}`)) : res({ db, uids: stdout.split('\n').filter((l) => l !== '') }),
            ),
          ),
      );
      templates.set(n, t);
    }
    return t;
  };
  return {
    label: 'pykmip',
    async start(n) {
      const dir = join(root, `pykmip-${++serial}`);
      await mkdir(dir, { recursive: true });
      let uids: string[] = [];
      if (n > 0) {
        const t = await template(n);
        await copyFile(t.db, join(dir, 'pykmip.db'));
        uids = t.uids;
      }
      return { target: await startPyKmipServer(dir, certs, python), uids };
    },
  };
}

/** A server someone else runs (no fresh store, no preload). */
export function attachedFactory(certs: DevCertPaths, host: string, port: number, pid?: number): ServerFactory {
  return {
    label: 'kms',
    async start(n) {
      if (n > 0) throw new Error('a preloaded store is needed (not available with --connect)');
      return { target: await attachServer(certs, host, port, pid), uids: [] };
    },
  };
}
