/**
 * The object life cycle over the wire against a reference model.
 *
 * fast-check draws sequences of requests (Create, with or without Activation/Deactivation
 * Dates; Activate; Revoke for key compromise or another reason; Destroy; setting the Activation
 * or Deactivation Date with Add/Modify Attribute (1.x) or Set/Modify Attribute (2.x); Get) and
 * clock moves, and runs them against a real server over mutual TLS (its clock is injected and
 * moved by the test). After every step each object's State, Activation Date and Deactivation
 * Date (Get Attributes) and every success or refusal must agree with the model below.
 *
 * The model is written here from the spec text, independently of src/objects/lifecycle.ts:
 * KMIP 1.4 §3.22 / KMIP 2.1 §4.57 "State", transitions 1-10, "Only the transitions described
 * above are permitted":
 *   1  (none) → Pre-Active                  Create/Register
 *   2  Pre-Active → Destroyed               Destroy
 *   3  Pre-Active → Compromised             Revoke, reason compromise
 *   4  Pre-Active → Active                  Activate, or the Activation Date is reached
 *   5  Active → Compromised                 Revoke, reason compromise
 *   6  Active → Deactivated                 Revoke, other reason, or the Deactivation Date is reached
 *   7  Deactivated → Destroyed              Destroy
 *   8  Deactivated → Compromised            Revoke, reason compromise
 *   9  Compromised → Destroyed Compromised  Destroy
 *   10 Destroyed → Destroyed Compromised    Revoke, reason compromise
 * and the operations and attribute rules:
 * - Activate (1.4 §4.19, 2.1 §6.1.1) sets the Activation Date to now; only from Pre-Active.
 * - Revoke (1.4 §4.20, 2.1 §6.1.44): other reasons set the Deactivation Date to now.
 * - Destroy (1.4 §4.21, 2.1 §6.1.15): Pre-Active, Deactivated (and Compromised, transition 9).
 * - Activation Date (1.4 §3.24, 2.1 §4.1): modifiable by the client only while Pre-Active;
 *   Deactivation Date (1.4 §3.27, 2.1 §4.18): only while Pre-Active or Active. A date at or
 *   before now means the date "is reached": transition 4 / 6 happens at once.
 * - Time-driven transitions apply whenever the state is read (4, then 6 from Active only: a
 *   Pre-Active object whose Deactivation Date has passed stays Pre-Active until activated).
 * - Get returns the object in any state but the destroyed ones (its key material is gone).
 * - Locate by State finds the objects whose state is that now; in 2.x destroyed objects only
 *   when the Storage Status Mask includes Destroyed Storage (2.1 §6.1.28).
 * - Revoke for compromise sets the Compromise Date to now and the Compromise Occurrence Date
 *   to the request's value (1.4 §3.29-3.30, 2.1 §4.11-4.12); Destroy sets the Destroy Date
 *   (1.4 §3.28, 2.1 §4.19).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { activatePayload, attr, destroyPayload, getPayload, keyMaterialOf, locatePayload, uniqueIdentifierOf, uniqueIdentifiersOf, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultReason, ResultStatus, RevocationReasonCode, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask, StorageStatusMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, toHex, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import {
  addAttributePayload,
  createWith,
  getAttributesPayload,
  modifyAttributePayload,
  readGetAttributes,
  revokePayload,
  Session,
  setAttributePayload,
  single,
  versionLabel,
  V1_4,
  V2_1,
} from '../support/kmip-session.js';

// ------------------------------------------------------------------------------- the model

type MState = 'PreActive' | 'Active' | 'Deactivated' | 'Compromised' | 'Destroyed' | 'DestroyedCompromised';

const WIRE: Record<MState, number> = {
  PreActive: State.PreActive,
  Active: State.Active,
  Deactivated: State.Deactivated,
  Compromised: State.Compromised,
  Destroyed: State.Destroyed,
  DestroyedCompromised: State.DestroyedCompromised,
};

interface MObject {
  /** The state as of the last request that changed it. */
  state: MState;
  activation?: bigint;
  deactivation?: bigint;
  /** Set by Revoke for compromise (1.4 §3.29, 2.1 §4.11), with the request's occurrence date (1.4 §3.30). */
  compromise?: bigint;
  compromiseOccurrence?: bigint;
  /** Set by Destroy (1.4 §3.28, 2.1 §4.19). */
  destroy?: bigint;
}

/** The state at `now`: transitions 4 and 6 when their dates are reached. */
function effective(o: MObject, now: bigint): MState {
  let s = o.state;
  if (s === 'PreActive' && o.activation !== undefined && o.activation <= now) s = 'Active';
  if (s === 'Active' && o.deactivation !== undefined && o.deactivation <= now) s = 'Deactivated';
  return s;
}

const destroyed = (s: MState) => s === 'Destroyed' || s === 'DestroyedCompromised';

type Refusal = 'lifecycle' | 'destroyed';
type Outcome = { ok: true } | { ok: false; why: Refusal };

/** Apply a request to the model object at `now`; the outcome, with `o` updated on success. */
function modelApply(o: MObject, cmd: ObjectCommand, now: bigint): Outcome {
  const s = effective(o, now);
  const refuse = (): Outcome => ({ ok: false, why: destroyed(s) ? 'destroyed' : 'lifecycle' });
  const settle = () => {
    o.state = effective(o, now);
  };
  switch (cmd.kind) {
    case 'Get':
      return destroyed(s) ? refuse() : { ok: true };
    case 'Activate':
      if (s !== 'PreActive') return refuse();
      o.state = 'Active';
      o.activation = now;
      settle();
      return { ok: true };
    case 'Revoke':
      if (cmd.compromise) {
        const to: Partial<Record<MState, MState>> = { PreActive: 'Compromised', Active: 'Compromised', Deactivated: 'Compromised', Destroyed: 'DestroyedCompromised' };
        const next = to[s];
        if (!next) return refuse();
        o.state = next;
        o.compromise = now;
        o.compromiseOccurrence = now - 30n;
        return { ok: true };
      }
      if (s !== 'Active') return refuse();
      o.state = 'Deactivated';
      o.deactivation = now;
      return { ok: true };
    case 'Destroy': {
      const to: Partial<Record<MState, MState>> = { PreActive: 'Destroyed', Deactivated: 'Destroyed', Compromised: 'DestroyedCompromised' };
      const next = to[s];
      if (!next) return refuse();
      o.state = next;
      o.destroy = now;
      return { ok: true };
    }
    case 'SetDate': {
      const allowed: readonly MState[] = cmd.which === 'Activation' ? ['PreActive'] : ['PreActive', 'Active'];
      if (!allowed.includes(s)) return refuse();
      const date = now + BigInt(cmd.offset);
      if (cmd.which === 'Activation') o.activation = date;
      else o.deactivation = date;
      o.state = s;
      settle();
      return { ok: true };
    }
  }
}

/**
 * Result Reasons the spec gives for a refusal. 2.x: Wrong Key Lifecycle State, or Object
 * Destroyed for an object that has been destroyed (2.1 §11). 1.x has no lifecycle reason of
 * its own: the operations' error tables (1.4 §11.16, §11.20-11.22) use Permission Denied
 * and Illegal Operation; Get of a destroyed object has no row at all.
 */
function allowedReasons(v: KmipVersion, why: Refusal, cmd: ObjectCommand): number[] {
  if (v.major >= 2) return why === 'destroyed' ? [ResultReason.ObjectDestroyed, ResultReason.WrongKeyLifecycleState] : [ResultReason.WrongKeyLifecycleState];
  const base = [ResultReason.PermissionDenied, ResultReason.IllegalOperation];
  return cmd.kind === 'Get' ? [...base, ResultReason.ItemNotFound, ResultReason.KeyValueNotPresent] : base;
}

// ---------------------------------------------------------------------------- the commands

type ObjectCommand =
  | { kind: 'Get' }
  | { kind: 'Activate' }
  | { kind: 'Revoke'; compromise: boolean }
  | { kind: 'Destroy' }
  /** Offset from now in seconds; `modify` prefers Modify Attribute when the date is present. */
  | { kind: 'SetDate'; which: 'Activation' | 'Deactivation'; offset: number; modify: boolean };

type Command = { kind: 'Create'; activation?: number; deactivation?: number } | { kind: 'Tick'; seconds: number } | { kind: 'On'; target: number; cmd: ObjectCommand };

const offsetArb = fc.constantFrom(-120, -60, 0, 60, 120, 180);
const objectCommandArb: fc.Arbitrary<ObjectCommand> = fc.oneof(
  fc.constant<ObjectCommand>({ kind: 'Get' }),
  fc.constant<ObjectCommand>({ kind: 'Activate' }),
  fc.boolean().map((compromise): ObjectCommand => ({ kind: 'Revoke', compromise })),
  fc.constant<ObjectCommand>({ kind: 'Destroy' }),
  fc
    .record({ which: fc.constantFrom<'Activation' | 'Deactivation'>('Activation', 'Deactivation'), offset: offsetArb, modify: fc.boolean() })
    .map((r): ObjectCommand => ({ kind: 'SetDate', ...r })),
);
const createArb: fc.Arbitrary<Command> = fc
  .record({ activation: fc.option(offsetArb, { nil: undefined }), deactivation: fc.option(offsetArb, { nil: undefined }) })
  .map((r): Command => ({ kind: 'Create', ...(r.activation !== undefined && { activation: r.activation }), ...(r.deactivation !== undefined && { deactivation: r.deactivation }) }));
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 1, arbitrary: createArb },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 4 }).map((n): Command => ({ kind: 'Tick', seconds: n * 60 })) },
  { weight: 8, arbitrary: fc.record({ target: fc.nat(2), cmd: objectCommandArb }).map((r): Command => ({ kind: 'On', ...r })) },
);
/** A run: a version, a first Create, then up to 11 more steps. */
const runArb = fc.record({
  version: fc.constantFrom(V1_4, V2_1),
  first: createArb,
  steps: fc.array(commandArb, { minLength: 1, maxLength: 11 }),
});

function describeCommand(c: Command): string {
  if (c.kind === 'On') return `#${c.target} ${JSON.stringify(c.cmd)}`;
  return JSON.stringify(c);
}

// ---------------------------------------------------------------------------- the harness

let srv: TestKms;
let fakeNowMs = Date.UTC(2031, 0, 1);
const sessions = new Map<string, Session>();

beforeAll(async () => {
  srv = await startTestKms({}, { clock: () => fakeNowMs });
  for (const v of [V1_4, V2_1]) sessions.set(versionLabel(v), new Session(await srv.client(), v));
});

afterAll(async () => {
  await srv?.dispose();
});

/** 50 by default; KMS_PROP_RUNS=n explores longer. */
const RUNS = Number(process.env.KMS_PROP_RUNS ?? 50);

const nowSeconds = () => BigInt(Math.floor(fakeNowMs / 1000));

interface Tracked {
  readonly uid: string;
  readonly model: MObject;
  /** Key bytes from the first successful Get. */
  key?: string;
}

async function create(s: Session, c: Extract<Command, { kind: 'Create' }>, now: bigint, group: string): Promise<Tracked> {
  const attrs: TtlvNode[] = [
    attr.objectGroup(group),
    attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
    attr.cryptographicLength(128),
    attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt),
  ];
  const model: MObject = { state: 'PreActive' };
  if (c.activation !== undefined) {
    model.activation = now + BigInt(c.activation);
    attrs.push(t.date(Tag.ActivationDate, model.activation));
  }
  if (c.deactivation !== undefined) {
    model.deactivation = now + BigInt(c.deactivation);
    attrs.push(t.date(Tag.DeactivationDate, model.deactivation));
  }
  model.state = effective(model, now);
  const uid = uniqueIdentifierOf(await s.ok(Operation.Create, createWith(s.version, ObjectType.SymmetricKey, attrs)));
  return { uid, model };
}

function dateRequest(s: Session, o: Tracked, cmd: Extract<ObjectCommand, { kind: 'SetDate' }>, now: bigint) {
  const tag = cmd.which === 'Activation' ? Tag.ActivationDate : Tag.DeactivationDate;
  const present = (cmd.which === 'Activation' ? o.model.activation : o.model.deactivation) !== undefined;
  const node = t.date(tag, now + BigInt(cmd.offset));
  if (present && (cmd.modify || s.version.major < 2)) return { op: Operation.ModifyAttribute, body: modifyAttributePayload(s.version, o.uid, node) };
  if (s.version.major >= 2) return { op: Operation.SetAttribute, body: setAttributePayload(o.uid, node) };
  return { op: Operation.AddAttribute, body: addAttributePayload(s.version, o.uid, node) };
}

async function send(s: Session, o: Tracked, cmd: ObjectCommand, now: bigint) {
  switch (cmd.kind) {
    case 'Get':
      return s.call(Operation.Get, getPayload(o.uid));
    case 'Activate':
      return s.call(Operation.Activate, activatePayload(o.uid));
    case 'Revoke':
      return s.call(
        Operation.Revoke,
        revokePayload(o.uid, cmd.compromise ? RevocationReasonCode.KeyCompromise : RevocationReasonCode.CessationOfOperation, cmd.compromise ? { compromiseOccurrenceDate: now - 30n } : {}),
      );
    case 'Destroy':
      return s.call(Operation.Destroy, destroyPayload(o.uid));
    case 'SetDate': {
      const { op, body } = dateRequest(s, o, cmd, now);
      return s.call(op, body);
    }
  }
}

const DATES = ['ActivationDate', 'DeactivationDate', 'CompromiseDate', 'CompromiseOccurrenceDate', 'DestroyDate'] as const;

/** The server's view of an object: State and the life-cycle dates. */
async function observe(s: Session, uid: string) {
  const view = readGetAttributes(s.version, await s.ok(Operation.GetAttributes, getAttributesPayload(s.version, uid, ['State', ...DATES])));
  const date = (name: string) => {
    const n = single(view, name);
    return n?.type === 'DateTime' ? n.value : undefined;
  };
  const state = single(view, 'State');
  return {
    state: state?.type === 'Enumeration' ? state.value : undefined,
    activation: date('ActivationDate'),
    deactivation: date('DeactivationDate'),
    compromise: date('CompromiseDate'),
    compromiseOccurrence: date('CompromiseOccurrenceDate'),
    destroy: date('DestroyDate'),
  };
}

const expectedView = (o: MObject, now: bigint) => ({
  state: WIRE[effective(o, now)],
  activation: o.activation,
  deactivation: o.deactivation,
  compromise: o.compromise,
  compromiseOccurrence: o.compromiseOccurrence,
  destroy: o.destroy,
});

describe('the life cycle over mutual TLS agrees with the reference model', () => {
  it(
    'random sequences of requests and clock moves (50 runs, up to 12 steps)',
    async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(runArb, async ({ version, first, steps }) => {
          run += 1;
          // A fresh stretch of time per run, so runs never interfere.
          fakeNowMs = Date.UTC(2031, 0, 1) + run * 86_400_000;
          const s = sessions.get(versionLabel(version))!;
          const group = `lifecycle-run-${run}-${Date.now()}`;
          const objects: Tracked[] = [await create(s, first as Extract<Command, { kind: 'Create' }>, nowSeconds(), group)];
          const trail: string[] = [`${versionLabel(version)} ${describeCommand(first)}`];

          const checkAll = async (after: string) => {
            const now = nowSeconds();
            for (const [i, o] of objects.entries()) {
              const got = await observe(s, o.uid);
              expect(got, `object #${i} after ${after}\n  trail: ${trail.join('\n         ')}`).toEqual(expectedView(o.model, now));
            }
            // Locate by State (within this run's Object Group) finds exactly the objects in that state
            // now. 2.x: destroyed objects are found only with the Destroyed Storage bit of the Storage
            // Status Mask (2.1 §6.1.28); 1.x has no such bit, and a State filter naming a destroyed
            // state is the only way to find them.
            const locate = async (value: number, mask?: number) =>
              uniqueIdentifiersOf(
                await s.ok(Operation.Locate, locatePayload(s.version, [attr.objectGroup(group), attr.state(value)], mask !== undefined ? { storageStatusMask: mask } : {})),
              ).sort();
            for (const [name, value] of Object.entries(WIRE) as [MState, number][]) {
              const want = objects
                .filter((o) => effective(o.model, now) === name)
                .map((o) => o.uid)
                .sort();
              const where = `Locate State=${name} after ${after}\n  trail: ${trail.join('\n         ')}`;
              if (s.version.major >= 2) {
                expect(await locate(value, StorageStatusMask.OnLineStorage | StorageStatusMask.DestroyedStorage), where).toEqual(want);
                if (destroyed(name) || name === 'Active') expect(await locate(value), `${where} (no Storage Status Mask)`).toEqual(destroyed(name) ? [] : want);
              } else {
                expect(await locate(value), where).toEqual(want);
              }
            }
          };
          await checkAll('the first Create');

          for (const c of steps) {
            trail.push(describeCommand(c));
            const now = nowSeconds();
            if (c.kind === 'Tick') {
              fakeNowMs += c.seconds * 1000;
            } else if (c.kind === 'Create') {
              if (objects.length < 3) objects.push(await create(s, c, now, group));
            } else {
              const o = objects[c.target % objects.length]!;
              // Send first: the request's form (Add or Modify) depends on the model before the step.
              const r = await send(s, o, c.cmd, now);
              const expected = modelApply(o.model, c.cmd, now);
              const where = `step ${describeCommand(c)}\n  trail: ${trail.join('\n         ')}`;
              if (expected.ok) {
                expect({ status: r.status, reason: r.reason, message: r.message }, where).toEqual({ status: ResultStatus.Success, reason: undefined, message: undefined });
                if (c.cmd.kind === 'Get') {
                  const key = toHex(keyMaterialOf(r.payload));
                  o.key ??= key;
                  expect(key, where).toBe(o.key);
                }
              } else {
                expect(r.status, `${where}\n  expected a refusal (${expected.why}), got ${JSON.stringify(r)}`).toBe(ResultStatus.OperationFailed);
                expect(allowedReasons(version, expected.why, c.cmd), `${where}\n  reason ${r.reason}: ${r.message}`).toContain(r.reason);
              }
            }
            await checkAll(describeCommand(c));
          }
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    },
    Math.max(120_000, RUNS * 1000),
  );
});
