/**
 * The KMIP listener: node:tls with the client certificate required and verified against
 * the configured CA bundle, TLS 1.2 and 1.3 only, a handshake timeout and a connection cap.
 * `close()` stops accepting, lets each connection finish its request in flight, then
 * closes them.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { HandlerTable, ServerServices } from '../operations/context.js';
import { AuthError, principalFromCertificate, type IdentitySource } from './auth.js';
import type { ServerLimits } from './limits.js';
import { Session } from './session.js';
import { authFailureEvent } from '../audit/request-audit.js';

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
}

export class KmipServer {
  private readonly server: Server;
  private readonly sessions = new Set<Session>();
  /** Audit writes for refused handshakes still in flight (awaited by close). */
  private readonly refusals = new Set<Promise<void>>();
  /** Peer addresses by raw socket: a failed handshake's TLS socket may no longer know it. */
  private readonly peers = new WeakMap<object, string>();

  constructor(private readonly opts: KmipServerOptions) {
    const { services, limits } = opts;
    this.server = createServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      ca: opts.tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      handshakeTimeout: limits.handshakeTimeoutMs,
    });
    this.server.maxConnections = limits.maxConnections;
    this.server.on('secureConnection', (socket: TLSSocket) => this.onConnection(socket));
    this.server.on('connection', (raw: { remoteAddress?: string }) => {
      if (raw.remoteAddress) this.peers.set(raw, raw.remoteAddress);
    });
    this.server.on('tlsClientError', (err, socket) => {
      const remote = socket.remoteAddress ?? this.peers.get((socket as unknown as { _parent?: object })._parent ?? socket);
      services.log.warn({ remote, err: err.message }, 'TLS handshake refused');
      services.metrics?.refused('kmip', 'tls');
      if (services.audit) {
        const event = authFailureEvent({ connectionId: randomUUID(), addr: remote, message: err.message, time: services.clock(), tls: true });
        const p = services.audit.commitAlone([event]).catch(() => undefined); // nothing to answer; AuditTrail logged a failure
        this.refusals.add(p);
        void p.finally(() => this.refusals.delete(p));
      }
      // Node reports a handshake timeout (or failure) here but, with a listener attached,
      // leaves the socket open: a peer that never speaks TLS would hold a connection slot
      // and block shutdown. Close it.
      socket.destroy();
    });
  }

  private onConnection(socket: TLSSocket): void {
    const id = randomUUID();
    const { services, handlers, limits } = this.opts;
    let principal;
    try {
      principal = principalFromCertificate(socket.getPeerCertificate(), this.opts.identity);
    } catch (e) {
      principal = e instanceof AuthError ? e : new AuthError(String(e));
      services.log.warn({ conn: id, remote: socket.remoteAddress, err: principal.message }, 'client authentication failed');
      services.metrics?.refused('kmip', 'identity');
    }
    if (!(principal instanceof Error)) {
      services.log.info({ conn: id, remote: socket.remoteAddress, principal: principal.id, tls: socket.getProtocol() }, 'connection');
    }
    const session = new Session(id, socket, principal, services, handlers, limits);
    this.sessions.add(session);
    services.metrics?.connectionOpened('kmip');
    socket.on('error', (err) => services.log.debug({ conn: id, err: err.message }, 'socket error'));
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

  get connections(): number {
    return this.sessions.size;
  }

  /** Stop accepting, finish in-flight requests, close every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.sessions].map((s) => s.shutdown()));
    await closed;
    await Promise.all([...this.refusals]);
  }
}
