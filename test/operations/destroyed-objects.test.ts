/**
 * What a Destroyed / Destroyed Compromised object answers at every protocol version, as
 * src/operations/service/destroyed.ts decides and docs/destroyed-objects.md tabulates: Get, Get Attributes,
 * Get Attribute List, Locate (without and with a State filter or the Destroyed Storage bit),
 * Destroy, Revoke, Activate, Encrypt, Sign and MAC; the metadata and the audit report stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, attributeV1, findChild, locatePayload, uniqueIdentifiersOf, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { buildReport } from '../../src/audit/report.js';
import { CryptographicAlgorithm, DigitalSignatureAlgorithm, ObjectType, Operation, ResultReason, RevocationReasonCode, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask, StorageStatusMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, uidOf, V1_0, V1_2, V1_4, V2_0, V2_1 } from './object-kit.js';

let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const ED = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt | CryptographicUsageMask.MACGenerate;
let serial = 0;

async function createKey(v: KmipVersion, name: string): Promise<string> {
  return uidOf(
    await ok(c, v, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(ED), attr.name(name)]),
    ]),
  );
}

/** An Active key, used once, then revoked (Deactivated) and destroyed. */
async function destroyedKey(v: KmipVersion): Promise<{ uid: string; name: string }> {
  const name = `destroyed-${v.major}.${v.minor}-${++serial}-${process.pid}`;
  const uid = await createKey(v, name);
  await ok(c, v, Operation.Activate, [uidNode(uid)]);
  await ok(c, v, Operation.Revoke, [uidNode(uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, RevocationReasonCode.CessationOfOperation)])]);
  await ok(c, v, Operation.Destroy, [uidNode(uid)]);
  return { uid, name };
}

/** The State a Get Attributes naming State returns. */
async function stateOf(v: KmipVersion, uid: string): Promise<number> {
  const ref = v.major >= 2 ? t.enum(Tag.AttributeReference, Tag.State) : t.text(Tag.AttributeName, 'State');
  const p = await ok(c, v, Operation.GetAttributes, [uidNode(uid), ref]);
  const holder = v.major >= 2 ? findChild(p, Tag.Attributes) : findChild(findChild(p, Tag.Attribute), Tag.AttributeValue);
  const s = v.major >= 2 ? findChild(holder, Tag.State) : holder;
  if (s?.type !== 'Enumeration') throw new Error('no State');
  return s.value;
}

async function located(v: KmipVersion, filters: readonly TtlvNode[], storageStatusMask?: number): Promise<string[]> {
  return uniqueIdentifiersOf(await ok(c, v, Operation.Locate, locatePayload(v, filters, storageStatusMask !== undefined ? { storageStatusMask } : {}).value));
}

describe.each([
  ['1.0', V1_0],
  ['1.2', V1_2],
  ['1.4', V1_4],
  ['2.0', V2_0],
  ['2.1', V2_1],
])('a destroyed object at KMIP %s', (_label, v) => {
  const v2 = v.major >= 2;
  /** destroyed.ts: the key material is asked for. */
  const GONE = v2 ? ResultReason.ObjectDestroyed : ResultReason.ItemNotFound;

  it('Get: Item Not Found (1.x) / Object Destroyed (2.x)', async () => {
    const { uid } = await destroyedKey(v);
    expect((await fails(c, v, Operation.Get, [uidNode(uid)])).reason).toBe(GONE);
  });

  it('Get Attributes and Get Attribute List: the metadata stays, State Destroyed, Destroy Date set', async () => {
    const { uid, name } = await destroyedKey(v);
    expect(await stateOf(v, uid)).toBe(State.Destroyed);
    const all = await ok(c, v, Operation.GetAttributes, [uidNode(uid)]);
    const text = JSON.stringify(all, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
    expect(text).toContain(name);
    const list = await ok(c, v, Operation.GetAttributeList, [uidNode(uid)]);
    const names = v2
      ? list.value.filter((n) => n.tag === Tag.AttributeReference).map((n) => (n.type === 'Enumeration' ? n.value : -1))
      : list.value.filter((n) => n.tag === Tag.AttributeName).map((n) => (n.type === 'TextString' ? n.value : ''));
    expect(names).toContain(v2 ? Tag.DestroyDate : 'Destroy Date');
    expect(names).toContain(v2 ? Tag.State : 'State');
  });

  it('Locate leaves it out unless the request asks for destroyed objects', async () => {
    const { uid, name } = await destroyedKey(v);
    const byName = [attr.name(name)];
    expect(await located(v, byName)).toEqual([]);
    expect(await located(v, [])).not.toContain(uid);
    if (v2) {
      // 2.1 §6.1.28: only with the Destroyed Storage bit; a State filter alone does not search there.
      expect(await located(v, [...byName, t.enum(Tag.State, State.Destroyed)])).toEqual([]);
      expect(await located(v, byName, StorageStatusMask.DestroyedStorage)).toEqual([uid]);
      expect(await located(v, [...byName, t.enum(Tag.State, State.Destroyed)], StorageStatusMask.DestroyedStorage)).toEqual([uid]);
    } else {
      expect(await located(v, [...byName, t.enum(Tag.State, State.Destroyed)])).toEqual([uid]);
      expect(await located(v, [...byName, t.enum(Tag.State, State.Active)])).toEqual([]);
    }
  });

  it('Destroy again: Permission Denied (1.x) / Object Destroyed (2.x)', async () => {
    const { uid } = await destroyedKey(v);
    expect((await fails(c, v, Operation.Destroy, [uidNode(uid)])).reason).toBe(v2 ? ResultReason.ObjectDestroyed : ResultReason.PermissionDenied);
  });

  it('Activate: Permission Denied (1.x) / Wrong Key Lifecycle State (2.x)', async () => {
    const { uid } = await destroyedKey(v);
    expect((await fails(c, v, Operation.Activate, [uidNode(uid)])).reason).toBe(v2 ? ResultReason.WrongKeyLifecycleState : ResultReason.PermissionDenied);
  });

  it('Revoke: Illegal Operation (1.x) / Wrong Key Lifecycle State (2.x), except Key Compromise → Destroyed Compromised, which answers as destroyed', async () => {
    const { uid, name } = await destroyedKey(v);
    const revoke = (code: number) => [uidNode(uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, code)]), t.date(Tag.CompromiseOccurrenceDate, 1_600_000_000n)];
    expect((await fails(c, v, Operation.Revoke, revoke(RevocationReasonCode.Superseded).slice(0, 2))).reason).toBe(v2 ? ResultReason.WrongKeyLifecycleState : ResultReason.IllegalOperation);
    await ok(c, v, Operation.Revoke, revoke(RevocationReasonCode.KeyCompromise));
    expect(await stateOf(v, uid)).toBe(State.DestroyedCompromised);
    expect((await fails(c, v, Operation.Get, [uidNode(uid)])).reason).toBe(GONE);
    expect(await located(v, [attr.name(name)])).toEqual([]);
    const asked = v2 ? await located(v, [attr.name(name)], StorageStatusMask.DestroyedStorage) : await located(v, [attr.name(name), t.enum(Tag.State, State.DestroyedCompromised)]);
    expect(asked).toEqual([uid]);
  });

  // The cryptographic operations are KMIP 1.2 additions.
  const hasCrypto = v.major > 1 || v.minor >= 2;
  if (hasCrypto) {
    it('Encrypt and MAC with it: Item Not Found (1.x) / Object Destroyed (2.x)', async () => {
      const { uid } = await destroyedKey(v);
      const params = t.struct(Tag.CryptographicParameters, [t.enum(Tag.BlockCipherMode, 1 /* CBC */), t.enum(Tag.PaddingMethod, 3 /* PKCS5 */)]);
      expect((await fails(c, v, Operation.Encrypt, [uidNode(uid), params, t.bytes(Tag.Data, new Uint8Array(16))])).reason).toBe(GONE);
      expect(
        (
          await fails(c, v, Operation.MAC, [
            uidNode(uid),
            t.struct(Tag.CryptographicParameters, [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.HMAC_SHA256)]),
            t.bytes(Tag.Data, new Uint8Array(16)),
          ])
        ).reason,
      ).toBe(GONE);
    });

    it('Sign with a destroyed private key: Item Not Found (1.x) / Object Destroyed (2.x)', async () => {
      const p = await ok(c, v, Operation.CreateKeyPair, [
        ...(v2
          ? [
              t.struct(Tag.CommonAttributes, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)]),
              t.struct(Tag.PrivateKeyAttributes, [attr.cryptographicUsageMask(CryptographicUsageMask.Sign)]),
              t.struct(Tag.PublicKeyAttributes, [attr.cryptographicUsageMask(CryptographicUsageMask.Verify)]),
            ]
          : [
              t.struct(Tag.CommonTemplateAttribute, [attributeV1(attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA)), attributeV1(attr.cryptographicLength(2048))]),
              t.struct(Tag.PrivateKeyTemplateAttribute, [attributeV1(attr.cryptographicUsageMask(CryptographicUsageMask.Sign))]),
              t.struct(Tag.PublicKeyTemplateAttribute, [attributeV1(attr.cryptographicUsageMask(CryptographicUsageMask.Verify))]),
            ]),
      ]);
      const priv = (findChild(p, Tag.PrivateKeyUniqueIdentifier) as { value: string }).value;
      await ok(c, v, Operation.Destroy, [uidNode(priv)]);
      const sig = t.struct(Tag.CryptographicParameters, [t.enum(Tag.DigitalSignatureAlgorithm, DigitalSignatureAlgorithm.SHA_256WithRSAEncryption)]);
      expect((await fails(c, v, Operation.Sign, [uidNode(priv), sig, t.bytes(Tag.Data, new Uint8Array(8))])).reason).toBe(GONE);
    });
  }

  it('the audit report still names the key, its state and its history', async () => {
    const { uid } = await destroyedKey(v);
    await fails(c, v, Operation.Get, [uidNode(uid)]);
    const [report] = await buildReport(srv.kms.services.store, { key: uid });
    expect(report?.uid).toBe(uid);
    expect(report?.state).toBe('Destroyed');
    expect(report?.algorithm).toBe('AES');
    const ops = new Set(report?.uses.map((u) => u.operation));
    for (const op of ['Create', 'Activate', 'Revoke', 'Destroy', 'Get']) expect(ops, op).toContain(op);
  });
});
