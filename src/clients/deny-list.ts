/**
 * The listeners' revocation check (src/server/server.ts, src/http/https-server.ts): a client
 * certificate the registry records as revoked is refused right after the TLS handshake, before
 * any request of the connection is read, with a TLS close_notify, a log line, an audit record
 * and kms_connection_refusals_total{reason="revoked"}. Node offers no hook inside the handshake
 * that could fail it with a reasoned alert (the listener judges the verify result after it, as
 * for every other refusal), and a resumed TLS session is checked the same way: the peer's
 * certificate comes with the session.
 *
 * Connections already open when a certificate is revoked (on this node or, through the store's
 * meta watch, on another) are closed as soon as the deny list reloads: the listeners subscribe to
 * `onRevoked` and check each open connection's certificate again. A request in flight on such a
 * connection is answered (it was admitted before the revocation); nothing after it is read.
 */
import type { PeerCertificate } from 'node:tls';
import type { ClientRegistry } from './registry.js';

export interface RevocationCheck {
  /** Why the peer certificate is refused, or undefined when it is not revoked. */
  check(cert: PeerCertificate | undefined): string | undefined;
  /** `listener` runs when the deny list may have changed (open connections are checked again); returns the unsubscribe. */
  onRevoked?(listener: () => void): () => void;
}

export function revocationCheckOf(registry: Pick<ClientRegistry, 'denied' | 'onChanged'>): RevocationCheck {
  return {
    onRevoked: (listener) => registry.onChanged(listener),
    check(cert) {
      if (!cert || Object.keys(cert).length === 0) return undefined;
      const hit = registry.denied({ ...(cert.fingerprint256 && { fingerprint: cert.fingerprint256 }), ...(cert.serialNumber && { serial: cert.serialNumber }) });
      return hit ? `client certificate revoked (${hit.reason ?? 'unspecified'}, ${hit.revokedAt ?? ''}): client ${hit.name}, serial ${hit.serial}` : undefined;
    },
  };
}
