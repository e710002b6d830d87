/**
 * KEK rotation on a running server, through its admin socket (admin-socket.ts: a Unix socket
 * reachable only by the server's own user). The server runs `rotateKek` (src/folder/
 * kek-rotation.ts) itself and keeps serving; the client (src/admin/requests.ts) gets progress
 * and the result as JSON lines:
 *
 *   request:  {"op":"rotate-kek","destroyOld":false,"label":"kms-kek-…"}      (label optional;
 *             over a cluster's store, "forgetNodes":["host:/dir",…] with destroyOld)
 *   replies:  {"progress":{"pass":1,"scanned":256,"total":1000,"rewrapped":256}}   (any number)
 *             {"ok":true,"result":{previous,current,rewrapped,scanned,passes,destroyed}}
 *          or {"ok":false,"error":"…"}
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ServerServices } from '../operations/context.js';
import { rotateKek } from '../folder/kek-rotation.js';

export interface RotationRequest {
  readonly op: 'rotate-kek';
  readonly destroyOld?: boolean;
  readonly label?: string;
  readonly forgetNodes?: readonly string[];
}

export function isRotationRequest(r: unknown): r is RotationRequest {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    o.op === 'rotate-kek' &&
    (o.destroyOld === undefined || typeof o.destroyOld === 'boolean') &&
    (o.label === undefined || (typeof o.label === 'string' && /^[\x21-\x7e]{1,64}$/.test(o.label))) &&
    (o.forgetNodes === undefined || (Array.isArray(o.forgetNodes) && o.forgetNodes.length <= 64 && o.forgetNodes.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 4096)))
  );
}

let running = false;

/** Serve one rotation request on an admin-socket connection. One rotation at a time. */
export async function serveRotation(sock: Socket, req: RotationRequest, services: ServerServices, dataDir: string, log: Logger): Promise<void> {
  const line = (o: unknown) => {
    if (!sock.destroyed) sock.write(JSON.stringify(o) + '\n');
  };
  if (running) {
    sock.end(JSON.stringify({ ok: false, error: 'a KEK rotation is already running' }) + '\n');
    return;
  }
  running = true;
  let last = 0;
  try {
    const result = await rotateKek({
      store: services.store,
      protector: services.protector,
      dataDir,
      ...(services.audit && { audit: services.audit }),
      ...(req.destroyOld !== undefined && { destroyOld: req.destroyOld }),
      ...(req.label !== undefined && { label: req.label }),
      ...(req.forgetNodes !== undefined && { forgetNodes: req.forgetNodes }),
      actor: 'local-operator',
      onProgress: (p) => {
        if (Date.now() - last < 500 && p.scanned < p.total) return;
        last = Date.now();
        line({ progress: p });
      },
    });
    log.info(
      { kekRotation: { previous: result.previous, current: result.current, rewrapped: result.rewrapped, destroyed: result.destroyed, destroyRefused: result.destroyRefused } },
      'KEK rotated through the admin socket',
    );
    sock.end(JSON.stringify({ ok: true, result }) + '\n');
  } catch (e) {
    log.error({ err: e }, 'KEK rotation through the admin socket failed');
    sock.end(JSON.stringify({ ok: false, error: (e as Error).message }) + '\n');
  } finally {
    running = false;
  }
}
