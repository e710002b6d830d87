/**
 * The object life cycle (NIST SP 800-57 Part 1 states) as KMIP defines it: KMIP 1.4 §3.22 and
 * KMIP 2.1 §4.57 "State", transitions 1-10, which end "Only the transitions described above are
 * permitted." One table, `TRANSITIONS`, holds every permitted (state, trigger) pair; anything else
 * is refused with the reason in `REFUSALS`.
 *
 * Two kinds of trigger:
 * - requests: Create/Register, Activate, Revoke (compromise or other reason), Destroy, and a
 *   client setting the Activation Date or Deactivation Date (Add/Modify/Set Attribute);
 * - time: the Activation Date or Deactivation Date is reached (transitions 4 and 6). These are
 *   not stored by a background job: `effectiveState` applies them whenever the state is read, so
 *   the stored state may lag and is always correct when read.
 *
 * Notes from the spec text:
 * - There is no Pre-Active → Deactivated transition. A Pre-Active object whose Deactivation Date
 *   has passed stays Pre-Active until its Activation Date is reached or it is activated (4), and
 *   then immediately becomes Deactivated (6). Revoke with a non-compromise reason is permitted only
 *   from Active (6).
 * - Destroy: "Objects SHALL only be destroyed if they are in either Pre-Active or Deactivated state"
 *   (2.1 §6.1.15; 1.4 §4.21), and transition 9 (Compromised → Destroyed Compromised by Destroy)
 *   together with 1.4 §11.22 ("Object is not in Pre-Active, Deactivated or Compromised state →
 *   Permission Denied") and test case SKLC-M-3-21 (Revoke Key Compromise, then Destroy succeeds)
 *   make Compromised destroyable too. Active is not.
 * - Revoke (1.4 §4.20, 2.1 §6.1.44): Key Compromise / CA Compromise → Compromised, Compromise Date
 *   = now, Compromise Occurrence Date = the request's value, else (SHOULD) the Initial Date; other
 *   reasons → Deactivated with Deactivation Date = now. The Revocation Reason attribute is set
 *   (it is implicitly set by Revoke, 1.4 §3.31 / 2.1 §4.47).
 * - Activate (1.4 §4.19, 2.1 §6.1.1) sets the Activation Date to now.
 * - A client may set the Activation Date only while Pre-Active (1.4 §3.24 Table 108, 2.1 §4.1
 *   Table 30) and the Deactivation Date only while Pre-Active or Active (1.4 §3.27 Table 114, 2.1
 *   §4.18 Table 64); a date at or before now causes transition 4 / 6 at once.
 * - Every request that changes the object also sets Last Change Date (1.4 §3.38, 2.1 §4.29);
 *   Create/Register sets Initial Date (1.4 §3.23, 2.1 §4.25).
 * The State itself is the record's `state` field, not written into the attribute map here.
 */
import { ResultReason, RevocationReasonCode, State } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { KmipError, type ResultReasonValue } from '../kmip/errors.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import type { TtlvNode } from '../ttlv/node.js';
import type { AttributeKey, AttributeMap } from './managed-object.js';
import { is2x } from '../kmip/version-rules.js';

export type StateValue = (typeof State)[keyof typeof State];

/** What can move an object from one state to another (or leave it where it is, allowed). */
export type Trigger =
  | 'Create'
  | 'CreateActivationDateReached'
  | 'Activate'
  | 'RevokeCompromise'
  | 'RevokeOther'
  | 'Destroy'
  | 'SetActivationDateReached'
  | 'SetActivationDateFuture'
  | 'SetDeactivationDateReached'
  | 'SetDeactivationDateFuture'
  | 'ActivationDateReached'
  | 'DeactivationDateReached';

/** The date attributes the life cycle writes. */
export type LifecycleAttribute =
  'InitialDate' | 'ActivationDate' | 'DeactivationDate' | 'CompromiseDate' | 'CompromiseOccurrenceDate' | 'DestroyDate' | 'RevocationReason' | 'LastChangeDate';

export interface Transition {
  /** The spec's transition number (1.4 §3.22 / 2.1 §4.57), or null for an allowed event that changes no state. */
  readonly n: number | null;
  /** null: the object does not exist yet. */
  readonly from: StateValue | null;
  readonly on: Trigger;
  readonly to: StateValue;
  /** Attributes written (dates are `now` unless the request gives the value). */
  readonly sets: readonly LifecycleAttribute[];
  /** Caused by time passing, not by a request. */
  readonly time?: true;
}

const { PreActive, Active, Deactivated, Compromised, Destroyed, DestroyedCompromised } = State;
const REVOKE_C: readonly LifecycleAttribute[] = ['CompromiseDate', 'CompromiseOccurrenceDate', 'RevocationReason', 'LastChangeDate'];
const DESTROY: readonly LifecycleAttribute[] = ['DestroyDate', 'LastChangeDate'];

/** Every permitted (state, trigger) pair. KMIP 1.4 §3.22, KMIP 2.1 §4.57, transitions 1-10. */
export const TRANSITIONS: readonly Transition[] = Object.freeze([
  { n: 1, from: null, on: 'Create', to: PreActive, sets: ['InitialDate', 'LastChangeDate'] },
  { n: 1, from: null, on: 'CreateActivationDateReached', to: Active, sets: ['InitialDate', 'LastChangeDate'] },
  { n: 2, from: PreActive, on: 'Destroy', to: Destroyed, sets: DESTROY },
  { n: 3, from: PreActive, on: 'RevokeCompromise', to: Compromised, sets: REVOKE_C },
  { n: 4, from: PreActive, on: 'ActivationDateReached', to: Active, sets: [], time: true },
  { n: 4, from: PreActive, on: 'SetActivationDateReached', to: Active, sets: ['ActivationDate', 'LastChangeDate'] },
  { n: 4, from: PreActive, on: 'Activate', to: Active, sets: ['ActivationDate', 'LastChangeDate'] },
  { n: null, from: PreActive, on: 'SetActivationDateFuture', to: PreActive, sets: ['ActivationDate', 'LastChangeDate'] },
  { n: null, from: PreActive, on: 'SetDeactivationDateFuture', to: PreActive, sets: ['DeactivationDate', 'LastChangeDate'] },
  { n: null, from: PreActive, on: 'SetDeactivationDateReached', to: PreActive, sets: ['DeactivationDate', 'LastChangeDate'] },
  { n: 5, from: Active, on: 'RevokeCompromise', to: Compromised, sets: REVOKE_C },
  { n: 6, from: Active, on: 'DeactivationDateReached', to: Deactivated, sets: [], time: true },
  { n: 6, from: Active, on: 'RevokeOther', to: Deactivated, sets: ['DeactivationDate', 'RevocationReason', 'LastChangeDate'] },
  { n: 6, from: Active, on: 'SetDeactivationDateReached', to: Deactivated, sets: ['DeactivationDate', 'LastChangeDate'] },
  { n: null, from: Active, on: 'SetDeactivationDateFuture', to: Active, sets: ['DeactivationDate', 'LastChangeDate'] },
  { n: 7, from: Deactivated, on: 'Destroy', to: Destroyed, sets: DESTROY },
  { n: 8, from: Deactivated, on: 'RevokeCompromise', to: Compromised, sets: REVOKE_C },
  { n: 9, from: Compromised, on: 'Destroy', to: DestroyedCompromised, sets: DESTROY },
  { n: 10, from: Destroyed, on: 'RevokeCompromise', to: DestroyedCompromised, sets: REVOKE_C },
] satisfies Transition[]);

/** The request kinds, for refusals. */
export type RequestKind = 'Activate' | 'Revoke' | 'Destroy' | 'SetActivationDate' | 'SetDeactivationDate';

export interface Refusal {
  readonly v1: ResultReasonValue;
  readonly v2: ResultReasonValue;
  readonly ref: string;
}

/**
 * The Result Reason for a request the table does not permit in the object's current state.
 * `destroyed` applies when the object is Destroyed or Destroyed Compromised.
 */
export const REFUSALS: Readonly<Record<RequestKind, Refusal & { readonly destroyed?: Refusal }>> = Object.freeze({
  Activate: {
    v1: ResultReason.PermissionDenied,
    v2: ResultReason.WrongKeyLifecycleState,
    ref: 'KMIP 1.4 §11.20 "Object is not in Pre-Active state"; KMIP 2.1 §6.1.1.1',
  },
  Revoke: {
    v1: ResultReason.IllegalOperation,
    v2: ResultReason.WrongKeyLifecycleState,
    ref: 'KMIP 1.4 §11.21 "object that is not able to be revoked"; KMIP 2.1 §6.1.44.1',
  },
  Destroy: {
    v1: ResultReason.PermissionDenied,
    v2: ResultReason.WrongKeyLifecycleState,
    ref: 'KMIP 1.4 §11.22 "Object is not in Pre-Active, Deactivated or Compromised state"; KMIP 2.1 §6.1.15.1, test case SKLC-M-2-21',
    destroyed: {
      v1: ResultReason.PermissionDenied,
      v2: ResultReason.ObjectDestroyed,
      ref: 'KMIP 1.4 §11.22 "Object exists, but has already been destroyed"; KMIP 2.1 §6.1.15.1, §11.46 Object Destroyed',
    },
  },
  SetActivationDate: {
    v1: ResultReason.PermissionDenied,
    v2: ResultReason.WrongKeyLifecycleState,
    ref: 'KMIP 1.4 §11.16, test case SKLC-M-3-14; KMIP 2.1 §6.1.34.1, test case SKLC-M-3-21',
  },
  SetDeactivationDate: {
    v1: ResultReason.PermissionDenied,
    v2: ResultReason.WrongKeyLifecycleState,
    ref: 'KMIP 1.4 §11.16; KMIP 2.1 §6.1.34.1',
  },
});

// --------------------------------------------------------------------------------- events

export type LifecycleEvent =
  /** Create, Create Key Pair, Register, Derive Key, …: `attributes` are the new object's (its Activation Date decides). */
  | { readonly type: 'Create'; readonly attributes: AttributeMap }
  | { readonly type: 'Activate' }
  | {
      readonly type: 'Revoke';
      /** Revocation Reason Code enumeration value. */
      readonly reason: number;
      readonly message?: string;
      /** Compromise Occurrence Date from the request, seconds since the epoch. */
      readonly compromiseOccurrenceDate?: bigint;
    }
  | { readonly type: 'Destroy' }
  /** A client sets (adds or modifies) the Activation Date; seconds since the epoch. */
  | { readonly type: 'SetActivationDate'; readonly date: bigint }
  /** A client sets (adds or modifies) the Deactivation Date; seconds since the epoch. */
  | { readonly type: 'SetDeactivationDate'; readonly date: bigint };

export interface LifecycleSubject {
  /** The stored State value. */
  readonly state: number;
  readonly attributes: AttributeMap;
}

export interface LifecycleResult {
  /** The state to store (already advanced by time, i.e. the effective state right after the event). */
  readonly state: StateValue;
  /** The table row that applied. */
  readonly transition: Transition;
  /** Attribute values to write (each replaces the single instance of that attribute). */
  readonly setAttributes: ReadonlyArray<{ readonly key: AttributeKey; readonly node: TtlvNode }>;
}

/** A point in time: a Date, or seconds since the epoch as a bigint (a KMIP Date-Time value). */
export type Instant = Date | bigint;

/** Seconds since the epoch (KMIP Date-Time resolution). */
export function toSeconds(now: Instant): bigint {
  return typeof now === 'bigint' ? now : BigInt(Math.floor(now.getTime() / 1000));
}

/** The value of a single-instance Date-Time attribute, if present. */
export function dateAttribute(attrs: AttributeMap, key: AttributeKey): bigint | undefined {
  const n = attrs.get(key)?.[0];
  return n?.type === 'DateTime' ? n.value : undefined;
}

/** TRANSITIONS by state, then trigger (the first row of each pair, as a scan would find it): every Get asks. */
const ROWS = new Map<StateValue | null, Map<Trigger, Transition>>();
for (const t of TRANSITIONS) {
  let byTrigger = ROWS.get(t.from);
  if (!byTrigger) ROWS.set(t.from, (byTrigger = new Map()));
  if (!byTrigger.has(t.on)) byTrigger.set(t.on, t);
}

function row(from: StateValue | null, on: Trigger): Transition | undefined {
  return ROWS.get(from)?.get(on);
}

const TIME_TRIGGERS: ReadonlyArray<{ readonly on: Trigger; readonly date: AttributeKey }> = [
  { on: 'ActivationDateReached', date: 'ActivationDate' },
  { on: 'DeactivationDateReached', date: 'DeactivationDate' },
];

const STATE_VALUES: ReadonlySet<number> = new Set(Object.values(State) as number[]);

function asState(s: number): StateValue {
  if (!STATE_VALUES.has(s)) throw new RangeError(`not a State value: ${s}`);
  return s as StateValue;
}

/**
 * The state at `now`: the stored state advanced by every time transition whose date has been
 * reached (Activation Date → 4, then Deactivation Date → 6). Needs no background job.
 */
export function effectiveState(state: number, attrs: AttributeMap, now: Instant): StateValue {
  let s = asState(state);
  const t = toSeconds(now);
  for (let moved = true; moved;) {
    moved = false;
    for (const tt of TIME_TRIGGERS) {
      const r = row(s, tt.on);
      const d = dateAttribute(attrs, tt.date);
      if (r && d !== undefined && d <= t) {
        s = r.to;
        moved = true;
      }
    }
  }
  return s;
}

/**
 * Which stored states may currently read as `effective` (for Locate: select candidates by stored
 * state, then filter them with `effectiveState`). Derived from the time rows of the table.
 */
export function storedStatesThatCanBe(effective: number): StateValue[] {
  const target = asState(effective);
  const out = new Set<StateValue>([target]);
  for (let grew = true; grew;) {
    grew = false;
    for (const t of TRANSITIONS) {
      if (t.time && t.from !== null && out.has(t.to) && !out.has(t.from)) {
        out.add(t.from);
        grew = true;
      }
    }
  }
  return [...out].sort((a, b) => a - b);
}

function dateNode(key: LifecycleAttribute, value: bigint): { key: AttributeKey; node: TtlvNode } {
  return { key, node: { tag: Tag[key], type: 'DateTime', value } };
}

const COMPROMISE_REASONS: ReadonlySet<number> = new Set([RevocationReasonCode.KeyCompromise, RevocationReasonCode.CACompromise]);

function triggerOf(event: LifecycleEvent, now: bigint): Trigger {
  switch (event.type) {
    case 'Create': {
      const d = dateAttribute(event.attributes, 'ActivationDate');
      return d !== undefined && d <= now ? 'CreateActivationDateReached' : 'Create';
    }
    case 'Activate':
      return 'Activate';
    case 'Revoke':
      return COMPROMISE_REASONS.has(event.reason) ? 'RevokeCompromise' : 'RevokeOther';
    case 'Destroy':
      return 'Destroy';
    case 'SetActivationDate':
      return event.date <= now ? 'SetActivationDateReached' : 'SetActivationDateFuture';
    case 'SetDeactivationDate':
      return event.date <= now ? 'SetDeactivationDateReached' : 'SetDeactivationDateFuture';
  }
}

/** The KmipError for a request refused in state `from`. */
export function refusal(kind: RequestKind, from: StateValue, version: KmipVersion): KmipError {
  const base = REFUSALS[kind];
  const r = (from === Destroyed || from === DestroyedCompromised) && base.destroyed ? base.destroyed : base;
  const name = Object.entries(State).find(([, v]) => v === from)?.[0] ?? String(from);
  return new KmipError(is2x(version) ? r.v2 : r.v1, `${kind} is not permitted in state ${name}`);
}

/**
 * Apply a request to an object (`current` null for Create/Register). The current state is first
 * advanced by time (`effectiveState`). Returns the new state and the attributes to write, or
 * throws the spec's reason for the negotiated `version` (see REFUSALS).
 */
export function applyEvent(current: LifecycleSubject | null, event: LifecycleEvent, now: Instant, version: KmipVersion): LifecycleResult {
  const t = toSeconds(now);
  const on = triggerOf(event, t);
  let from: StateValue | null = null;
  let attrs: AttributeMap = new Map();
  if (event.type === 'Create') {
    if (current !== null) throw new RangeError('Create applies to a new object (current must be null)');
    attrs = event.attributes;
  } else {
    if (current === null) throw new RangeError(`${event.type} needs an existing object`);
    attrs = current.attributes;
    from = effectiveState(current.state, attrs, now);
  }
  const tr = row(from, on);
  if (!tr) {
    if (event.type === 'Create' || from === null) throw new RangeError('unreachable: Create is always permitted');
    throw refusal(event.type, from, version);
  }
  const set: Array<{ key: AttributeKey; node: TtlvNode }> = [];
  for (const a of tr.sets) {
    switch (a) {
      case 'ActivationDate':
        set.push(dateNode(a, event.type === 'SetActivationDate' ? event.date : t));
        break;
      case 'DeactivationDate':
        set.push(dateNode(a, event.type === 'SetDeactivationDate' ? event.date : t));
        break;
      case 'CompromiseOccurrenceDate': {
        const given = event.type === 'Revoke' ? event.compromiseOccurrenceDate : undefined;
        set.push(dateNode(a, given ?? dateAttribute(attrs, 'InitialDate') ?? t));
        break;
      }
      case 'RevocationReason': {
        if (event.type !== 'Revoke') throw new RangeError('RevocationReason without Revoke');
        const parts: TtlvNode[] = [{ tag: Tag.RevocationReasonCode, type: 'Enumeration', value: event.reason }];
        if (event.message !== undefined) parts.push({ tag: Tag.RevocationMessage, type: 'TextString', value: event.message });
        set.push({ key: 'RevocationReason', node: { tag: Tag.RevocationReason, type: 'Structure', value: parts } });
        break;
      }
      default:
        set.push(dateNode(a, t));
    }
  }
  // The state to store: advanced by time with the attributes as they will be after the write.
  const after = new Map(attrs);
  for (const { key, node } of set) after.set(key, [node]);
  return { state: effectiveState(tr.to, after, now), transition: tr, setAttributes: set };
}

/** Destroyed or Destroyed Compromised: the key material is gone, the metadata stays. */
export function isDestroyed(state: number): boolean {
  return state === State.Destroyed || state === State.DestroyedCompromised;
}
