/**
 * Leases kept in the store's meta space (ObjectStore.meta), so every node of a cluster over one
 * PostgreSQL database (and every scheduler over one LevelDB store) sees the same lease: the
 * entry `lease/NAME` holds {holder, expiresAt, token} as JSON.
 *
 * - acquire: read the entry, and if it is free (absent, expired, or this holder's) write it
 *   with a meta-put at the revision read (compare-and-set): of two nodes racing, one gets
 *   CONFLICT and is refused. The fencing token goes up by one whenever the lease changes hands
 *   (or is taken after it expired) and never goes down.
 * - the grant carries the entry's revision: a commit made under the lease carries a
 *   `meta-check` of `lease/NAME` at that revision (`fencedStore`), so a holder that paused
 *   past its expiry, while another node took the lease, cannot commit anything: the store
 *   refuses the whole commit (CONFLICT), in the same transaction as the change.
 * - Expiry compares the holders' clocks (Date.now of each node): keep the nodes' clocks in
 *   step (NTP); a skew shortens or lengthens a lease by as much, and the fencing check is
 *   what keeps a late holder from committing.
 */
import { StoreError, type CommitOp, type CommitOptions, type ObjectStore } from '../store/object-store.js';
import type { LeaseGrant, LeaseStore } from './lease.js';

/** A grant from StoreLeases: the lease entry's revision it was written with. */
export interface StoreLeaseGrant extends LeaseGrant {
  readonly revision: number;
}

interface LeaseValue {
  readonly holder: string;
  readonly expiresAt: number;
  readonly token: number;
}

/** The meta key of lease `name`. */
export const leaseKey = (name: string): string => `lease/${name}`;

export class StoreLeases implements LeaseStore {
  constructor(private readonly store: ObjectStore) {}

  private async read(name: string): Promise<{ value: LeaseValue; revision: number } | undefined> {
    const e = await this.store.meta.get(leaseKey(name));
    if (!e) return undefined;
    try {
      const v = JSON.parse(Buffer.from(e.value).toString('utf8')) as LeaseValue;
      if (typeof v.holder === 'string' && Number.isSafeInteger(v.expiresAt) && Number.isSafeInteger(v.token)) return { value: v, revision: e.revision };
    } catch {
      // an unreadable entry is treated as expired, token 0 (it is overwritten by the next holder)
    }
    return { value: { holder: '', expiresAt: 0, token: 0 }, revision: e.revision };
  }

  private async write(name: string, value: LeaseValue, expectedRevision: number): Promise<boolean> {
    try {
      await this.store.commit([{ type: 'meta-put', key: leaseKey(name), value: Buffer.from(JSON.stringify(value)), expectedRevision }]);
      return true;
    } catch (e) {
      if (e instanceof StoreError && e.code === 'CONFLICT') return false; // another holder wrote it first
      throw e;
    }
  }

  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<StoreLeaseGrant | undefined> {
    const cur = await this.read(name);
    const c = cur?.value;
    if (c && c.holder !== holder && c.expiresAt > now) return undefined;
    const token = c && c.holder === holder && c.expiresAt > now ? c.token : (c?.token ?? 0) + 1;
    const value: LeaseValue = { holder, expiresAt: now + ttlMs, token };
    const revision = cur?.revision ?? 0;
    if (!(await this.write(name, value, revision))) return undefined;
    return { name, ...value, revision: revision + 1 };
  }

  async check(grant: LeaseGrant, now: number): Promise<boolean> {
    const cur = await this.read(grant.name);
    if (!cur) return false;
    const c = cur.value;
    const rev = (grant as Partial<StoreLeaseGrant>).revision;
    return c.holder === grant.holder && c.token === grant.token && c.expiresAt > now && (rev === undefined || rev === cur.revision);
  }

  async release(grant: LeaseGrant): Promise<void> {
    const cur = await this.read(grant.name);
    if (!cur || cur.value.holder !== grant.holder || cur.value.token !== grant.token) return;
    await this.write(grant.name, { ...cur.value, expiresAt: 0 }, cur.revision);
  }

  async current(name: string): Promise<LeaseGrant | undefined> {
    const cur = await this.read(name);
    return cur && { name, ...cur.value };
  }
}

const perStore = new WeakMap<object, StoreLeases>();

/** The lease table of one object store (shared by every scheduler in this process over that store). */
export function leasesFor(store: ObjectStore): StoreLeases {
  let l = perStore.get(store);
  if (!l) {
    l = new StoreLeases(store);
    perStore.set(store, l);
  }
  return l;
}

/**
 * `store` as seen by work done under `grant`: every commit that changes something also checks
 * (meta-check, in the same atomic commit) that the lease entry is still at the grant's
 * revision, so it fails with CONFLICT once another holder took the lease. A grant without a
 * revision (another LeaseStore) gets the store unchanged.
 */
export function fencedStore(store: ObjectStore, grant: LeaseGrant): ObjectStore {
  const revision = (grant as Partial<StoreLeaseGrant>).revision;
  if (revision === undefined) return store;
  const check: CommitOp = { type: 'meta-check', key: leaseKey(grant.name), expectedRevision: revision };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'commit') return (ops: readonly CommitOp[], options?: CommitOptions) => target.commit(ops.length > 0 ? [check, ...ops] : ops, options);
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
