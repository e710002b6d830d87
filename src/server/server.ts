/**
 * The KMIP listener: node:tls with the client certificate required and verified against
 * the configured CA bundle, TLS 1.2 and 1.3 with AEAD suites only, no renegotiation, and
 * session resumption by rotated tickets (tls-policy.ts). `close()` stops accepting, lets each
 * connection finish its request in flight, then closes them.
 *
 * Connections are counted in two budgets: those still in the TLS handshake
 * (`maxHandshakes`, and `maxHandshakesPerAddress` from one address), with a deadline for the
 * whole handshake from the TCP accept; and established ones (`maxConnections`). A peer that
 * opens sockets and never finishes a handshake uses up only the first, so clients that do
 * finish theirs keep getting in. A connection over a budget is closed at once, logged and
 * audited (connection-audit.ts).
 *
 * Client certificates are verified by OpenSSL but judged here, after the handshake
 * (`rejectUnauthorized` off): Node accepts every certificate inside the handshake and only
 * reports the verify result afterwards, so it cannot fail the handshake with a reasoned alert
 * either way. Judging here lets the refusal be logged and audited with its reason and the
 * certificate's subject, issuer and fingerprint; the refused connection then gets a TLS
 * close_notify alert (not a bare TCP close), and no request of it is ever read.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { HandlerTable, ServerServices } from '../operations/context.js';
import { AuthError, principalFromCertificate, type IdentitySource } from './auth.js';
import type { ServerLimits } from './limits.js';
import { Session } from './session.js';
import { ConnectionAudit, peerSummary } from './connection-audit.js';
import { rotateTicketKeys, tlsPolicyOptions } from './tls-policy.js';
import { HandshakeGate } from './handshake-gate.js';
import type { RevocationCheck } from '../clients/deny-list.js';
import { TcpSockets } from './tcp-sockets.js';

export interface TlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

export interface KmipServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly identity: IdentitySource;
  readonly limits: ServerLimits;
  readonly services: ServerServices;
  readonly handlers: HandlerTable;
  /** Revoked client certificates, refused after the handshake (src/clients/deny-list.ts). */
  readonly revocation?: RevocationCheck;
}

/** How long a refused client gets to read our close_notify before the socket is destroyed. */
const REFUSAL_LINGER_MS = 1000;

/** The options for setSecureContext: the listener's TLS policy again, its current ticket key kept (resumption goes on). */
export function secureContextOptions(tls: TlsMaterial, ticketKeyRotationMs: number, server: { getTicketKeys(): Buffer }): SecureContextOptions {
  const policy = tlsPolicyOptions(ticketKeyRotationMs);
  return { cert: tls.cert, key: tls.key, ca: tls.ca, ...policy, ...(policy.ticketKeys !== undefined && { ticketKeys: server.getTicketKeys() }) };
}

export class KmipServer {
  private readonly server: Server;
  private readonly sessions = new Set<Session>();
  private readonly audit: ConnectionAudit;
  /** TCP connections whose TLS handshake has not finished, and their budget. */
  private readonly gate: HandshakeGate;
  /** The TCP socket under each TLS socket, for the gate. */
  private readonly tcp = new TcpSockets();
  private readonly stopRotation: () => void;
  private readonly stopRevokedWatch: (() => void) | undefined;

  constructor(private readonly opts: KmipServerOptions) {
    const { limits } = opts;
    this.audit = new ConnectionAudit(opts.services);
    this.gate = new HandshakeGate({ listener: 'kmip', limits, audit: this.audit, metrics: opts.services.metrics, established: () => this.sessions.size });
    this.server = createServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      ca: opts.tls.ca,
      requestCert: true,
      rejectUnauthorized: false, // judged in onSecure, with the reason logged and audited
      handshakeTimeout: limits.handshakeTimeoutMs,
      ...tlsPolicyOptions(limits.tlsTicketKeyRotationMs),
    });
    this.stopRotation = rotateTicketKeys(this.server, limits.tlsTicketKeyRotationMs);
    this.stopRevokedWatch = opts.revocation?.onRevoked?.(() => this.dropRevoked());
    this.server.on('connection', (raw: Socket) => this.onTcp(raw));
    this.server.on('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
    this.server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => this.onTlsClientError(err, socket));
  }

  private onTcp(raw: Socket): void {
    // Small writes (the handshake's last flight, each response) go out at once: with Nagle's
    // algorithm they wait for the peer's delayed ACK, ~40 ms per new connection.
    raw.setNoDelay(true);
    this.tcp.track(raw);
    this.gate.admit(raw);
  }

  private onTlsClientError(err: Error & { code?: string }, socket: TLSSocket): void {
    const raw = this.tcp.of(socket);
    const addr = this.gate.addressOf(raw) ?? socket.remoteAddress;
    this.gate.over(raw);
    // Node reports a handshake timeout (or failure) here but, with a listener attached,
    // leaves the socket open: a peer that never speaks TLS would hold a slot. Close it.
    socket.destroy();
    if (this.gate.closedItself(raw)) return;
    this.opts.services.metrics?.refused('kmip', err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake_timeout' : 'tls');
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
      this.audit.dropped(addr, 'HandshakeTimeout', `TLS handshake not finished within ${this.opts.limits.handshakeTimeoutMs} ms (limits.handshakeTimeoutMs)`);
    } else {
      this.audit.dropped(addr, 'TlsHandshakeFailed', `TLS handshake failed: ${err.code ?? ''} ${err.message}`.trim());
    }
  }

  private onSecure(socket: TLSSocket): void {
    this.gate.over(this.tcp.of(socket));
    const id = randomUUID();
    const { services, handlers, limits } = this.opts;
    const addr = socket.remoteAddress;
    socket.on('error', (err: Error & { code?: string }) => {
      // Any TLS error (a refused renegotiation, a bad record, an alert from the peer) leaves
      // the connection in no state worth keeping: close it.
      services.log.info({ conn: id, code: err.code, err: err.message }, 'socket error, closing connection');
      socket.destroy();
    });
    if (this.sessions.size >= limits.maxConnections) {
      services.metrics?.refused('kmip', 'connection_limit');
      this.audit.dropped(addr, 'ConnectionLimit', `${this.sessions.size} connections open, the limit (limits.maxConnections) is ${limits.maxConnections}`);
      socket.destroy();
      return;
    }
    if (!socket.authorized) {
      const cert = socket.getPeerCertificate();
      const hasCert = cert !== undefined && Object.keys(cert).length > 0;
      const verifyError = String(socket.authorizationError ?? 'UNKNOWN');
      const message = hasCert ? `client certificate refused: ${verifyError}` : 'no client certificate';
      services.metrics?.refused('kmip', 'tls');
      void this.audit.refusedPeer({ connectionId: id, addr, message, peer: peerSummary(hasCert ? cert : undefined, hasCert ? verifyError : undefined) });
      socket.end(); // close_notify; nothing the peer sends is read
      setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
      return;
    }
    // Built once per connection (each call makes a new object from the X.509 structure).
    const peer = socket.getPeerCertificate();
    const revoked = this.opts.revocation?.check(peer);
    if (revoked) {
      services.metrics?.refused('kmip', 'revoked');
      void this.audit.refusedPeer({ connectionId: id, addr, message: revoked, peer: peerSummary(peer, 'CERT_REVOKED') });
      socket.end(); // close_notify; nothing the peer sends is read
      setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
      return;
    }
    let principal;
    let refusal: Promise<void> | undefined;
    try {
      principal = principalFromCertificate(peer, this.opts.identity);
      services.log.info({ conn: id, remote: addr, principal: principal.id, tls: socket.getProtocol(), resumed: socket.isSessionReused() }, 'connection');
    } catch (e) {
      principal = e instanceof AuthError ? e : new AuthError(String(e));
      refusal = this.audit.refusedPeer({ connectionId: id, addr, message: principal.message, peer: peerSummary(peer) });
      services.metrics?.refused('kmip', 'identity');
    }
    const session = new Session(id, socket, principal, services, handlers, limits, this.audit, refusal);
    this.sessions.add(session);
    services.metrics?.connectionOpened('kmip');
    socket.on('close', () => {
      this.sessions.delete(session);
      services.metrics?.connectionClosed('kmip');
    });
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** New handshakes use `tls` (certificate renewal without downtime); open connections keep theirs. */
  setTls(tls: TlsMaterial): void {
    this.server.setSecureContext(secureContextOptions(tls, this.opts.limits.tlsTicketKeyRotationMs, this.server));
  }

  get connections(): number {
    return this.sessions.size;
  }

  /** Connections still in the TLS handshake. */
  get handshaking(): number {
    return this.gate.size;
  }

  /**
   * The deny list changed: close the open connections whose certificate is now revoked (each is
   * logged, audited and counted like a refusal at the handshake). A request in flight is answered
   * first; nothing more is read from the connection.
   */
  private dropRevoked(): void {
    const check = this.opts.revocation;
    if (!check) return;
    for (const s of this.sessions) {
      const why = check.check(s.peerCertificate());
      if (!why) continue;
      this.opts.services.metrics?.refused('kmip', 'revoked');
      void this.audit.refusedPeer({ connectionId: s.id, addr: s.remoteAddress, message: `open connection closed: ${why}`, peer: peerSummary(s.peerCertificate(), 'CERT_REVOKED') });
      void s.shutdown();
    }
  }

  /** Stop accepting, finish in-flight requests, close every connection. */
  async close(): Promise<void> {
    this.stopRevokedWatch?.();
    this.stopRotation();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.gate.closeAll();
    await Promise.all([...this.sessions].map((s) => s.shutdown()));
    await closed;
    await this.audit.settle();
  }
}
