/**
 * One client connection: framer → serial request queue → dispatcher → reply. Requests on a
 * connection are answered in order, one at a time; connections run concurrently.
 *
 * Failure handling (the client always gets an answer when one is possible):
 * - a frame that cannot be decoded, or one over the size limit, is answered with an
 *   Invalid Message response, then the connection is closed cleanly;
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
import { authFailureEvent } from '../audit/request-audit.js';

export class Session {
  private readonly framer: TtlvFramer;
  private readonly queue: Buffer[] = [];
  private busy = false;
  private closing = false;
  private requestNo = 0;
  private idle: (() => void) | undefined;
  /** The audit record of a failed authentication, written when the connection opened. */
  private readonly refusal: Promise<void> | undefined;

  constructor(
    readonly id: string,
    private readonly socket: TLSSocket,
    private readonly principal: Principal | Error,
    private readonly services: ServerServices,
    private readonly handlers: HandlerTable,
    private readonly limits: ServerLimits,
  ) {
    this.framer = new TtlvFramer({ maxMessageBytes: limits.maxMessageBytes });
    if (principal instanceof Error && services.audit) {
      const event = authFailureEvent({ connectionId: id, addr: socket.remoteAddress, message: principal.message, time: services.clock() });
      this.refusal = services.audit.commitAlone([event]).catch(() => undefined); // the request is refused either way; AuditTrail logged it
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.setTimeout(limits.idleTimeoutMs, () => {
      services.log.info({ conn: id }, 'idle timeout, closing connection');
      socket.destroy();
    });
  }

  /** Resolves when the session has nothing in flight. */
  drained(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  /** Stop taking requests; finish the one in flight, then close. */
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
      // Over the size limit or unframeable: answer, then close. Nothing more is read.
      this.closing = true;
      this.queue.length = 0;
      const msg = e instanceof TtlvError ? e.message : 'message cannot be framed';
      this.services.log.warn({ conn: this.id, err: msg }, 'refusing unframeable request');
      void this.drained().then(() => this.finalReply(messageFailure(this.services, undefined, ResultReason.InvalidMessage, msg)));
      return;
    }
    if (frames.length === 0) return;
    this.queue.push(...frames);
    if (this.queue.length > this.limits.maxPipelined) this.socket.pause();
    if (!this.busy) void this.pump();
  }

  private async pump(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closing) {
        const frame = this.queue.shift()!;
        if (this.socket.isPaused() && this.queue.length <= this.limits.maxPipelined / 2) this.socket.resume();
        await this.handle(frame);
      }
    } catch (e) {
      // Nothing may escape a connection: this one fails, the server goes on.
      this.services.log.error({ conn: this.id, err: e }, 'request handling failed; closing the connection');
      this.closing = true;
      this.queue.length = 0;
      this.socket.destroy();
    } finally {
      this.busy = false;
      const idle = this.idle;
      this.idle = undefined;
      idle?.();
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
      this.finalReply(messageFailure(this.services, undefined, ResultReason.InvalidMessage, `undecodable message: ${e.code} at byte ${e.offset}`));
      return;
    }
    if (this.principal instanceof Error) {
      this.closing = true;
      await this.refusal;
      this.finalReply(messageFailure(this.services, peekVersion(node), ResultReason.AuthenticationNotSuccessful, this.principal.message));
      return;
    }
    const result = await dispatch(this.services, this.handlers, this.principal, node, { connectionId: this.id, requestNo, remote: this.socket.remoteAddress });
    if (result.closeAfter) {
      this.closing = true;
      this.finalReply(result.response);
      return;
    }
    if (this.socket.destroyed) return;
    const bytes = this.encodeReply(result.response, peekVersion(node));
    if (bytes.ok) this.socket.write(bytes.bytes);
    else {
      this.closing = true;
      this.socket.end(bytes.bytes);
    }
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
