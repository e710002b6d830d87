import { DEFAULT_BUDGETS, type ResourceBudgets } from '../policy/budgets.js';

/** Every server limit, named, with its default and its config key (undici style). */
export interface ServerLimits {
  /** Concurrent connections; further ones are closed at once. Config: limits.maxConnections */
  readonly maxConnections: number;
  /** Time allowed for the TLS handshake. Config: limits.handshakeTimeoutMs */
  readonly handshakeTimeoutMs: number;
  /** A connection with no traffic for this long is closed. Config: limits.idleTimeoutMs */
  readonly idleTimeoutMs: number;
  /** Largest request message, header included. Config: limits.maxMessageBytes */
  readonly maxMessageBytes: number;
  /** Deepest structure nesting in a request. Config: limits.maxDepth */
  readonly maxDepth: number;
  /** Most TTLV items in one request. Config: limits.maxItems */
  readonly maxItems: number;
  /** Requests read ahead while one is being served, per connection. Config: limits.maxPipelined */
  readonly maxPipelined: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  ...DEFAULT_BUDGETS,
  maxConnections: 1024,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxMessageBytes: 4 * 1024 * 1024,
  maxDepth: 32,
  maxItems: 100_000,
  maxPipelined: 16,
});

/** The resource budgets (policy/budgets.ts) are limits too, in the same `limits` config section. */
export interface ServerLimits extends ResourceBudgets {}
