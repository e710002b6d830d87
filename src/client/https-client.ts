/**
 * KMIP over HTTPS (KMIP Profiles: HTTPS, XML and JSON message encodings): each request is
 * one `POST /kmip` over mutual TLS, in binary TTLV, KMIP XML or KMIP JSON; the reply comes in
 * the same encoding and is returned as a TTLV tree, so callers use the request builders and
 * `parseResponse` exactly as with the TLS client (`KmipClient`).
 *
 * One keep-alive connection at a time (requests are serialized in call order, like
 * KmipClient). Errors: `KmipClientError` — HTTP (a status other than 200, with `status`),
 * TIMEOUT, CONNECT/NETWORK, BAD_RESPONSE (wrong Content-Type, a body over maxResponseBytes);
 * a body that does not decode surfaces as the codec's error.
 */
import { Agent, request } from 'node:https';
import { isIP } from 'node:net';
import type { TtlvNode } from '../ttlv/index.js';
import { decodeBody, encodeBody, encodingOfContentType, MEDIA_TYPE, type KmipEncoding } from '../http/encodings.js';
import { DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES, type KmipClientOptions } from './client.js';
import { KmipClientError } from './errors.js';

export interface KmipHttpsClientOptions extends Omit<KmipClientOptions, 'secureContext'> {
  /** Message encoding: ttlv (default), xml or json. */
  readonly encoding?: KmipEncoding;
  /** Request path (default /kmip). */
  readonly path?: string;
}

export interface HttpReply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

export class KmipHttpsClient {
  private readonly agent: Agent;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  readonly encoding: KmipEncoding;
  private readonly timeoutMs: number;
  readonly maxResponseBytes: number;

  constructor(private readonly opts: KmipHttpsClientOptions) {
    this.encoding = opts.encoding ?? 'ttlv';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!(this.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    const servername = opts.servername ?? (isIP(opts.host) ? undefined : opts.host);
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ...(servername !== undefined && { servername }),
    });
  }

  /** Same shape as KmipClient.connect: nothing is sent until the first request. */
  static async connect(opts: KmipHttpsClientOptions): Promise<KmipHttpsClient> {
    return new KmipHttpsClient(opts);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Send `request` in this client's encoding and return the reply as a TTLV tree. */
  async send(requestNode: TtlvNode): Promise<TtlvNode> {
    const reply = await this.post(encodeBody(requestNode, this.encoding), MEDIA_TYPE[this.encoding]);
    if (reply.status !== 200) throw new KmipClientError('HTTP', `the server answered HTTP ${reply.status}: ${reply.body.toString('utf8').trim().slice(0, 200)}`, { status: reply.status });
    const enc = encodingOfContentType(reply.contentType);
    if (enc !== this.encoding) throw new KmipClientError('BAD_RESPONSE', `reply Content-Type ${reply.contentType ?? '(none)'} is not ${MEDIA_TYPE[this.encoding]}`);
    return decodeBody(reply.body, enc, { maxMessageBytes: this.maxResponseBytes, maxDepth: 64, maxItems: 1_000_000 });
  }

  /** POST `body` with `contentType` (and any extra headers) and return the raw reply, whatever its status. */
  post(body: Uint8Array, contentType: string, headers: Record<string, string> = {}): Promise<HttpReply> {
    const run = () => this.exchange(body, contentType, headers);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
    return Promise.resolve();
  }

  private exchange(body: Uint8Array, contentType: string, headers: Record<string, string>): Promise<HttpReply> {
    if (this.closed) return Promise.reject(new KmipClientError('CLOSED', 'client closed'));
    const { host, port } = this.opts;
    return new Promise<HttpReply>((resolve, reject) => {
      const req = request({
        host,
        port,
        method: 'POST',
        path: this.opts.path ?? '/kmip',
        agent: this.agent,
        headers: { 'Content-Type': contentType, 'Content-Length': String(body.length), Accept: contentType.split(';')[0]!, ...headers },
      });
      const timer = setTimeout(() => {
        req.destroy(new KmipClientError('TIMEOUT', `no response within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof KmipClientError ? err : new KmipClientError('NETWORK', `HTTPS request to ${host}:${port} failed: ${err.message}`, { cause: err }));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > this.maxResponseBytes) {
            res.destroy();
            clearTimeout(timer);
            reject(new KmipClientError('BAD_RESPONSE', `reply over ${this.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(new KmipClientError('NETWORK', `reading the reply failed: ${err.message}`, { cause: err }));
        });
      });
      req.end(body);
    });
  }
}
