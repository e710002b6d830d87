/**
 * `kms protector migrate` on a running server, through its admin socket (the server's own
 * user only, admin-socket.ts). The server migrates itself (src/folder/protector-migration.ts)
 * and keeps serving; the client (src/admin/requests.ts) gets progress and the result as JSON
 * lines, as for rotate-kek (admin-rotation.ts):
 *
 *   request:  {"op":"protector-migrate","to":{hsm section},"pin":"…"}   (the PIN the CLI resolved)
 *   replies:  {"progress":{…}} …  then {"ok":true,"result":{…}} or {"ok":false,"error":"…"}
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { HsmConfig } from '../config/config.js';
import type { AuditTrail } from '../audit/trail.js';
import type { ServerServices } from '../operations/context.js';
import { migrateProtector } from '../folder/protector-migration.js';
import type { SwitchableAuditKey, SwitchableProtector } from '../folder/switchable.js';

export interface MigrationRequest {
  readonly op: 'protector-migrate';
  readonly to: HsmConfig;
  readonly pin: string;
}

/** What a running server hands the admin socket so a migration can repoint it. */
export interface LiveKeys {
  readonly protector: SwitchableProtector;
  readonly auditKey: SwitchableAuditKey;
}

export function isMigrationRequest(r: unknown): r is MigrationRequest {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  const to = o.to as Record<string, unknown> | undefined;
  return (
    o.op === 'protector-migrate' &&
    typeof o.pin === 'string' &&
    typeof to === 'object' &&
    to !== null &&
    typeof to.module === 'string' &&
    (typeof to.tokenLabel === 'string' || typeof to.slot === 'number')
  );
}

let running = false;

export async function serveMigration(sock: Socket, req: MigrationRequest, services: ServerServices, live: LiveKeys | undefined, dataDir: string, log: Logger): Promise<void> {
  const line = (o: unknown) => {
    if (!sock.destroyed) sock.write(JSON.stringify(o) + '\n');
  };
  if (!live || !services.audit)
    return void sock.end(JSON.stringify({ ok: false, error: 'this server cannot migrate while running: stop it and run kms protector migrate on the folder' }) + '\n');
  if (running) return void sock.end(JSON.stringify({ ok: false, error: 'a protector migration is already running' }) + '\n');
  running = true;
  let last = 0;
  try {
    const {
      newProtector: _p,
      newAuditKey: _k,
      ...result
    } = await migrateProtector({
      dataDir,
      store: services.store,
      protector: live.protector.current,
      auditKey: live.auditKey.current,
      to: { module: req.to.module, ...(req.to.tokenLabel !== undefined ? { tokenLabel: req.to.tokenLabel } : { slot: req.to.slot! }) },
      pin: req.pin,
      live: { ...live, trail: services.audit as AuditTrail },
      actor: 'local-operator',
      log,
      onProgress: (p) => {
        if (Date.now() - last < 500 && p.scanned < p.total) return;
        last = Date.now();
        line({ progress: p });
      },
    });
    sock.end(JSON.stringify({ ok: true, result }) + '\n');
  } catch (e) {
    log.error({ err: e }, 'protector migration through the admin socket failed');
    sock.end(JSON.stringify({ ok: false, error: (e as Error).message }) + '\n');
  } finally {
    running = false;
  }
}
