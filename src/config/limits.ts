/**
 * The server's limits, named, with their defaults: owned by the configuration (the `limits`
 * section, KMS_… variables and flags read them) so that config never imports the server; the
 * server reads them from here (src/server/limits.ts re-exports them for its files).
 */
import { DEFAULT_BUDGETS, type ResourceBudgets } from '../policy/budgets.js';

/** Every server limit, named, with its default and its config key (undici style). */
export interface ServerLimits {
  /** Concurrent connections past the TLS handshake; further ones are closed (and audited). Config: limits.maxConnections */
  readonly maxConnections: number;
  /**
   * Connections still in the TLS handshake, counted apart from maxConnections so that peers
   * that never finish a handshake cannot lock authenticated clients out. Config: limits.maxHandshakes
   */
  readonly maxHandshakes: number;
  /** Connections in the TLS handshake from one client address. Config: limits.maxHandshakesPerAddress */
  readonly maxHandshakesPerAddress: number;
  /** Time allowed for the whole TLS handshake, from the TCP accept (not reset by traffic). Config: limits.handshakeTimeoutMs */
  readonly handshakeTimeoutMs: number;
  /** A connection with no traffic for this long is closed. Config: limits.idleTimeoutMs */
  readonly idleTimeoutMs: number;
  /**
   * Time allowed for a whole request message once its first byte has arrived (not reset by
   * traffic); then the connection is closed. Config: limits.requestTimeoutMs
   */
  readonly requestTimeoutMs: number;
  /** Largest request message, header included. Config: limits.maxMessageBytes */
  readonly maxMessageBytes: number;
  /** Deepest structure nesting in a request. Config: limits.maxDepth */
  readonly maxDepth: number;
  /** Most TTLV items in one request. Config: limits.maxItems */
  readonly maxItems: number;
  /** Requests read ahead while one is being served, per connection. Config: limits.maxPipelined */
  readonly maxPipelined: number;
  /**
   * TLS session resumption: the session-ticket key is replaced this often, and a ticket is
   * accepted at most this long (a ticket made under the previous key gets a full handshake).
   * 0 turns resumption off. Config: limits.tlsTicketKeyRotationMs
   */
  readonly tlsTicketKeyRotationMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  ...DEFAULT_BUDGETS,
  maxConnections: 1024,
  maxHandshakes: 128,
  maxHandshakesPerAddress: 16,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  requestTimeoutMs: 30_000,
  maxMessageBytes: 4 * 1024 * 1024,
  maxDepth: 32,
  maxItems: 100_000,
  maxPipelined: 16,
  tlsTicketKeyRotationMs: 3_600_000,
});

/** The resource budgets (policy/budgets.ts) are limits too, in the same `limits` config section. */
export interface ServerLimits extends ResourceBudgets {}
