/**
 * Random sequences of requests and clock moves, run against objects/lifecycle.ts (lazy: stored
 * state + dates, `effectiveState` on read) and against a reference model written here from the
 * spec text alone (KMIP 2.1 §4.57 transitions 1-10, §6.1.1 Activate, §6.1.15 Destroy, §6.1.44
 * Revoke, §4.1/§4.18 date rules). The model is eager: on every clock move it runs the date
 * transitions itself, like a background job would. Both must agree after every step, on the
 * state, on which requests are refused (and with what reason), and on the dates.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ResultReason, RevocationReasonCode, State } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { KmipError } from '../../src/kmip/errors.js';
import { parseSpecVersion } from '../../src/kmip/registry.js';
import { applyEvent, effectiveState, storedStatesThatCanBe, type LifecycleEvent } from '../../src/objects/lifecycle.js';
import type { AttributeMap } from '../../src/objects/managed-object.js';
import type { TtlvNode } from '../../src/ttlv/node.js';

// ------------------------------------------------------------------ reference model (spec text)
type S = 'pre-active' | 'active' | 'deactivated' | 'compromised' | 'destroyed' | 'destroyed-compromised';
interface Model {
  s: S;
  activation?: bigint;
  deactivation?: bigint;
  compromise?: bigint;
  destroy?: bigint;
}
type Cmd =
  { k: 'tick'; seconds: number } | { k: 'activate' } | { k: 'revoke'; code: number } | { k: 'destroy' } | { k: 'setActivation'; offset: number } | { k: 'setDeactivation'; offset: number };

/** Returns the refusal reason (2.x) or undefined and mutates the model. */
function modelStep(m: Model, c: Cmd, now: bigint): number | undefined {
  const WRONG = ResultReason.WrongKeyLifecycleState;
  switch (c.k) {
    case 'tick':
      return undefined;
    case 'activate': // §6.1.1: only in Pre-Active; Activation Date := now
      if (m.s !== 'pre-active') return WRONG;
      m.s = 'active';
      m.activation = now;
      return undefined;
    case 'revoke': {
      const compromise = c.code === RevocationReasonCode.KeyCompromise || c.code === RevocationReasonCode.CACompromise;
      if (compromise) {
        // transitions 3, 5, 8 → Compromised; 10 Destroyed → Destroyed Compromised
        if (m.s === 'pre-active' || m.s === 'active' || m.s === 'deactivated') m.s = 'compromised';
        else if (m.s === 'destroyed') m.s = 'destroyed-compromised';
        else return WRONG;
        m.compromise = now;
        return undefined;
      }
      if (m.s !== 'active') return WRONG; // transition 6 is the only one for other reasons
      m.s = 'deactivated';
      m.deactivation = now;
      return undefined;
    }
    case 'destroy': // transitions 2, 7, 9
      if (m.s === 'destroyed' || m.s === 'destroyed-compromised') return ResultReason.ObjectDestroyed;
      if (m.s === 'active') return WRONG;
      m.s = m.s === 'compromised' ? 'destroyed-compromised' : 'destroyed';
      m.destroy = now;
      return undefined;
    case 'setActivation': // §4.1: modifiable only while Pre-Active; ≤ now → transition 4
      if (m.s !== 'pre-active') return WRONG;
      m.activation = now + BigInt(c.offset);
      return undefined;
    case 'setDeactivation': // §4.18: only while Pre-Active or Active; ≤ now from Active → transition 6
      if (m.s !== 'pre-active' && m.s !== 'active') return WRONG;
      m.deactivation = now + BigInt(c.offset);
      return undefined;
  }
}

/** The background job: transition 4 when the Activation Date is reached, 6 when the Deactivation Date is. */
function modelTime(m: Model, now: bigint): void {
  if (m.s === 'pre-active' && m.activation !== undefined && m.activation <= now) m.s = 'active';
  if (m.s === 'active' && m.deactivation !== undefined && m.deactivation <= now) m.s = 'deactivated';
}

const STATE_OF: Record<S, number> = {
  'pre-active': State.PreActive,
  active: State.Active,
  deactivated: State.Deactivated,
  compromised: State.Compromised,
  destroyed: State.Destroyed,
  'destroyed-compromised': State.DestroyedCompromised,
};

// ------------------------------------------------------------------------------ the property
const V21 = parseSpecVersion('2.1');
const T0 = 1_700_000_000;

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 200 }).map((seconds) => ({ k: 'tick' as const, seconds })) },
  { weight: 1, arbitrary: fc.constant({ k: 'activate' as const }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...Object.values(RevocationReasonCode)).map((code) => ({ k: 'revoke' as const, code })),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'destroy' as const }) },
  { weight: 2, arbitrary: fc.integer({ min: -100, max: 300 }).map((offset) => ({ k: 'setActivation' as const, offset })) },
  { weight: 2, arbitrary: fc.integer({ min: -100, max: 300 }).map((offset) => ({ k: 'setDeactivation' as const, offset })) },
);

function dateOf(attrs: AttributeMap, key: string): bigint | undefined {
  const n = attrs.get(key)?.[0];
  return n?.type === 'DateTime' ? n.value : undefined;
}

describe('lifecycle vs an independent reference model', () => {
  it('random requests and clock moves: same state, same refusals, same dates', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: -50, max: 300 }), { nil: undefined }),
        fc.option(fc.integer({ min: -50, max: 600 }), { nil: undefined }),
        fc.array(cmd, { maxLength: 40 }),
        fc.integer({ min: 0, max: 999 }),
        (actOffset, deactOffset, cmds, ms) => {
          let nowS = BigInt(T0);
          const now = (): Date => new Date(Number(nowS) * 1000 + ms);
          // create/register, with or without Activation/Deactivation Dates
          const initial = new Map<string, TtlvNode[]>();
          if (actOffset !== undefined) initial.set('ActivationDate', [{ tag: Tag.ActivationDate, type: 'DateTime', value: nowS + BigInt(actOffset) }]);
          if (deactOffset !== undefined) initial.set('DeactivationDate', [{ tag: Tag.DeactivationDate, type: 'DateTime', value: nowS + BigInt(deactOffset) }]);
          const created = applyEvent(null, { type: 'Create', attributes: initial }, now(), V21);
          let stored = created.state as number;
          const attrs = new Map(initial);
          for (const a of created.setAttributes) attrs.set(a.key, [a.node]);

          const model: Model = { s: 'pre-active' };
          if (actOffset !== undefined) model.activation = nowS + BigInt(actOffset);
          if (deactOffset !== undefined) model.deactivation = nowS + BigInt(deactOffset);
          modelTime(model, nowS);

          const check = (): void => {
            const eff = effectiveState(stored, attrs, now());
            expect(eff).toBe(STATE_OF[model.s]);
            expect(storedStatesThatCanBe(eff)).toContain(stored);
            expect(dateOf(attrs, 'ActivationDate')).toBe(model.activation);
            expect(dateOf(attrs, 'DeactivationDate')).toBe(model.deactivation);
            expect(dateOf(attrs, 'CompromiseDate')).toBe(model.compromise);
            expect(dateOf(attrs, 'DestroyDate')).toBe(model.destroy);
          };
          check();
          for (const c of cmds) {
            if (c.k === 'tick') {
              nowS += BigInt(c.seconds);
              modelTime(model, nowS);
              check();
              continue;
            }
            const expectedRefusal = modelStep(model, c, nowS);
            modelTime(model, nowS);
            const ev: LifecycleEvent =
              c.k === 'activate'
                ? { type: 'Activate' }
                : c.k === 'revoke'
                  ? { type: 'Revoke', reason: c.code }
                  : c.k === 'destroy'
                    ? { type: 'Destroy' }
                    : c.k === 'setActivation'
                      ? { type: 'SetActivationDate', date: nowS + BigInt(c.offset) }
                      : { type: 'SetDeactivationDate', date: nowS + BigInt(c.offset) };
            let got: number | undefined;
            try {
              const r = applyEvent({ state: stored, attributes: attrs }, ev, now(), V21);
              stored = r.state;
              for (const a of r.setAttributes) attrs.set(a.key, [a.node]);
            } catch (e) {
              if (!(e instanceof KmipError)) throw e;
              got = e.reason;
            }
            expect(got, `${c.k} in ${model.s}`).toBe(expectedRefusal);
            check();
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
