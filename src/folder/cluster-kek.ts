/**
 * KEK rotation over a PostgreSQL store shared by a cluster (docs/cluster-nodes.md, "KEK
 * rotation"). Two halves:
 *
 * The follower (`ClusterKekFollower`), on every node whose folder is open over the shared
 * store with an HSM: it watches the cluster's custody record (`cluster/custody`, meta.watch:
 * this node's commits and, through the store's change feed, the other nodes'), and when the
 * record's KEK history moved on (same token, same audit key, the folder's KEKs a prefix of the
 * record's) it finds the new current KEK on its own token by label AND CKA_ID, switches the
 * folder's protector to it (sealing from then on; every recorded KEK still opens), writes the
 * folder's custody.json, and stamps the KEK it seals under in its node entry
 * (`cluster/nodes/<id>`). A body sealed under a KEK it does not know makes it re-read the record
 * before the open fails (the notification may arrive after the rewritten record). Anything
 * else in the record (another token, another audit key, a history that is not this folder's)
 * is never adopted: logged, and the node goes on with what it has.
 *
 * The rotation (`rotateOverCluster`, called by rotateKek for a cluster store), on any one node:
 * 1. the lease `lease/kek-rotation` ({holder, expiresAt, token}, the format of
 *    src/rotation/store-leases.ts) is taken by compare-and-set; held elsewhere → refused,
 *    naming the holder. Every commit of the rotation carries a meta-check of the lease entry
 *    at the revision this holder last wrote (renewals included): a rotation that lost its
 *    lease commits nothing.
 * 2. the new KEK is recorded as pending in the cluster record (label, CKA_ID), then made on the
 *    shared token (found by label and id if an interrupted run made it already), then the
 *    record names it current (the old ones retired, kept): every node switches.
 * 3. every record is rewrapped (kek-rotation.ts rewrapAll) through the fenced store.
 * 4. with destroyOld: every node entry must stamp the new KEK (waited for up to
 *    `storePool.kekNodesWaitMs`; a node that does not → destroy refused, naming it); one more
 *    rewrap pass; then each retired, not adopted KEK no record uses is marked destroyed in
 *    the record and destroyed on the token.
 * A run interrupted anywhere is finished by running it again, on any node (a pending KEK is
 * taken up again; else a newer KEK is made and everything rewrapped under it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { AuditTrail } from '../audit/trail.js';
import { HsmProtector, KEK_LABEL_PREFIX } from '../hsm/hsm-protector.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import type { Pkcs11Backend } from '../hsm/pkcs11/pkcs11-backend.js';
import { StoreError, type CommitOp, type CommitOptions, type ObjectStore } from '../store/object-store.js';
import { CLUSTER_CUSTODY_KEY, historyMovedOn, readClusterEntry, type ClusterCustody } from './cluster-custody.js';
import { currentKek, openableKeks, readCustody, writeCustody, type HsmCustody, type RecordedKek } from './custody.js';
import type { SwitchableProtector } from './switchable.js';
import { rotationEvents } from './rotation-event.js';

/** The lease a cluster KEK rotation holds (meta key `lease/kek-rotation`). */
export const KEK_ROTATION_LEASE = 'kek-rotation';
const LEASE_KEY = `lease/${KEK_ROTATION_LEASE}`;
/** Node entries: `cluster/nodes/<16 hex>` = NodeStamp. */
export const NODE_PREFIX = 'cluster/nodes/';

/** Defaults of the two limits (config storePool.kekLeaseTtlMs, storePool.kekNodesWaitMs). */
export const DEFAULT_KEK_LEASE_TTL_MS = 60_000;
export const DEFAULT_KEK_NODES_WAIT_MS = 30_000;

export interface ClusterKekSettings {
  /** How long the rotation's lease lasts without renewal (renewed at half of it). */
  readonly leaseTtlMs: number;
  /** How long --destroy-old waits for every node to stamp the new KEK. */
  readonly nodesWaitMs: number;
}

/** What a node writes in its entry: which KEK it seals under. */
export interface NodeStamp {
  readonly node: string;
  readonly pid: number;
  readonly kekId: string;
  readonly since: string;
}

export class ClusterKekError extends Error {
  override readonly name = 'ClusterKekError';
}

/** "host:/abs/data/dir": how a node is named in messages. */
export function nodeName(dataDir: string): string {
  return `${hostname()}:${resolve(dataDir)}`;
}

export function nodeKey(name: string): string {
  return NODE_PREFIX + createHash('sha256').update(name).digest('hex').slice(0, 16);
}

interface Log {
  warn(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
}

const followers = new Map<string, ClusterKekFollower>();

/** The follower of the folder `dataDir` opened in this process (a cluster store with an HSM). */
export function clusterFollower(dataDir: string): ClusterKekFollower | undefined {
  return followers.get(resolve(dataDir));
}

export class ClusterKekFollower {
  readonly name: string;
  readonly key: string;
  private unwatch: () => void = () => undefined;
  private chain: Promise<boolean> = Promise.resolve(true);
  private applied: string;
  private closed = false;

  private constructor(
    readonly dataDir: string,
    readonly store: ObjectStore,
    readonly protector: SwitchableProtector,
    readonly backend: Pkcs11Backend,
    readonly settings: ClusterKekSettings,
    private readonly log: Log | undefined,
    applied: HsmCustody,
  ) {
    this.name = nodeName(dataDir);
    this.key = nodeKey(this.name);
    this.applied = JSON.stringify(applied);
  }

  /** Start following (after the folder's keys are open and the cluster record is published). */
  static async start(o: {
    dataDir: string;
    store: ObjectStore;
    protector: SwitchableProtector;
    backend: Pkcs11Backend;
    settings?: Partial<ClusterKekSettings>;
    log?: Log;
  }): Promise<ClusterKekFollower> {
    const local = readCustody(o.dataDir);
    if (!local || local.protector.kind !== 'hsm') throw new ClusterKekError(`${o.dataDir}: no HSM custody record to follow`);
    const settings: ClusterKekSettings = {
      leaseTtlMs: o.settings?.leaseTtlMs ?? DEFAULT_KEK_LEASE_TTL_MS,
      nodesWaitMs: o.settings?.nodesWaitMs ?? DEFAULT_KEK_NODES_WAIT_MS,
    };
    const f = new ClusterKekFollower(resolve(o.dataDir), o.store, o.protector, o.backend, settings, o.log, local.protector);
    f.unwatch = o.store.meta.watch(CLUSTER_CUSTODY_KEY, () => void f.reload());
    o.protector.refresh = () => f.reload();
    followers.set(f.dataDir, f);
    try {
      // The record may have moved on between the folder's check and now.
      await f.reload();
      await f.stamp();
    } catch (e) {
      f.closed = true;
      f.unwatch();
      delete o.protector.refresh;
      followers.delete(f.dataDir);
      throw e;
    }
    return f;
  }

  /**
   * Read the cluster record and adopt its KEK history if it moved on. Serialised; true when
   * this node now follows the record (nothing to do, or switched).
   */
  reload(): Promise<boolean> {
    this.chain = this.chain.then(
      () => this.apply(),
      () => this.apply(),
    );
    return this.chain;
  }

  private async apply(): Promise<boolean> {
    if (this.closed) return false;
    try {
      const { custody: cluster } = await readClusterEntry(this.store);
      if (!cluster || cluster.protector.kind !== 'hsm') return false;
      const next = cluster.protector;
      if (JSON.stringify(next) === this.applied) return true;
      const local = readCustody(this.dataDir);
      if (!local || local.protector.kind !== 'hsm') return false;
      if (!historyMovedOn(local.protector, next)) {
        this.log?.warn({ cluster: CLUSTER_CUSTODY_KEY }, 'the cluster custody record is not this data folder’s KEK history (another token, audit key or KEKs): not adopted');
        return false;
      }
      const cur = currentKek(next);
      const found = await this.backend.findKeys({ label: cur.label, id: Buffer.from(cur.id, 'hex'), token: true });
      if (found.length !== 1) {
        this.log?.warn(
          { kek: cur.label },
          `the cluster's current KEK ${cur.label} (id ${cur.id}) is ${found.length ? 'on the token more than once' : 'not on this node’s token'}: not adopted`,
        );
        return false;
      }
      const before = this.protector.kekId;
      this.protector.switchTo(HsmProtector.fromRecorded(this.backend, found[0]!, openableKeks(next)));
      writeCustody(this.dataDir, { ...local, protector: next });
      this.applied = JSON.stringify(next);
      if (before !== this.protector.kekId) {
        this.log?.warn({ previous: before, current: this.protector.kekId }, 'KEK rotated by the cluster: this node seals under the new KEK');
        await this.stamp();
      }
      return true;
    } catch (e) {
      this.log?.warn({ err: e }, 'reading the cluster custody record failed (retried at the next change or unknown KEK)');
      return false;
    }
  }

  /** Write this node's entry: the KEK it seals under now. */
  async stamp(): Promise<void> {
    const value: NodeStamp = { node: this.name, pid: process.pid, kekId: this.protector.kekId, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      const e = await this.store.meta.get(this.key);
      try {
        await this.store.commit([{ type: 'meta-put', key: this.key, value: Buffer.from(JSON.stringify(value)), expectedRevision: e?.revision ?? 0 }]);
        return;
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'CONFLICT')) throw err;
      }
    }
  }

  /** Stop following; the node's entry is removed (a node that stops seals nothing more). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    delete this.protector.refresh;
    if (followers.get(this.dataDir) === this) followers.delete(this.dataDir);
    await this.chain.catch(() => undefined);
    try {
      const e = await this.store.meta.get(this.key);
      if (e) await this.store.commit([{ type: 'meta-delete', key: this.key, expectedRevision: e.revision }]);
    } catch {
      // the database is gone: the entry stays, and --destroy-old names this node until it starts again
    }
  }
}

/** Every node entry of the cluster. */
export async function listNodes(store: ObjectStore): Promise<(NodeStamp & { key: string })[]> {
  const out: (NodeStamp & { key: string })[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.meta.list(NODE_PREFIX, { ...(after !== undefined && { after }), limit: 256 });
    if (page.length === 0) return out;
    for (const e of page) {
      try {
        out.push({ ...(JSON.parse(Buffer.from(e.value).toString('utf8')) as NodeStamp), key: e.key });
      } catch {
        out.push({ node: e.key, pid: 0, kekId: '?', since: '?', key: e.key });
      }
    }
    after = page[page.length - 1]!.key;
  }
}

interface LeaseValue {
  readonly holder: string;
  readonly expiresAt: number;
  readonly token: number;
}

/**
 * The rotation's lease, and the store as the rotation sees it: every commit carries a
 * meta-check of the lease entry at the revision this holder wrote last, renewed (a
 * compare-and-set at that revision) once half the lease has passed.
 */
export class RotationLease {
  private constructor(
    private readonly store: ObjectStore,
    readonly holder: string,
    private value: LeaseValue,
    private revision: number,
    private readonly ttlMs: number,
  ) {}

  get token(): number {
    return this.value.token;
  }

  static async take(store: ObjectStore, holder: string, ttlMs: number): Promise<RotationLease> {
    const e = await store.meta.get(LEASE_KEY);
    let cur: LeaseValue | undefined;
    if (e) {
      try {
        cur = JSON.parse(Buffer.from(e.value).toString('utf8')) as LeaseValue;
      } catch {
        cur = { holder: '', expiresAt: 0, token: 0 };
      }
    }
    const now = Date.now();
    if (cur && cur.holder !== holder && cur.expiresAt > now) throw busy(cur);
    const value: LeaseValue = { holder, expiresAt: now + ttlMs, token: (cur?.token ?? 0) + 1 };
    try {
      await store.commit([{ type: 'meta-put', key: LEASE_KEY, value: Buffer.from(JSON.stringify(value)), expectedRevision: e?.revision ?? 0 }]);
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'CONFLICT')) throw err;
      const now2 = await store.meta.get(LEASE_KEY);
      throw busy(now2 ? (JSON.parse(Buffer.from(now2.value).toString('utf8')) as LeaseValue) : { holder: 'another node', expiresAt: now + ttlMs, token: value.token });
    }
    return new RotationLease(store, holder, value, (e?.revision ?? 0) + 1, ttlMs);
  }

  private check(): CommitOp {
    return { type: 'meta-check', key: LEASE_KEY, expectedRevision: this.revision };
  }

  /** Renew when half the lease has passed; a lost lease throws. */
  private async keep(): Promise<void> {
    const now = Date.now();
    if (now < this.value.expiresAt - this.ttlMs / 2) return;
    const value: LeaseValue = { ...this.value, expiresAt: now + this.ttlMs };
    try {
      await this.store.commit([{ type: 'meta-put', key: LEASE_KEY, value: Buffer.from(JSON.stringify(value)), expectedRevision: this.revision }]);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'CONFLICT') throw await this.lost();
      throw e;
    }
    this.value = value;
    this.revision++;
  }

  private async lost(): Promise<ClusterKekError> {
    const e = await this.store.meta.get(LEASE_KEY).catch(() => undefined);
    const v = e ? (JSON.parse(Buffer.from(e.value).toString('utf8')) as LeaseValue) : undefined;
    return new ClusterKekError(
      `this KEK rotation lost its lease ${LEASE_KEY} (fencing token ${this.value.token}${v ? `; now held by ${v.holder}, token ${v.token}` : ''}): it commits nothing more; run it again to finish`,
    );
  }

  /** Commit `ops` under the lease (its meta-check first, in the same commit). */
  async commit(ops: readonly CommitOp[], options?: CommitOptions): Promise<void> {
    await this.keep();
    try {
      await this.store.commit([this.check(), ...ops], options);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'CONFLICT') {
        const still = await this.store.meta.get(LEASE_KEY);
        if (still?.revision !== this.revision) throw await this.lost();
      }
      throw e;
    }
  }

  /** `store` whose commits all go through the lease. */
  fenced(): ObjectStore {
    const commit = (ops: readonly CommitOp[], options?: CommitOptions) => (ops.length > 0 ? this.commit(ops, options) : this.store.commit(ops, options));
    const target = this.store;
    return new Proxy(target, {
      get(t, prop) {
        if (prop === 'commit') return commit;
        const v = Reflect.get(t, prop, t) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }

  /** Give the lease back (expired now; the token stays, the next holder raises it). */
  async release(): Promise<void> {
    try {
      await this.store.commit([{ type: 'meta-put', key: LEASE_KEY, value: Buffer.from(JSON.stringify({ ...this.value, expiresAt: 0 })), expectedRevision: this.revision }]);
    } catch {
      // lost or the database is gone: it expires by itself
    }
  }
}

function busy(v: LeaseValue): ClusterKekError {
  return new ClusterKekError(
    `a KEK rotation is already running on ${v.holder} (lease ${LEASE_KEY}, fencing token ${v.token}, held until ${new Date(v.expiresAt).toISOString()}): ` +
      `wait for it to finish; if that node died, run this again once the lease has expired (it finishes the interrupted rotation)`,
  );
}

export interface ClusterRotationOptions {
  readonly store: ObjectStore;
  readonly protector: KeyProtector;
  readonly follower: ClusterKekFollower;
  readonly label?: string;
  readonly destroyOld?: boolean;
  /** Node entries to remove before --destroy-old checks them (nodes gone for good). */
  readonly forgetNodes?: readonly string[];
  readonly audit?: AuditTrail;
  readonly actor?: string;
  /** Rewrap every record (kek-rotation.ts rewrapAll) through `store`. */
  readonly rewrap: (store: ObjectStore) => Promise<{ passes: number; scanned: number; rewrapped: number; retried: number }>;
  readonly usage: () => Promise<Map<string, number>>;
}

export interface ClusterRotationResult {
  readonly previous: string;
  readonly current: string;
  readonly passes: number;
  readonly scanned: number;
  readonly rewrapped: number;
  readonly retried: number;
  readonly destroyed: readonly string[];
  readonly kept?: readonly string[];
  /** --destroy-old refused (a node still seals under an old KEK): why. */
  readonly destroyRefused?: string;
  /** The lease's fencing token. */
  readonly fencingToken: number;
  /** An interrupted rotation's pending KEK was taken up again. */
  readonly resumed: boolean;
}

async function putCluster(lease: RotationLease, c: ClusterCustody, revision: number): Promise<number> {
  try {
    await lease.commit([{ type: 'meta-put', key: CLUSTER_CUSTODY_KEY, value: Buffer.from(JSON.stringify(c)), expectedRevision: revision }]);
  } catch (e) {
    if (e instanceof StoreError && e.code === 'CONFLICT') throw new ClusterKekError(`the cluster custody record (${CLUSTER_CUSTODY_KEY}) changed under the rotation: run it again`);
    throw e;
  }
  return revision + 1;
}

export async function rotateOverCluster(o: ClusterRotationOptions): Promise<ClusterRotationResult> {
  const f = o.follower;
  const lease = await RotationLease.take(o.store, f.name, f.settings.leaseTtlMs);
  const event = rotationEvents(o.actor);
  try {
    let { custody: cc, revision } = await readClusterEntry(o.store);
    if (!cc) throw new ClusterKekError(`the database holds no custody record (${CLUSTER_CUSTODY_KEY})`);
    if (cc.protector.kind !== 'hsm') throw new ClusterKekError(`the cluster is sealed under the software master key: it has no KEK to rotate`);
    // This node must follow the record before it changes it.
    if (!(await f.reload())) throw new ClusterKekError(`${f.dataDir} does not follow the cluster's custody record: not rotating from this node`);
    let hp: HsmCustody = cc.protector;
    let pending = cc.rotation;
    const resumed = pending !== undefined;
    if (!pending) {
      const label = o.label ?? KEK_LABEL_PREFIX + randomBytes(4).toString('hex');
      if (hp.keks.some((k) => k.label === label)) throw new ClusterKekError(`${label} is already a KEK of this cluster: choose a new label`);
      pending = { label, id: randomBytes(16).toString('hex'), holder: f.name, started: new Date().toISOString() };
      // Recorded before it is made (custody.ts): a crash leaves it pending, taken up by the next run.
      revision = await putCluster(lease, { ...cc, rotation: pending }, revision);
    }
    // Made on the shared token: found by label and id (an interrupted run made it), never another key under that label.
    const same = await f.backend.findKeys({ label: pending.label, token: true });
    if (same.some((k) => k.id !== pending.id)) throw new ClusterKekError(`the token already holds a key labelled ${pending.label} that the cluster did not record: choose another label`);
    if (same.length === 0)
      await f.backend.generateKey({
        type: 'AES',
        bits: 256,
        token: true,
        sensitive: true,
        extractable: false,
        usage: ['encrypt', 'decrypt'],
        label: pending.label,
        id: Buffer.from(pending.id, 'hex'),
      });
    const now = new Date().toISOString();
    const previous = `hsm:${currentKek(hp).label}`;
    const keks: RecordedKek[] = [
      ...hp.keks.map((k) => (k.state === 'current' ? { ...k, state: 'retired' as const } : k)),
      { label: pending.label, id: pending.id, made: true, since: now, state: 'current' },
    ];
    hp = { ...hp, keks };
    const { rotation: _done, ...rest } = cc;
    void _done;
    cc = { ...rest, protector: hp };
    revision = await putCluster(lease, cc, revision);
    const current = `hsm:${pending.label}`;
    // Every node switches on the notification; this one now, before rewrapping.
    await f.reload();
    if (o.protector.kekId !== current) throw new ClusterKekError(`this node did not switch to ${current} (it seals under ${o.protector.kekId})`);
    await o.audit?.commitAlone([event('Started', `new KEK ${current} replaces ${previous} (cluster, lease token ${lease.token}${resumed ? ', an interrupted rotation taken up' : ''})`)]);
    const fenced = lease.fenced();
    let result;
    try {
      result = await o.rewrap(fenced);
    } catch (e) {
      await o.audit?.commitAlone([event('OperationFailed', `rewrap under ${current} failed: ${(e as Error).message}`)]).catch(() => undefined);
      throw e;
    }
    const destroyed: string[] = [];
    const kept: string[] = [];
    let destroyRefused: string | undefined;
    if (o.destroyOld) {
      for (const name of o.forgetNodes ?? []) {
        const k = name.startsWith(NODE_PREFIX) ? name : nodeKey(name);
        const e = await o.store.meta.get(k);
        if (e) await lease.commit([{ type: 'meta-delete', key: k, expectedRevision: e.revision }]);
      }
      destroyRefused = await waitForNodes(o.store, current, f.settings.nodesWaitMs);
      if (destroyRefused === undefined) {
        // Anything a node sealed under the old KEK just before it switched.
        const again = await o.rewrap(fenced);
        result = { ...result, rewrapped: result.rewrapped + again.rewrapped, retried: result.retried + again.retried };
        const usage = await o.usage();
        ({ custody: cc, revision } = await readClusterEntry(o.store));
        hp = cc!.protector as HsmCustody;
        const gone = new Set<string>();
        for (const k of hp.keks.filter((x) => x.state === 'retired')) {
          const kid = `hsm:${k.label}`;
          if ((usage.get(kid) ?? 0) > 0 || k.adopted) kept.push(kid);
          else gone.add(k.label);
        }
        if (gone.size > 0) {
          // The record first: no node opens with them any more; then the token.
          await putCluster(lease, { ...cc!, protector: { ...hp, keks: hp.keks.map((k) => (gone.has(k.label) ? { ...k, state: 'destroyed' as const } : k)) } }, revision);
          for (const k of hp.keks.filter((x) => gone.has(x.label))) {
            for (const ref of await f.backend.findKeys({ label: k.label, id: Buffer.from(k.id, 'hex'), token: true })) await f.backend.destroyKey(ref);
            destroyed.push(`hsm:${k.label}`);
          }
          await f.reload();
        }
      }
    }
    await o.audit?.commitAlone([
      event(
        'Success',
        `rewrapped ${result.rewrapped} objects under ${current} in ${result.passes} passes${destroyed.length ? `; destroyed ${destroyed.join(', ')}` : ''}${destroyRefused ? `; old KEKs kept: ${destroyRefused}` : ''}`,
      ),
    ]);
    return {
      ...result,
      previous,
      current,
      destroyed,
      ...(o.destroyOld && { kept }),
      ...(destroyRefused !== undefined && { destroyRefused }),
      fencingToken: lease.token,
      resumed,
    };
  } finally {
    await lease.release();
  }
}

/** Wait until every node entry stamps `current`; undefined when they do, else why not (naming the nodes). */
async function waitForNodes(store: ObjectStore, current: string, waitMs: number): Promise<string | undefined> {
  const end = Date.now() + waitMs;
  for (;;) {
    const behind = (await listNodes(store)).filter((n) => n.kekId !== current);
    if (behind.length === 0) return undefined;
    if (Date.now() >= end)
      return (
        `node${behind.length > 1 ? 's' : ''} ${behind.map((n) => `${n.node} (pid ${n.pid}, seals under ${n.kekId} since ${n.since})`).join(', ')} did not take up ${current} within ${waitMs} ms: ` +
        `not destroying old KEKs. A node that is down takes the new KEK when it starts: start it, or if it is gone for good, run again with --forget-node NAME`
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}
