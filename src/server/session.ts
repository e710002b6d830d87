/**
 * One client connection: framer → serial request queue → dispatcher → reply. Requests on a
 * connection are answered in order, one at a time; connections run concurrently.
 *
 * Failure handling (the client always gets an answer when one is possible):
 * - a frame that cannot be decoded, one over the size or depth limits, or one whose outer
 *   header is not a Request Message structure (checked from its 8-byte header, before its
 *   body is waited for), is answered with an Invalid Message response, then the connection
 *   is closed cleanly; each is audited with its reason (a `conn` record);
 * - a request must arrive whole within `requestTimeoutMs` of its first byte (a peer
 *   trickling bytes does not keep the connection); otherwise it is closed and audited;
 * - a client whose certificate fails the identity checks gets Authentication Not
 *   Successful for its first request, then the connection closes.
 */
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { decode } from '../ttlv/decode.js';
import { encode } from '../ttlv/encode.js';
import { TtlvError } from '../ttlv/errors.js';
import { TtlvFramer } from '../ttlv/framer.js';
import type { TtlvNode } from '../ttlv/node.js';
import { ResultReason } from '../kmip/generated/enums.gen.js';
import { peekVersion } from '../kmip/messages.js';
import { dispatch, messageFailure } from '../operations/dispatcher.js';
import type { HandlerTable, ServerServices } from '../operations/context.js';
import type { Principal } from '../policy/access.js';
import type { ServerLimits } from './limits.js';
import type { ConnectionAudit } from './connection-audit.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { ConnectionChannel } from '../notify/connection-channel.js';

/**
 * The outer header of every request: a Request Message Structure whose length, like every
 * structure's, is a multiple of 8. Anything else is refused before its body is awaited.
 */
export function checkRequestHeader(header: Buffer, offset: number): void {
  const tag = (header[0]! << 16) | (header[1]! << 8) | header[2]!;
  if (tag !== Tag.RequestMessage || header[3] !== 0x01) {
    throw new TtlvError('BAD_TAG', `the message is not a Request Message structure (tag ${tag.toString(16).toUpperCase().padStart(6, '0')}, type ${header[3]})`, offset, [tag]);
  }
  if (header.readUInt32BE(4) % 8 !== 0) throw new TtlvError('BAD_LENGTH', 'a Request Message length must be a multiple of 8', offset, [tag]);
}

export class Session {
  private readonly framer: TtlvFramer;
  /** Set Endpoint Role Client: this connection as a server-to-client channel (src/notify/connection-channel.ts). */
  private readonly s2c: ConnectionChannel;
  private readonly queue: Buffer[] = [];
  private busy = false;
  private closing = false;
  private requestNo = 0;
  /** Who waits for `drained()`: every waiter is resolved when the queue empties. */
  private readonly idle: (() => void)[] = [];
  /** Runs while a request is partly received (limits.requestTimeoutMs). */
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    private readonly socket: TLSSocket,
    private readonly principal: Principal | Error,
    private readonly services: ServerServices,
    private readonly handlers: HandlerTable,
    private readonly limits: ServerLimits,
    private readonly audit: ConnectionAudit,
    /** The audit record of a failed authentication, written when the connection opened. */
    private readonly refusal?: Promise<void>,
  ) {
    this.s2c = new ConnectionChannel(id, socket, services, checkRequestHeader);
    // In the client role (Set Endpoint Role Client) the peer also sends Response Messages (s2c).
    this.framer = new TtlvFramer({ maxMessageBytes: limits.maxMessageBytes, checkHeader: (h, off) => this.s2c.checkHeader(h, off) });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.stopDeadline();
      this.s2c.closedNow();
    });
    socket.setTimeout(limits.idleTimeoutMs, () => {
      services.log.info({ conn: id }, 'idle timeout, closing connection');
      socket.destroy();
    });
  }

  /** Resolves when the session has nothing in flight. */
  drained(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stop taking requests; finish the one in flight, then close. */
  /** The client's certificate (as the TLS layer verified it). */
  peerCertificate(): ReturnType<TLSSocket['getPeerCertificate']> {
    return this.socket.getPeerCertificate();
  }

  /** The peer's address. */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    this.queue.length = 0;
    await this.drained();
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (e) {
      // Over the size limit, not a Request Message, or unframeable: answer, then close.
      // Nothing more is read.
      this.closing = true;
      this.queue.length = 0;
      this.stopDeadline();
      const msg = e instanceof TtlvError ? e.message : 'message cannot be framed';
      const code = e instanceof TtlvError ? e.code : 'UNFRAMEABLE';
      this.services.log.warn({ conn: this.id, code, err: msg }, 'refusing unframeable request');
      const audited = this.auditMessage(code, msg);
      void Promise.all([this.drained(), audited])
        .then(() => this.finalReply(messageFailure(this.services, undefined, ResultReason.InvalidMessage, msg)))
        .catch((err: unknown) => this.fail(err, 'refusing an unframeable request failed'));
      return;
    }
    this.trackDeadline(frames.length > 0);
    if (frames.length === 0) return;
    this.queue.push(...frames);
    if (this.queue.length > this.limits.maxPipelined) {
      this.socket.pause();
      this.stopDeadline(); // what waits now is our backlog, not the client
    }
    if (!this.busy) void this.pump().catch((err: unknown) => this.fail(err, 'request handling failed'));
  }

  private async pump(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closing) {
        const frame = this.queue.shift()!;
        if (this.socket.isPaused() && this.queue.length <= this.limits.maxPipelined / 2) {
          this.socket.resume();
          this.trackDeadline(false);
        }
        await this.handle(frame);
      }
    } catch (e) {
      // Nothing may escape a connection: this one fails, the server goes on.
      this.fail(e, 'request handling failed');
    } finally {
      this.busy = false;
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    const requestNo = ++this.requestNo;
    let node: TtlvNode;
    try {
      node = decode(frame, { maxMessageBytes: this.limits.maxMessageBytes, maxDepth: this.limits.maxDepth, maxItems: this.limits.maxItems });
    } catch (e) {
      if (!(e instanceof TtlvError)) throw e;
      this.services.log.warn({ conn: this.id, req: requestNo, code: e.code, offset: e.offset }, 'undecodable request');
      this.closing = true;
      const msg = `undecodable message: ${e.code} at byte ${e.offset}`;
      await this.auditMessage(e.code, `${msg}: ${e.message}`, requestNo);
      this.finalReply(messageFailure(this.services, undefined, ResultReason.InvalidMessage, msg));
      return;
    }
    if (this.principal instanceof Error) {
      this.closing = true;
      await this.refusal;
      this.finalReply(messageFailure(this.services, peekVersion(node), ResultReason.AuthenticationNotSuccessful, this.principal.message));
      return;
    }
    if (this.s2c.onResponse(node)) return;
    const result = await dispatch(this.services, this.handlers, this.principal, node, { connectionId: this.id, requestNo, remote: this.socket.remoteAddress, connection: this.s2c.hooks });
    if (result.closeAfter) {
      this.closing = true;
      this.finalReply(result.response);
      return;
    }
    if (this.socket.destroyed) return;
    const bytes = this.encodeReply(result.response, peekVersion(node));
    if (bytes.ok) {
      this.socket.write(bytes.bytes);
      this.s2c.replied(); // a Set Endpoint Role Client answered: the channel opens now
    } else {
      this.closing = true;
      this.socket.end(bytes.bytes);
    }
  }

  /** Audit a message refused before the KMIP layer (reason: the codec's error code). */
  private auditMessage(code: string, message: string, requestNo?: number): Promise<void> {
    return this.audit.event({
      connectionId: requestNo !== undefined ? `${this.id}/${requestNo}` : this.id,
      addr: this.socket.remoteAddress,
      ...(this.principal instanceof Error ? {} : { client: this.principal.id }),
      op: 'InvalidMessage',
      reason: code,
      message,
    });
  }

  /**
   * The whole-request deadline: armed when a request's first byte is buffered, re-armed
   * when a request completes and the next has begun, off while nothing partial is held.
   */
  private trackDeadline(completed: boolean): void {
    if (this.framer.buffered === 0 || completed) this.stopDeadline();
    if (this.framer.buffered === 0 || this.deadline) return;
    const ms = this.limits.requestTimeoutMs;
    this.deadline = setTimeout(() => {
      this.deadline = undefined;
      if (this.socket.destroyed || this.closing) return;
      this.closing = true;
      const message = `request not received whole within ${ms} ms of its first byte (limits.requestTimeoutMs); ${this.framer.buffered} bytes held`;
      this.services.log.warn({ conn: this.id, remote: this.socket.remoteAddress }, message);
      void this.audit
        .event({
          connectionId: this.id,
          addr: this.socket.remoteAddress,
          ...(this.principal instanceof Error ? {} : { client: this.principal.id }),
          op: 'RequestTimeout',
          reason: 'RequestTimeout',
          message,
        })
        .catch((err: unknown) => this.services.log.error({ conn: this.id, err }, 'auditing a request timeout failed'))
        .finally(() => this.socket.destroy());
    }, ms);
    this.deadline.unref();
  }

  /** This connection cannot go on: log why, drop what is queued, close it. The server goes on. */
  private fail(err: unknown, what: string): void {
    this.services.log.error({ conn: this.id, err }, `${what}; closing the connection`);
    this.closing = true;
    this.queue.length = 0;
    this.socket.destroy();
  }

  private stopDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private finalReply(response: TtlvNode): void {
    if (this.socket.destroyed) return;
    this.socket.end(this.encodeReply(response, undefined).bytes);
  }

  /**
   * Encode a reply. One that cannot be encoded (a value out of range, a message past what a
   * TTLV length can say) is logged and replaced by a General Failure message, after which the
   * connection is closed (`ok` false): the failure stays with this connection.
   */
  private encodeReply(response: TtlvNode, version: ReturnType<typeof peekVersion>): { ok: boolean; bytes: Buffer } {
    try {
      return { ok: true, bytes: encode(response) };
    } catch (e) {
      const ref = randomUUID();
      this.services.log.error({ conn: this.id, err: e, ref }, 'the response could not be encoded');
      return { ok: false, bytes: encode(messageFailure(this.services, version, ResultReason.GeneralFailure, `internal error, ref ${ref}`)) };
    }
  }
}
