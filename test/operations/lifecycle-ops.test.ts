/**
 * Activate, Revoke, Destroy, Archive, Recover, Check, Obtain Lease and Get Usage Allocation
 * (KMIP 1.4 §4.10, §4.17-4.23; 2.1 §6.1.1, 6.1.4, 6.1.7, 6.1.15, 6.1.23, 6.1.35, 6.1.42, 6.1.44)
 * over a real mTLS server with LevelDB and a controlled clock: the success path at 1.4 and 2.1,
 * the dates each one writes, the ID Placeholder, and every Result Reason the operation files list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultReason, RevocationReasonCode, State, UsageLimitsUnit } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, batch, fails, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';
import { notFoundReason } from '../support/reasons.js';

const ED = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
let now = 1_700_000_000;
let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;

beforeAll(async () => {
  srv = await startTestKms({}, { clock: () => now * 1000 });
  [c, alice] = await Promise.all([srv.client(), srv.client('alice')]);
});
afterAll(async () => srv?.dispose());

const tick = (s = 10): number => (now += s);
const record = async (uid: string): Promise<ObjectRecord> => (await srv.kms.services.store.get(uid))!;
const date = (r: ObjectRecord, key: string): bigint | undefined => {
  const n = r.attributes.get(key)?.[0];
  return n?.type === 'DateTime' ? n.value : undefined;
};
const usageLimits = (total: bigint): TtlvNode =>
  t.struct(Tag.UsageLimits, [t.long(Tag.UsageLimitsTotal, total), t.long(Tag.UsageLimitsCount, total), t.enum(Tag.UsageLimitsUnit, UsageLimitsUnit.Object)]);

async function createKey(v: KmipVersion, extra: readonly TtlvNode[] = [], client = c): Promise<string> {
  return uidOf(
    await ok(client, v, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(ED), ...extra]),
    ]),
  );
}
async function createOpaque(v: KmipVersion): Promise<string> {
  const obj = t.struct(Tag.OpaqueObject, [t.enum(Tag.OpaqueDataType, 0x80000000), t.bytes(Tag.OpaqueDataValue, new Uint8Array([1, 2, 3]))]);
  return uidOf(await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.OpaqueObject), attrs(v, []), obj]));
}
const revokeReq = (uid: string | undefined, code: number, occurrence?: bigint, message?: string): TtlvNode[] => [
  ...(uid !== undefined ? [uidNode(uid)] : []),
  t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, code), ...(message !== undefined ? [t.text(Tag.RevocationMessage, message)] : [])]),
  ...(occurrence !== undefined ? [t.date(Tag.CompromiseOccurrenceDate, occurrence)] : []),
];

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('KMIP %s', (_l, v) => {
  const v2 = v.major >= 2;
  const WRONG_STATE = v2 ? ResultReason.WrongKeyLifecycleState : ResultReason.PermissionDenied;

  describe('Activate', () => {
    it('Pre-Active → Active, Activation Date and Last Change Date = now', async () => {
      const uid = await createKey(v);
      const t0 = tick();
      expect(uidOf(await ok(c, v, Operation.Activate, [uidNode(uid)]))).toBe(uid);
      const r = await record(uid);
      expect(r.state).toBe(State.Active);
      expect(date(r, 'ActivationDate')).toBe(BigInt(t0));
      expect(date(r, 'LastChangeDate')).toBe(BigInt(t0));
      expect(date(r, 'InitialDate')).toBeLessThan(BigInt(t0));
    });

    it('not Pre-Active: Permission Denied (1.x) / Wrong Key Lifecycle State (2.x)', async () => {
      const uid = await createKey(v);
      await ok(c, v, Operation.Activate, [uidNode(uid)]);
      expect((await fails(c, v, Operation.Activate, [uidNode(uid)])).reason).toBe(WRONG_STATE);
    });

    it('unknown uid and another identity’s key: Item Not Found', async () => {
      expect((await fails(c, v, Operation.Activate, [uidNode('nope')])).reason).toBe(notFoundReason(v));
      expect((await fails(alice, v, Operation.Activate, [uidNode(await createKey(v))])).reason).toBe(notFoundReason(v));
    });

    it('an Opaque Object: Illegal Operation in 1.x (no State there), activated in 2.x', async () => {
      const uid = await createOpaque(v);
      if (v2) await ok(c, v, Operation.Activate, [uidNode(uid)]);
      else expect((await fails(c, v, Operation.Activate, [uidNode(uid)])).reason).toBe(ResultReason.IllegalOperation);
    });
  });

  describe('Revoke', () => {
    it('Key Compromise → Compromised, Compromise Date now, Compromise Occurrence Date as given, Revocation Reason kept', async () => {
      const uid = await createKey(v);
      const t0 = tick();
      await ok(c, v, Operation.Revoke, revokeReq(uid, RevocationReasonCode.KeyCompromise, 12345n, 'leaked'));
      const r = await record(uid);
      expect(r.state).toBe(State.Compromised);
      expect(date(r, 'CompromiseDate')).toBe(BigInt(t0));
      expect(date(r, 'CompromiseOccurrenceDate')).toBe(12345n);
      expect(date(r, 'LastChangeDate')).toBe(BigInt(t0));
      const rr = r.attributes.get('RevocationReason')?.[0];
      expect(findChild(rr, Tag.RevocationReasonCode)).toMatchObject({ value: RevocationReasonCode.KeyCompromise });
      expect(findChild(rr, Tag.RevocationMessage)).toMatchObject({ value: 'leaked' });
    });

    it('without a Compromise Occurrence Date it is the Initial Date', async () => {
      const uid = await createKey(v);
      tick();
      await ok(c, v, Operation.Revoke, revokeReq(uid, RevocationReasonCode.CACompromise));
      const r = await record(uid);
      expect(date(r, 'CompromiseOccurrenceDate')).toBe(date(r, 'InitialDate'));
    });

    it('another reason from Active → Deactivated with Deactivation Date now; from Pre-Active it is refused', async () => {
      const uid = await createKey(v);
      await ok(c, v, Operation.Activate, [uidNode(uid)]);
      const t0 = tick();
      await ok(c, v, Operation.Revoke, revokeReq(uid, RevocationReasonCode.CessationOfOperation));
      const r = await record(uid);
      expect(r.state).toBe(State.Deactivated);
      expect(date(r, 'DeactivationDate')).toBe(BigInt(t0));
      const pre = await createKey(v);
      expect((await fails(c, v, Operation.Revoke, revokeReq(pre, RevocationReasonCode.Superseded))).reason).toBe(v2 ? ResultReason.WrongKeyLifecycleState : ResultReason.IllegalOperation);
    });

    it('an unknown Revocation Reason Code, an occurrence date with a non-compromise reason, or no reason: Invalid Field', async () => {
      const uid = await createKey(v);
      expect((await fails(c, v, Operation.Revoke, revokeReq(uid, 0x99))).reason).toBe(ResultReason.InvalidField);
      expect((await fails(c, v, Operation.Revoke, revokeReq(uid, RevocationReasonCode.Superseded, 5n))).reason).toBe(ResultReason.InvalidField);
      expect((await fails(c, v, Operation.Revoke, [uidNode(uid)])).reason).toBe(ResultReason.InvalidField);
      expect((await record(uid)).state).toBe(State.PreActive);
    });

    it('another identity’s key: Item Not Found', async () => {
      expect((await fails(alice, v, Operation.Revoke, revokeReq(await createKey(v), RevocationReasonCode.KeyCompromise))).reason).toBe(notFoundReason(v));
    });
  });

  describe('Destroy', () => {
    it('erases the content, keeps the metadata, sets Destroy Date; Get then refuses; Get Attributes-style metadata remains', async () => {
      const uid = await createKey(v, [attr.name(`to-destroy-${v.major}`)]);
      const t0 = tick();
      expect(uidOf(await ok(c, v, Operation.Destroy, [uidNode(uid)]))).toBe(uid);
      const r = await record(uid);
      expect(r.state).toBe(State.Destroyed);
      expect(r.sealedBody).toBeUndefined();
      expect(r.kekId).toBeUndefined();
      expect(date(r, 'DestroyDate')).toBe(BigInt(t0));
      expect(date(r, 'LastChangeDate')).toBe(BigInt(t0));
      expect(r.attributes.get('Name')?.length).toBe(1);
      expect(r.attributes.get('CryptographicAlgorithm')?.length).toBe(1);
    });

    it('a compromised key → Destroyed Compromised', async () => {
      const uid = await createKey(v);
      await ok(c, v, Operation.Revoke, revokeReq(uid, RevocationReasonCode.KeyCompromise));
      await ok(c, v, Operation.Destroy, [uidNode(uid)]);
      expect((await record(uid)).state).toBe(State.DestroyedCompromised);
    });

    it('Active: Permission Denied / Wrong Key Lifecycle State; already destroyed: Permission Denied / Object Destroyed', async () => {
      const uid = await createKey(v);
      await ok(c, v, Operation.Activate, [uidNode(uid)]);
      expect((await fails(c, v, Operation.Destroy, [uidNode(uid)])).reason).toBe(WRONG_STATE);
      expect((await record(uid)).sealedBody).toBeDefined();
      const d = await createKey(v);
      await ok(c, v, Operation.Destroy, [uidNode(d)]);
      expect((await fails(c, v, Operation.Destroy, [uidNode(d)])).reason).toBe(v2 ? ResultReason.ObjectDestroyed : ResultReason.PermissionDenied);
    });

    it('another identity’s key: Item Not Found, and the key survives', async () => {
      const uid = await createKey(v);
      expect((await fails(alice, v, Operation.Destroy, [uidNode(uid)])).reason).toBe(notFoundReason(v));
      expect((await record(uid)).sealedBody).toBeDefined();
    });
  });

  describe('Archive and Recover', () => {
    it('Archive sets Archive Date; the other operations answer Object Archived; Recover clears it', async () => {
      const uid = await createKey(v, [usageLimits(5n)]);
      const t0 = tick();
      await ok(c, v, Operation.Archive, [uidNode(uid)]);
      expect(date(await record(uid), 'ArchiveDate')).toBe(BigInt(t0));
      expect(date(await record(uid), 'LastChangeDate')).toBe(BigInt(t0));
      const refused: [number, TtlvNode[]][] = [
        [Operation.Archive, [uidNode(uid)]],
        [Operation.Get, [uidNode(uid)]],
        [Operation.Activate, [uidNode(uid)]],
        [Operation.Revoke, revokeReq(uid, RevocationReasonCode.KeyCompromise)],
        [Operation.Destroy, [uidNode(uid)]],
        [Operation.Check, [uidNode(uid)]],
        [Operation.ObtainLease, [uidNode(uid)]],
        [Operation.GetUsageAllocation, [uidNode(uid), t.long(Tag.UsageLimitsCount, 1n)]],
      ];
      for (const [op, payload] of refused) expect((await fails(c, v, op, payload)).reason, `operation ${op}`).toBe(ResultReason.ObjectArchived);
      const t1 = tick();
      await ok(c, v, Operation.Recover, [uidNode(uid)]);
      const r = await record(uid);
      expect(r.attributes.has('ArchiveDate')).toBe(false);
      expect(date(r, 'LastChangeDate')).toBe(BigInt(t1));
      await ok(c, v, Operation.Activate, [uidNode(uid)]);
    });

    it('Recover of an object that is not archived succeeds and changes nothing', async () => {
      const uid = await createKey(v);
      const before = await record(uid);
      tick();
      await ok(c, v, Operation.Recover, [uidNode(uid)]);
      expect((await record(uid)).revision).toBe(before.revision);
    });

    it('another identity: Item Not Found for both', async () => {
      const uid = await createKey(v);
      expect((await fails(alice, v, Operation.Archive, [uidNode(uid)])).reason).toBe(notFoundReason(v));
      expect((await fails(alice, v, Operation.Recover, [uidNode(uid)])).reason).toBe(notFoundReason(v));
    });
  });

  describe('Check', () => {
    it('allowed: returns the Unique Identifier', async () => {
      const uid = await createKey(v, [usageLimits(10n)]);
      const p = await ok(c, v, Operation.Check, [
        uidNode(uid),
        t.long(Tag.UsageLimitsCount, 10n),
        t.int(Tag.CryptographicUsageMask, CryptographicUsageMask.Encrypt),
        t.interval(Tag.LeaseTime, 60),
      ]);
      expect(uidOf(p)).toBe(uid);
    });

    it('a usage the mask does not allow: Permission Denied / Incompatible Cryptographic Usage Mask', async () => {
      const uid = await createKey(v);
      const r = await fails(c, v, Operation.Check, [uidNode(uid), t.int(Tag.CryptographicUsageMask, CryptographicUsageMask.Sign)]);
      expect(r.reason).toBe(v2 ? ResultReason.IncompatibleCryptographicUsageMask : ResultReason.PermissionDenied);
      expect(r.message).toMatch(/Cryptographic Usage Mask/);
    });

    it('more than the Usage Limits left: Permission Denied / Usage Limit Exceeded; a lease longer than granted: Permission Denied', async () => {
      const uid = await createKey(v, [usageLimits(3n)]);
      expect((await fails(c, v, Operation.Check, [uidNode(uid), t.long(Tag.UsageLimitsCount, 4n)])).reason).toBe(v2 ? ResultReason.UsageLimitExceeded : ResultReason.PermissionDenied);
      const r = await fails(c, v, Operation.Check, [uidNode(uid), t.interval(Tag.LeaseTime, 100_000)]);
      expect(r.reason).toBe(ResultReason.PermissionDenied);
      expect(r.message).toMatch(/Lease Time/);
    });

    it('a denial empties the ID Placeholder: Create, Check (denied), Get with an empty payload fails', async () => {
      const items = await batch(
        c,
        v,
        [
          {
            operation: Operation.Create,
            payload: [
              t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
              attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(ED)]),
            ],
          },
          { operation: Operation.Check, payload: [t.int(Tag.CryptographicUsageMask, CryptographicUsageMask.Sign)] },
          { operation: Operation.Get, payload: [] },
        ],
        { continueOnError: true },
      );
      expect(items.map((i) => i.status)).toEqual([0, 1, 1]);
      expect(items[2]!.reason).toBe(ResultReason.InvalidField);
      const ok2 = await batch(c, v, [
        {
          operation: Operation.Create,
          payload: [
            t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
            attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(ED)]),
          ],
        },
        { operation: Operation.Check, payload: [t.int(Tag.CryptographicUsageMask, CryptographicUsageMask.Encrypt)] },
        { operation: Operation.Get, payload: [] },
      ]);
      expect(ok2.map((i) => i.status)).toEqual([0, 0, 0]);
    });

    it('another identity’s key: Item Not Found', async () => {
      expect((await fails(alice, v, Operation.Check, [uidNode(await createKey(v))])).reason).toBe(notFoundReason(v));
    });
  });

  describe('Obtain Lease', () => {
    it('returns the policy lease and the current Last Change Date, and changes nothing', async () => {
      const uid = await createKey(v);
      tick();
      await ok(c, v, Operation.Activate, [uidNode(uid)]);
      const before = await record(uid);
      tick();
      const p = await ok(c, v, Operation.ObtainLease, [uidNode(uid)]);
      expect(p.value.map((n) => n.tag)).toEqual([Tag.UniqueIdentifier, Tag.LeaseTime, Tag.LastChangeDate]);
      expect(findChild(p, Tag.LeaseTime)).toMatchObject({ type: 'Interval', value: 3600 });
      expect(findChild(p, Tag.LastChangeDate)).toMatchObject({ value: date(before, 'LastChangeDate') });
      expect((await record(uid)).revision).toBe(before.revision);
    });

    it('a destroyed key: Permission Denied; used-up Usage Limits: Permission Denied / Usage Limit Exceeded', async () => {
      const d = await createKey(v);
      await ok(c, v, Operation.Destroy, [uidNode(d)]);
      expect((await fails(c, v, Operation.ObtainLease, [uidNode(d)])).reason).toBe(ResultReason.PermissionDenied);
      const u = await createKey(v, [usageLimits(1n)]);
      await ok(c, v, Operation.Activate, [uidNode(u)]);
      await ok(c, v, Operation.GetUsageAllocation, [uidNode(u), t.long(Tag.UsageLimitsCount, 1n)]);
      expect((await fails(c, v, Operation.ObtainLease, [uidNode(u)])).reason).toBe(v2 ? ResultReason.UsageLimitExceeded : ResultReason.PermissionDenied);
    });

    it('another identity’s key: Item Not Found', async () => {
      expect((await fails(alice, v, Operation.ObtainLease, [uidNode(await createKey(v))])).reason).toBe(notFoundReason(v));
    });
  });

  describe('Get Usage Allocation', () => {
    const count = async (uid: string): Promise<unknown> => findChild((await record(uid)).attributes.get('UsageLimits')?.[0], Tag.UsageLimitsCount);

    it('takes the amount from the Usage Limits Count and updates Last Change Date; exhausted: Permission Denied / Usage Limit Exceeded', async () => {
      const uid = await createKey(v, [usageLimits(10n)]);
      await ok(c, v, Operation.Activate, [uidNode(uid)]);
      const t0 = tick();
      await ok(c, v, Operation.GetUsageAllocation, [uidNode(uid), t.long(Tag.UsageLimitsCount, 4n)]);
      expect(await count(uid)).toMatchObject({ value: 6n });
      expect(date(await record(uid), 'LastChangeDate')).toBe(BigInt(t0));
      await ok(c, v, Operation.GetUsageAllocation, [uidNode(uid), t.long(Tag.UsageLimitsCount, 6n)]);
      expect(await count(uid)).toMatchObject({ value: 0n });
      expect((await fails(c, v, Operation.GetUsageAllocation, [uidNode(uid), t.long(Tag.UsageLimitsCount, 1n)])).reason).toBe(
        v2 ? ResultReason.UsageLimitExceeded : ResultReason.PermissionDenied,
      );
      expect(await count(uid)).toMatchObject({ value: 0n });
    });

    it('no Usage Limits Count in the request: Invalid Message; zero: Invalid Field', async () => {
      const uid = await createKey(v, [usageLimits(10n)]);
      expect((await fails(c, v, Operation.GetUsageAllocation, [uidNode(uid)])).reason).toBe(ResultReason.InvalidMessage);
      expect((await fails(c, v, Operation.GetUsageAllocation, [uidNode(uid), t.long(Tag.UsageLimitsCount, 0n)])).reason).toBe(ResultReason.InvalidField);
    });

    it('no Usage Limits: Illegal Operation / Attribute Not Found; an Opaque Object: Illegal Operation / Invalid Object Type', async () => {
      const uid = await createKey(v);
      await ok(c, v, Operation.Activate, [uidNode(uid)]);
      expect((await fails(c, v, Operation.GetUsageAllocation, [uidNode(uid), t.long(Tag.UsageLimitsCount, 1n)])).reason).toBe(
        v2 ? ResultReason.AttributeNotFound : ResultReason.IllegalOperation,
      );
      const o = await createOpaque(v);
      expect((await fails(c, v, Operation.GetUsageAllocation, [uidNode(o), t.long(Tag.UsageLimitsCount, 1n)])).reason).toBe(
        v2 ? ResultReason.InvalidObjectType : ResultReason.IllegalOperation,
      );
    });

    it('not Active (Pre-Active, or past the Protect Stop Date): Permission Denied', async () => {
      const uid = await createKey(v, [usageLimits(10n)]);
      expect((await fails(c, v, Operation.GetUsageAllocation, [uidNode(uid), t.long(Tag.UsageLimitsCount, 1n)])).reason).toBe(ResultReason.PermissionDenied);
      const stopped = await createKey(v, [usageLimits(10n), t.date(Tag.ProtectStopDate, BigInt(now - 1))]);
      await ok(c, v, Operation.Activate, [uidNode(stopped)]);
      expect((await fails(c, v, Operation.GetUsageAllocation, [uidNode(stopped), t.long(Tag.UsageLimitsCount, 1n)])).reason).toBe(ResultReason.PermissionDenied);
    });

    it('another identity’s key: Item Not Found; ID Placeholder works (Create, Activate, allocation, all with no uid)', async () => {
      expect((await fails(alice, v, Operation.GetUsageAllocation, [uidNode(await createKey(v, [usageLimits(2n)])), t.long(Tag.UsageLimitsCount, 1n)])).reason).toBe(notFoundReason(v));
      const items = await batch(c, v, [
        {
          operation: Operation.Create,
          payload: [
            t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
            attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(ED), usageLimits(5n)]),
          ],
        },
        { operation: Operation.Activate, payload: [] },
        { operation: Operation.GetUsageAllocation, payload: [t.long(Tag.UsageLimitsCount, 2n)] },
        { operation: Operation.Revoke, payload: revokeReq(undefined, RevocationReasonCode.Superseded) },
        { operation: Operation.Destroy, payload: [] },
      ]);
      expect(items.map((i) => i.status)).toEqual([0, 0, 0, 0, 0]);
      expect((await record(uidOf(items[0]!.payload!))).state).toBe(State.Destroyed);
    });
  });
});
