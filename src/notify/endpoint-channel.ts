/**
 * A configured client endpoint (`serverToClient.endpoints`): the way the server reaches a KMIP
 * 1.x client, for which the spec leaves server-to-client delivery "out of band" (1.4 §5), and any
 * client that prefers to listen. The server connects to the endpoint over mutual TLS (its own
 * client certificate and key, the endpoint verified against the given CA), sends Notify / Put
 * Request Messages in the endpoint's protocol version and reads the Response Messages, one at a
 * time. The connection is made when the first message is sent and made again after a failure
 * (the hub retries with backoff: src/notify/hub.ts). Events are scoped by the endpoint's
 * `identity`, exactly as for a connection in the client role.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { isIP } from 'node:net';
import { decode } from '../ttlv/decode.js';
import { encode } from '../ttlv/encode.js';
import { TtlvFramer } from '../ttlv/framer.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import type { Principal } from '../policy/access.js';
import type { S2cChannel } from './channel.js';

export { parseEndpoint, type EndpointConfig } from '../config/server-to-client.js';
import type { EndpointConfig } from '../config/server-to-client.js';

const MAX_RESPONSE_BYTES = 1 << 20;

export class EndpointChannel implements S2cChannel {
  readonly id: string;
  readonly principal: Principal;
  readonly version: KmipVersion;
  private socket: tls.TLSSocket | undefined;
  private framer = new TtlvFramer({ maxMessageBytes: MAX_RESPONSE_BYTES });
  private waiter: { resolve(n: TtlvNode): void; reject(e: Error): void } | undefined;
  private isClosed = false;
  private readonly tlsFiles: { ca: Buffer; cert: Buffer; key: Buffer };

  constructor(private readonly cfg: EndpointConfig) {
    this.id = `endpoint:${cfg.identity}@${cfg.host}:${cfg.port}`;
    this.principal = { id: cfg.identity };
    const [major, minor] = (cfg.version ?? '2.1').split('.').map(Number);
    this.version = { major: major!, minor: minor! };
    this.tlsFiles = { ca: readFileSync(cfg.ca), cert: readFileSync(cfg.cert), key: readFileSync(cfg.key) };
  }

  get remote(): string {
    return `${this.cfg.host}:${this.cfg.port}`;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  private connect(timeoutMs: number): Promise<tls.TLSSocket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    const servername = this.cfg.servername ?? (isIP(this.cfg.host) ? undefined : this.cfg.host);
    const socket = tls.connect({
      host: this.cfg.host,
      port: this.cfg.port,
      ...this.tlsFiles,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ...(servername !== undefined ? { servername } : {}),
    });
    socket.setNoDelay(true);
    this.framer = new TtlvFramer({ maxMessageBytes: MAX_RESPONSE_BYTES });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`endpoint ${this.remote}: TLS connection not made within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        this.socket = socket;
        resolve(socket);
      });
      socket.on('error', (e) => {
        clearTimeout(timer);
        this.fail(new Error(`endpoint ${this.remote}: ${e.message}`));
        reject(new Error(`endpoint ${this.remote}: ${e.message}`));
      });
      socket.on('close', () => this.fail(new Error(`endpoint ${this.remote}: connection closed`)));
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const frame of this.framer.push(chunk)) {
            const node = decode(frame, { maxMessageBytes: MAX_RESPONSE_BYTES });
            const w = this.waiter;
            this.waiter = undefined;
            if (node.tag === Tag.ResponseMessage) w?.resolve(node);
            else w?.reject(new Error(`endpoint ${this.remote}: answered with something other than a Response Message`));
          }
        } catch (e) {
          socket.destroy();
          this.fail(new Error(`endpoint ${this.remote}: undecodable answer: ${(e as Error).message}`));
        }
      });
    });
  }

  private fail(e: Error): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
    if (this.socket?.destroyed) this.socket = undefined;
  }

  async exchange(message: StructureNode, timeoutMs: number): Promise<TtlvNode> {
    if (this.isClosed) throw new Error('the endpoint channel is closed');
    const socket = await this.connect(timeoutMs);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        // A late answer must not be taken for the next message's: start over on a new connection.
        socket.destroy();
        reject(new Error(`endpoint ${this.remote}: no response within ${timeoutMs} ms (serverToClient.responseTimeoutMs)`));
      }, timeoutMs);
      timer.unref();
      this.waiter = {
        resolve: (n) => {
          clearTimeout(timer);
          resolve(n);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      socket.write(encode(message));
    });
  }

  close(): void {
    this.isClosed = true;
    this.socket?.destroy();
    this.fail(new Error('the endpoint channel is closed'));
  }
}
