/**
 * Export and Import with HSM-resident keys on a real SoftHSM2 token (src/operations/lifecycle/export.ts,
 * import.ts): a resident key is never exported (Not Extractable, wrapped or not); Import with
 * Replace Existing over the owner's resident key stores the imported key in its place and removes
 * the token object, which nothing refers to any more.
 */
import { describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultReason, WrappingMethod } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { RESIDENT_LABEL_PREFIX } from '../../src/hsm/resident.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import type { TestKms } from '../support/kms.js';
import { attrs, fails, ok, textOf, uidNode, uidOf, V2_1 } from '../operations/object-kit.js';
import { useHsmTestKms } from './hsm-kms.js';

let srv: TestKms;
let c: KmipClient;
const { hsm } = useHsmTestKms('kms-resident-import', (server, client) => {
  srv = server;
  c = client;
});

async function create(extra: TtlvNode[], mask: number = M.Encrypt | M.Decrypt): Promise<string> {
  const uid = uidOf(
    await ok(c, V2_1, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(mask), ...extra]),
    ]),
  );
  await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
  return uid;
}

async function tokenKeyCount(uid: string): Promise<number> {
  const b = await Pkcs11Backend.open(hsm);
  try {
    return (await b.findKeys({ label: RESIDENT_LABEL_PREFIX + uid, token: true })).length;
  } finally {
    await b.close();
  }
}

function keyMaterial(p: StructureNode): string {
  const o = findChild(p, Tag.SymmetricKey);
  const m = findChild(findChild(findChild(o, Tag.KeyBlock), Tag.KeyValue), Tag.KeyMaterial);
  if (m?.type !== 'ByteString') throw new Error('no plain Key Material');
  return Buffer.from(m.value).toString('hex');
}

describe('Export / Import and HSM-resident keys', () => {
  it('a resident key is not exported, in the clear or wrapped', async () => {
    const resident = await create([t.bool(Tag.Extractable, false)]);
    const kek = await create([], M.WrapKey | M.UnwrapKey);
    expect((await fails(c, V2_1, Operation.Export, [uidNode(resident)])).reason).toBe(ResultReason.NotExtractable);
    const spec = t.struct(Tag.KeyWrappingSpecification, [t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt), t.struct(Tag.EncryptionKeyInformation, [uidNode(kek)])]);
    expect((await fails(c, V2_1, Operation.Export, [uidNode(resident), spec])).reason).toBe(ResultReason.NotExtractable);
  });

  it("Replace Existing over the owner's resident key stores the imported key and removes the token object", async () => {
    const resident = await create([t.bool(Tag.Extractable, false)]);
    expect(await tokenKeyCount(resident)).toBe(1);
    const exp = await ok(c, V2_1, Operation.Export, [uidNode(await create([]))]);
    const attributes = findChild(exp, Tag.Attributes) as StructureNode;
    const payload = [
      uidNode(resident),
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      t.bool(Tag.ReplaceExisting, true),
      t.struct(
        Tag.Attributes,
        attributes.value.filter((n) => n.tag !== Tag.ShortUniqueIdentifier && n.tag !== Tag.ProtectionStorageMask).map((n) => (n.tag === Tag.UniqueIdentifier ? uidNode(resident) : n)),
      ),
      findChild(exp, Tag.SymmetricKey)!,
    ];
    expect(uidOf(await ok(c, V2_1, Operation.Import, payload))).toBe(resident);
    expect((await srv.kms.services.store.get(resident))?.hsmKey).toBeUndefined();
    expect(await tokenKeyCount(resident)).toBe(0);
    const got = await ok(c, V2_1, Operation.Get, [uidNode(resident)]);
    expect(textOf(findChild(got, Tag.UniqueIdentifier))).toBe(resident);
    expect(keyMaterial(got)).toBe(keyMaterial(exp));
  });
});
