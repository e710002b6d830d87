/**
 * The built `kms` command (dist/, `npx tsc -p tsconfig.build.json` first) as child processes:
 * `kms serve` on a data folder with the dev test certificates, and one-shot commands whose
 * exit code and output are collected. For tests that kill the server or read its folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Writable } from 'node:stream';
import { KmipClient } from '../../src/client/index.js';
import { CERTS, tlsFiles } from './kms.js';

export const KMS_MAIN = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Every JSON log line so far. */
  readonly lines: readonly Record<string, unknown>[];
  client(identity?: string): Promise<KmipClient>;
  /** SIGKILL, resolved once the process is gone (its database lock released). */
  kill(): Promise<void>;
  /** SIGTERM, resolved with the exit code. */
  stop(): Promise<number | null>;
}

/** Write a config file for `dataDir` using the dev test certificates; returns its path. */
export function writeServeConfig(dataDir: string, extra: Record<string, unknown> = {}): string {
  const path = join(dataDir, 'kms-test-config.json');
  const config = {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    cert: join(CERTS, 'server.pem'),
    key: join(CERTS, 'server.key'),
    ca: join(CERTS, 'ca.pem'),
    ...extra,
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** Start `kms serve --config FILE` and wait until it listens. */
export async function startServeProcess(configPath: string, timeoutMs = 20_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [KMS_MAIN, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kms serve did not listen within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (raw) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(line);
      if (line.msg === 'KMIP server listening') {
        clearTimeout(timer);
        resolve(line.port as number);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kms serve exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
  const clients: KmipClient[] = [];
  return {
    child,
    port,
    exited,
    lines,
    async client(identity = 'kms-client') {
      const c = await KmipClient.connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(identity), timeoutMs: 20_000 });
      clients.push(c);
      return c;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `kms ARGS…` to completion. */
export function runKms(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KMS_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Run `kms ARGS…` in this process (the same `runCli` the binary calls, output captured):
 * much cheaper than a child process, for tests that run the CLI many times.
 */
export async function runKmsHere(args: readonly string[]): Promise<CliRun> {
  const { runCli } = await import('../../src/cli/main.js');
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  const code = await runCli([...args], { stdin: Readable.from([]), stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) });
  return { code, stdout, stderr };
}
