/**
 * KEK rotation: make a new key-encryption key current, then rewrap every object's sealed
 * content under it while the server keeps serving, then (optionally) destroy the KEKs no
 * record uses any more.
 *
 * Concurrency with live requests: each rewrap is an ordinary store commit with the record's
 * expected revision, so a request that changed the object in between wins and the rewrap
 * re-reads it (a request that read the record before the rewrap and writes after it gets the
 * store's usual "changed concurrently" refusal, as with any concurrent writer). A request
 * that sealed under the old KEK just before the switch commits a body the pass may already
 * have passed; passes repeat until one finds nothing left under an old KEK.
 *
 * Crash safety: the marker naming the new KEK is written before the key exists (see
 * kek-marker.ts); an interrupted rewrap leaves every body under the old or the new KEK, both
 * still on the token, and running the rotation again finishes it.
 */
import { randomBytes } from 'node:crypto';
import type { AuditTrail } from '../audit/trail.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import { StoreError, type ObjectStore, type StoreOp } from '../store/object-store.js';
import { KEK_LABEL_PREFIX } from '../hsm/hsm-protector.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { readCustody, writeCustody, type HsmCustody, type RecordedKek } from './custody.js';
import { writeKekMarker } from './kek-marker.js';
import { isClusterStore } from './store-choice.js';
import { ClusterKekError, clusterFollower, rotateOverCluster } from './cluster-kek.js';
import { rotationEvents } from './rotation-event.js';

const PAGE = 256;
const MAX_PASSES = 8;

export interface RewrapProgress {
  readonly pass: number;
  readonly scanned: number;
  readonly total: number;
  readonly rewrapped: number;
}

export interface RewrapResult {
  readonly passes: number;
  readonly scanned: number;
  readonly rewrapped: number;
  /** Records written concurrently by requests that had to be re-read. */
  readonly retried: number;
}

/** How many stored bodies each KEK seals (destroyed objects have none). */
export async function kekUsage(store: ObjectStore): Promise<Map<string, number>> {
  const usage = new Map<string, number>();
  for await (const r of records(store)) if (r.sealedBody && r.kekId) usage.set(r.kekId, (usage.get(r.kekId) ?? 0) + 1);
  return usage;
}

async function* records(store: ObjectStore): AsyncGenerator<ObjectRecord> {
  let after: string | undefined;
  for (;;) {
    const uids = await store.list(after, PAGE);
    if (uids.length === 0) return;
    for (const uid of uids) {
      const r = await store.get(uid);
      if (r) yield r;
    }
    after = uids[uids.length - 1];
  }
}

/** Reseal one record's body under the protector's current KEK (the caller commits it). */
async function resealed(protector: KeyProtector, r: ObjectRecord): Promise<ObjectRecord> {
  const plain = await protector.open(r.uid, r.sealedBody!, r.kekId!);
  try {
    const kekId = protector.kekId;
    const sealedBody = await protector.seal(r.uid, plain);
    return { ...r, sealedBody, kekId };
  } finally {
    if (Buffer.isBuffer(plain) || plain instanceof Uint8Array) plain.fill(0);
  }
}

const stale = (protector: KeyProtector, r: ObjectRecord | undefined): r is ObjectRecord => !!r && !!r.sealedBody && !!r.kekId && r.kekId !== protector.kekId;

/** Rewrap every body not under the current KEK. Repeats passes until one finds none. */
export async function rewrapAll(store: ObjectStore, protector: KeyProtector, onProgress?: (p: RewrapProgress) => void): Promise<RewrapResult> {
  let scannedAll = 0;
  let rewrapped = 0;
  let retried = 0;
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    const total = await store.count();
    let scanned = 0;
    let foundStale = 0;
    let after: string | undefined;
    for (;;) {
      const uids = await store.list(after, PAGE);
      if (uids.length === 0) break;
      after = uids[uids.length - 1];
      const ops: StoreOp[] = [];
      for (const uid of uids) {
        const r = await store.get(uid);
        if (!stale(protector, r)) continue;
        ops.push({ type: 'put', record: await resealed(protector, r), expectedRevision: r.revision });
      }
      scanned += uids.length;
      foundStale += ops.length;
      if (ops.length > 0) {
        try {
          await store.commit(ops);
          rewrapped += ops.length;
        } catch (e) {
          if (!(e instanceof StoreError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND'))) throw e;
          // Someone changed one of these meanwhile: one at a time, each re-read.
          for (const op of ops) {
            if (op.type !== 'put') continue;
            const done = await rewrapOne(store, protector, op.record.uid);
            rewrapped += done.rewrapped;
            retried += done.retried;
          }
        }
      }
      onProgress?.({ pass, scanned, total, rewrapped });
    }
    scannedAll += scanned;
    if (foundStale === 0) return { passes: pass, scanned: scannedAll, rewrapped, retried };
  }
  const left = [...(await kekUsage(store))].filter(([k]) => k !== protector.kekId);
  if (left.length === 0) return { passes: MAX_PASSES, scanned: scannedAll, rewrapped, retried };
  throw new Error(`rewrap did not converge after ${MAX_PASSES} passes (still under old KEKs: ${left.map(([k, n]) => `${k}: ${n}`).join(', ')}); run it again`);
}

async function rewrapOne(store: ObjectStore, protector: KeyProtector, uid: string): Promise<{ rewrapped: number; retried: number }> {
  for (let attempt = 1; attempt <= 10; attempt++) {
    const r = await store.get(uid);
    if (!stale(protector, r)) return { rewrapped: 0, retried: attempt - 1 };
    try {
      await store.commit([{ type: 'put', record: await resealed(protector, r), expectedRevision: r.revision }]);
      return { rewrapped: 1, retried: attempt - 1 };
    } catch (e) {
      if (!(e instanceof StoreError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND'))) throw e;
    }
  }
  throw new Error(`object ${uid} kept changing while it was being rewrapped`);
}

export interface RotationResult extends RewrapResult {
  readonly previous: string;
  readonly current: string;
  /** KEKs destroyed afterwards (with `destroyOld`). */
  readonly destroyed: readonly string[];
  /**
   * Retired KEKs of this folder left on the token (with `destroyOld`): records still use them,
   * or they were adopted from a folder made before custody records (maybe shared with another).
   */
  readonly kept?: readonly string[];
  /** Over a cluster's store, --destroy-old refused: a node still seals under an old KEK (named here). */
  readonly destroyRefused?: string;
  /** Over a cluster's store: the fencing token of the rotation's lease. */
  readonly fencingToken?: number;
}

export interface RotationOptions {
  readonly store: ObjectStore;
  readonly protector: KeyProtector;
  /** Where the marker naming the current KEK is kept. */
  readonly dataDir: string;
  readonly audit?: AuditTrail;
  /** Destroy every retired KEK that no record uses once the rewrap is done. */
  readonly destroyOld?: boolean;
  /** The new KEK's label (default kms-kek-<8 random hex>). */
  readonly label?: string;
  readonly onProgress?: (p: RewrapProgress) => void;
  /** Who asked, for the audit record. */
  readonly actor?: string;
  /** Over a cluster's store, with destroyOld: node entries to remove first (nodes gone for good; cluster-kek.ts). */
  readonly forgetNodes?: readonly string[];
}

export class RotationError extends Error {
  override readonly name = 'RotationError';
}

export async function rotateKek(o: RotationOptions): Promise<RotationResult> {
  if (isClusterStore(o.store)) return rotateClusterKek(o);
  const p = o.protector;
  if (!p.rotate || !p.destroyKek) throw new RotationError(`${p.description}: this key protector has no rotation (the software master key is one key; move to an HSM to rotate)`);
  const label = o.label ?? KEK_LABEL_PREFIX + randomBytes(4).toString('hex');
  const event = rotationEvents(o.actor);
  // Custody: the new KEK is recorded (label and the CKA_ID it will get) before it is made, and
  // only KEKs recorded here are ever destroyed.
  const custody = readCustody(o.dataDir);
  if (custody?.migration) throw new RotationError(`${o.dataDir}: a protector migration is in progress; finish it (kms protector migrate) before rotating`);
  if (custody && custody.protector.kind !== 'hsm') throw new RotationError(`${o.dataDir} is sealed under the software master key (custody.json)`);
  let id: string | undefined;
  if (custody) {
    const hp = custody.protector as HsmCustody;
    if (hp.keks.some((k) => k.label === label)) throw new RotationError(`${label} is already a KEK of this folder: choose a new label`);
    id = randomBytes(16).toString('hex');
    const now = new Date().toISOString();
    const keks: RecordedKek[] = [...hp.keks.map((k) => (k.state === 'current' ? { ...k, state: 'retired' as const } : k)), { label, id, made: false, since: now, state: 'current' }];
    writeCustody(o.dataDir, { ...custody, protector: { ...hp, keks } });
  }
  writeKekMarker(o.dataDir, label);
  let switched: { previous: string; current: string };
  try {
    switched = await p.rotate(label, id);
  } catch (e) {
    if (custody) writeCustody(o.dataDir, custody); // nothing was made: the record goes back
    throw e;
  }
  const { previous, current } = switched;
  if (custody) updateKeks(o.dataDir, (k) => (k.label === label ? { ...k, made: true } : k));
  await o.audit?.commitAlone([event('Started', `new KEK ${current} replaces ${previous}`)]);
  let result: RewrapResult;
  try {
    result = await rewrapAll(o.store, p, o.onProgress);
  } catch (e) {
    await o.audit?.commitAlone([event('OperationFailed', `rewrap under ${current} failed: ${(e as Error).message}`)]).catch(() => undefined);
    throw e;
  }
  const destroyed: string[] = [];
  const kept: string[] = [];
  if (o.destroyOld) {
    const usage = await kekUsage(o.store);
    if (custody) {
      // Only KEKs this folder recorded, retired, and sealing none of its records.
      const mine = (readCustody(o.dataDir)?.protector as HsmCustody).keks.filter((k) => k.state === 'retired');
      for (const k of mine) {
        const kid = `hsm:${k.label}`;
        if ((usage.get(kid) ?? 0) > 0 || k.adopted) {
          kept.push(kid);
          continue;
        }
        await p.destroyKek(kid);
        updateKeks(o.dataDir, (x) => (x.label === k.label ? { ...x, state: 'destroyed' } : x));
        destroyed.push(kid);
      }
    } else {
      const retired = [...usage.keys()].filter((k) => k !== current);
      if (retired.length > 0) throw new RotationError(`not destroying old KEKs: records still use ${retired.join(', ')}`);
      for (const l of (await p.keks?.()) ?? []) {
        const id = `hsm:${l}`;
        if (id === current) continue;
        await p.destroyKek(id);
        destroyed.push(id);
      }
    }
  }
  await o.audit?.commitAlone([
    event('Success', `rewrapped ${result.rewrapped} objects under ${current} in ${result.passes} passes${destroyed.length ? `; destroyed ${destroyed.join(', ')}` : ''}`),
  ]);
  return { ...result, previous, current, destroyed, ...(o.destroyOld && { kept }) };
}

/** Over a PostgreSQL store shared by a cluster: under the lease, every node follows (cluster-kek.ts). */
async function rotateClusterKek(o: RotationOptions): Promise<RotationResult> {
  const follower = clusterFollower(o.dataDir);
  if (!follower) throw new RotationError(`${o.dataDir} is not open over the cluster's store with an HSM (no KEK to rotate: the software master key is one key)`);
  if (readCustody(o.dataDir)?.migration) throw new RotationError(`${o.dataDir}: a protector migration is in progress`);
  try {
    return await rotateOverCluster({
      store: o.store,
      protector: o.protector,
      follower,
      ...(o.label !== undefined && { label: o.label }),
      ...(o.destroyOld && { destroyOld: true }),
      ...(o.forgetNodes && { forgetNodes: o.forgetNodes }),
      ...(o.audit && { audit: o.audit }),
      ...(o.actor !== undefined && { actor: o.actor }),
      rewrap: (store) => rewrapAll(store, o.protector, o.onProgress),
      usage: () => kekUsage(o.store),
    });
  } catch (e) {
    if (e instanceof ClusterKekError) throw new RotationError(e.message);
    throw e;
  }
}

function updateKeks(dataDir: string, f: (k: RecordedKek) => RecordedKek): void {
  const c = readCustody(dataDir);
  if (!c || c.protector.kind !== 'hsm') return;
  writeCustody(dataDir, { ...c, protector: { ...c.protector, keks: c.protector.keks.map(f) } });
}
