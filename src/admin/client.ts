/**
 * The client side of the admin socket (DATA/admin/kms.sock, served by src/server/admin-socket.ts):
 * one connection per request, a JSON request line, then JSON lines back. Every admin command
 * that talks to a running server (backup, KEK rotation, protector migration: requests.ts; status,
 * queries) goes through here.
 */
import { createConnection, type Socket } from 'node:net';

/** Connect to the admin socket at `path`; undefined when no server listens there (no socket file, or refused). */
export function connectAdmin(path: string): Promise<Socket | undefined> {
  return new Promise<Socket | undefined>((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? resolve(undefined) : reject(e)));
  });
}

/**
 * Send `request` and read JSON lines: `{"progress":…}` lines go to `onProgress` until one
 * `{"ok":true,"result":…}` (resolved) or `{"ok":false,"error":…}` (thrown). Undefined when no
 * server listens at `path`; `body`: lines sent after the request; `what` names the job in the error for a connection that ends first.
 */
export async function requestWithProgress<R, P>(path: string, request: object, what: string, onProgress?: (p: P) => void, body?: readonly string[]): Promise<R | undefined> {
  const sock = await connectAdmin(path);
  if (!sock) return undefined;
  sock.write(JSON.stringify(request) + '\n');
  // A body after the request line (JSON lines, e.g. anchor lines for audit-verify).
  for (const l of body ?? []) sock.write(l + '\n');
  let buf = '';
  try {
    for await (const d of sock as AsyncIterable<Buffer>) {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as { progress?: P; ok?: boolean; error?: string; result?: R };
        buf = buf.slice(nl + 1);
        if (msg.progress) onProgress?.(msg.progress);
        else if (msg.ok === true && msg.result) return msg.result;
        else if (msg.ok === false) throw new Error(`the server refused: ${msg.error ?? 'unknown error'}`);
      }
    }
  } finally {
    sock.destroy();
  }
  throw new Error(`the server closed the connection before the ${what} finished`);
}
