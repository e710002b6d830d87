/**
 * Access isolation end to end, over mutual TLS with the dev identities (certificate CN):
 * - alice's objects do not exist for bob: every operation on them answers Item Not Found,
 *   exactly as for an identifier nobody uses, and Locate never lists them;
 * - the grant { identity: 'bob', objectGroup: 'shared', operations: ['Get'] } lets bob Get
 *   alice's objects in group "shared", and nothing else (no other operation, no other group,
 *   no listing);
 * - 'admin', configured as an administrator, sees and may act on everything.
 * Checked at KMIP 1.4 and 2.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activatePayload,
  attr,
  createSymmetricKeyPayload,
  destroyPayload,
  getPayload,
  keyMaterialOf,
  locatePayload,
  uniqueIdentifierOf,
  uniqueIdentifiersOf,
  type KmipVersion,
} from '../../src/client/index.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultStatus, RevocationReasonCode, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, toHex, type StructureNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import {
  addAttributePayload,
  checkPayload,
  deleteAttributePayload,
  getAttributeListPayload,
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
import { notFoundReason } from '../support/reasons.js';

const ENC_DEC = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
let srv: TestKms;

beforeAll(async () => {
  srv = await startTestKms({
    access: {
      administrators: ['admin'],
      grants: [{ identity: 'bob', objectGroup: 'shared', operations: ['Get'] }],
    },
  });
});

afterAll(async () => {
  await srv?.dispose();
});

async function session(identity: string, v: KmipVersion): Promise<Session> {
  return new Session(await srv.client(identity), v);
}

/** Every operation on an object bob must not see, with a payload that would otherwise be valid. */
function operationsOn(v: KmipVersion, uid: string, currentName: string): Array<[string, number, StructureNode]> {
  const ops: Array<[string, number, StructureNode]> = [
    ['Get', Operation.Get, getPayload(uid)],
    ['Get Attributes', Operation.GetAttributes, getAttributesPayload(v, uid)],
    ['Get Attribute List', Operation.GetAttributeList, getAttributeListPayload(uid)],
    ['Activate', Operation.Activate, activatePayload(uid)],
    ['Revoke', Operation.Revoke, revokePayload(uid, RevocationReasonCode.CessationOfOperation)],
    ['Destroy', Operation.Destroy, destroyPayload(uid)],
    ['Add Attribute', Operation.AddAttribute, addAttributePayload(v, uid, t.text(Tag.ContactInformation, 'bob was here'))],
    ['Modify Attribute', Operation.ModifyAttribute, modifyAttributePayload(v, uid, attr.name('bob-renamed'), v.major >= 2 ? attr.name(currentName) : undefined)],
    ['Delete Attribute', Operation.DeleteAttribute, deleteAttributePayload(v, uid, 'Name', v.major < 2 ? { index: 0 } : {})],
    ['Check', Operation.Check, checkPayload(uid, { usageMask: CryptographicUsageMask.Encrypt })],
  ];
  if (v.major >= 2) ops.push(['Set Attribute', Operation.SetAttribute, setAttributePayload(uid, t.text(Tag.ContactInformation, 'bob was here'))]);
  return ops;
}

for (const v of [V1_4, V2_1]) {
  describe(`access isolation, KMIP ${versionLabel(v)}`, () => {
    const tag = `acl-${versionLabel(v)}-${Date.now()}`;
    let alice: Session;
    let bob: Session;
    let admin: Session;
    /** alice's objects: no group, group "shared", group "other". */
    const uid = { plain: '', shared: '', other: '' };
    const keyOf: Record<string, string> = {};

    const create = async (s: Session, name: string, group?: string) =>
      uniqueIdentifierOf(
        await s.ok(
          Operation.Create,
          createSymmetricKeyPayload(s.version, {
            algorithm: CryptographicAlgorithm.AES,
            length: 256,
            usageMask: ENC_DEC,
            name,
            attributes: group !== undefined ? [attr.objectGroup(group)] : [],
          }),
        ),
      );

    beforeAll(async () => {
      [alice, bob, admin] = await Promise.all([session('alice', v), session('bob', v), session('admin', v)]);
      uid.plain = await create(alice, `${tag}-plain`);
      uid.shared = await create(alice, `${tag}-shared`, 'shared');
      uid.other = await create(alice, `${tag}-other`, 'other');
      for (const [k, u] of Object.entries(uid)) keyOf[k] = toHex(keyMaterialOf(await alice.ok(Operation.Get, getPayload(u))));
    });

    it("bob gets Item Not Found from every operation on alice's ungranted objects, as for an identifier nobody uses", async () => {
      const missing = `${tag}-no-such-object`;
      const targets: Array<[string, string]> = [
        [uid.plain, `${tag}-plain`],
        [uid.other, `${tag}-other`],
        [missing, `${tag}-plain`],
      ];
      for (const [target, currentName] of targets) {
        for (const [name, op, body] of operationsOn(v, target, currentName)) {
          const r = await bob.call(op, body);
          expect({ op: name, target, status: r.status, reason: r.reason }).toEqual({ op: name, target, status: ResultStatus.OperationFailed, reason: notFoundReason(v) });
          if (target !== missing) expect(r.message ?? '').not.toMatch(/alice|owner|permi|access|denied/i);
        }
      }
    });

    it('the grant lets bob Get alice\'s objects in group "shared": the same key bytes', async () => {
      const got = await bob.ok(Operation.Get, getPayload(uid.shared));
      expect(uniqueIdentifierOf(got)).toBe(uid.shared);
      expect(toHex(keyMaterialOf(got))).toBe(keyOf.shared);
    });

    it('…and nothing else on them: every other operation is Item Not Found', async () => {
      for (const [name, op, body] of operationsOn(v, uid.shared, `${tag}-shared`)) {
        if (name === 'Get') continue;
        const r = await bob.call(op, body);
        expect({ op: name, status: r.status, reason: r.reason }).toEqual({ op: name, status: ResultStatus.OperationFailed, reason: notFoundReason(v) });
      }
    });

    it("bob's attempts changed nothing on alice's objects", async () => {
      for (const u of Object.values(uid)) {
        const a = readGetAttributes(v, await alice.ok(Operation.GetAttributes, getAttributesPayload(v, u)));
        expect(single(a, 'State')).toMatchObject({ value: State.PreActive });
        expect(a.get('ContactInformation')).toBeUndefined();
        expect(a.get('Name')?.map((n) => (n.type === 'Structure' ? n.value[0]?.value : undefined))).toEqual([expect.stringMatching(new RegExp(`^${tag}-`))]);
      }
    });

    it("Locate never lists alice's objects for bob, by name, by group, by type or with no criteria", async () => {
      const bobsOwn = await create(bob, `${tag}-bob`, 'shared');
      const queries = [
        locatePayload(v, []),
        locatePayload(v, [attr.objectType(ObjectType.SymmetricKey)]),
        locatePayload(v, [attr.objectGroup('shared')]),
        locatePayload(v, [attr.name(`${tag}-shared`)]),
        locatePayload(v, [attr.name(`${tag}-plain`)]),
        locatePayload(v, [attr.state(State.PreActive)]),
      ];
      for (const q of queries) {
        const found = uniqueIdentifiersOf(await bob.ok(Operation.Locate, q));
        for (const u of Object.values(uid)) expect(found).not.toContain(u);
      }
      expect(uniqueIdentifiersOf(await bob.ok(Operation.Locate, locatePayload(v, [attr.objectGroup('shared')])))).toContain(bobsOwn);
      // alice, for her part, does not see bob's object.
      expect(uniqueIdentifiersOf(await alice.ok(Operation.Locate, locatePayload(v, [])))).not.toContain(bobsOwn);
      expect((await alice.call(Operation.Get, getPayload(bobsOwn))).reason).toBe(notFoundReason(v));
    });

    it("admin sees everything: Get, Get Attributes and Locate over alice's objects", async () => {
      for (const [k, u] of Object.entries(uid)) {
        expect(toHex(keyMaterialOf(await admin.ok(Operation.Get, getPayload(u))))).toBe(keyOf[k]);
        const a = readGetAttributes(v, await admin.ok(Operation.GetAttributes, getAttributesPayload(v, u)));
        expect(single(a, 'UniqueIdentifier')).toMatchObject({ value: u });
      }
      const all = uniqueIdentifiersOf(await admin.ok(Operation.Locate, locatePayload(v, [])));
      for (const u of Object.values(uid)) expect(all).toContain(u);
      const byName = uniqueIdentifiersOf(await admin.ok(Operation.Locate, locatePayload(v, [attr.name(`${tag}-other`)])));
      expect(byName).toEqual([uid.other]);
    });

    it("admin may act on alice's objects: Activate, Revoke, Destroy", async () => {
      await admin.ok(Operation.Activate, activatePayload(uid.plain));
      await admin.ok(Operation.Revoke, revokePayload(uid.plain, RevocationReasonCode.CessationOfOperation));
      await admin.ok(Operation.Destroy, destroyPayload(uid.plain));
      const a = readGetAttributes(v, await alice.ok(Operation.GetAttributes, getAttributesPayload(v, uid.plain, ['State'])));
      expect(single(a, 'State')).toMatchObject({ value: State.Destroyed });
    });
  });
}
