/**
 * The `async` config section: when an item may be answered Operation Pending and how many
 * pending results the server holds (src/operations/async-requests.ts, docs/async-and-s2c.md).
 */
import { enumValueFromName } from '../kmip/registry.js';

export interface AsyncConfig {
  /** An eligible item not finished within this many ms is answered Pending (0: at once). */
  readonly pendingAfterMs: number;
  /** Results held (pending or finished, not yet polled) per client identity. */
  readonly maxPendingPerIdentity: number;
  /** Results held in total. */
  readonly maxPending: number;
  /** A finished result not polled within this many ms is forgotten. */
  readonly resultTtlMs: number;
  /** Operations (normalized names) that may go asynchronous under 1.x True / 2.x Optional. */
  readonly operations: readonly string[];
}

export const DEFAULT_ASYNC_OPERATIONS: readonly string[] = [
  'CreateKeyPair',
  'ReKeyKeyPair',
  'Certify',
  'ReCertify',
  'DeriveKey',
  'CreateSplitKey',
  'JoinSplitKey',
  'Locate',
  'Encrypt',
  'Decrypt',
  'Sign',
  'SignatureVerify',
  'MAC',
  'MACVerify',
  'Hash',
];

export const DEFAULT_ASYNC_CONFIG: AsyncConfig = {
  pendingAfterMs: 300,
  maxPendingPerIdentity: 64,
  maxPending: 4096,
  resultTtlMs: 600_000,
  operations: DEFAULT_ASYNC_OPERATIONS,
};

/** Config keys of the `async` section and their environment variables. */
export const ASYNC_ENV_KEYS: Readonly<Record<string, keyof AsyncConfig>> = {
  KMS_ASYNC_PENDING_AFTER_MS: 'pendingAfterMs',
  KMS_ASYNC_MAX_PENDING_PER_IDENTITY: 'maxPendingPerIdentity',
  KMS_ASYNC_MAX_PENDING: 'maxPending',
  KMS_ASYNC_RESULT_TTL_MS: 'resultTtlMs',
  KMS_ASYNC_OPERATIONS: 'operations',
};

/** Parse (part of) an `async` section; strict: unknown keys and bad values throw with `from` named. */
export function parseAsyncConfig(v: unknown, from: string, into?: Partial<AsyncConfig>): Partial<AsyncConfig> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${from}: async must be an object`);
  const out: Record<string, unknown> = { ...(into ?? {}) };
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'operations') {
      const list =
        typeof raw === 'string'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== '')
          : raw;
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && enumValueFromName('Operation', x) !== undefined)) {
        throw new Error(`${from}: async.operations must be a list of operation names (e.g. CreateKeyPair, Locate)`);
      }
      out[k] = list;
    } else if (k === 'pendingAfterMs' || k === 'maxPendingPerIdentity' || k === 'maxPending' || k === 'resultTtlMs') {
      const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`${from}: async.${k} must be a non-negative integer`);
      if (k === 'resultTtlMs' && n < 1000) throw new Error(`${from}: async.resultTtlMs must be at least 1000`);
      out[k] = n;
    } else {
      throw new Error(`${from}: unknown key async.${k}`);
    }
  }
  return out as Partial<AsyncConfig>;
}
