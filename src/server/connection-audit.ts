/**
 * What the listener and the sessions record below the KMIP layer: refused client
 * certificates (`auth` records with the certificate's verify error, subject, issuer and
 * fingerprint), connections dropped at a limit, request and handshake timeouts, TLS errors
 * and messages that could not be framed or decoded (`conn` records). Every event is logged
 * too.
 *
 * Drops at a limit are what a flood produces, so they are folded: the first drop of a kind
 * (operation + reason) is written at once, the further ones within `foldMs` become one
 * record with a `count` when the window closes. A flood costs at most two records a second
 * per kind, and none of it goes unrecorded.
 */
import { randomUUID } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { ServerServices } from '../operations/context.js';
import type { AuditEvent, PeerSummary } from '../audit/record.js';
import { authFailureEvent } from '../audit/request-audit.js';

/** Client-supplied strings (subject, issuer) are cut to this many characters in logs and records. */
export const MAX_PEER_STRING = 256;

function cut(s: string): string {
  return s.length > MAX_PEER_STRING ? `${s.slice(0, MAX_PEER_STRING)}…` : s;
}

function dn(name: unknown): string | undefined {
  if (!name || typeof name !== 'object') return undefined;
  const parts = Object.entries(name as Record<string, string | string[]>).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`);
  return parts.length > 0 ? cut(parts.join(', ')) : undefined;
}

/** The certificate a client presented, as logged and audited (never its key). */
export function peerSummary(cert: PeerCertificate | undefined, verifyError?: string): PeerSummary {
  const has = cert !== undefined && Object.keys(cert).length > 0;
  return {
    ...(verifyError !== undefined ? { verifyError } : {}),
    ...(has && dn(cert.subject) !== undefined ? { subject: dn(cert.subject) } : {}),
    ...(has && dn(cert.issuer) !== undefined ? { issuer: dn(cert.issuer) } : {}),
    ...(has && cert.fingerprint256 ? { fingerprint: cert.fingerprint256 } : {}),
    ...(has && cert.valid_to ? { validTo: cert.valid_to } : {}),
  };
}

interface Fold {
  readonly message: string;
  count: number;
  addrs: Set<string>;
  timer: NodeJS.Timeout;
}

export class ConnectionAudit {
  /** Audit writes in flight (awaited by `settle`). */
  private readonly writes = new Set<Promise<void>>();
  private readonly folds = new Map<string, Fold>();

  constructor(
    private readonly services: ServerServices,
    private readonly foldMs = 1000,
  ) {}

  /** Write `event`; the returned promise never rejects (AuditTrail logs a failed write). */
  write(event: AuditEvent): Promise<void> {
    const audit = this.services.audit;
    if (!audit) return Promise.resolve();
    const p = audit.commitAlone([event]).catch(() => undefined);
    this.writes.add(p);
    void p.finally(() => this.writes.delete(p));
    return p;
  }

  /** A client certificate refused (verification failed, or no identity in it). */
  refusedPeer(p: { connectionId: string; addr: string | undefined; message: string; peer: PeerSummary }): Promise<void> {
    this.services.log.warn({ conn: p.connectionId, remote: p.addr, err: p.message, peer: p.peer }, 'client certificate refused');
    return this.write({ ...authFailureEvent({ connectionId: p.connectionId, addr: p.addr, message: p.message, time: this.services.clock(), tls: true }), peer: p.peer });
  }

  /** A connection-level event with its reason, written at once. */
  event(p: { connectionId?: string; addr: string | undefined; client?: string; op: string; reason: string; message: string }): Promise<void> {
    return this.write(this.record(p.op, p.reason, p.message, p.addr, p.connectionId, p.client));
  }

  /** A connection dropped at a limit: logged, and audited folded (see the file comment). */
  dropped(addr: string | undefined, reason: string, message: string): void {
    this.services.log.warn({ remote: addr, reason, err: message }, 'connection dropped');
    const key = reason;
    const fold = this.folds.get(key);
    if (fold) {
      fold.count += 1;
      if (addr !== undefined && fold.addrs.size < 8) fold.addrs.add(addr);
      return;
    }
    void this.write(this.record('ConnectionDropped', reason, message, addr));
    const next: Fold = {
      message,
      count: 0,
      addrs: new Set(),
      timer: setTimeout(() => this.closeFold(key), this.foldMs),
    };
    next.timer.unref();
    this.folds.set(key, next);
  }

  private closeFold(key: string): void {
    const fold = this.folds.get(key);
    if (!fold) return;
    clearTimeout(fold.timer);
    this.folds.delete(key);
    if (fold.count === 0) return;
    const addrs = [...fold.addrs];
    void this.write({
      ...this.record('ConnectionDropped', key, `${fold.message} (${fold.count} more within ${this.foldMs} ms, from ${addrs.join(', ') || 'unknown'})`, addrs[0]),
      count: fold.count,
    });
  }

  private record(op: string, reason: string, message: string, addr: string | undefined, connectionId?: string, client?: string): AuditEvent {
    return {
      kind: 'conn',
      time: new Date(this.services.clock()).toISOString(),
      ref: connectionId ?? randomUUID(),
      ...(client !== undefined ? { client } : {}),
      addr,
      op,
      status: 'OperationFailed',
      reason,
      message: cut(message),
    };
  }

  /** Write the open folds now and wait for every record in flight (at shutdown). */
  async settle(): Promise<void> {
    for (const key of [...this.folds.keys()]) this.closeFold(key);
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }
}
