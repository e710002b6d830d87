/**
 * A lease for jobs that must run once per cluster (the key rotation scheduler). A lease record
 * holds the holder, its expiry and a fencing token that only ever increases: each time the lease
 * changes hands the token goes up, and a holder checks its token before each change it commits,
 * so a holder that paused past its expiry (and lost the lease) cannot commit after the next
 * holder started.
 *
 * LocalLeases keeps the records in memory, one table per object store (two schedulers over the
 * same store share it): in one process the lease is trivially held, but the code path is the one
 * a cluster takes. A PostgreSQL store (issue #15) provides the same contract with a lease row
 * (UPDATE … WHERE expires < now OR holder = me RETURNING token+1) and checks the token in the
 * commit's transaction.
 */

export interface LeaseGrant {
  readonly name: string;
  readonly holder: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  readonly token: number;
}

export interface LeaseStore {
  /** Take or renew `name` for `holder` until now + ttl; undefined while another holder's lease is unexpired. */
  acquire(name: string, holder: string, ttlMs: number, now: number): Promise<LeaseGrant | undefined>;
  /** Is `grant` still the current lease at `now` (same holder and token, not expired)? */
  check(grant: LeaseGrant, now: number): Promise<boolean>;
  /** Give the lease up (it expires now) if `grant` still holds it. */
  release(grant: LeaseGrant): Promise<void>;
  /** The current record, for status. */
  current(name: string): Promise<LeaseGrant | undefined>;
}

export class LocalLeases implements LeaseStore {
  private readonly records = new Map<string, LeaseGrant>();

  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<LeaseGrant | undefined> {
    const cur = this.records.get(name);
    if (cur && cur.holder !== holder && cur.expiresAt > now) return undefined;
    // Renewal by the same unexpired holder keeps the token; a new holder (or an expired one) gets the next.
    const token = cur && cur.holder === holder && cur.expiresAt > now ? cur.token : (cur?.token ?? 0) + 1;
    const grant: LeaseGrant = { name, holder, expiresAt: now + ttlMs, token };
    this.records.set(name, grant);
    return grant;
  }

  async check(grant: LeaseGrant, now: number): Promise<boolean> {
    const cur = this.records.get(grant.name);
    return cur !== undefined && cur.holder === grant.holder && cur.token === grant.token && cur.expiresAt > now;
  }

  async release(grant: LeaseGrant): Promise<void> {
    const cur = this.records.get(grant.name);
    if (cur && cur.holder === grant.holder && cur.token === grant.token) this.records.set(grant.name, { ...cur, expiresAt: 0 });
  }

  async current(name: string): Promise<LeaseGrant | undefined> {
    return this.records.get(name);
  }
}

const perStore = new WeakMap<object, LocalLeases>();

/** The in-process lease table of one object store (shared by every scheduler over that store). */
export function localLeasesFor(store: object): LocalLeases {
  let l = perStore.get(store);
  if (!l) {
    l = new LocalLeases();
    perStore.set(store, l);
  }
  return l;
}
