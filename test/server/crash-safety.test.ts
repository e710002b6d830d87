/**
 * Crash safety (issue 6 item 4): acknowledged means durable.
 *
 * `kms serve` runs as a child process on one data folder for the whole file. Each cycle:
 * several clients over mutual TLS create, register (known key bytes), activate, revoke and
 * destroy keys; the server is SIGKILLed at a random moment; then, with the server down, the
 * folder is checked directly (store, key protector, audit log), and after a restart through
 * KMIP (Locate by name, state and object type; Get). History accumulates across cycles.
 *
 * Checked every cycle:
 * - every acknowledged Create/Register is present, its key opens (same bytes: known for
 *   Register, first-seen for Create), in its acknowledged state (or the state an operation in
 *   flight at the kill leads to); every acknowledged Destroy is destroyed, without content;
 * - objects the clients never heard about exist only for Create/Register requests in flight;
 * - the indexes agree with the records (store check; Locate finds exactly what a full scan
 *   finds);
 * - the audit chain verifies (the tail after the last checkpoint may be unsealed right after
 *   a kill, its hash chain is still checked), holds a Success record for every acknowledged
 *   operation, and agrees with the store both ways: replaying its Success records gives each
 *   object's stored state, and every object it says was created exists (nothing half-present).
 * At the end the server stops cleanly and `kms audit verify` passes on the folder.
 *
 * The clients also read (Get, Get Attributes) their keys, and every acknowledged read must
 * have its Success record after the kill. The whole run is made under both settings of
 * audit.readSync (src/audit/read-durability.ts): "always" (every response waits for its synced
 * record) and "batched" (a read's record is written before its response and synced later; the
 * window is set to its longest, 1000 ms, so the kills catch read records not yet synced, which
 * a crash of the process must not lose). Fewer cycles for the second setting.
 *
 * Seeded: KMS_CRASH_SEED=<n> replays a run's choices (operations, key bytes, kill delays; the
 * interleaving still depends on timing); the seed is in every failure message.
 * KMS_CRASH_CYCLES sets the number of cycles (default 20).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import {
  attr,
  expectSuccess,
  findPath,
  getPayload,
  keyMaterialOf,
  locatePayload,
  parseResponse,
  requestMessage,
  uniqueIdentifiersOf,
  createSymmetricKeyPayload,
} from '../../src/client/requests.js';
import { CryptographicAlgorithm, ObjectType, Operation, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask, StorageStatusMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { enumValueName } from '../../src/kmip/registry.js';
import { SoftwareProtector } from '../../src/hsm/software/software-protector.js';
import { SoftwareAuditKey } from '../../src/audit/audit-key.js';
import { decodeRecord as decodeAudit, type AuditRecord } from '../../src/audit/record.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { decode } from '../../src/ttlv/index.js';
import { CrashModel, prng, runClient, type ClientSpec, type KeyModel, type OpName } from '../support/crash-workload.js';
import { runKms, runKmsHere, startServeProcess, writeServeConfig, type ServeProcess } from '../support/kms-process.js';

const SEED = process.env.KMS_CRASH_SEED !== undefined ? Number(process.env.KMS_CRASH_SEED) : Math.floor(Math.random() * 2 ** 31);
const CYCLES = process.env.KMS_CRASH_CYCLES !== undefined ? Number(process.env.KMS_CRASH_CYCLES) : 20;
/** Share of a client's requests that are reads. */
const READS = 0.35;
const SETTINGS = [
  { readSync: 'always', cycles: CYCLES, audit: {} },
  { readSync: 'batched', cycles: Math.max(3, Math.ceil(CYCLES / 3)), audit: { readSyncWindowMs: 1000 } },
] as const;

const V21 = { major: 2, minor: 1 };
const CLIENTS: readonly ClientSpec[] = [
  { index: 0, identity: 'kms-client', version: V21 },
  { index: 1, identity: 'alice', version: V21 },
  { index: 2, identity: 'bob', version: { major: 1, minor: 4 } },
  { index: 3, identity: 'kms-client', version: { major: 2, minor: 0 } },
  { index: 4, identity: 'alice', version: { major: 1, minor: 2 } },
];

const DESTROYED = [State.Destroyed, State.DestroyedCompromised] as number[];
const STATE_AFTER: Record<OpName, number> = {
  Create: State.PreActive,
  Register: State.PreActive,
  Activate: State.Active,
  Revoke: State.Deactivated,
  Destroy: State.Destroyed,
};

const folders: string[] = [];
afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

function nameOf(r: ObjectRecord): string | undefined {
  const v = findPath(r.attributes.get('Name')?.[0], Tag.NameValue);
  return v?.type === 'TextString' ? v.value : undefined;
}

/** What the folder holds, read with the server down. */
interface Snapshot {
  readonly records: Map<string, ObjectRecord>;
  /** Key bytes of every object that still has content. */
  readonly bytes: Map<string, Buffer>;
  readonly audit: AuditRecord[];
}

/** Open the stopped folder and check the store, the keys and the audit chain on their own. */
async function readFolder(dataDir: string, auditFrom: AuditRecord[]): Promise<Snapshot> {
  const store = new LevelStore({ path: join(dataDir, 'db') });
  await store.open();
  try {
    const check = await store.check();
    expect(check.problems, 'store check: records and indexes agree').toEqual([]);
    const { protector } = SoftwareProtector.openOrCreate(join(dataDir, 'master.key'));
    const records = new Map<string, ObjectRecord>();
    const bytes = new Map<string, Buffer>();
    for (let after: string | undefined; ;) {
      const page = await store.list(after, 500);
      if (page.length === 0) break;
      for (const uid of page) {
        const r = (await store.get(uid))!;
        records.set(uid, r);
        if (DESTROYED.includes(r.state)) {
          expect(r.sealedBody, `${uid} is destroyed but keeps content`).toBeUndefined();
          continue;
        }
        expect(r.sealedBody, `${uid} (state ${r.state}) has no content`).toBeDefined();
        const body = decode(await protector.open(uid, r.sealedBody!, r.kekId!));
        bytes.set(uid, Buffer.from(keyMaterialOf({ tag: Tag.ResponsePayload, type: 'Structure', value: [body] })));
      }
      after = page[page.length - 1];
    }
    expect(records.size).toBe(check.records);
    await protector.close();

    const key = SoftwareAuditKey.fromMasterKeyFile(join(dataDir, 'master.key'));
    const verified = await verifyAuditLog(store.audit, key, undefined, undefined, { allowUnsealedTail: true });
    await key.close();
    expect(verified.failure, 'audit chain').toBeUndefined();
    expect(verified.ok).toBe(true);
    // The log only grows: earlier records are read once and kept.
    const audit = [...auditFrom];
    for (;;) {
      const page = await store.audit.read(audit.length + 1, 1000);
      if (page.length === 0) break;
      for (const e of page) audit.push(decodeAudit(e.bytes));
    }
    expect(audit.length).toBe(verified.entries);
    return { records, bytes, audit };
  } finally {
    await store.close();
  }
}

/** What the kills caught in flight, over the run: durable or not (both are allowed). */
const inFlight = { createsDurable: 0, createsLost: 0, changesDurable: 0, changesLost: 0 };

/** Check a snapshot against the model of acknowledged operations, then reconcile the model. */
function checkAgainstModel(model: CrashModel, snap: Snapshot, cycle: number): { adopted: KeyModel[] } {
  const problems: string[] = [];
  // 1. Every acknowledged object, in an allowed state, with its key.
  for (const k of model.keys.values()) {
    const r = snap.records.get(k.uid);
    if (!r) {
      problems.push(`acknowledged ${k.registered ? 'Register' : 'Create'} of ${k.uid} (${k.name}) is lost`);
      continue;
    }
    const allowed = [k.state, ...(k.pending ? [k.pending.to] : [])];
    if (!allowed.includes(r.state)) problems.push(`${k.uid}: state ${r.state}, acknowledged ${k.state}${k.pending ? ` (in flight: ${k.pending.op})` : ''}`);
    if (nameOf(r) !== k.name) problems.push(`${k.uid}: name ${nameOf(r)}, expected ${k.name}`);
    if (!DESTROYED.includes(r.state)) {
      const b = snap.bytes.get(k.uid)!;
      if (k.bytes && !k.bytes.equals(b)) problems.push(`${k.uid}: key bytes changed`);
      if (b.length !== 32) problems.push(`${k.uid}: key of ${b.length} bytes`);
      k.bytes ??= b;
    }
    if (k.pending) inFlight[r.state === k.pending.to && r.state !== k.state ? 'changesDurable' : 'changesLost']++;
    k.state = r.state;
    k.pending = undefined;
  }
  // 2. Objects the clients never heard about: only from requests in flight, whole.
  const adopted: KeyModel[] = [];
  for (const r of snap.records.values()) {
    if (model.keys.has(r.uid)) continue;
    const name = nameOf(r);
    const p = model.pendingCreates.find((c) => c.name === name);
    if (!p) {
      problems.push(`${r.uid} (${name}) exists but no Create/Register for it was made`);
      continue;
    }
    const allowed: number[] = p.activate ? [State.PreActive, State.Active] : [State.PreActive];
    if (!allowed.includes(r.state)) problems.push(`${r.uid}: unacknowledged create in state ${r.state}`);
    const b = snap.bytes.get(r.uid);
    if (p.bytes && !(b && p.bytes.equals(b))) problems.push(`${r.uid}: registered bytes differ`);
    const k: KeyModel = { uid: r.uid, name: name!, client: p.client, registered: p.bytes !== undefined, state: r.state, ...(b ? { bytes: b } : {}) };
    model.keys.set(r.uid, k);
    adopted.push(k);
  }
  inFlight.createsDurable += adopted.length;
  inFlight.createsLost += model.pendingCreates.length - adopted.length;
  model.pendingCreates = [];

  // 3. The audit log: a Success record for every acknowledged operation …
  const seen = new Set<string>();
  const replayed = new Map<string, number>();
  for (const a of snap.audit) {
    if (a.kind !== 'op' || a.status !== 'Success' || !(a.op in STATE_AFTER)) continue;
    for (const uid of a.uids ?? []) {
      seen.add(`${a.op} ${uid}`);
      replayed.set(uid, STATE_AFTER[a.op as OpName]);
    }
  }
  for (const op of model.acked) if (!seen.has(`${op.op} ${op.uid}`)) problems.push(`no audit record for the acknowledged ${op.op} of ${op.uid} (cycle ${op.cycle})`);
  // … and for every acknowledged read, counted per client, operation and object.
  const readRecords = new Map<string, number>();
  for (const a of snap.audit) {
    if (a.kind !== 'op' || a.status !== 'Success' || (a.op !== 'Get' && a.op !== 'GetAttributes')) continue;
    for (const uid of a.uids ?? []) readRecords.set(`${a.client} ${a.op} ${uid}`, (readRecords.get(`${a.client} ${a.op} ${uid}`) ?? 0) + 1);
  }
  const readsAcked = new Map<string, number>();
  for (const r of model.ackedReads) readsAcked.set(`${r.identity} ${r.op} ${r.uid}`, (readsAcked.get(`${r.identity} ${r.op} ${r.uid}`) ?? 0) + 1);
  for (const [k, n] of readsAcked) {
    const have = readRecords.get(k) ?? 0;
    if (have < n) problems.push(`${n} acknowledged reads (${k}), ${have} audit records`);
  }
  // … and it agrees with the store both ways (each change was written with its record).
  for (const [uid, state] of replayed) {
    const r = snap.records.get(uid);
    if (!r) problems.push(`the audit log says ${uid} was created, the store does not have it`);
    else if (r.state !== state) problems.push(`${uid}: the audit log leads to state ${state}, the store holds ${r.state}`);
  }
  for (const uid of snap.records.keys()) if (!replayed.has(uid)) problems.push(`${uid} is stored without an audit record of its creation`);
  expect(problems, `cycle ${cycle}`).toEqual([]);
  return { adopted };
}

async function locate(c: KmipClient, attributes: ReturnType<typeof attr.state>[], storageStatusMask?: number): Promise<string[]> {
  const r = parseResponse(
    await c.send(
      requestMessage({ version: V21, batch: [{ operation: Operation.Locate, payload: locatePayload(V21, attributes, storageStatusMask !== undefined ? { storageStatusMask } : {}) }] }),
    ),
  );
  return uniqueIdentifiersOf(expectSuccess(r.items[0]!)).sort();
}

const ALL_STORAGE = StorageStatusMask.OnLineStorage | StorageStatusMask.ArchivalStorage | StorageStatusMask.DestroyedStorage;

/** Through KMIP after the restart: Locate agrees with the full scan; Get returns the bytes. */
async function checkThroughKmip(s: ServeProcess, snap: Snapshot, model: CrashModel, touched: readonly KeyModel[], rand: () => number): Promise<void> {
  const admin = await s.client('admin');
  const all = [...snap.records.keys()].sort();
  expect(await locate(admin, [attr.objectType(ObjectType.SymmetricKey)], ALL_STORAGE), 'Locate by object type').toEqual(all);
  for (const state of [State.PreActive, State.Active, State.Deactivated, State.Destroyed]) {
    const want = all.filter((u) => snap.records.get(u)!.state === state);
    const mask = DESTROYED.includes(state) ? StorageStatusMask.DestroyedStorage : undefined;
    expect(await locate(admin, [attr.state(state)], mask), `Locate by state ${state}`).toEqual(want);
  }
  const keys = [...model.keys.values()];
  const sample = [...touched, ...Array.from({ length: Math.min(8, keys.length) }, () => keys[Math.floor(rand() * keys.length)]!)];
  for (const k of sample) {
    const destroyed = DESTROYED.includes(k.state);
    expect(await locate(admin, [attr.name(k.name)], destroyed ? ALL_STORAGE : undefined), `Locate by name ${k.name}`).toEqual([k.uid]);
  }
  const live = sample.filter((k) => !DESTROYED.includes(k.state));
  for (let i = 0; i < live.length; i += 20) {
    const chunk = live.slice(i, i + 20);
    const r = parseResponse(await admin.send(requestMessage({ version: V21, batch: chunk.map((k) => ({ operation: Operation.Get, payload: getPayload(k.uid) })) })));
    chunk.forEach((k, j) => expect(Buffer.from(keyMaterialOf(expectSuccess(r.items[j]!))).equals(k.bytes!), `Get ${k.uid}`).toBe(true));
  }
  await admin.close();
}

async function workload(s: ServeProcess, model: CrashModel, cycle: number, rand: () => number): Promise<number> {
  const conns = await Promise.all(CLIENTS.map((c) => s.client(c.identity)));
  const runs = CLIENTS.map((c, i) => runClient(model, c, conns[i]!, cycle, prng(Math.floor(rand() * 2 ** 31)), { reads: READS }));
  // The kill: a random moment while the clients are busy.
  const killAfter = 80 + Math.floor(rand() * 600);
  await new Promise((r) => setTimeout(r, killAfter));
  await s.kill();
  const done = await Promise.all(runs);
  return done.reduce((a, b) => a + b, 0);
}

describe.each(SETTINGS)('crash safety (audit.readSync $readSync): SIGKILL at random moments loses nothing acknowledged', ({ readSync, cycles: CYCLES, audit: auditExtra }) => {
  it(`${CYCLES} kill/restart cycles on one data folder (seed ${SEED})`, { timeout: 600_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kms-crash-'));
    folders.push(dataDir);
    const config = writeServeConfig(dataDir, { access: { administrators: ['admin'] }, audit: { checkpointEvery: 25, readSync, ...auditExtra } });
    for (const k of Object.keys(inFlight) as (keyof typeof inFlight)[]) inFlight[k] = 0;
    const rand = prng(SEED);
    const model = new CrashModel();
    let audit: AuditRecord[] = [];
    let acknowledged = 0;
    let s: ServeProcess | undefined;
    try {
      s = await startServeProcess(config);
      // At least CYCLES cycles; then more (up to 3×) while no key has yet ended in one of the
      // lifecycle states checked below: a loaded machine does fewer requests per cycle, and the
      // coverage of every state is what makes the durability checks meaningful.
      const LIFECYCLE_STATES = [State.PreActive, State.Active, State.Deactivated, State.Destroyed];
      const covered = () => {
        const seen = new Set([...model.keys.values()].map((k) => k.state));
        return LIFECYCLE_STATES.every((st) => seen.has(st));
      };
      let cycles = 0;
      for (let cycle = 1; cycle <= CYCLES || (!covered() && cycle <= CYCLES * 3); cycle++) {
        cycles = cycle;
        const ackedBefore = model.acked.length;
        acknowledged += await workload(s, model, cycle, rand);
        const snap = await readFolder(dataDir, audit);
        audit = snap.audit;
        const { adopted } = checkAgainstModel(model, snap, cycle);
        const touched = [...new Set([...model.acked.slice(ackedBefore).map((a) => model.keys.get(a.uid)!), ...adopted])];
        s = await startServeProcess(config);
        await checkThroughKmip(s, snap, model, touched, rand);
      }
      process.stderr.write(
        `crash-safety (readSync ${readSync}) seed ${SEED}: ${cycles} kills, ${acknowledged} acknowledged requests (${model.ackedReads.length} reads), ${model.keys.size} objects, ${audit.length} audit entries; ` +
          `in flight at the kills: creates ${inFlight.createsDurable} durable / ${inFlight.createsLost} not, changes ${inFlight.changesDurable} durable / ${inFlight.changesLost} not\n`,
      );
      // Every cycle did work, and some keys went all the way through their lifecycle.
      expect(acknowledged).toBeGreaterThan(CYCLES * 5);
      expect(model.ackedReads.length, 'reads were acknowledged').toBeGreaterThan(CYCLES);
      // The kills did catch requests in flight (else the "may or may not" paths went untested).
      expect(inFlight.createsDurable + inFlight.createsLost + inFlight.changesDurable + inFlight.changesLost).toBeGreaterThan(CYCLES);
      const states = new Set([...model.keys.values()].map((k) => k.state));
      for (const st of LIFECYCLE_STATES) expect(states.has(st), `some key ends ${st}`).toBe(true);

      expect(await s.stop()).toBe(0);
      const verify = await runKms(['audit', 'verify', '--data-dir', dataDir]);
      expect(verify.stdout, verify.stderr).toMatch(/^OK: /);
      expect(verify.code).toBe(0);
      // The operator's view of the folder agrees with what was acknowledged.
      const listed = await runKmsHere(['keys', 'list', '--json', '--data-dir', dataDir]);
      expect(listed.code).toBe(0);
      const rows = (JSON.parse(listed.stdout) as { uid: string; state: string; names: string[] }[]).map((r) => [r.uid, r.state, r.names]);
      const want = [...model.keys.values()].map((k) => [k.uid, enumValueName('State', k.state), [k.name]]);
      expect(rows.sort()).toEqual(want.sort());
    } catch (e) {
      if (e instanceof Error) e.message = `[crash-safety seed ${SEED}, KMS_CRASH_SEED=${SEED} to replay] ${e.message}`;
      throw e;
    } finally {
      if (s && s.child.exitCode === null && s.child.signalCode === null) await s.kill();
    }
  });

  it('killed, restarted and stopped with no request in between: the audit log still verifies', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kms-crash-'));
    folders.push(dataDir);
    const config = writeServeConfig(dataDir, { audit: { readSync, ...auditExtra } });
    let s = await startServeProcess(config);
    const c = await s.client();
    const r = parseResponse(
      await c.send(
        requestMessage({
          version: V21,
          batch: [
            { operation: Operation.Create, payload: createSymmetricKeyPayload(V21, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt }) },
          ],
        }),
      ),
    );
    const uid = uniqueIdentifiersOf(expectSuccess(r.items[0]!))[0]!;
    // Two reads (the first clears Fresh, a change; the second changes nothing): both in the tail.
    for (let i = 0; i < 2; i++) expectSuccess(parseResponse(await c.send(requestMessage({ version: V21, batch: [{ operation: Operation.Get, payload: getPayload(uid) }] }))).items[0]!);
    await s.kill();
    const snap = await readFolder(dataDir, []);
    expect(snap.audit.filter((a) => a.kind === 'op' && a.op === 'Get' && a.status === 'Success' && a.uids?.includes(uid)).length, 'both acknowledged Gets are in the log').toBe(2);
    // Right after the kill the last entries are not sealed by a checkpoint.
    expect((await runKms(['audit', 'verify', '--data-dir', dataDir])).code).toBe(1);
    s = await startServeProcess(config);
    expect(await s.stop()).toBe(0);
    const verify = await runKms(['audit', 'verify', '--data-dir', dataDir]);
    expect(verify.stdout).toMatch(/^OK: /);
    expect(verify.code).toBe(0);
  });
});
