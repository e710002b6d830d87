/**
 * A minimal KMIP client over mutual TLS: one connection, one request in flight at a time.
 *
 * Requests on one client are serialized in call order. Each request is written whole and
 * exactly one framed response is read back. A timeout, an unsolicited frame, or a stream
 * that cannot be framed leaves the connection in an unknown state, so the client closes
 * itself: the failing call gets the cause, later calls get `CLOSED`.
 *
 * Errors: `KmipClientError` with a stable `code`; TTLV problems (a response that does not
 * decode, one larger than `maxResponseBytes`, a request that cannot be encoded) surface as
 * the codec's `TtlvError`.
 */
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { decode, encode, TtlvError, TtlvFramer, type TtlvNode } from '../ttlv/index.js';
import { KmipClientError } from './errors.js';

export interface KmipClientOptions {
  readonly host: string;
  readonly port: number;
  /** CA certificate(s) the server's certificate must chain to (PEM). */
  readonly ca: string | Buffer;
  /** Client certificate (PEM). */
  readonly cert: string | Buffer;
  /** Client private key (PEM). */
  readonly key: string | Buffer;
  /** Name to verify the server certificate against (and send as SNI). Default: `host`. */
  readonly servername?: string;
  /** Limit for connecting and for each response, in milliseconds. Default 30 000. */
  readonly timeoutMs?: number;
  /** Largest response accepted, header included, in bytes. Default 16 MiB. */
  readonly maxResponseBytes?: number;
  /**
   * A TLS context made once (tls.createSecureContext from the same ca/cert/key) for clients
   * that open many connections: without it every connect parses the PEM material again.
   */
  readonly secureContext?: tls.SecureContext;
  /**
   * A TLS session from an earlier connection to the same server (`client.tlsSession`): the
   * server may resume it and skip the full handshake.
   */
  readonly session?: Buffer;
}

export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

interface Waiter {
  resolve(frame: Buffer): void;
  reject(err: Error): void;
}

export class KmipClient {
  private readonly framer: TtlvFramer;
  private waiter: Waiter | undefined;
  /** Set once the connection is unusable; later calls fail with CLOSED caused by it. */
  private failure: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly closed: Promise<void>;
  private session: Buffer | undefined;

  private constructor(
    private readonly socket: tls.TLSSocket,
    private readonly timeoutMs: number,
    readonly maxResponseBytes: number,
  ) {
    this.framer = new TtlvFramer({ maxMessageBytes: maxResponseBytes });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('session', (session: Buffer) => (this.session = session));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new KmipClientError('NETWORK', `connection error: ${err.message}`, { cause: err })));
    socket.on('close', () => this.fail(new KmipClientError('CLOSED', 'connection closed')));
  }

  /** Connect and complete the TLS handshake (TLS 1.2+, server verified against `ca`). */
  static async connect(opts: KmipClientOptions): Promise<KmipClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    const maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!(timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    if (!(maxResponseBytes >= 8)) throw new RangeError('maxResponseBytes must be at least 8');
    const servername = opts.servername ?? (isIP(opts.host) ? undefined : opts.host);
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ...(opts.session !== undefined && { session: opts.session }),
      ...(servername !== undefined && { servername }),
      ...(opts.secureContext !== undefined && { secureContext: opts.secureContext }),
    });
    // From the first byte: the handshake's small flights must not wait on Nagle's algorithm.
    socket.setNoDelay(true);
    let firstSession: Buffer | undefined;
    socket.once('session', (session: Buffer) => (firstSession = session));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        socket.destroy();
        reject(new KmipClientError('TIMEOUT', `TLS connection to ${opts.host}:${opts.port} not established within ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error): void => {
        cleanup();
        socket.destroy();
        reject(new KmipClientError('CONNECT', `cannot connect to ${opts.host}:${opts.port}: ${err.message}`, { cause: err }));
      };
      const onClose = (): void => onError(new Error('connection closed during the handshake'));
      const onSecure = (): void => {
        cleanup();
        resolve();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off('close', onClose);
        socket.off('secureConnect', onSecure);
      };
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.once('secureConnect', onSecure);
    });
    const client = new KmipClient(socket, timeoutMs, maxResponseBytes);
    client.session ??= firstSession;
    return client;
  }

  /**
   * The TLS session to resume on the next connection (pass it as `session`), once the
   * server has sent one (TLS 1.3 sends it just after the handshake); undefined before.
   */
  get tlsSession(): Buffer | undefined {
    return this.session;
  }

  /** Whether this connection resumed an earlier TLS session. */
  get sessionReused(): boolean {
    return this.socket.isSessionReused();
  }

  /** The negotiated TLS version, e.g. "TLSv1.3" (undefined once closed). */
  get tlsProtocol(): string | undefined {
    return this.socket.getProtocol() ?? undefined;
  }

  /** True until the connection is closed or has failed. */
  get isOpen(): boolean {
    return this.failure === undefined;
  }

  /** Encode `request`, send it, and decode the one response message. */
  async send(request: TtlvNode): Promise<TtlvNode> {
    const bytes = encode(request);
    const response = await this.sendRaw(bytes);
    return decode(response, { maxMessageBytes: this.maxResponseBytes });
  }

  /**
   * Send bytes as they are and return the next whole TTLV frame the server sends back.
   * Calls are queued: each waits for the previous one's response.
   */
  sendRaw(bytes: Uint8Array): Promise<Uint8Array> {
    const run = (): Promise<Buffer> => this.exchange(bytes);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Close the connection. Queued and in-flight calls fail with CLOSED. Resolves once closed. */
  close(): Promise<void> {
    this.fail(new KmipClientError('CLOSED', 'client closed'), true);
    return this.closed;
  }

  private exchange(bytes: Uint8Array): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.closedError());
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new KmipClientError('TIMEOUT', `no response within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = {
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.socket.write(bytes);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (err) {
      this.fail(err instanceof TtlvError ? err : new KmipClientError('PROTOCOL', 'cannot frame the response', { cause: err }));
      return;
    }
    for (const frame of frames) {
      const waiter = this.waiter;
      if (!waiter) {
        this.fail(new KmipClientError('PROTOCOL', `unsolicited ${frame.length}-byte message from the server`));
        return;
      }
      this.waiter = undefined;
      waiter.resolve(frame);
    }
  }

  /** Mark the connection failed (first cause wins), reject the waiter, and tear down. */
  private fail(err: Error, graceful = false): void {
    if (this.failure) return;
    this.failure = err;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
    if (graceful && !this.socket.destroyed) {
      // Send close_notify + FIN, then make sure the socket goes away even if the peer stalls.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } else {
      this.socket.destroy();
    }
  }

  private closedError(): KmipClientError {
    const cause = this.failure;
    if (cause instanceof KmipClientError && cause.code === 'CLOSED') return cause;
    return new KmipClientError('CLOSED', `connection is closed after an earlier failure: ${cause?.message ?? 'unknown'}`, { cause });
  }
}
