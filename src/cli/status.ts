/**
 * `kms status`: ask the running server (through its admin socket in the data folder) for
 * its status: readiness checks, listeners, object counts, KEKs, audit head. Only the
 * server's own user (and root) can reach the socket.
 */
import { createConnection } from 'node:net';
import { adminSocketPath } from '../folder/layout.js';
import { formatStatus, type ServerStatus } from '../http/status.js';
import { cliConfig, parseCli } from './args.js';
import { ExitCode } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms status [--data-dir DIR | --config FILE] [--json]

Show the running server's status, through the admin socket in its data folder
(DIR/admin/kms.sock): the readiness checks of /readyz (store writable, key protector
open, audit log appendable), the version and uptime, the listeners with their open
connections, object counts by type and stored state, the key protector and its KEKs,
the store (the folder's LevelDB, or the cluster's PostgreSQL database and this node's
id: counts and audit head are then the cluster's), the audit log head and the
unwrapped-key cache.

Options:
  --data-dir DIR   the server's data folder (KMS_DATA_DIR; default ./kms-data)
  --config FILE    the server's config file (KMS_CONFIG), for its data folder
  --json           print the status as JSON
  -h, --help       this help

Exit codes: 0 the server runs and is ready, 1 it runs but is not ready, 2 usage error,
3 no server answers on the admin socket.`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Ask the server at `socketPath` for its status; undefined when no server listens there. */
export async function requestStatus(socketPath: string, timeoutMs = 30_000): Promise<ServerStatus | undefined> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the server did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => sock.write(JSON.stringify({ op: 'status' }) + '\n'));
    sock.on('data', (d: Buffer) => (buf += d.toString('utf8')));
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') resolve(undefined);
      else reject(e);
    });
    sock.once('end', () => {
      clearTimeout(timer);
      try {
        const r = JSON.parse(buf.trim()) as { ok: boolean; status?: ServerStatus; error?: string };
        if (!r.ok || !r.status) reject(new Error(r.error ?? 'the server refused'));
        else resolve(r.status);
      } catch {
        reject(new Error('the server sent no status (an older server?)'));
      }
    });
  });
}

export const statusCommand: Command = {
  name: 'status',
  summary: "show the running server's readiness, listeners, objects and KEKs",
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseCli(argv, OPTIONS, { positionals: false });
    const config = cliConfig(values);
    let status: ServerStatus | undefined;
    try {
      status = await requestStatus(adminSocketPath(config.dataDir));
    } catch (e) {
      io.stderr.write(`kms status: ${(e as Error).message}\n`);
      return ExitCode.Io;
    }
    if (!status) {
      io.stderr.write(`kms status: no server is running on ${config.dataDir} (no admin socket answers)\n`);
      return ExitCode.Io;
    }
    io.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
    return status.readiness.ready ? ExitCode.Ok : ExitCode.InvalidInput;
  },
};
