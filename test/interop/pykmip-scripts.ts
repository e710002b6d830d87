/**
 * Running the repository's PyKMIP client scripts (test/interop/pykmip_*.py) against a server:
 * the real PyKMIP 0.10 client (Debian python3-pykmip) under /usr/bin/python3, connected with the
 * test certificates over mutual TLS, printing its results as JSON on stdout.
 *
 * Every script reads no PyKMIP configuration from /etc or ~: it gets an empty config file in a
 * temporary folder that is also its HOME and working directory, and every setting on the command
 * line. Each run is its own process group, stopped when it overruns its time or at `dispose()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { CERTS } from '../support/kms.js';
import { stopGroup } from '../support/process-group.js';

export const PYTHON = '/usr/bin/python3';

export interface ScriptRun {
  /** The script's file name under test/interop/ (e.g. 'pykmip_client.py'). */
  readonly script: string;
  readonly port: number;
  /** Arguments after the connection settings (e.g. ['--version', '1.2']). */
  readonly args?: readonly string[];
  /** A tag the script puts in the names it creates, so runs do not see each other's objects. */
  readonly tag: string;
  /** Stop the run (its whole process group) after this long. */
  readonly timeoutMs: number;
}

export class PykmipScripts {
  private readonly running = new Set<ChildProcess>();

  private constructor(readonly dir: string) {}

  /** A temporary folder with an empty PyKMIP config file (`name` goes into the folder's name). */
  static async create(name: string): Promise<PykmipScripts> {
    const dir = await mkdtemp(join(tmpdir(), `kms-${name}-`));
    await writeFile(join(dir, 'empty.conf'), '');
    return new PykmipScripts(dir);
  }

  /** Run a script to its end; its stdout parsed as JSON, or an error with its exit code, stderr and stdout. */
  async run<T>(r: ScriptRun): Promise<T> {
    const name = basename(r.script);
    const argv = [
      resolve('test/interop', r.script),
      '--host',
      '127.0.0.1',
      '--port',
      String(r.port),
      '--cert',
      join(CERTS, 'client.pem'),
      '--key',
      join(CERTS, 'client.key'),
      '--ca',
      join(CERTS, 'ca.pem'),
      ...(r.args ?? []),
      '--tag',
      r.tag,
      '--config-file',
      join(this.dir, 'empty.conf'),
    ];
    const child = spawn(PYTHON, argv, { cwd: this.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONWARNINGS: 'ignore', HOME: this.dir } });
    this.running.add(child);
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => {
      const timer = setTimeout(() => void stopGroup(child), r.timeoutMs);
      child.on('exit', (c) => {
        clearTimeout(timer);
        res(c);
      });
    });
    this.running.delete(child);
    if (code !== 0) throw new Error(`${name} exited with ${code}\nstderr:\n${err}\nstdout:\n${out}`);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new Error(`${name} printed no JSON\nstderr:\n${err}\nstdout:\n${out}`);
    }
  }

  /** Stop what still runs and remove the folder. */
  async dispose(): Promise<void> {
    await Promise.all([...this.running].map(stopGroup));
    await rm(this.dir, { recursive: true, force: true });
  }
}
