/**
 * The `storePool` section: how a node talks to a PostgreSQL store (config `store`); ignored
 * for the LevelDB store. Each key also has a KMS_ environment variable.
 */

export interface StorePoolConfig {
  /** Most connections of the pool (reads and the commit writer). Default 10. */
  readonly poolSize?: number;
  /** Most commits that share one transaction (group commit). Default 64; 1 turns it off. */
  readonly maxGroupCommits?: number;
  /** Longest wait for a new database connection, in ms (default 10000). */
  readonly connectTimeoutMs?: number;
  /** Longest wait for one query's answer, in ms (default 30000; 0: none): past it the request fails, it does not hang. */
  readonly queryTimeoutMs?: number;
  /**
   * Longest a transaction of this node may sit idle, in ms (default 5000; 0: the database's own
   * setting): a node frozen mid-commit (SIGSTOP, a VM paused) holds the lock every writer of the
   * cluster takes; past this, PostgreSQL ends its session and the other nodes go on.
   */
  readonly idleTransactionTimeoutMs?: number;
  /** A KEK rotation over the cluster holds its lease this long without renewal, ms (default 60000; renewed at half). */
  readonly kekLeaseTtlMs?: number;
  /** `rotate-kek --destroy-old` over the cluster waits this long for every node to seal under the new KEK, ms (default 30000). */
  readonly kekNodesWaitMs?: number;
}

export const STORE_POOL_ENV_KEYS: Readonly<Record<string, keyof StorePoolConfig>> = {
  KMS_STORE_POOL_SIZE: 'poolSize',
  KMS_STORE_MAX_GROUP_COMMITS: 'maxGroupCommits',
  KMS_STORE_CONNECT_TIMEOUT_MS: 'connectTimeoutMs',
  KMS_STORE_QUERY_TIMEOUT_MS: 'queryTimeoutMs',
  KMS_STORE_IDLE_TRANSACTION_TIMEOUT_MS: 'idleTransactionTimeoutMs',
  KMS_STORE_KEK_LEASE_TTL_MS: 'kekLeaseTtlMs',
  KMS_STORE_KEK_NODES_WAIT_MS: 'kekNodesWaitMs',
};

const RANGES: Readonly<Record<keyof StorePoolConfig, readonly [number, number]>> = {
  poolSize: [1, 1000],
  maxGroupCommits: [1, 10_000],
  connectTimeoutMs: [1, 600_000],
  queryTimeoutMs: [0, 600_000],
  idleTransactionTimeoutMs: [0, 600_000],
  kekLeaseTtlMs: [1000, 3_600_000],
  kekNodesWaitMs: [0, 3_600_000],
};

export class StorePoolError extends Error {
  override readonly name = 'StorePoolError';
}

/** Parse (part of) a storePool section onto `into`; throws StorePoolError naming the key. */
export function parseStorePool(v: unknown, from: string, into?: StorePoolConfig): StorePoolConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new StorePoolError(`${from}: storePool must be an object`);
  const out: Record<string, number> = { ...(into as Record<string, number> | undefined) };
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    const range = RANGES[k as keyof StorePoolConfig];
    if (!range) throw new StorePoolError(`${from}: unknown key storePool.${k}`);
    const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < range[0] || n > range[1])
      throw new StorePoolError(`${from}: storePool.${k} must be an integer from ${range[0]} to ${range[1]}`);
    out[k] = n;
  }
  return out;
}

export function storePoolHelp(): string {
  return `PostgreSQL store (config store, KMS_STORE; section storePool, docs/cluster-nodes.md):
  storePool.poolSize          KMS_STORE_POOL_SIZE: database connections (default 10)
  storePool.maxGroupCommits   KMS_STORE_MAX_GROUP_COMMITS: commits per transaction (64)
  storePool.connectTimeoutMs  KMS_STORE_CONNECT_TIMEOUT_MS: longest wait for a database
                              connection, ms (10000)
  storePool.queryTimeoutMs    KMS_STORE_QUERY_TIMEOUT_MS: longest wait for one query's
                              answer, ms (30000; 0 none): a stalled database fails
                              the request (a KMIP error), it does not hang
  storePool.idleTransactionTimeoutMs
                              KMS_STORE_IDLE_TRANSACTION_TIMEOUT_MS: longest a
                              transaction of this node may sit idle, ms (5000; 0:
                              the database's setting): a frozen node cannot hold
                              the cluster's write lock longer than this
  storePool.kekLeaseTtlMs     KMS_STORE_KEK_LEASE_TTL_MS: a KEK rotation over the
                              cluster holds its lease (lease/kek-rotation) this
                              long, renewed at half, ms (60000)
  storePool.kekNodesWaitMs    KMS_STORE_KEK_NODES_WAIT_MS: rotate-kek --destroy-old
                              waits this long for every node to seal under the
                              new KEK before refusing, ms (30000)`;
}
