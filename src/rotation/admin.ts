/**
 * The admin socket's rotation query (src/server/admin-socket.ts; the server's own user only):
 *
 *   {"op":"rotation"}            -> {"ok":true,"result":RotationStatus}
 *   {"op":"rotation-run"}        -> {"ok":true,"result":RunRecord}      (a run now, under the lease)
 *
 * `kms keys rotation` (src/cli/keys.ts) prints it; the web console can call the same query.
 */
import type { Socket } from 'node:net';
import type { AdminHandler } from '../server/admin-socket.js';
import type { RotationScheduler } from './scheduler.js';

function answer(sock: Socket, o: unknown): void {
  if (!sock.destroyed) sock.end(JSON.stringify(o) + '\n');
}

export function rotationQueries(scheduler: RotationScheduler): Record<string, AdminHandler> {
  return {
    rotation: async (sock) => {
      try {
        answer(sock, { ok: true, result: await scheduler.status() });
      } catch (e) {
        answer(sock, { ok: false, error: `rotation status failed: ${(e as Error).message}` });
      }
    },
    'rotation-run': async (sock) => {
      try {
        answer(sock, { ok: true, result: await scheduler.runOnce() });
      } catch (e) {
        answer(sock, { ok: false, error: `rotation run failed: ${(e as Error).message}` });
      }
    },
  };
}
