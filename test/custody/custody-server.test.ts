/**
 * The key-custody seam through a running server on a SoftHSM2 token: Re-key of an HSM-resident
 * key makes a resident key (one path with Create, as Re-key Key Pair does for pairs), the old
 * token key stays until the old key is destroyed; a resident private key carries a Key Format
 * Type like every other key; refusals on resident keys keep their 1.4 reasons.
 */
import { describe, expect, it } from 'vitest';
import { attr } from '../../src/client/index.js';
import type { KmipClient } from '../../src/client/index.js';
import { BlockCipherMode, CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { RESIDENT_LABEL_PREFIX } from '../../src/hsm/resident.js';
import { t } from '../../src/ttlv/index.js';
import type { TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, uidOf, V1_4, V2_1 } from '../operations/object-kit.js';
import { bytesOf, cipherPayload } from '../operations/crypto-kit.js';
import { useHsmTestKms } from '../hsm/hsm-kms.js';

let srv: TestKms;
let c: KmipClient;
const { hsm } = useHsmTestKms('kms-custody-srv', (server, client) => {
  srv = server;
  c = client;
});

async function tokenLabels(): Promise<string[]> {
  const b = await Pkcs11Backend.open(hsm);
  try {
    return (await b.findKeys({ token: true })).map((k) => k.label ?? '').filter((l) => l.startsWith(RESIDENT_LABEL_PREFIX));
  } finally {
    await b.close();
  }
}

async function createResidentAes(): Promise<string> {
  const uid = uidOf(
    await ok(c, V2_1, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(V2_1, [
        attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
        attr.cryptographicLength(256),
        attr.cryptographicUsageMask(M.Encrypt | M.Decrypt),
        t.bool(Tag.Extractable, false),
      ]),
    ]),
  );
  await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
  return uid;
}

describe('one custody path through the server', () => {
  it('Re-key of a resident key makes a resident key that encrypts; the old token key stays until the old key is destroyed', async () => {
    const old = await createResidentAes();
    const fresh = uidOf(await ok(c, V2_1, Operation.ReKey, [uidNode(old)]));
    expect(fresh).not.toBe(old);
    const rec = await srv.kms.services.store.get(fresh);
    expect(rec?.hsmKey).toBeDefined();
    expect(rec?.hsmKey).not.toBe((await srv.kms.services.store.get(old))?.hsmKey);
    expect(await tokenLabels()).toEqual(expect.arrayContaining([RESIDENT_LABEL_PREFIX + old, RESIDENT_LABEL_PREFIX + fresh]));
    expect((await fails(c, V2_1, Operation.Get, [uidNode(fresh)])).reason).toBe(ResultReason.NotExtractable);
    const iv = Buffer.alloc(12, 1);
    const data = Buffer.from('re-keyed in the HSM');
    const enc = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid: fresh, params: { mode: BlockCipherMode.GCM, tagLength: 16 }, data, iv }));
    const dec = await ok(
      c,
      V2_1,
      Operation.Decrypt,
      cipherPayload({ uid: fresh, params: { mode: BlockCipherMode.GCM, tagLength: 16 }, data: bytesOf(enc, Tag.Data)!, iv, tag: bytesOf(enc, Tag.AuthenticatedEncryptionTag)! }),
    );
    expect(Buffer.from(bytesOf(dec, Tag.Data)!)).toEqual(data);
    await ok(c, V2_1, Operation.Revoke, [uidNode(old), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, 5)])]);
    await ok(c, V2_1, Operation.Destroy, [uidNode(old)]);
    const left = await tokenLabels();
    expect(left).not.toContain(RESIDENT_LABEL_PREFIX + old);
    expect(left).toContain(RESIDENT_LABEL_PREFIX + fresh);
  });

  it('a resident private key has a Key Format Type, as every other key', async () => {
    const r = await ok(c, V2_1, Operation.CreateKeyPair, [
      t.struct(Tag.CommonAttributes, [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)]),
      t.struct(Tag.PrivateKeyAttributes, [attr.cryptographicUsageMask(M.Sign), t.bool(Tag.Extractable, false)]),
      t.struct(Tag.PublicKeyAttributes, [attr.cryptographicUsageMask(M.Verify)]),
    ]);
    const priv = r.value.find((n) => n.tag === Tag.PrivateKeyUniqueIdentifier)?.value as string;
    expect((await srv.kms.services.store.get(priv))?.hsmKey).toBeDefined();
    const got = await ok(c, V2_1, Operation.GetAttributes, [uidNode(priv), t.enum(Tag.AttributeReference, Tag.KeyFormatType)]);
    const a = got.value.find((n) => n.tag === Tag.Attributes);
    expect(a?.type === 'Structure' && a.value.find((n) => n.tag === Tag.KeyFormatType)?.value).toBe(KeyFormatType.PKCS_8);
  });

  it('an AES mode the HSM does not serve is Invalid Field at 1.4 (Unsupported Cryptographic Parameters at 2.1)', async () => {
    const uid = await createResidentAes();
    for (const [v, reason] of [
      [V1_4, ResultReason.InvalidField],
      [V2_1, ResultReason.UnsupportedCryptographicParameters],
    ] as const) {
      const r = await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.XTS }, data: Buffer.alloc(32), iv: Buffer.alloc(16) }));
      expect(r.reason).toBe(reason);
    }
  });
});
