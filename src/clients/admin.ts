/**
 * `kms certs …` on a running server: handlers for its admin socket (src/server/admin-socket.ts;
 * the server's own user only), registered beside the other queries. Each answers one JSON line,
 * {"ok":true,"result":…} or {"ok":false,"code":ClientsErrorCode|"ERROR","error":"…"}:
 *
 *   {"op":"certs-list"}                                          -> {certificates:[ClientCertificate]}
 *   {"op":"certs-expiring","days":N?}                            -> {days, certificates:[…]}
 *   {"op":"certs-issue","name","spki":base64 DER,"days"?,"force"?} -> {pem, record, superseded}
 *   {"op":"certs-sign","name","days"?,"force"?,"overrideCn"?}
 *     then one line {"csr":"PEM text"} (a CSR may not fit the 4 KiB request line)
 *                                                                -> {pem, record, superseded}
 *   {"op":"certs-revoke","target","reason"?}                     -> {revoked:[…]}
 *   {"op":"certs-reload"}                                        -> TlsReloaded (tls-reload.ts)
 *
 * Changes are audited by the registry as client "local-operator" (who can reach the socket).
 * `kms certs issue` sends the public key only: the private key is made, and stays, where the
 * command runs.
 */
import { createPublicKey } from 'node:crypto';
import type { Socket } from 'node:net';
import type { AdminHandler } from '../server/admin-socket.js';
import { connectAdmin } from '../admin/client.js';
import { ClientsError } from './errors.js';
import { isRevocationReason } from './crl.js';
import type { ClientRegistry, Issued } from './registry.js';
import type { TlsReloaded } from './tls-reload.js';

export const ADMIN_ACTOR = 'local-operator';

/** Longest body line (a CSR in PEM) accepted after a certs-sign request. */
export const MAX_CSR_LINE = 64 * 1024;

export interface ClientAdminSources {
  readonly registry: ClientRegistry;
  readonly reloadTls: () => Promise<TlsReloaded>;
  readonly log: { error(obj: object, msg: string): void };
}

function answer(sock: Socket, o: unknown): void {
  if (!sock.destroyed) sock.end(JSON.stringify(o) + '\n');
}

function optInt(req: Record<string, unknown>, k: string): number | undefined {
  const v = req[k];
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v)) throw new ClientsError('BAD_REQUEST', `bad ${k}`);
  return v as number;
}

function str(req: Record<string, unknown>, k: string, max = 1024): string {
  const v = req[k];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new ClientsError('BAD_REQUEST', `bad ${k}`);
  return v;
}

/** One JSON line from `sock` after the request line. */
function readLine(sock: Socket, max: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (e: Error | undefined, v?: unknown) => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      if (e) reject(e);
      else resolve(v);
    };
    const onEnd = () => done(new ClientsError('BAD_REQUEST', 'the request body ended early'));
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        try {
          done(undefined, JSON.parse(buf.slice(0, nl)));
        } catch {
          done(new ClientsError('BAD_REQUEST', 'the request body is not JSON'));
        }
      } else if (buf.length > max) {
        done(new ClientsError('BAD_REQUEST', `the request body is over ${max} bytes`));
      }
    };
    sock.on('data', onData);
    sock.once('end', onEnd);
  });
}

const issued = (r: Issued) => ({ pem: r.certificate.pem, record: r.record, superseded: r.superseded });

export function clientAdminHandlers(s: ClientAdminSources): Record<string, AdminHandler> {
  const handle =
    (what: string, f: (sock: Socket, req: Record<string, unknown>) => Promise<unknown>): AdminHandler =>
    async (sock, req) => {
      try {
        answer(sock, { ok: true, result: await f(sock, req) });
      } catch (e) {
        if (e instanceof ClientsError) return answer(sock, { ok: false, code: e.code, error: e.message });
        s.log.error({ err: e }, `${what} through the admin socket failed`);
        answer(sock, { ok: false, code: 'ERROR', error: (e as Error).message });
      }
    };
  return {
    'certs-list': handle('certs list', async () => {
      await s.registry.reload();
      return { certificates: s.registry.list() };
    }),
    'certs-expiring': handle('certs expiring', async (_sock, req) => {
      await s.registry.reload();
      const days = optInt(req, 'days') ?? s.registry.settings.expiryWarningDays;
      return { days, certificates: s.registry.expiring(days) };
    }),
    'certs-issue': handle('certs issue', async (_sock, req) => {
      let publicKey;
      try {
        publicKey = createPublicKey({ key: Buffer.from(str(req, 'spki', 8192), 'base64'), format: 'der', type: 'spki' });
      } catch (e) {
        if (e instanceof ClientsError) throw e;
        throw new ClientsError('BAD_REQUEST', 'spki is not a public key');
      }
      const days = optInt(req, 'days');
      return issued(await s.registry.issue({ name: str(req, 'name', 64), publicKey, ...(days !== undefined && { days }), force: req.force === true, actor: ADMIN_ACTOR }));
    }),
    'certs-sign': handle('certs sign', async (sock, req) => {
      const name = str(req, 'name', 64);
      const days = optInt(req, 'days');
      const body = (await readLine(sock, MAX_CSR_LINE)) as { csr?: unknown } | undefined;
      if (typeof body?.csr !== 'string') throw new ClientsError('BAD_REQUEST', 'no csr in the request body');
      return issued(await s.registry.sign({ name, csr: body.csr, ...(days !== undefined && { days }), force: req.force === true, overrideCn: req.overrideCn === true, actor: ADMIN_ACTOR }));
    }),
    'certs-revoke': handle('certs revoke', async (_sock, req) => {
      const reason = req.reason;
      if (reason !== undefined && !isRevocationReason(reason)) throw new ClientsError('BAD_REQUEST', `unknown revocation reason ${JSON.stringify(reason)}`);
      return { revoked: await s.registry.revoke({ target: str(req, 'target', 128), ...(reason !== undefined && { reason }), actor: ADMIN_ACTOR }) };
    }),
    'certs-reload': handle('certs reload', async () => s.reloadTls()),
  };
}

/** A running server's answer: its result, or its refusal with the registry's code. */
export type AdminAnswer<R> = { readonly ok: true; readonly result: R } | { readonly ok: false; readonly code: string; readonly error: string };

/** Send one certs-* request (and body lines) to the admin socket at `path`; undefined when no server listens there. */
export async function askServer<R>(path: string, request: object, body: readonly string[] = []): Promise<AdminAnswer<R> | undefined> {
  const sock = await connectAdmin(path);
  if (!sock) return undefined;
  sock.write(JSON.stringify(request) + '\n');
  for (const l of body) sock.write(l + '\n');
  let buf = '';
  try {
    for await (const d of sock as AsyncIterable<Buffer>) {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) return JSON.parse(buf.slice(0, nl)) as AdminAnswer<R>;
    }
  } finally {
    sock.destroy();
  }
  throw new Error('the server closed the admin connection without an answer');
}
