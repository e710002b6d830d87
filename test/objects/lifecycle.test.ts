import { describe, it, expect } from 'vitest';
import { ResultReason, RevocationReasonCode, State } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { KmipError } from '../../src/kmip/errors.js';
import { parseSpecVersion } from '../../src/kmip/registry.js';
import { TRANSITIONS, applyEvent, effectiveState, storedStatesThatCanBe, type LifecycleEvent, type StateValue, type Trigger } from '../../src/objects/lifecycle.js';
import type { AttributeMap } from '../../src/objects/managed-object.js';
import { t, type TtlvNode } from '../../src/ttlv/node.js';

const V14 = parseSpecVersion('1.4');
const V21 = parseSpecVersion('2.1');
const NOW_S = 1_700_000_000n;
const NOW = new Date(Number(NOW_S) * 1000 + 123); // sub-second part must not matter
const PAST = NOW_S - 100n;
const FUTURE = NOW_S + 100n;
const { PreActive, Active, Deactivated, Compromised, Destroyed, DestroyedCompromised } = State;
const ALL_STATES: StateValue[] = [PreActive, Active, Deactivated, Compromised, Destroyed, DestroyedCompromised];

const dates = (d: Partial<Record<'ActivationDate' | 'DeactivationDate' | 'InitialDate', bigint>>): AttributeMap =>
  new Map(Object.entries(d).map(([k, v]) => [k, [t.date(Tag[k as keyof typeof Tag], v as bigint)] as TtlvNode[]]));

const EVENTS: Record<Exclude<Trigger, 'Create' | 'CreateActivationDateReached' | 'ActivationDateReached' | 'DeactivationDateReached'>, LifecycleEvent> = {
  Activate: { type: 'Activate' },
  RevokeCompromise: { type: 'Revoke', reason: RevocationReasonCode.KeyCompromise },
  RevokeOther: { type: 'Revoke', reason: RevocationReasonCode.CessationOfOperation, message: 'retired' },
  Destroy: { type: 'Destroy' },
  SetActivationDateReached: { type: 'SetActivationDate', date: PAST },
  SetActivationDateFuture: { type: 'SetActivationDate', date: FUTURE },
  SetDeactivationDateReached: { type: 'SetDeactivationDate', date: PAST },
  SetDeactivationDateFuture: { type: 'SetDeactivationDate', date: FUTURE },
};

function reasonOf(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof KmipError) return e.reason;
    throw e;
  }
  return undefined;
}

describe('every row of the transition table (KMIP 1.4 §3.22, 2.1 §4.57)', () => {
  it('the table has the ten numbered transitions and nothing from the destroyed states but 10', () => {
    expect([...new Set(TRANSITIONS.map((r) => r.n).filter((n) => n !== null))].sort((a, b) => (a as number) - (b as number))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(TRANSITIONS.filter((r) => r.from === DestroyedCompromised)).toEqual([]);
    expect(TRANSITIONS.filter((r) => r.from === Destroyed).map((r) => r.on)).toEqual(['RevokeCompromise']);
    expect(TRANSITIONS.some((r) => r.from === PreActive && r.to === Deactivated)).toBe(false);
  });

  for (const row of TRANSITIONS) {
    if (row.time || row.from === null) continue;
    const ev = EVENTS[row.on as keyof typeof EVENTS];
    it(`${row.n ?? '-'}: ${row.from} --${row.on}--> ${row.to}`, () => {
      for (const v of [V14, V21]) {
        const r = applyEvent({ state: row.from as number, attributes: dates({ InitialDate: NOW_S - 1000n }) }, ev, NOW, v);
        expect(r.state).toBe(row.to);
        expect(r.transition).toBe(row);
        expect(r.setAttributes.map((a) => a.key)).toEqual(row.sets);
        for (const a of r.setAttributes) expect(a.node.tag).toBe(Tag[a.key as keyof typeof Tag]);
      }
    });
  }

  it('1: Create without an Activation Date, or a future one → Pre-Active; one ≤ now → Active', () => {
    for (const attrs of [new Map(), dates({ ActivationDate: FUTURE })]) {
      const r = applyEvent(null, { type: 'Create', attributes: attrs }, NOW, V21);
      expect(r.state).toBe(PreActive);
      expect(r.setAttributes).toEqual([
        { key: 'InitialDate', node: t.date(Tag.InitialDate, NOW_S) },
        { key: 'LastChangeDate', node: t.date(Tag.LastChangeDate, NOW_S) },
      ]);
    }
    expect(applyEvent(null, { type: 'Create', attributes: dates({ ActivationDate: NOW_S }) }, NOW, V21).state).toBe(Active);
    // Both dates already passed: Active, then Deactivated (transitions 4 and 6).
    expect(applyEvent(null, { type: 'Create', attributes: dates({ ActivationDate: PAST, DeactivationDate: PAST }) }, NOW, V14).state).toBe(Deactivated);
  });

  it('4 and 6 by time: effectiveState needs no background job', () => {
    expect(effectiveState(PreActive, dates({ ActivationDate: FUTURE }), NOW)).toBe(PreActive);
    expect(effectiveState(PreActive, dates({ ActivationDate: NOW_S }), NOW_S - 1n)).toBe(PreActive); // bigint = seconds
    expect(effectiveState(PreActive, dates({ ActivationDate: NOW_S }), NOW_S)).toBe(Active);
    expect(effectiveState(PreActive, dates({ ActivationDate: NOW_S }), NOW)).toBe(Active);
    expect(effectiveState(Active, dates({ DeactivationDate: NOW_S }), NOW)).toBe(Deactivated);
    expect(effectiveState(Active, dates({ DeactivationDate: FUTURE }), NOW)).toBe(Active);
    expect(effectiveState(PreActive, dates({ ActivationDate: PAST, DeactivationDate: PAST }), NOW)).toBe(Deactivated);
    // No Pre-Active → Deactivated: a passed Deactivation Date alone changes nothing.
    expect(effectiveState(PreActive, dates({ DeactivationDate: PAST }), NOW)).toBe(PreActive);
    for (const s of [Compromised, Destroyed, DestroyedCompromised, Deactivated]) {
      expect(effectiveState(s, dates({ ActivationDate: PAST, DeactivationDate: PAST }), NOW)).toBe(s);
    }
  });

  it('dates written: Activate sets Activation Date = now; Revoke sets the compromise dates and the reason', () => {
    const a = applyEvent({ state: PreActive, attributes: new Map() }, { type: 'Activate' }, NOW, V21);
    expect(a.setAttributes[0]).toEqual({ key: 'ActivationDate', node: t.date(Tag.ActivationDate, NOW_S) });
    const c = applyEvent({ state: Active, attributes: dates({ InitialDate: 5n }) }, { type: 'Revoke', reason: RevocationReasonCode.CACompromise }, NOW, V21);
    expect(c.state).toBe(Compromised);
    expect(c.setAttributes).toEqual([
      { key: 'CompromiseDate', node: t.date(Tag.CompromiseDate, NOW_S) },
      { key: 'CompromiseOccurrenceDate', node: t.date(Tag.CompromiseOccurrenceDate, 5n) }, // SHOULD be the Initial Date
      { key: 'RevocationReason', node: t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, RevocationReasonCode.CACompromise)]) },
      { key: 'LastChangeDate', node: t.date(Tag.LastChangeDate, NOW_S) },
    ]);
    const given = applyEvent({ state: Active, attributes: new Map() }, { type: 'Revoke', reason: RevocationReasonCode.KeyCompromise, compromiseOccurrenceDate: 77n }, NOW, V21);
    expect(given.setAttributes[1]).toEqual({ key: 'CompromiseOccurrenceDate', node: t.date(Tag.CompromiseOccurrenceDate, 77n) });
    const d = applyEvent({ state: Active, attributes: new Map() }, EVENTS.RevokeOther, NOW, V21);
    expect(d.setAttributes[0]).toEqual({ key: 'DeactivationDate', node: t.date(Tag.DeactivationDate, NOW_S) });
    expect(d.setAttributes[1]?.node).toEqual(
      t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, RevocationReasonCode.CessationOfOperation), t.text(Tag.RevocationMessage, 'retired')]),
    );
    const x = applyEvent({ state: Deactivated, attributes: new Map() }, { type: 'Destroy' }, NOW, V21);
    expect(x.setAttributes[0]).toEqual({ key: 'DestroyDate', node: t.date(Tag.DestroyDate, NOW_S) });
  });

  it('events see the effective state: Activate on a stored Pre-Active whose Activation Date passed is refused', () => {
    const s = { state: PreActive, attributes: dates({ ActivationDate: PAST }) };
    expect(reasonOf(() => applyEvent(s, { type: 'Activate' }, NOW, V21))).toBe(ResultReason.WrongKeyLifecycleState);
    expect(applyEvent(s, { type: 'Revoke', reason: RevocationReasonCode.Superseded }, NOW, V21).state).toBe(Deactivated);
  });
});

describe('every forbidden request gives the spec reason', () => {
  // Hand-written from the transition list: the states each request is permitted in.
  const allowed: Record<keyof typeof EVENTS, StateValue[]> = {
    Activate: [PreActive],
    RevokeCompromise: [PreActive, Active, Deactivated, Destroyed],
    RevokeOther: [Active],
    Destroy: [PreActive, Deactivated, Compromised],
    SetActivationDateReached: [PreActive],
    SetActivationDateFuture: [PreActive],
    SetDeactivationDateReached: [PreActive, Active],
    SetDeactivationDateFuture: [PreActive, Active],
  };
  // [1.x, 2.x]: 1.4 §11.20-§11.22, §11.16 (SKLC-M-3-14, SKLC-M-2-14); 2.1 §6.1.1.1, §6.1.44.1, §6.1.15.1, §6.1.34.1 (SKLC-M-3-21, SKLC-M-2-21).
  const expected = (name: keyof typeof EVENTS, from: StateValue): [number, number] => {
    if (name === 'Destroy' && (from === Destroyed || from === DestroyedCompromised)) return [ResultReason.PermissionDenied, ResultReason.ObjectDestroyed];
    if (name.startsWith('Revoke')) return [ResultReason.IllegalOperation, ResultReason.WrongKeyLifecycleState];
    return [ResultReason.PermissionDenied, ResultReason.WrongKeyLifecycleState];
  };
  for (const name of Object.keys(EVENTS) as (keyof typeof EVENTS)[]) {
    for (const from of ALL_STATES) {
      if (allowed[name].includes(from)) continue;
      it(`${name} in ${from}`, () => {
        const [r1, r2] = expected(name, from);
        expect(reasonOf(() => applyEvent({ state: from, attributes: new Map() }, EVENTS[name], NOW, V14))).toBe(r1);
        expect(reasonOf(() => applyEvent({ state: from, attributes: new Map() }, EVENTS[name], NOW, V21))).toBe(r2);
      });
    }
    it(`${name} is permitted exactly where the spec says`, () => {
      const ok = ALL_STATES.filter((s) => reasonOf(() => applyEvent({ state: s, attributes: new Map() }, EVENTS[name], NOW, V21)) === undefined);
      expect(ok).toEqual(allowed[name]);
    });
  }
});

describe('storedStatesThatCanBe (Locate)', () => {
  it('time only moves Pre-Active → Active → Deactivated', () => {
    expect(storedStatesThatCanBe(PreActive)).toEqual([PreActive]);
    expect(storedStatesThatCanBe(Active)).toEqual([PreActive, Active]);
    expect(storedStatesThatCanBe(Deactivated)).toEqual([PreActive, Active, Deactivated]);
    for (const s of [Compromised, Destroyed, DestroyedCompromised]) expect(storedStatesThatCanBe(s)).toEqual([s]);
  });
});
