/**
 * The TCP socket under a server-side TLS socket, found through public properties only. A TLS
 * listener's handshake budgets are kept per TCP socket (handshake-gate.ts, admitted at the
 * 'connection' event), while its later events ('secureConnection', 'tlsClientError') hand over
 * the TLS socket; Node links the two only through a private field. Both report the same peer
 * address and port, which name one open TCP connection to a listener: this keeps the TCP
 * sockets by that pair while they are open.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

interface Peer {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

function peerKey(s: Peer): string | undefined {
  return s.remoteAddress === undefined || s.remotePort === undefined ? undefined : `${s.remoteAddress}|${s.remotePort}`;
}

export class TcpSockets {
  private readonly byPeer = new Map<string, Socket>();

  /** At the listener's 'connection' event. A socket already reset (no peer address) is not kept. */
  track(raw: Socket): void {
    const key = peerKey(raw);
    if (key === undefined) return;
    this.byPeer.set(key, raw);
    // Forgotten a turn after it closes: the TLS socket's own events for the same close come
    // right after and still find it.
    raw.once('close', () =>
      setImmediate(() => {
        if (this.byPeer.get(key) === raw) this.byPeer.delete(key);
      }),
    );
  }

  /** The TCP socket under `socket`, or `socket` itself when it is not known (reset before it was seen). */
  of(socket: TLSSocket): object {
    const key = peerKey(socket);
    return (key !== undefined ? this.byPeer.get(key) : undefined) ?? socket;
  }

  get size(): number {
    return this.byPeer.size;
  }
}
