/**
 * One KMIP connection as a server-to-client channel (KMIP 2.1 §6.1.54 Set Endpoint Role, §6.2).
 * The session (src/server/session.ts) owns one; it stays inert until the client sends Set
 * Endpoint Role with Endpoint Role Client at 2.x and that request's response has been written.
 * From then on:
 * - the server writes Request Messages (Notify, Put; src/notify/hub.ts) on the connection, one
 *   at a time, and the client answers each with a Response Message;
 * - the framer accepts Response Message frames as well as Request Messages (the client may still
 *   send requests: Ping, Query…, answered as usual);
 * - a Response Message that answers nothing in flight is logged and ignored.
 * The channel closes with the connection (queued events are dropped with it).
 */
import type { TLSSocket } from 'node:tls';
import { encode } from '../ttlv/encode.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import type { ConnectionHooks, ServerServices } from '../operations/context.js';
import type { Principal } from '../policy/access.js';
import { ServerToClientHub, type S2cChannel } from './hub.js';

interface Waiter {
  resolve(node: TtlvNode): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class ConnectionChannel implements S2cChannel {
  private role: { principal: Principal; version: KmipVersion } | undefined;
  private requested: { principal: Principal; version: KmipVersion } | undefined;
  private waiter: Waiter | undefined;
  private isClosed = false;
  /** What the dispatcher hands Set Endpoint Role. */
  readonly hooks: ConnectionHooks;

  constructor(
    readonly id: string,
    private readonly socket: TLSSocket,
    private readonly services: ServerServices,
    private readonly checkRequest: (header: Buffer, offset: number) => void,
  ) {
    this.hooks = {
      id,
      takeClientRole: (principal, version) => {
        const hub = this.hub();
        if (!hub || !hub.canSendTo(principal, version)) return false;
        if (!this.role) this.requested = { principal, version };
        return true;
      },
    };
  }

  private hub(): ServerToClientHub | undefined {
    const s = this.services.serverToClient;
    return s instanceof ServerToClientHub ? s : undefined;
  }

  get principal(): Principal {
    return this.role!.principal;
  }

  get version(): KmipVersion {
    return this.role!.version;
  }

  get remote(): string | undefined {
    return this.socket.remoteAddress;
  }

  get closed(): boolean {
    return this.isClosed || this.socket.destroyed;
  }

  /** The framer's header check: Response Messages are accepted once in the client role. */
  checkHeader(header: Buffer, offset: number): void {
    if (this.role && ((header[0]! << 16) | (header[1]! << 8) | header[2]!) === Tag.ResponseMessage && header[3] === 0x01) return;
    this.checkRequest(header, offset);
  }

  /** After a response was written: a Set Endpoint Role Client it answered takes effect. */
  replied(): void {
    if (!this.requested || this.role) return;
    this.role = this.requested;
    this.requested = undefined;
    this.hub()?.register(this);
  }

  /** A decoded frame: true when it was a Response Message for this channel (consumed). */
  onResponse(node: TtlvNode): boolean {
    if (!this.role || node.tag !== Tag.ResponseMessage) return false;
    const w = this.waiter;
    if (!w) {
      this.services.log.warn({ conn: this.id }, 'a Response Message that answers no server-to-client request; ignored');
      return true;
    }
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.resolve(node);
    return true;
  }

  exchange(message: StructureNode, timeoutMs: number): Promise<TtlvNode> {
    if (this.closed) return Promise.reject(new Error('the connection is closed'));
    if (this.waiter) return Promise.reject(new Error('a server-to-client request is already in flight'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no response within ${timeoutMs} ms (serverToClient.responseTimeoutMs)`));
      }, timeoutMs);
      timer.unref();
      this.waiter = { resolve, reject, timer };
      this.socket.write(encode(message));
    });
  }

  /** The connection closed. */
  closedNow(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      clearTimeout(w.timer);
      w.reject(new Error('the connection closed'));
    }
    if (this.role) this.hub()?.unregister(this.id);
  }
}
