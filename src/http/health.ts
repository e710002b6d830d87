/**
 * Liveness and readiness, shared by the HTTPS listener (/livez, /readyz) and `kms status`
 * (through the admin socket).
 *
 * Live: the process answers. Ready: each check below passed just now, each bounded by
 * READY_CHECK_TIMEOUT_MS:
 * - store: a synced write of this node's probe entry in the store's metadata space
 *   (`health/ready/<node>`: the time of the probe), through the same queue and group commit every
 *   change takes, and read back (an empty commit would prove nothing: a store may skip it);
 *   concurrent probes share one write;
 * - protector: a random 32-byte probe is sealed and opened again by the key protector (the
 *   HSM when one is configured), and must come back the same;
 * - audit: the audit log's head is readable and the last audit write did not fail (the
 *   audit records travel in the same store batch as the change, so with the store check
 *   this says the next record can be appended).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { StoreError, type ObjectStore } from '../store/object-store.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import type { AuditTrail } from '../audit/trail.js';

export const READY_CHECK_TIMEOUT_MS = 5_000;

/** This machine's store probe key: one entry per host, rewritten by every probe (never a new one per start). */
const STORE_PROBE_KEY = `health/ready/${hostname()}`;
/** Two servers on one host sharing a store may race on the entry: retry a lost race this often. */
const STORE_PROBE_RETRIES = 3;
/** The store probe in flight per store: concurrent readiness checks wait for the same write. */
const storeProbes = new WeakMap<ObjectStore, Promise<void>>();

/** Write the probe entry (synced, like any change) and read it back. */
function probeStore(store: ObjectStore): Promise<void> {
  const running = storeProbes.get(store);
  if (running) return running;
  const p = (async () => {
    const stamp = new TextEncoder().encode(`${new Date().toISOString()} ${process.pid} ${randomBytes(4).toString('hex')}`);
    for (let attempt = 1; ; attempt++) {
      const current = await store.meta.get(STORE_PROBE_KEY);
      try {
        await store.commit([{ type: 'meta-put', key: STORE_PROBE_KEY, value: stamp, expectedRevision: current?.revision ?? 0 }]);
        break;
      } catch (e) {
        if (!(e instanceof StoreError && e.code === 'CONFLICT') || attempt >= STORE_PROBE_RETRIES) throw e;
      }
    }
    const back = await store.meta.get(STORE_PROBE_KEY);
    if (!back || !Buffer.from(back.value).equals(Buffer.from(stamp))) throw new Error('the store did not return the probe it just wrote');
  })().finally(() => storeProbes.delete(store));
  storeProbes.set(store, p);
  return p;
}

/** The uid the protector probe is sealed under (bound in as associated data; never stored). */
const PROBE_UID = 'kms-readiness-probe';

export interface HealthSources {
  readonly store: ObjectStore;
  /** The protector without the unwrapped-key cache, so a probe reaches the HSM. */
  readonly protector: KeyProtector;
  readonly audit?: AuditTrail;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: { readonly store: CheckResult; readonly protector: CheckResult; readonly audit: CheckResult };
}

async function timed(what: string, f: () => Promise<void>, timeoutMs: number): Promise<CheckResult> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      f(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} check did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    return { ok: false, ms: Math.round(performance.now() - t0), error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

export async function checkReadiness(src: HealthSources, timeoutMs = READY_CHECK_TIMEOUT_MS): Promise<Readiness> {
  const [store, protector, audit] = await Promise.all([
    timed('store', () => probeStore(src.store), timeoutMs),
    timed(
      'protector',
      async () => {
        const probe = randomBytes(32);
        const sealed = await src.protector.seal(PROBE_UID, probe);
        const back = await src.protector.open(PROBE_UID, sealed, src.protector.kekId);
        if (!Buffer.from(back).equals(probe)) throw new Error('the protector did not return the sealed probe');
      },
      timeoutMs,
    ),
    timed(
      'audit',
      async () => {
        src.store.audit.head();
        const trail = src.audit;
        const failed = trail?.lastFailure;
        if (trail && failed) {
          // A node drained after a failed write (its database was down) gets no requests to
          // clear the failure: the check writes a checkpoint itself, and a trail that takes it
          // is writable again.
          try {
            await trail.checkpoint('interval');
          } catch (e) {
            throw new Error(`the last audit write failed at ${new Date(failed.at).toISOString()}: ${failed.message}; a checkpoint now failed too: ${(e as Error).message}`);
          }
          if (trail.lastFailure === failed) trail.lastFailure = undefined;
        }
      },
      timeoutMs,
    ),
  ]);
  return { ready: store.ok && protector.ok && audit.ok, checks: { store, protector, audit } };
}
