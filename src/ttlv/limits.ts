/**
 * Every decoding limit, named, with a default. The server exposes these through config;
 * the framer applies `maxMessageBytes` from the 8-byte header before buffering anything.
 */
export interface TtlvLimits {
  /** Largest whole message (header included) accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** Deepest Structure nesting accepted (the top-level item is depth 1). */
  readonly maxDepth: number;
  /** Most items (of any type, structures included) accepted in one message. */
  readonly maxItems: number;
}

export const DEFAULT_LIMITS: TtlvLimits = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxDepth: 32,
  maxItems: 100_000,
});

export function resolveLimits(limits?: Partial<TtlvLimits>): TtlvLimits {
  if (!limits) return DEFAULT_LIMITS;
  return { ...DEFAULT_LIMITS, ...limits };
}
