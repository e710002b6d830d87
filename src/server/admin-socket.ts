/**
 * The running server's admin socket: a Unix-domain socket at DIR/admin/kms.sock through
 * which `kms backup` asks the server for a backup (the server holds the LevelDB lock, so
 * only it can read a consistent snapshot).
 *
 * Who can reach it: the socket is in DIR/admin, a folder of mode 0700, and is itself mode
 * 0600; so only the server's own user (and root) can connect — the same people who can
 * already read DIR/master.key. It is never on the network and needs no other credential.
 * What it can do: hand out a backup, which is encrypted to the recovery keys in
 * DIR/recovery.json (the server cannot read it either), rotate the KEK (admin-rotation.ts),
 * migrate the key protector (admin-migration.ts), answer status and the read-only queries of
 * src/admin/queries.ts. Each change is written to the audit log (client "local-operator").
 * The client side of every request is src/admin/ (client.ts, requests.ts).
 *
 * Protocol: the client sends one JSON line {"op":"backup"}. The server answers one JSON
 * line, {"ok":true,"objects":N,"auditEntries":M} or {"ok":false,"error":"…"}, then the
 * backup file as segments (u32 BE length, bytes), then a zero length, then a JSON line with
 * the summary. A connection that ends without the zero length is a failed backup.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ServerServices } from '../operations/context.js';
import { BackupError } from '../backup/errors.js';
import { takeBackup } from '../backup/take.js';
import { FolderError } from '../folder/errors.js';
import { adminSocketPath } from '../folder/layout.js';
import { isRotationRequest, serveRotation } from './admin-rotation.js';
import { isMigrationRequest, serveMigration, type LiveKeys } from './admin-migration.js';

/** A read-only query served on the admin socket (src/admin/queries.ts): it answers on `sock` and ends it. */
export type AdminHandler = (sock: Socket, request: Record<string, unknown>) => Promise<void>;

export interface AdminSocket {
  readonly path: string;
  close(): Promise<void>;
}

function write(sock: Socket, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) return reject(new Error('the client went away'));
    sock.write(b, (e) => (e ? reject(e) : resolve()));
  });
}

/**
 * `status` (optional): answers {"op":"status"} with one JSON line, the running server's
 * status for `kms status` (src/cli/status.ts).
 */
export async function startAdminSocket(
  dataDir: string,
  services: ServerServices,
  log: Logger,
  live?: LiveKeys,
  status?: () => Promise<unknown>,
  queries?: Readonly<Record<string, AdminHandler>>,
): Promise<AdminSocket> {
  const path = adminSocketPath(dataDir);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  // We hold the database lock, so a socket file here is a stale one from a crash.
  rmSync(path, { force: true });
  let n = 0;
  const active = new Set<Socket>();
  const server: Server = createServer((sock) => {
    active.add(sock);
    sock.on('close', () => active.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0 && buf.length > 4096) return sock.destroy();
      if (nl < 0) return;
      if (nl > 4096) return sock.destroy();
      sock.off('data', onData);
      sock.pause();
      // What follows the request line (a query's body, admin/queries.ts) is read by its handler.
      if (nl + 1 < buf.length) sock.unshift(buf.subarray(nl + 1));
      void serve(sock, buf.subarray(0, nl).toString('utf8'), ++n);
    };
    sock.on('data', onData);
  });
  const serve = async (sock: Socket, request: string, id: number) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(request);
    } catch {
      parsed = undefined;
    }
    const op = (parsed as { op?: unknown } | undefined)?.op;
    if (isRotationRequest(parsed)) {
      sock.resume();
      await serveRotation(sock, parsed, services, dataDir, log);
      return;
    }
    if (op === 'status' && status) {
      try {
        sock.end(JSON.stringify({ ok: true, status: await status() }) + '\n');
      } catch (e) {
        log.error({ err: e }, 'status through the admin socket failed');
        sock.end(JSON.stringify({ ok: false, error: `status failed: ${(e as Error).message}` }) + '\n');
      }
      return;
    }
    const query = typeof op === 'string' && queries && Object.hasOwn(queries, op) ? queries[op] : undefined;
    if (query) {
      sock.resume();
      await query(sock, parsed as Record<string, unknown>);
      return;
    }
    if (isMigrationRequest(parsed)) {
      sock.resume();
      await serveMigration(sock, parsed, services, live, dataDir, log);
      return;
    }
    if (op !== 'backup') {
      sock.end(JSON.stringify({ ok: false, error: 'unknown request' }) + '\n');
      return;
    }
    const started = Date.now();
    try {
      await services.audit?.commitAlone([{ kind: 'op', time: new Date(services.clock()).toISOString(), ref: `admin/${id}`, client: 'local-operator', op: 'Backup', status: 'Success' }]);
      let announced = false;
      const summary = await takeBackup({ store: services.store, protector: services.protector, dataDir, source: { taken: 'running server', server: services.info.version } }, async (b) => {
        if (!announced) {
          announced = true;
          await write(sock, Buffer.from(JSON.stringify({ ok: true }) + '\n'));
        }
        const len = Buffer.alloc(4);
        len.writeUInt32BE(b.length);
        await write(sock, Buffer.concat([len, b]));
      });
      await write(sock, Buffer.alloc(4));
      sock.end(JSON.stringify(summary) + '\n');
      log.info(
        { backup: { id: summary.id, objects: summary.objects, auditEntries: summary.auditEntries, bytes: summary.bytes, ms: Date.now() - started } },
        'backup taken through the admin socket',
      );
    } catch (e) {
      log.error({ err: e }, 'backup through the admin socket failed');
      const msg = e instanceof BackupError || e instanceof FolderError ? e.message : `backup failed: ${(e as Error).message}`;
      // Before the first segment the client reads this line; after, the missing end marker tells it.
      sock.end(JSON.stringify({ ok: false, error: msg }) + '\n');
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return {
    path,
    async close() {
      for (const s of active) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
    },
  };
}
