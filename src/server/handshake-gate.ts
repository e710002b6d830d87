/**
 * The budget of connections still in the TLS handshake, shared by the KMIP and the HTTPS
 * listener (each holds its own gate): at the TCP accept a connection is admitted, or refused
 * over the established-connection limit (`maxConnections`), the handshake budget
 * (`maxHandshakes`) or the per-address budget (`maxHandshakesPerAddress`); an admitted one that
 * has not finished its handshake `handshakeTimeoutMs` after the accept is cut. Each refusal is
 * closed at once, counted in the metrics and audited (connection-audit.ts).
 */
import type { Socket } from 'node:net';
import type { KmsMetrics, RefusalReason } from '../http/metrics.js';
import type { ConnectionAudit } from './connection-audit.js';
import type { ServerLimits } from './limits.js';

export interface HandshakeGateOptions {
  /** Listener name, for the metrics and the refusal messages. */
  readonly listener: 'kmip' | 'https';
  readonly limits: ServerLimits;
  readonly audit: ConnectionAudit;
  readonly metrics?: KmsMetrics | undefined;
  /** Established connections of the listener now. */
  established(): number;
}

export class HandshakeGate {
  private readonly pending = new Map<object, { readonly addr: string; readonly timer: NodeJS.Timeout }>();
  private readonly byAddr = new Map<string, number>();
  /** Raw sockets the gate (or the listener's close) closed: their TLS errors are ours, not news. */
  private readonly closedByUs = new WeakSet<object>();

  constructor(private readonly o: HandshakeGateOptions) {}

  /** At the TCP accept: true when `raw` joins the handshake budget; otherwise it is closed, counted and audited. */
  admit(raw: Socket): boolean {
    const { limits, listener } = this.o;
    const what = listener === 'kmip' ? 'connections' : 'HTTPS connections';
    const addr = raw.remoteAddress ?? 'unknown';
    const fromAddr = this.byAddr.get(addr) ?? 0;
    const open = this.o.established();
    let refusal: [RefusalReason, string, string] | undefined;
    if (open >= limits.maxConnections) {
      refusal = ['connection_limit', 'ConnectionLimit', `${open} ${what} open, the limit (limits.maxConnections) is ${limits.maxConnections}`];
    } else if (this.pending.size >= limits.maxHandshakes) {
      refusal = ['handshake_budget', 'HandshakeBudget', `${this.pending.size} ${what} in the TLS handshake, the limit (limits.maxHandshakes) is ${limits.maxHandshakes}`];
    } else if (fromAddr >= limits.maxHandshakesPerAddress) {
      refusal = [
        'address_handshake_limit',
        'AddressHandshakeLimit',
        `${fromAddr} ${what} from ${addr} in the TLS handshake, the limit (limits.maxHandshakesPerAddress) is ${limits.maxHandshakesPerAddress}`,
      ];
    }
    if (refusal) {
      this.refuse(raw, addr, ...refusal);
      return false;
    }
    const timer = setTimeout(() => {
      if (this.pending.has(raw))
        this.refuse(
          raw,
          addr,
          'handshake_timeout',
          'HandshakeTimeout',
          `${listener === 'kmip' ? '' : 'HTTPS '}TLS handshake not finished within ${limits.handshakeTimeoutMs} ms (limits.handshakeTimeoutMs)`,
        );
    }, limits.handshakeTimeoutMs);
    timer.unref();
    this.pending.set(raw, { addr, timer });
    this.byAddr.set(addr, fromAddr + 1);
    raw.once('close', () => this.over(raw));
    return true;
  }

  /** The handshake of `raw` finished or failed: it leaves the budget. */
  over(raw: object): void {
    const h = this.pending.get(raw);
    if (!h) return;
    clearTimeout(h.timer);
    this.pending.delete(raw);
    const n = (this.byAddr.get(h.addr) ?? 1) - 1;
    if (n <= 0) this.byAddr.delete(h.addr);
    else this.byAddr.set(h.addr, n);
  }

  /** The client address a pending handshake came from. */
  addressOf(raw: object): string | undefined {
    return this.pending.get(raw)?.addr;
  }

  /** True when the gate or the listener's close closed `raw` (its TLS error is not a refusal to report). */
  closedItself(raw: object): boolean {
    return this.closedByUs.has(raw);
  }

  /** Connections still in the TLS handshake. */
  get size(): number {
    return this.pending.size;
  }

  /** The listener closes: every pending handshake is cut. */
  closeAll(): void {
    for (const raw of [...this.pending.keys()]) {
      this.closedByUs.add(raw);
      (raw as Socket).destroy();
    }
  }

  private refuse(raw: Socket, addr: string, metric: RefusalReason, reason: string, message: string): void {
    this.closedByUs.add(raw);
    this.o.metrics?.refused(this.o.listener, metric);
    this.o.audit.dropped(addr, reason, message);
    raw.destroy();
  }
}
