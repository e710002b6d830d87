/**
 * The key rotation scheduler (docs/rotation.md). Every rotation.checkIntervalSeconds it takes the
 * cluster lease (lease.ts), reads every key, and for each key whose policy (policy.ts) is due:
 *
 * 1. Re-key (Symmetric Key) or Re-key Key Pair (Private Key) runs through the dispatcher as the
 *    server principal `kms-rotation` acting for the key's owner (the new key belongs to the same
 *    owner), so the operation's own rules apply (Names move, Replacement / Replaced links, crypto
 *    policy) and the audit trail holds the record, client `kms-rotation`, address
 *    `policy=LABEL`. The replacement carries the mark x-kms-rotation "gen=N policy=LABEL".
 * 2. Set Attribute gives the old key a Deactivation Date = rotation time + overlap (earlier one
 *    kept), so the lifecycle computation deactivates it when the overlap ends.
 *
 * Idempotent after a crash: step 1 commits atomically; a key that has a Replacement Object Link
 * is never re-keyed again, and on the next run an old key whose marked replacement exists but
 * whose Deactivation Date is missing (a crash between 1 and 2) is completed. The job of a key is
 * named `UID#GEN` (its uid and rotation generation).
 *
 * Failures (a refusal, a key protector that is down, …) are recorded per key with the reason and
 * retried after rotation.retryMinutes, never in a loop; due keys, keys due within
 * rotation.warnDays and failures are logged and counted (kms_keys_rotation_due,
 * kms_keys_expiring, kms_key_rotations_total) with bounded labels only.
 *
 * Fencing: before each change the scheduler checks that its lease grant (holder + token) is
 * still current; a scheduler that lost the lease stops the run.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { ObjectType, Operation, ResultStatus, State } from '../kmip/generated/enums.gen.js';
import { enumValueName } from '../kmip/registry.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../ttlv/index.js';
import { dateAttribute, effectiveState } from '../objects/lifecycle.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import { dispatch } from '../operations/dispatcher.js';
import type { HandlerTable, ServerServices } from '../operations/context.js';
import { ROTATION_PRINCIPAL, type Principal } from '../policy/access.js';
import { requestMessage, parseResponse } from '../client/requests.js';
import { rotationConfigOf, type RotationConfig } from '../config/rotation.js';
import type { LeaseGrant, LeaseStore } from './lease.js';
import { fencedStore, leasesFor } from './store-leases.js';
import { DAY, dueAt, generationOf, isRotatable, madeByRotation, policyOf, replacementOf, ROTATION_MARK_NAME, ROTATION_MARK_VENDOR, type KeyPolicy } from './policy.js';

/** The server principal rotations run as (the audit trail's client). */
export { ROTATION_PRINCIPAL };
export const ROTATION_LEASE = 'key-rotation';
/** Keys read per store page while scanning. */
const SCAN_PAGE = 256;
/** Keys listed per category in the status (the counts are exact). */
export const MAX_LISTED = 200;

export interface DueKey {
  readonly uid: string;
  readonly policy: string;
  /** ISO time the key is (or was) due. */
  readonly dueAt: string;
  readonly status: 'due-soon' | 'overdue' | 'failed';
  readonly reason?: string;
}

export interface RunRecord {
  readonly started: string;
  readonly holder: string;
  readonly token?: number;
  /** Not run: another node held the lease, or this one lost it midway. */
  readonly skipped?: string;
  readonly scanned: number;
  readonly rotated: readonly { job: string; newUid: string; policy: string }[];
  readonly completed: readonly string[];
  readonly failed: readonly { job: string; reason: string }[];
  readonly ms: number;
}

export interface RotationStatus {
  readonly enabled: boolean;
  readonly checkIntervalSeconds: number;
  readonly warnDays: number;
  readonly policies: readonly { readonly label: string; readonly everyDays: number | null; readonly overlapDays: number }[];
  readonly lease?: { readonly holder: string; readonly token: number; readonly expiresAt: string };
  readonly due: readonly DueKey[];
  readonly dueCount: number;
  readonly runs: readonly RunRecord[];
}

interface Failure {
  attempts: number;
  reason: string;
  /** Milliseconds since the epoch. */
  nextAttempt: number;
}

/** Bounded reason classes for the metrics' labels (never a uid or a message). */
type ReasonClass = 'refused' | 'unavailable' | 'internal';

export interface SchedulerOptions {
  readonly services: ServerServices;
  readonly handlers: HandlerTable;
  readonly config?: Partial<RotationConfig>;
  /** The lease table (default: the one in services.store's meta space, shared by a cluster's nodes: store-leases.ts). */
  readonly leases?: LeaseStore;
  /** This scheduler's name in the lease (default: a random one). */
  readonly holder?: string;
  /** Milliseconds since the epoch (default: services.clock): the tests' controllable clock. */
  readonly now?: () => number;
  readonly log?: Logger;
}

class LeaseLost extends Error {}

export class RotationScheduler {
  readonly config: RotationConfig;
  readonly holder: string;
  private readonly services: ServerServices;
  private readonly handlers: HandlerTable;
  private readonly leases: LeaseStore;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly failures = new Map<string, Failure>();
  private readonly runs: RunRecord[] = [];
  private due: DueKey[] = [];
  private dueCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RunRecord> | undefined;
  private requestNo = 0;
  private readonly gauges?: { due: Gauge<'status'>; expiring: Gauge; rotations: Counter<'result'> };

  constructor(opts: SchedulerOptions) {
    this.services = opts.services;
    this.handlers = opts.handlers;
    this.config = rotationConfigOf(opts.config);
    this.leases = opts.leases ?? leasesFor(opts.services.store);
    this.holder = opts.holder ?? `node-${randomUUID().slice(0, 8)}`;
    this.now = opts.now ?? opts.services.clock;
    this.log = (opts.log ?? opts.services.log).child({ component: 'rotation' });
    const m = opts.services.metrics;
    if (m) {
      const registers = [m.registry];
      const existing = m.registry.getSingleMetric('kms_keys_rotation_due');
      // Two schedulers on one server (tests) share the families.
      this.gauges = existing
        ? {
            due: existing as Gauge<'status'>,
            expiring: m.registry.getSingleMetric('kms_keys_expiring') as Gauge,
            rotations: m.registry.getSingleMetric('kms_key_rotations_total') as Counter<'result'>,
          }
        : {
            due: new Gauge({
              name: 'kms_keys_rotation_due',
              help: 'Keys under a rotation policy that are past due, by status (overdue: not yet tried or waiting for the next run; failed: the last try failed)',
              labelNames: ['status'],
              registers,
            }),
            expiring: new Gauge({ name: 'kms_keys_expiring', help: 'Keys under a rotation policy due within rotation.warnDays', registers }),
            rotations: new Counter({ name: 'kms_key_rotations_total', help: 'Scheduled rotations, by result', labelNames: ['result'], registers }),
          };
    }
  }

  /** Run every checkIntervalSeconds (the first run one interval after start). */
  start(): void {
    if (!this.config.enabled || this.timer) return;
    this.timer = setInterval(() => {
      void this.runOnce().catch((e) => this.log.error({ err: e }, 'key rotation run failed'));
    }, this.config.checkIntervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    // Giving the lease back early is a courtesy (it expires anyway): a store that is already
    // closed or unreachable must not make stopping fail.
    try {
      const cur = await this.leases.current(ROTATION_LEASE);
      if (cur?.holder === this.holder) await this.leases.release(cur);
    } catch (e) {
      this.log.warn({ err: e }, 'key rotation: the lease could not be released at stop (it expires by itself)');
    }
  }

  /** One run now (a run already going is awaited instead of starting a second). */
  runOnce(): Promise<RunRecord> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async status(): Promise<RotationStatus> {
    const lease = await this.leases.current(ROTATION_LEASE);
    const c = this.config;
    return {
      enabled: c.enabled,
      checkIntervalSeconds: c.checkIntervalSeconds,
      warnDays: c.warnDays,
      // Per-key policies have their own period (Rotate Interval); the overlap is the config's.
      policies: [
        { label: 'key', everyDays: null, overlapDays: c.overlapDays },
        ...c.policies.map((p) => ({ label: `group:${p.objectGroup}`, everyDays: p.everyDays, overlapDays: p.overlapDays })),
      ],
      ...(lease && { lease: { holder: lease.holder, token: lease.token, expiresAt: new Date(lease.expiresAt).toISOString() } }),
      due: this.due,
      dueCount: this.dueCount,
      runs: [...this.runs].reverse(),
    };
  }

  private remember(r: RunRecord): RunRecord {
    this.runs.push(r);
    while (this.runs.length > this.config.maxHistory) this.runs.shift();
    return r;
  }

  private async run(): Promise<RunRecord> {
    const t0 = performance.now();
    const nowMs = this.now();
    const started = new Date(nowMs).toISOString();
    const grant = await this.leases.acquire(ROTATION_LEASE, this.holder, this.config.leaseSeconds * 1000, nowMs);
    if (!grant) {
      const cur = await this.leases.current(ROTATION_LEASE);
      return this.remember({ started, holder: this.holder, skipped: `lease held by ${cur?.holder ?? 'another node'}`, scanned: 0, rotated: [], completed: [], failed: [], ms: 0 });
    }
    const rotated: { job: string; newUid: string; policy: string }[] = [];
    const completed: string[] = [];
    const failed: { job: string; reason: string }[] = [];
    const due: DueKey[] = [];
    let dueCount = 0;
    let expiring = 0;
    let overdue = 0;
    let failing = 0;
    let scanned = 0;
    let skipped: string | undefined;
    const now = BigInt(Math.floor(nowMs / 1000));
    const warnUntil = now + BigInt(Math.round(this.config.warnDays * DAY));
    const listDue = (d: DueKey) => {
      dueCount++;
      if (due.length < MAX_LISTED) due.push(d);
    };
    try {
      let after: string | undefined;
      for (;;) {
        const uids = await this.services.store.list(after, SCAN_PAGE);
        if (uids.length === 0) break;
        after = uids[uids.length - 1];
        for (const uid of uids) {
          const rec = await this.services.store.get(uid);
          if (!rec || !isRotatable(rec.objectType)) continue;
          scanned++;
          const policy = policyOf(rec.attributes, this.config);
          if (!policy) continue;
          const state = effectiveState(rec.state, rec.attributes, now);
          const live = state === State.PreActive || state === State.Active;
          const job = `${rec.uid}#${generationOf(rec.attributes)}`;
          const replacement = replacementOf(rec.attributes);
          if (replacement !== undefined) {
            // Already rotated: complete the old key if a crash came between the two steps.
            if (live && (await this.needsCompletion(rec, replacement, policy))) {
              const r = await this.attempt(grant, job, policy, () => this.complete(grant, rec, replacement, policy));
              if (r.ok) completed.push(job);
              else failed.push({ job, reason: r.reason });
            }
            continue;
          }
          if (!live) continue;
          const at = dueAt(rec.attributes, policy);
          if (at === undefined) continue;
          const dueIso = new Date(Number(at) * 1000).toISOString();
          if (at > now) {
            if (at <= warnUntil) {
              expiring++;
              listDue({ uid: rec.uid, policy: policy.label, dueAt: dueIso, status: 'due-soon' });
            }
            continue;
          }
          const f = this.failures.get(job);
          if (f && f.nextAttempt > nowMs) {
            failing++;
            listDue({ uid: rec.uid, policy: policy.label, dueAt: dueIso, status: 'failed', reason: f.reason });
            continue;
          }
          if (rotated.length + failed.length >= this.config.maxPerRun) {
            overdue++;
            listDue({ uid: rec.uid, policy: policy.label, dueAt: dueIso, status: 'overdue', reason: `waiting: rotation.maxPerRun (${this.config.maxPerRun}) reached in this run` });
            continue;
          }
          const r = await this.attempt(grant, job, policy, () => this.rotate(grant, rec, policy, now));
          if (r.ok) {
            rotated.push({ job, newUid: r.value, policy: policy.label });
          } else {
            failed.push({ job, reason: r.reason });
            failing++;
            listDue({ uid: rec.uid, policy: policy.label, dueAt: dueIso, status: 'failed', reason: r.reason });
          }
        }
      }
    } catch (e) {
      if (!(e instanceof LeaseLost)) throw e;
      skipped = e.message;
    }
    this.due = due;
    this.dueCount = dueCount;
    if (this.gauges) {
      this.gauges.expiring.set(expiring);
      this.gauges.due.set({ status: 'overdue' }, overdue);
      this.gauges.due.set({ status: 'failed' }, failing);
    }
    for (const d of due) {
      if (d.status === 'due-soon') this.log.warn({ rotation: { uid: d.uid, policy: d.policy, dueAt: d.dueAt } }, 'key rotation due soon');
      else this.log.warn({ rotation: { uid: d.uid, policy: d.policy, dueAt: d.dueAt, status: d.status, reason: d.reason } }, 'key past its rotation date and not rotated');
    }
    const record = this.remember({
      started,
      holder: this.holder,
      token: grant.token,
      ...(skipped && { skipped }),
      scanned,
      rotated,
      completed,
      failed,
      ms: Math.round(performance.now() - t0),
    });
    if (rotated.length + completed.length + failed.length > 0)
      this.log.info({ rotationRun: { rotated: rotated.length, completed: completed.length, failed: failed.length, scanned } }, 'key rotation run');
    return record;
  }

  /** Run one job; a failure is recorded for the retry delay and reported, a lost lease ends the run. */
  private async attempt<T>(grant: LeaseGrant, job: string, policy: KeyPolicy, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; reason: string }> {
    try {
      const value = await fn();
      this.failures.delete(job);
      this.gauges?.rotations.inc({ result: 'rotated' });
      return { ok: true, value };
    } catch (e) {
      if (e instanceof LeaseLost) throw e;
      const reason = e instanceof RotationRefused ? e.message : `internal error: ${(e as Error).message}`;
      const cls: ReasonClass = e instanceof RotationRefused ? e.cls : 'internal';
      const prev = this.failures.get(job);
      this.failures.set(job, { attempts: (prev?.attempts ?? 0) + 1, reason, nextAttempt: this.now() + this.config.retryMinutes * 60_000 });
      this.gauges?.rotations.inc({ result: cls });
      this.log.warn(
        { rotation: { job, policy: policy.label, attempts: (prev?.attempts ?? 0) + 1, retryMinutes: this.config.retryMinutes, holderToken: grant.token }, reason },
        'key rotation failed; retried later',
      );
      return { ok: false, reason };
    }
  }

  private async fence(grant: LeaseGrant): Promise<void> {
    if (!(await this.leases.check(grant, this.now()))) throw new LeaseLost(`lease lost (token ${grant.token}); the run stopped`);
  }

  private async needsCompletion(old: ObjectRecord, replacementUid: string, policy: KeyPolicy): Promise<boolean> {
    const repl = await this.services.store.get(replacementUid);
    if (!repl || !madeByRotation(repl.attributes)) return false;
    const want = this.deactivationFor(repl, policy);
    const has = dateAttribute(old.attributes, 'DeactivationDate');
    return want !== undefined && (has === undefined || has > want);
  }

  private deactivationFor(replacement: ObjectRecord, policy: KeyPolicy): bigint | undefined {
    const rotatedAt = dateAttribute(replacement.attributes, 'InitialDate');
    return rotatedAt === undefined ? undefined : rotatedAt + BigInt(policy.overlapSeconds);
  }

  private async complete(grant: LeaseGrant, old: ObjectRecord, replacementUid: string, policy: KeyPolicy): Promise<void> {
    const repl = await this.services.store.get(replacementUid);
    const want = repl && this.deactivationFor(repl, policy);
    if (want === undefined) return;
    await this.fence(grant);
    await this.call(grant, old.owner, policy, Operation.SetAttribute, [t.text(Tag.UniqueIdentifier, old.uid), t.struct(Tag.NewAttribute, [t.date(Tag.DeactivationDate, want)])]);
  }

  private async rotate(grant: LeaseGrant, old: ObjectRecord, policy: KeyPolicy, now: bigint): Promise<string> {
    const gen = generationOf(old.attributes) + 1;
    const mark = t.struct(Tag.Attributes, [
      t.struct(Tag.Attribute, [
        t.text(Tag.VendorIdentification, ROTATION_MARK_VENDOR),
        t.text(Tag.AttributeName, ROTATION_MARK_NAME),
        t.text(Tag.AttributeValue, `gen=${gen} policy=${policy.label}`),
      ]),
    ]);
    await this.fence(grant);
    const symmetric = !isPrivate(old);
    const payload = symmetric
      ? await this.call(grant, old.owner, policy, Operation.ReKey, [t.text(Tag.UniqueIdentifier, old.uid), mark])
      : await this.call(grant, old.owner, policy, Operation.ReKeyKeyPair, [t.text(Tag.PrivateKeyUniqueIdentifier, old.uid), { ...mark, tag: Tag.CommonAttributes }]);
    const idTag = symmetric ? Tag.UniqueIdentifier : Tag.PrivateKeyUniqueIdentifier;
    const id = payload?.value.find((c) => c.tag === idTag);
    if (id?.type !== 'TextString') throw new Error('the Re-key answer named no new key');
    // Step 2: the old key's Deactivation Date (rotation time + overlap; an earlier one is kept).
    const want = now + BigInt(policy.overlapSeconds);
    const has = dateAttribute(old.attributes, 'DeactivationDate');
    if (has === undefined || has > want) {
      await this.fence(grant);
      await this.call(grant, old.owner, policy, Operation.SetAttribute, [t.text(Tag.UniqueIdentifier, old.uid), t.struct(Tag.NewAttribute, [t.date(Tag.DeactivationDate, want)])]);
    }
    this.log.info({ rotation: { old: old.uid, new: id.value, generation: gen, policy: policy.label, overlapSeconds: policy.overlapSeconds } }, 'key rotated');
    return id.value;
  }

  /** One KMIP 2.1 request through the dispatcher as kms-rotation acting for `owner`. */
  private async call(grant: LeaseGrant, owner: string, policy: KeyPolicy, operation: number, payload: readonly TtlvNode[]): Promise<StructureNode | undefined> {
    const principal: Principal = { id: ROTATION_PRINCIPAL, actingFor: owner };
    const msg = requestMessage({ version: { major: 2, minor: 1 }, batch: [{ operation, payload }] });
    // Every commit of the request carries a check of the lease entry (store-leases.ts): a
    // holder that lost the lease while paused commits nothing.
    const services = { ...this.services, store: fencedStore(this.services.store, grant) };
    const { response } = await dispatch(services, this.handlers, principal, msg, { connectionId: 'rotation', requestNo: ++this.requestNo, remote: `policy=${policy.label}` });
    const item = parseResponse(response).items[0];
    if (!item) throw new Error('empty response');
    if (item.status !== ResultStatus.Success) {
      const reason = item.reason === undefined ? 'unknown' : (enumValueName('ResultReason', item.reason) ?? String(item.reason));
      const unavailable = /internal error|audit log unavailable|protector|HSM/i.test(item.message ?? '');
      throw new RotationRefused(`${enumValueName('Operation', operation) ?? operation}: ${reason}: ${item.message ?? ''}`.trim(), unavailable ? 'unavailable' : 'refused');
    }
    return item.payload;
  }
}

class RotationRefused extends Error {
  constructor(
    message: string,
    readonly cls: ReasonClass,
  ) {
    super(message);
  }
}

const isPrivate = (r: ObjectRecord) => r.objectType === ObjectType.PrivateKey;
