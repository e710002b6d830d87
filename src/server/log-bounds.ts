/**
 * Bounded log records: every string a log record carries (an Interop identifier, a Name, a
 * client identity, an error message quoting client input) is cut to `logMaxString` characters
 * (config key logMaxString, KMS_LOG_MAX_STRING; default 1024), with a note of how long it was,
 * and arrays to LOG_MAX_ARRAY items. A client cannot make one log line megabytes long.
 */
export const DEFAULT_LOG_MAX_STRING = 1024;
export const LOG_MAX_ARRAY = 100;
const MAX_DEPTH = 6;

export function cutString(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…[cut: ${s.length} chars]`;
}

/** A copy of `v` with long strings and arrays cut; Errors and other class instances are kept as they are. */
export function boundLogValue(v: unknown, max: number, depth = 0): unknown {
  if (typeof v === 'string') return cutString(v, max);
  if (typeof v !== 'object' || v === null || depth >= MAX_DEPTH) return v;
  if (Array.isArray(v)) {
    const items = v.slice(0, LOG_MAX_ARRAY).map((x) => boundLogValue(x, max, depth + 1));
    if (v.length > LOG_MAX_ARRAY) items.push(`…[cut: ${v.length} items]`);
    return items;
  }
  if (v instanceof Error) {
    if (v.message.length <= max) return v;
    const e = new Error(cutString(v.message, max));
    e.name = v.name;
    e.stack = cutString(v.stack ?? '', max * 4);
    return e;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = boundLogValue(x, max, depth + 1);
  return out;
}

/** pino `formatters` that bound every record and every child logger's bindings. */
export function boundedFormatters(max: number) {
  return {
    log: (o: Record<string, unknown>) => boundLogValue(o, max) as Record<string, unknown>,
    bindings: (b: Record<string, unknown>) => boundLogValue(b, max) as Record<string, unknown>,
  };
}
