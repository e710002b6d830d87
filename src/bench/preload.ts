/**
 * `kms bench --preload`: fill a data folder's store fast, with the server stopped. Objects are
 * AES-256 keys shaped as Create + (three in four) Activate make them: Name "pre-<i>", Object
 * Group "group-<i mod 100>", custom attribute x-bench-app = "app-<i div 10>" (ten objects per
 * value), creation order, lifecycle dates, Digest; the key is random and sealed by the data
 * folder's key protector (DataFolder.open: the keys its custody record names, made for a new
 * folder) with the uid bound in, as the server
 * would. Records go through the store's own commit path (index entries and count stay right)
 * in large batches, several in flight so group commit merges them.
 *
 * Preloaded objects have no audit records: they were never requested through the server.
 */
import { randomBytes } from 'node:crypto';
import { CryptographicAlgorithm, NameType, ObjectType } from '../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../kmip/generated/masks.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { DataFolder } from '../folder/data-folder.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { applyEvent } from '../objects/lifecycle.js';
import { customKey, type AttributeKey, type ObjectRecord } from '../objects/managed-object.js';
import { newUid } from '../objects/identifiers.js';
import { rawKeyDigest, symmetricKeyBody } from '../objects/object-body.js';
import { CREATION_ORDER_KEY, CREATION_ORDER_TAG, nextCreationStamp } from '../operations/attributes/locate-order.js';
import type { StoreOp } from '../store/object-store.js';
import { encode, t, type TtlvNode } from '../ttlv/index.js';
import { BENCH_VERSION } from './mixes.js';

export const preloadName = (i: number): string => `pre-${i}`;
export const preloadCustomValue = (i: number): string => `app-${Math.floor(i / 10)}`;

export interface PreloadProgress {
  (done: number, total: number): void;
}

export interface PreloadResult {
  /** A sample of the uids written (for Get). */
  readonly sampleUids: string[];
  readonly seconds: number;
}

async function buildRecord(i: number, owner: string, protector: KeyProtector, nowMs: number, served: boolean): Promise<ObjectRecord> {
  const uid = newUid();
  const key = randomBytes(32);
  const attrs = new Map<AttributeKey, readonly TtlvNode[]>([
    ['CryptographicAlgorithm', [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)]],
    ['CryptographicLength', [t.int(Tag.CryptographicLength, 256)]],
    ['CryptographicUsageMask', [t.int(Tag.CryptographicUsageMask, CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt)]],
    ['Name', [t.struct(Tag.Name, [t.text(Tag.NameValue, preloadName(i)), t.enum(Tag.NameType, NameType.UninterpretedTextString)])]],
    ['ObjectGroup', [t.text(Tag.ObjectGroup, `group-${i % 100}`)]],
    [customKey('x', 'bench-app'), [t.text(Tag.AttributeValue, preloadCustomValue(i))]],
    ['Digest', [rawKeyDigest(key)]],
    [CREATION_ORDER_KEY, [{ tag: CREATION_ORDER_TAG, type: 'LongInteger', value: nextCreationStamp(nowMs) }]],
  ]);
  // A key a fleet has fetched before: its next Get is a pure read (the first Get of a Fresh
  // object is a durable write that sets Fresh False).
  if (served) attrs.set('Fresh', [t.bool(Tag.Fresh, false)]);
  const now = BigInt(Math.floor(nowMs / 1000));
  let lc = applyEvent(null, { type: 'Create', attributes: attrs }, now, BENCH_VERSION);
  for (const { key: k, node } of lc.setAttributes) attrs.set(k, [node]);
  let state: number = lc.state;
  if (i % 4 !== 0) {
    lc = applyEvent({ state, attributes: attrs }, { type: 'Activate' }, now, BENCH_VERSION);
    for (const { key: k, node } of lc.setAttributes) attrs.set(k, [node]);
    state = lc.state;
  }
  const sealedBody = await protector.seal(uid, encode(symmetricKeyBody(key, CryptographicAlgorithm.AES, 256)));
  key.fill(0);
  return { v: 1, uid, objectType: ObjectType.SymmetricKey, owner, state, attributes: attrs, sealedBody, kekId: protector.kekId, revision: 0 };
}

/**
 * Add objects numbered `from` … `to - 1` to the store of `dataDir` (which must not be in use
 * by a running server). The result holds about `sampleSize` of their uids (all of them when
 * sampleSize ≥ to - from). `served`: the objects have been served already (Fresh False), so
 * Gets of them are reads only (the first Get of a Fresh object is a durable write).
 */
export interface PreloadOptions {
  readonly progress?: PreloadProgress;
  /** About how many uids the result holds (default 2000). */
  readonly sampleSize?: number;
  /** The objects have been served already (Fresh False). */
  readonly served?: boolean;
  /** A postgresql:// URL: the store is that database (the folder holds the keys), not the folder's LevelDB. */
  readonly storeUrl?: string;
}

export async function preload(dataDir: string, from: number, to: number, owner: string, opts: PreloadOptions = {}): Promise<PreloadResult> {
  const { progress, sampleSize = 2000, served = false } = opts;
  const started = performance.now();
  const folder = await DataFolder.open({ dataDir, keys: 'create', ...(opts.storeUrl !== undefined && { storeUrl: opts.storeUrl }) });
  const { store, protector } = folder;
  const sampleEvery = Math.max(1, Math.floor((to - from) / sampleSize));
  const sampleUids: string[] = [];
  const BATCH = 2000;
  const IN_FLIGHT = 4;
  try {
    const inFlight = new Set<Promise<void>>();
    let done = 0;
    for (let start = from; start < to; start += BATCH) {
      const end = Math.min(to, start + BATCH);
      const nowMs = Date.now();
      const ops: StoreOp[] = [];
      for (let i = start; i < end; i++) {
        const record = await buildRecord(i, owner, protector, nowMs, served);
        if ((i - from) % sampleEvery === 0) sampleUids.push(record.uid);
        ops.push({ type: 'put', record, expectedRevision: 0 });
      }
      const p: Promise<void> = store.commit(ops).then(() => {
        inFlight.delete(p);
        done += ops.length;
        progress?.(from + done, to);
      });
      inFlight.add(p);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await folder.close();
  }
  return { sampleUids, seconds: (performance.now() - started) / 1000 };
}
