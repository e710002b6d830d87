/**
 * The server's HTTPS listener (`--https-port`, default 5697): KMIP over HTTPS, health and
 * metrics on one port.
 *
 *   POST /kmip     a KMIP request message in TTLV (application/octet-stream), KMIP XML
 *                  (text/xml, application/xml) or KMIP JSON (application/json); the reply is
 *                  in the same encoding. Mutual TLS: the client certificate must chain to the
 *                  configured CA and its identity is taken exactly as on the KMIP port, so the
 *                  same principals, owners and grants apply.
 *   GET /livez     200 while the process serves.
 *   GET /readyz    200 when the store is writable, the protector open and the audit log
 *                  appendable, else 503 (JSON body with each check).
 *   GET /version   the server's vendor, product, version and KMIP versions (JSON).
 *   GET /metrics   Prometheus text format, if the configured access rule allows the caller.
 *   GET /crl       the client-issuing CA's CRL (DER, application/pkix-crl), to anyone: a CRL is
 *                  signed and public by design (src/clients/crl.ts, docs/clients-lifecycle.md).
 *   /ui/           the administrators' web console (src/http/ui/console.ts, docs/console.md).
 *
 * TLS asks every client for a certificate but does not refuse a connection without one, so
 * load balancers can probe /livez and /readyz; /kmip (and /metrics under the `mtls` rule)
 * require a verified client certificate. A certificate the client registry records as revoked
 * is refused right after the handshake (close_notify, logged, audited; src/clients/deny-list.ts).
 *
 * Transport errors are HTTP statuses (400 bad header, 401 no verified client certificate,
 * 404, 405, 406 Accept excludes the request's encoding, 411 no Content-Length, 413 body
 * over limits.maxMessageBytes, 415 other Content-Type); everything about the message itself
 * is a KMIP result in a 200 reply (an undecodable message is Invalid Message, as on the
 * KMIP port).
 *
 * Limits (the same named limits as the KMIP port, counted for this listener apart from it):
 * limits.maxConnections (established connections), limits.maxHandshakes and
 * limits.maxHandshakesPerAddress (connections still in the TLS handshake, all and from one
 * address), limits.handshakeTimeoutMs (the whole handshake from the TCP accept); a
 * connection over one is closed at once, logged, audited (ConnectionDropped, folded as on
 * the KMIP port) and counted in kms_connection_refusals_total{transport="https"};
 * limits.idleTimeoutMs (keep-alive and whole-request timeout),
 * limits.maxMessageBytes (body), limits.maxDepth and limits.maxItems (after decoding).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { readBoundedBody } from './body.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { rotateTicketKeys, tlsPolicyOptions } from '../server/tls-policy.js';
import { HandshakeGate } from '../server/handshake-gate.js';
import type { HandlerTable, ServerServices } from '../operations/context.js';
import { dispatch, messageFailure } from '../operations/dispatcher.js';
import { ResultReason } from '../kmip/generated/enums.gen.js';
import { peekVersion } from '../kmip/messages.js';
import { TtlvError } from '../ttlv/errors.js';
import { KmipEncodingError } from '../kmip/encoding-errors.js';
import type { TtlvNode } from '../ttlv/node.js';
import { authFailureEvent } from '../audit/request-audit.js';
import { AuthError, principalFromCertificate, type IdentitySource } from '../server/auth.js';
import type { ServerLimits } from '../server/limits.js';
import type { TlsMaterial } from '../server/server.js';
import { acceptAllows, decodeBody, encodeBody, encodingOfContentType, MEDIA_TYPE, type KmipEncoding } from './encodings.js';
import { checkReadiness, type HealthSources } from './health.js';
import type { KmsMetrics, RefusalReason } from './metrics.js';
import { ConnectionAudit, peerSummary } from '../server/connection-audit.js';
import { secureContextOptions } from '../server/server.js';
import type { RevocationCheck } from '../clients/deny-list.js';
import type { ConsoleApp } from './ui/console.js';

/** Who may read /metrics. */
export type MetricsAccess = { readonly kind: 'loopback' } | { readonly kind: 'token'; readonly token: string } | { readonly kind: 'mtls'; readonly identities: readonly string[] };

export interface HttpsFaceOptions {
  readonly host: string;
  /** 0: an ephemeral port (the config layer turns the listener off before it gets here). */
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly identity: IdentitySource;
  readonly limits: ServerLimits;
  readonly services: ServerServices;
  readonly handlers: HandlerTable;
  readonly health: HealthSources;
  readonly metrics?: KmsMetrics;
  readonly metricsAccess: MetricsAccess;
  /** Revoked client certificates, refused after the handshake (src/clients/deny-list.ts). */
  readonly revocation?: RevocationCheck;
  /** GET /crl: the CRL's DER, undefined when there is none (no CA in the data folder). */
  readonly crl?: () => Promise<Uint8Array | undefined>;
  /** The web console at /ui/ (src/http/ui/console.ts); absent: /ui/ is 404. */
  readonly console?: ConsoleApp;
}

/** How long close() waits for requests in flight before it cuts their connections. */
export const CLOSE_GRACE_MS = 10_000;

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

class HttpStatus extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The TCP socket under a server-side TLS socket. */
function rawOf(socket: TLSSocket): object {
  return (socket as unknown as { _parent?: object })._parent ?? socket;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class HttpsFace {
  private readonly server: Server;
  private readonly sockets = new Set<TLSSocket>();
  private inFlight = 0;
  private idle: (() => void) | undefined;
  /** Per connection: an id for the log and audit trail, and the requests served on it. */
  private readonly conns = new WeakMap<object, { id: string; requests: number }>();
  private closing = false;
  private readonly stopRotation: () => void;
  private readonly stopRevokedWatch: (() => void) | undefined;
  /** Requests in flight per connection (a revoked connection closes once its last one is answered). */
  private readonly busy = new WeakMap<object, number>();
  private readonly tokenDigest: Buffer | undefined;
  /** TCP connections whose TLS handshake has not finished: the KMIP port's budgets (handshake-gate.ts). */
  private readonly gate: HandshakeGate;
  private readonly audit: ConnectionAudit;
  /** Connections refused after the handshake (a revoked certificate): whatever they sent is not served. */
  private readonly refusedSockets = new WeakSet<object>();

  constructor(private readonly opts: HttpsFaceOptions) {
    const { limits } = opts;
    this.audit = new ConnectionAudit(opts.services);
    this.gate = new HandshakeGate({ listener: 'https', limits, audit: this.audit, metrics: opts.metrics, established: () => this.sockets.size });
    this.server = createServer(
      {
        cert: opts.tls.cert,
        key: opts.tls.key,
        ca: opts.tls.ca,
        requestCert: true,
        rejectUnauthorized: false,
        // The KMIP port's policy: TLS 1.2/1.3 AEAD suites, no renegotiation, rotated tickets.
        ...tlsPolicyOptions(limits.tlsTicketKeyRotationMs),
        handshakeTimeout: limits.handshakeTimeoutMs,
      },
      (req, res) => void this.onRequest(req, res),
    );
    this.server.on('connection', (raw: Socket) => this.onTcp(raw));
    this.server.keepAliveTimeout = limits.idleTimeoutMs;
    this.server.requestTimeout = limits.idleTimeoutMs;
    this.server.headersTimeout = Math.min(limits.idleTimeoutMs, 60_000);
    this.stopRotation = rotateTicketKeys(this.server, limits.tlsTicketKeyRotationMs);
    this.stopRevokedWatch = opts.revocation?.onRevoked?.(() => this.dropRevoked());
    this.tokenDigest = opts.metricsAccess.kind === 'token' ? sha256(opts.metricsAccess.token) : undefined;
    this.server.on('secureConnection', (socket: TLSSocket) => {
      this.gate.over(rawOf(socket));
      if (this.sockets.size >= limits.maxConnections) {
        // Handshakes that were in flight when the last slot went.
        this.refuse(
          socket.remoteAddress,
          'connection_limit',
          'ConnectionLimit',
          `${this.sockets.size} HTTPS connections open, the limit (limits.maxConnections) is ${limits.maxConnections}`,
        );
        socket.destroy();
        return;
      }
      const revoked = opts.revocation?.check(socket.getPeerCertificate());
      if (revoked) {
        opts.metrics?.refused('https', 'revoked');
        void this.audit.refusedPeer({ connectionId: randomUUID(), addr: socket.remoteAddress, message: revoked, peer: peerSummary(socket.getPeerCertificate(), 'CERT_REVOKED') });
        this.refusedSockets.add(socket);
        endSoon(socket); // close_notify; no request of it is served (onRequest)
        return;
      }
      this.sockets.add(socket);
      this.conns.set(socket, { id: randomUUID(), requests: 0 });
      opts.metrics?.connectionOpened('https');
      socket.on('close', () => {
        this.sockets.delete(socket);
        opts.metrics?.connectionClosed('https');
      });
    });
    this.server.on('tlsClientError', (err, socket) => {
      const raw = rawOf(socket);
      this.gate.over(raw);
      socket.destroy();
      // A socket we closed at a budget or the deadline was counted there.
      if (this.gate.closedItself(raw)) return;
      if ((err as Error & { code?: string }).code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
        this.refuse(socket.remoteAddress, 'handshake_timeout', 'HandshakeTimeout', `HTTPS TLS handshake not finished within ${limits.handshakeTimeoutMs} ms (limits.handshakeTimeoutMs)`);
        return;
      }
      opts.services.log.warn({ remote: socket.remoteAddress, err: err.message, listener: 'https' }, 'TLS handshake refused');
      opts.metrics?.refused('https', 'tls');
    });
  }

  /** A new TCP connection: admitted into the handshake budget, or closed at once (counted, audited). */
  private onTcp(raw: Socket): void {
    raw.setNoDelay(true);
    this.gate.admit(raw);
  }

  private refuse(addr: string | undefined, metric: RefusalReason, reason: string, message: string): void {
    this.opts.metrics?.refused('https', metric);
    this.audit.dropped(addr, reason, message);
  }

  /** Connections still in the TLS handshake. */
  get handshaking(): number {
    return this.gate.size;
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
    return this.sockets.size;
  }

  /**
   * The deny list changed: connections whose certificate is now revoked serve no further request
   * and close once the ones in flight are answered (logged, audited, counted as at the handshake).
   */
  private dropRevoked(): void {
    const check = this.opts.revocation;
    if (!check) return;
    for (const socket of this.sockets) {
      if (this.refusedSockets.has(socket)) continue;
      const why = check.check(socket.getPeerCertificate());
      if (!why) continue;
      this.refusedSockets.add(socket);
      this.opts.metrics?.refused('https', 'revoked');
      void this.audit.refusedPeer({
        connectionId: this.conns.get(socket)?.id ?? randomUUID(),
        addr: socket.remoteAddress,
        message: `open connection closed: ${why}`,
        peer: peerSummary(socket.getPeerCertificate(), 'CERT_REVOKED'),
      });
      if (!this.busy.get(socket)) endSoon(socket);
    }
  }

  /** Stop accepting, let requests in flight finish, close every connection. */
  async close(): Promise<void> {
    this.closing = true;
    this.stopRevokedWatch?.();
    this.stopRotation();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      // A request still sending its body would hold this up to limits.idleTimeoutMs: give the
      // ones in flight CLOSE_GRACE_MS, then cut the connections (their handlers then finish).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => (this.idle = resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      clearTimeout(timer);
    }
    this.server.closeAllConnections();
    this.gate.closeAll();
    await closed;
    await this.audit.settle();
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.refusedSockets.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    this.inFlight++;
    const socket = req.socket;
    this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1);
    try {
      if (this.closing) res.setHeader('Connection', 'close');
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/kmip') await this.kmip(req, res);
      else if (path === '/livez') this.plain(req, res, 200, 'ok\n');
      else if (path === '/readyz') await this.readyz(req, res);
      else if (path === '/version') this.version(req, res);
      else if (path === '/metrics') await this.metricsEndpoint(req, res);
      else if (path === '/crl') await this.crlEndpoint(req, res);
      else if ((path === '/ui' || path?.startsWith('/ui/')) && this.opts.console) this.opts.metrics?.httpResponse(await this.opts.console.handle(req, res));
      else throw new HttpStatus(404, 'not found');
    } catch (e) {
      if (e instanceof HttpStatus) {
        this.send(res, e.status, 'text/plain; charset=utf-8', Buffer.from(`${e.message}\n`), e.headers);
      } else {
        const ref = randomUUID();
        this.opts.services.log.error({ err: e, ref, listener: 'https' }, 'internal error');
        this.send(res, 500, 'text/plain; charset=utf-8', Buffer.from(`internal error, ref ${ref}\n`));
      }
    } finally {
      const left = (this.busy.get(socket) ?? 1) - 1;
      this.busy.set(socket, left);
      if (left === 0 && this.refusedSockets.has(socket)) endSoon(socket);
      this.inFlight--;
      if (this.inFlight === 0) {
        const idle = this.idle;
        this.idle = undefined;
        idle?.();
      }
    }
  }

  private send(res: ServerResponse, status: number, type: string, body: Buffer, headers: Record<string, string> = {}): void {
    this.opts.metrics?.httpResponse(status);
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(body.length), 'Cache-Control': 'no-store', ...headers });
    res.end(body);
  }

  private onlyGet(req: IncomingMessage): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpStatus(405, 'method not allowed', { Allow: 'GET, HEAD' });
  }

  private plain(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
    this.onlyGet(req);
    this.send(res, status, 'text/plain; charset=utf-8', Buffer.from(text));
  }

  private async readyz(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.onlyGet(req);
    const r = await checkReadiness(this.opts.health);
    this.send(res, r.ready ? 200 : 503, 'application/json', Buffer.from(JSON.stringify(r) + '\n'));
  }

  private version(req: IncomingMessage, res: ServerResponse): void {
    this.onlyGet(req);
    const { info, versions } = this.opts.services;
    const body = { vendor: info.vendor, product: info.product, version: info.version, kmip: versions.map((v) => `${v.major}.${v.minor}`), node: process.versions.node };
    this.send(res, 200, 'application/json', Buffer.from(JSON.stringify(body) + '\n'));
  }

  private async metricsEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.onlyGet(req);
    const metrics = this.opts.metrics;
    if (!metrics) throw new HttpStatus(404, 'metrics are not collected by this server');
    this.allowMetrics(req);
    this.send(res, 200, metrics.contentType, Buffer.from(await metrics.text()));
  }

  private async crlEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.onlyGet(req);
    const der = await this.opts.crl?.();
    if (!der) throw new HttpStatus(404, 'no CRL: the data folder has no client-issuing CA');
    this.send(res, 200, 'application/pkix-crl', Buffer.from(der), { 'Cache-Control': 'max-age=300' });
  }

  private allowMetrics(req: IncomingMessage): void {
    const access = this.opts.metricsAccess;
    // A console token of an administrator reads /metrics too, whatever the rule (docs/console.md).
    if (this.opts.console?.bearerAllows(req)) return;
    if (access.kind === 'loopback') {
      if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) throw new HttpStatus(403, '/metrics is served to loopback clients only');
      return;
    }
    if (access.kind === 'token') {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!m) throw new HttpStatus(401, 'a bearer token is required', { 'WWW-Authenticate': 'Bearer realm="kms-metrics"' });
      if (!timingSafeEqual(sha256(m[1]!), this.tokenDigest!)) throw new HttpStatus(403, 'wrong bearer token');
      return;
    }
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) throw new HttpStatus(401, 'a client certificate issued by the configured CA is required');
    let id: string;
    try {
      id = principalFromCertificate(socket.getPeerCertificate(), this.opts.identity).id;
    } catch (e) {
      throw new HttpStatus(403, e instanceof AuthError ? e.message : 'client certificate refused');
    }
    if (!access.identities.includes(id)) throw new HttpStatus(403, 'this client identity may not read /metrics');
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
    const max = this.opts.limits.maxMessageBytes;
    return readBoundedBody(req, max, () => new HttpStatus(413, `request body over the limit of ${max} bytes (limits.maxMessageBytes)`, { Connection: 'close' }));
  }

  private async kmip(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { services, limits } = this.opts;
    if (req.method !== 'POST') throw new HttpStatus(405, 'POST a KMIP request message to /kmip', { Allow: 'POST' });
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) {
      const why = socket.authorizationError ? String(socket.authorizationError) : 'no client certificate';
      services.log.warn({ remote: socket.remoteAddress, err: why, listener: 'https' }, 'client authentication failed');
      this.opts.metrics?.refused('https', 'tls');
      if (services.audit) {
        await services.audit
          .commitAlone([authFailureEvent({ connectionId: randomUUID(), addr: socket.remoteAddress, message: why, time: services.clock(), tls: true })])
          .catch(() => undefined); // refused either way; AuditTrail logged it
      }
      throw new HttpStatus(401, `a client certificate issued by the configured CA is required (${why})`);
    }
    const enc = encodingOfContentType(req.headers['content-type']);
    if (!enc) {
      throw new HttpStatus(415, 'Content-Type must be application/octet-stream (TTLV), text/xml or application/xml (KMIP XML), or application/json (KMIP JSON)', {
        Accept: 'application/octet-stream, text/xml, application/xml, application/json',
      });
    }
    if (!acceptAllows(req.headers.accept, enc)) throw new HttpStatus(406, `the reply is sent in the request's encoding (${MEDIA_TYPE[enc].split(';')[0]}), which Accept excludes`);
    const lengthHeader = req.headers['content-length'];
    if (lengthHeader === undefined) throw new HttpStatus(411, 'Content-Length is required', { Connection: 'close' });
    const length = Number(lengthHeader);
    if (!/^\d+$/.test(lengthHeader) || !Number.isSafeInteger(length)) throw new HttpStatus(400, 'bad Content-Length', { Connection: 'close' });
    if (length > limits.maxMessageBytes) {
      throw new HttpStatus(413, `request body of ${length} bytes is over the limit of ${limits.maxMessageBytes} bytes (limits.maxMessageBytes)`, { Connection: 'close' });
    }
    const body = await this.readBody(req);
    const conn = this.conns.get(socket) ?? { id: randomUUID(), requests: 0 };
    const requestNo = ++conn.requests;
    const connectionId = conn.id;

    let node: TtlvNode;
    try {
      node = decodeBody(body, enc, { maxMessageBytes: limits.maxMessageBytes, maxDepth: limits.maxDepth, maxItems: limits.maxItems });
    } catch (e) {
      if (!(e instanceof TtlvError) && !(e instanceof KmipEncodingError)) throw e;
      services.log.warn({ conn: connectionId, req: requestNo, code: e.code, listener: 'https', encoding: enc }, 'undecodable request');
      const detail = e instanceof TtlvError ? `${e.code} at byte ${e.offset}` : e.message;
      this.reply(res, enc, messageFailure(services, undefined, ResultReason.InvalidMessage, `undecodable message: ${detail}`));
      return;
    }
    let principal;
    try {
      principal = principalFromCertificate(socket.getPeerCertificate(), this.opts.identity);
    } catch (e) {
      const err = e instanceof AuthError ? e : new AuthError(String(e));
      services.log.warn({ conn: connectionId, req: requestNo, remote: socket.remoteAddress, err: err.message, listener: 'https' }, 'client authentication failed');
      this.opts.metrics?.refused('https', 'identity');
      if (services.audit) {
        await services.audit.commitAlone([authFailureEvent({ connectionId, addr: socket.remoteAddress, message: err.message, time: services.clock() })]).catch(() => undefined); // refused either way; AuditTrail logged it
      }
      this.reply(res, enc, messageFailure(services, peekVersion(node), ResultReason.AuthenticationNotSuccessful, err.message));
      return;
    }
    const result = await dispatch(services, this.opts.handlers, principal, node, { connectionId, requestNo, remote: socket.remoteAddress });
    this.reply(res, enc, result.response, result.closeAfter ? { Connection: 'close' } : {});
  }

  private reply(res: ServerResponse, enc: KmipEncoding, response: TtlvNode, headers: Record<string, string> = {}): void {
    this.send(res, 200, MEDIA_TYPE[enc], encodeBody(response, enc), headers);
  }
}

/** Close a connection we refuse: close_notify now, cut it a second later if the peer lingers. */
function endSoon(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), 1000).unref();
}
