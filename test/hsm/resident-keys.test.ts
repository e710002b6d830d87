/**
 * HSM-resident keys with a real SoftHSM2 token: a Create asking Extractable = false (or any
 * Create under hsm.residentKeys = always) makes a sensitive, non-extractable token key; the
 * record holds only its reference; Encrypt/Decrypt and MAC/MAC Verify run in the HSM (checked
 * against the same token key used directly through PKCS#11); Get is refused (Not Extractable);
 * Extractable cannot be turned on; Destroy removes the token object; a restart and a KEK
 * rotation keep the key working.
 */
import { describe, expect, it } from 'vitest';
import { attr } from '../../src/client/index.js';
import { BlockCipherMode, CryptographicAlgorithm, ObjectType, Operation, PaddingMethod, ResultReason, ValidityIndicator } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M, ProtectionStorageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { RESIDENT_LABEL_PREFIX } from '../../src/hsm/resident.js';
import { rotateKek } from '../../src/folder/kek-rotation.js';
import type { KmipClient } from '../../src/client/index.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, uidOf, V1_4, V2_1 } from '../operations/object-kit.js';
import { bytesOf, cipherPayload } from '../operations/crypto-kit.js';
import { useHsmTestKms } from './hsm-kms.js';

let srv: TestKms;
let c: KmipClient;
const { hsm } = useHsmTestKms('kms-resident', (server, client) => {
  srv = server;
  c = client;
});

async function create(extra: TtlvNode[], alg: number = CryptographicAlgorithm.AES, bits = 256, mask: number = M.Encrypt | M.Decrypt): Promise<string> {
  const uid = uidOf(
    await ok(c, V2_1, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(V2_1, [attr.cryptographicAlgorithm(alg), attr.cryptographicLength(bits), attr.cryptographicUsageMask(mask), ...extra]),
    ]),
  );
  await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
  return uid;
}

/** The token key behind `uid`, through a PKCS#11 session of the test's own. */
async function withTokenKey<T>(uid: string, f: (b: Pkcs11Backend, k: Awaited<ReturnType<Pkcs11Backend['findKeys']>>[number] | undefined) => Promise<T>): Promise<T> {
  const b = await Pkcs11Backend.open(hsm);
  try {
    const [k] = await b.findKeys({ label: RESIDENT_LABEL_PREFIX + uid, token: true });
    return await f(b, k);
  } finally {
    await b.close();
  }
}

const notExtractable = [t.bool(Tag.Extractable, false)];

/** The Protection Storage Mask attribute (2.1 §4.44): Hardware for a token key, Software for a sealed one. */
async function storageMask(uid: string): Promise<unknown> {
  const p = await ok(c, V2_1, Operation.GetAttributes, [uidNode(uid), t.enum(Tag.AttributeReference, Tag.ProtectionStorageMask)]);
  const a = p.value.find((n) => n.tag === Tag.Attributes);
  return a?.type === 'Structure' ? a.value.find((n) => n.tag === Tag.ProtectionStorageMask)?.value : undefined;
}

describe('HSM-resident keys (hsm.residentKeys = requested)', () => {
  it('Extractable = false makes a sensitive, non-extractable token key; the record holds a reference, no value', async () => {
    const uid = await create(notExtractable);
    const rec = await srv.kms.services.store.get(uid);
    expect(rec?.hsmKey).toBeDefined();
    await withTokenKey(uid, async (_b, k) => {
      expect(k).toMatchObject({ type: 'AES', token: true, sensitive: true, extractable: false });
      expect(JSON.parse(rec!.hsmKey!).id).toBe(k!.id);
    });
    // The sealed body carries the Key Block's metadata only.
    const body = Buffer.from(await srv.kms.services.protector.open(uid, rec!.sealedBody!, rec!.kekId!));
    expect(body.includes(Buffer.from([0x42, 0x00, 0x45]))).toBe(false); // no Key Value (tag 0x420045)
    const got = await fails(c, V2_1, Operation.Get, [uidNode(uid)]);
    expect(got.reason).toBe(ResultReason.NotExtractable);
    expect(await storageMask(uid)).toBe(ProtectionStorageMask.Hardware);
  });

  it('a key without Extractable = false is still made in the host (the HSM holds only the KEK)', async () => {
    const uid = await create([]);
    expect((await srv.kms.services.store.get(uid))?.hsmKey).toBeUndefined();
    await withTokenKey(uid, async (_b, k) => expect(k).toBeUndefined());
    expect(await storageMask(uid)).toBe(ProtectionStorageMask.Software);
  });

  it('Encrypt/Decrypt in GCM, CBC (PKCS5) and CTR run with the token key: the same key used directly gives the same ciphertext', async () => {
    const uid = await create(notExtractable);
    const data = Buffer.from('resident keys never leave the HSM, not even once.');
    const iv12 = Buffer.alloc(12, 7);
    const iv16 = Buffer.alloc(16, 9);
    const aad = Buffer.from('header');
    const gcm = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.GCM, tagLength: 16 }, data, iv: iv12, aad }));
    const cbc = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 }, data, iv: iv16 }));
    const ctr = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CTR }, data, iv: iv16 }));
    await withTokenKey(uid, async (b, k) => {
      const direct = Buffer.from(await b.encrypt({ mechanism: 'AES_GCM', iv: iv12, aad, tagBits: 128 }, k!, data));
      expect(Buffer.concat([bytesOf(gcm, Tag.Data)!, bytesOf(gcm, Tag.AuthenticatedEncryptionTag)!])).toEqual(direct);
      expect(Buffer.from(bytesOf(cbc, Tag.Data)!)).toEqual(Buffer.from(await b.encrypt({ mechanism: 'AES_CBC_PAD', iv: iv16 }, k!, data)));
      expect(Buffer.from(bytesOf(ctr, Tag.Data)!)).toEqual(Buffer.from(await b.encrypt({ mechanism: 'AES_CTR', counterBlock: iv16 }, k!, data)));
    });
    const back = await ok(
      c,
      V2_1,
      Operation.Decrypt,
      cipherPayload({ uid, params: { mode: BlockCipherMode.GCM, tagLength: 16 }, data: bytesOf(gcm, Tag.Data)!, iv: iv12, aad, tag: bytesOf(gcm, Tag.AuthenticatedEncryptionTag)! }),
    );
    expect(Buffer.from(bytesOf(back, Tag.Data)!)).toEqual(data);
    const badTag = Buffer.from(bytesOf(gcm, Tag.AuthenticatedEncryptionTag)!);
    badTag[0]! ^= 1;
    const refused = await fails(
      c,
      V2_1,
      Operation.Decrypt,
      cipherPayload({ uid, params: { mode: BlockCipherMode.GCM, tagLength: 16 }, data: bytesOf(gcm, Tag.Data)!, iv: iv12, aad, tag: badTag }),
    );
    expect(refused.reason).toBe(ResultReason.CryptographicFailure);
    // A server-generated IV comes back and decrypts.
    const rnd = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5, randomIV: true }, data }));
    const iv = bytesOf(rnd, Tag.IVCounterNonce)!;
    expect(iv).toHaveLength(16);
    const dec = await ok(c, V2_1, Operation.Decrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 }, data: bytesOf(rnd, Tag.Data)!, iv }));
    expect(Buffer.from(bytesOf(dec, Tag.Data)!)).toEqual(data);
  });

  it('multi-part Encrypt with a resident key gives the one-shot result', async () => {
    const uid = await create(notExtractable);
    const iv = Buffer.alloc(16, 3);
    const data = Buffer.alloc(64, 0x5a);
    const params = { mode: BlockCipherMode.CBC, padding: PaddingMethod.None };
    const first = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params, data: data.subarray(0, 32), iv, init: true }));
    const cv = bytesOf(first, Tag.CorrelationValue)!;
    const last = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, data: data.subarray(32), correlation: cv, final: true }));
    const whole = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params, data, iv }));
    expect(Buffer.concat([bytesOf(first, Tag.Data) ?? new Uint8Array(0), bytesOf(last, Tag.Data)!])).toEqual(Buffer.from(bytesOf(whole, Tag.Data)!));
  });

  it('MAC and MAC Verify with a resident HMAC-SHA256 key run in the HSM', async () => {
    const uid = await create(notExtractable, CryptographicAlgorithm.HMAC_SHA256, 256, M.MACGenerate | M.MACVerify);
    const data = Buffer.from('message to authenticate');
    const mac = bytesOf(await ok(c, V2_1, Operation.MAC, [uidNode(uid), t.bytes(Tag.Data, data)]), Tag.MACData)!;
    await withTokenKey(uid, async (b, k) => {
      expect(k).toMatchObject({ type: 'GENERIC_SECRET', extractable: false });
      expect(Buffer.from(mac)).toEqual(Buffer.from(await b.sign('HMAC_SHA256', k!, data)));
    });
    const verify = (m: Uint8Array) => ok(c, V2_1, Operation.MACVerify, [uidNode(uid), t.bytes(Tag.Data, data), t.bytes(Tag.MACData, m)]);
    expect((await verify(mac)).value.find((n) => n.tag === Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Valid);
    const bad = Buffer.from(mac);
    bad[0]! ^= 1;
    expect((await verify(bad)).value.find((n) => n.tag === Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Invalid);
  });

  it('modes that need the value in the host are refused as unsupported (XTS)', async () => {
    const uid = await create(notExtractable);
    const r = await fails(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.XTS }, data: Buffer.alloc(32), iv: Buffer.alloc(16) }));
    expect(r.reason).toBe(ResultReason.UnsupportedCryptographicParameters);
  });

  it('Extractable cannot be set to true; Destroy removes the token key', async () => {
    const uid = await create(notExtractable);
    const set = await fails(c, V2_1, Operation.SetAttribute, [uidNode(uid), t.struct(Tag.NewAttribute, [t.bool(Tag.Extractable, true)])]);
    expect(set.reason).toBe(ResultReason.PermissionDenied);
    await ok(c, V2_1, Operation.Revoke, [uidNode(uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, 5)])]);
    await ok(c, V2_1, Operation.Destroy, [uidNode(uid)]);
    await withTokenKey(uid, async (_b, k) => expect(k).toBeUndefined());
    expect((await srv.kms.services.store.get(uid))?.hsmKey).toBeUndefined();
  });

  it('after a KEK rotation and a restart the resident key still encrypts and decrypts', async () => {
    const uid = await create(notExtractable);
    const iv = Buffer.alloc(12, 1);
    const data = Buffer.from('survives restarts');
    const enc = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.GCM }, data, iv }));
    await rotateKek({ store: srv.kms.services.store, protector: srv.kms.services.protector, dataDir: srv.dataDir });
    await srv.stop();
    srv = await startTestKms({ hsm }, { dataDir: srv.dataDir });
    c = await srv.client();
    const dec = await ok(
      c,
      V2_1,
      Operation.Decrypt,
      cipherPayload({ uid, params: { mode: BlockCipherMode.GCM }, data: bytesOf(enc, Tag.Data)!, iv, tag: bytesOf(enc, Tag.AuthenticatedEncryptionTag)! }),
    );
    expect(Buffer.from(bytesOf(dec, Tag.Data)!)).toEqual(data);
  });
});

describe('hsm.residentKeys = always', () => {
  it('every AES/HMAC Create is resident with Extractable false; Get is refused at 1.4 and 2.1', async () => {
    await srv.stop();
    srv = await startTestKms({ hsm: { ...hsm, residentKeys: 'always' } }, { dataDir: srv.dataDir });
    c = await srv.client();
    const uid = await create([]);
    expect((await srv.kms.services.store.get(uid))?.hsmKey).toBeDefined();
    const ga = await ok(c, V2_1, Operation.GetAttributes, [uidNode(uid)]);
    const extractable = (ga.value.find((n) => n.tag === Tag.Attributes)?.value as TtlvNode[]).find((n) => n.tag === Tag.Extractable);
    expect(extractable?.value).toBe(false);
    expect((await fails(c, V2_1, Operation.Get, [uidNode(uid)])).reason).toBe(ResultReason.NotExtractable);
    expect((await fails(c, V1_4, Operation.Get, [uidNode(uid)])).reason).toBe(ResultReason.NotExtractable);
  });
});
