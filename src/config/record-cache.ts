/**
 * The `recordCache` config section: the bounded cache of decoded records in front of the
 * store (src/store/record-cache.ts, docs/performance.md). Used only over a store this
 * process writes alone (LevelDB); a limit of 0 turns it off.
 */
import { DEFAULT_RECORD_CACHE, type RecordCacheConfig } from '../store/record-cache.js';

/** Environment variables of the `recordCache` section. */
export const RECORD_CACHE_ENV_KEYS: Readonly<Record<string, keyof RecordCacheConfig>> = {
  KMS_RECORD_CACHE_MAX_ENTRIES: 'maxEntries',
  KMS_RECORD_CACHE_MAX_BYTES: 'maxBytes',
};

/** Parse (part of) a `recordCache` section onto `into`; strict: unknown keys and bad values throw with `from` named. */
export function parseRecordCache(v: unknown, from: string, into?: RecordCacheConfig): RecordCacheConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${from}: recordCache must be an object`);
  const out: Record<string, number> = { ...(into ?? {}) };
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (k !== 'maxEntries' && k !== 'maxBytes') throw new Error(`${from}: unknown key recordCache.${k}`);
    const n = typeof val === 'string' && /^\d+$/.test(val) ? Number(val) : val;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`${from}: recordCache.${k} must be a non-negative integer`);
    out[k] = n;
  }
  return out;
}

/** The `kms serve --help` paragraph. */
export function recordCacheHelp(): string {
  return `Record cache (config section recordCache; docs/performance.md): decoded records kept in
memory by uid, dropped by every change before it is acknowledged; LevelDB only (never over
a store other processes write). 0 turns it off:
  KMS_RECORD_CACHE_MAX_ENTRIES  recordCache.maxEntries: records held (${DEFAULT_RECORD_CACHE.maxEntries})
  KMS_RECORD_CACHE_MAX_BYTES    recordCache.maxBytes: their estimated size (${DEFAULT_RECORD_CACHE.maxBytes})`;
}
