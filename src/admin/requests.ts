/**
 * The client side of the admin socket's jobs (served by src/server/admin-socket.ts and its
 * admin-rotation.ts / admin-migration.ts): a backup, a KEK rotation, a protector migration
 * on the running server. Each resolves undefined when no server listens at `path` (no socket
 * file, or connection refused): the caller then works on the stopped folder itself.
 */
import type { HsmConfig } from '../config/config.js';
import type { BackupSummary } from '../backup/content.js';
import { BackupError } from '../backup/errors.js';
import type { RewrapProgress, RotationResult } from '../folder/kek-rotation.js';
import type { MigrationResult } from '../folder/protector-migration.js';
import { connectAdmin, requestWithProgress } from './client.js';

/** Ask the server at `path` to rotate its KEK (request: {"op":"rotate-kek","destroyOld":…,"label":…}). */
export async function requestRotation(
  path: string,
  req: { readonly destroyOld?: boolean; readonly label?: string; readonly forgetNodes?: readonly string[] },
  onProgress?: (p: RewrapProgress) => void,
): Promise<RotationResult | undefined> {
  return requestWithProgress<RotationResult, RewrapProgress>(path, { op: 'rotate-kek', ...req }, 'rotation', onProgress);
}

/** Ask the server at `path` to migrate to the token `to`, with the PIN the CLI resolved (never the config's PIN fields). */
export async function requestMigration(path: string, to: HsmConfig, pin: string, onProgress?: (p: RewrapProgress) => void): Promise<MigrationResult | undefined> {
  const { pin: _pin, pinFile: _f, pinEnv: _e, ...section } = to;
  return requestWithProgress<MigrationResult, RewrapProgress>(path, { op: 'protector-migrate', to: section, pin }, 'migration', onProgress);
}

/**
 * Ask the server at `path` for a backup; `sink` gets the file's bytes. Resolves undefined
 * when no server listens there (no socket, or connection refused).
 */
export async function requestBackup(path: string, sink: (b: Buffer) => Promise<void>, onBytes?: (n: number) => void): Promise<BackupSummary | undefined> {
  const sock = await connectAdmin(path);
  if (!sock) return undefined;
  sock.write(JSON.stringify({ op: 'backup' }) + '\n');
  let buf = Buffer.alloc(0);
  let state = 'status' as 'status' | 'segments' | 'summary';
  let received = 0;
  try {
    for await (const d of sock as AsyncIterable<Buffer>) {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (state === 'status') {
          const nl = buf.indexOf(0x0a);
          if (nl < 0) break;
          const st = JSON.parse(buf.subarray(0, nl).toString('utf8')) as { ok: boolean; error?: string };
          if (!st.ok) throw new BackupError('IO', `the server refused: ${st.error ?? 'unknown error'}`);
          buf = buf.subarray(nl + 1);
          state = 'segments';
        } else if (state === 'segments') {
          if (buf.length < 4) break;
          const len = buf.readUInt32BE(0);
          if (len === 0) {
            buf = buf.subarray(4);
            state = 'summary';
            continue;
          }
          if (buf.length < 4 + len) break;
          const seg = buf.subarray(4, 4 + len);
          buf = buf.subarray(4 + len);
          received += seg.length;
          await sink(Buffer.from(seg));
          onBytes?.(received);
        } else {
          break;
        }
      }
    }
  } finally {
    sock.destroy();
  }
  if (state !== 'summary') {
    const tail = buf.toString('utf8');
    const m = /\{"ok":false,"error":(".*?")\}/.exec(tail);
    throw new BackupError('IO', m ? `the server failed the backup: ${JSON.parse(m[1]!) as string}` : 'the server closed the connection before the backup was complete');
  }
  try {
    return JSON.parse(buf.toString('utf8')) as BackupSummary;
  } catch {
    throw new BackupError('IO', 'the server sent no summary');
  }
}
