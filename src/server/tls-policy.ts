/**
 * The listener's TLS policy: protocol versions, cipher suites, renegotiation, and session
 * resumption with a rotated ticket key.
 *
 * - TLS 1.2 and 1.3 only. TLS 1.2 suites are ECDHE with an AEAD cipher (AES-GCM or
 *   ChaCha20-Poly1305): forward secrecy, no CBC-with-SHA-1 (Lucky 13 class), no CCM_8
 *   (64-bit tags). TLS 1.3 suites are the three AEAD suites without CCM.
 * - Renegotiation is refused (SSL_OP_NO_RENEGOTIATION); the session closes the socket on the
 *   TLS error that follows (server.ts).
 * - Resumption: stateless session tickets (TLS 1.2 and 1.3) encrypted under a random key
 *   made at start and replaced every `tlsTicketKeyRotationMs`. Node holds one ticket key at a
 *   time, so a ticket lives at most one rotation period (the lifetime hint says so); a
 *   ticket from before the last rotation just gets a full handshake. The key never leaves
 *   the process. 0 turns resumption off (no tickets, no session cache).
 */
import { constants, randomBytes } from 'node:crypto';
import type { Server, TlsOptions } from 'node:tls';

export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
] as const;

export const TLS13_CIPHERS = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'] as const;

/** Options for tls.createServer (besides certificates and verification). */
export function tlsPolicyOptions(ticketKeyRotationMs: number): TlsOptions {
  const resume = ticketKeyRotationMs > 0;
  return {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | (resume ? 0 : constants.SSL_OP_NO_TICKET),
    ...(resume ? { ticketKeys: randomBytes(48), sessionTimeout: Math.max(1, Math.floor(ticketKeyRotationMs / 1000)), sessionIdContext: 'kmip-kms' } : { sessionTimeout: 0 }),
  };
}

/** Replace the ticket key every `rotationMs`; returns the function that stops it. */
export function rotateTicketKeys(server: Server, rotationMs: number): () => void {
  if (!(rotationMs > 0)) return () => undefined;
  const timer = setInterval(() => server.setTicketKeys(randomBytes(48)), rotationMs);
  timer.unref();
  return () => clearInterval(timer);
}
