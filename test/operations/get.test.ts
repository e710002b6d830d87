/**
 * Get (KMIP 1.4 §4.11, 2.1 §6.1.19) over a real mTLS server with LevelDB: formats, refusals (every
 * Result Reason in src/operations/lifecycle/get.ts), access by other identities, destroyed and archived
 * objects, a sealed body moved onto another record, and a plaintext scan of the data folder.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, findPath, keyBlock, symmetricKeyObject, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyCompressionType, KeyFormatType, KeyWrapType, ObjectType, Operation, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, containsBytes, fails, ok, uidNode, uidOf, V1_0, V1_2, V1_4, V2_1 } from './object-kit.js';
import { notFoundReason } from '../support/reasons.js';

const ED = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  [c, alice] = await Promise.all([srv.client(), srv.client('alice')]);
});
afterAll(async () => srv?.dispose());

async function createAes(v: KmipVersion, client = c, bits = 256): Promise<string> {
  return uidOf(
    await ok(client, v, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(bits), attr.cryptographicUsageMask(ED)]),
    ]),
  );
}

function material(p: TtlvNode): Uint8Array {
  const m = findPath(p, Tag.SymmetricKey, Tag.KeyBlock, Tag.KeyValue, Tag.KeyMaterial);
  if (m?.type === 'ByteString') return m.value;
  const k = findPath(m, Tag.Key);
  if (k?.type !== 'ByteString') throw new Error('no key material');
  return k.value;
}

const getReq = (uid: string, extra: readonly TtlvNode[] = []): TtlvNode[] => [uidNode(uid), ...extra];

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Get at KMIP %s', (_l, v) => {
  const v2 = v.major >= 2;

  it('returns Object Type, Unique Identifier and the Symmetric Key', async () => {
    const uid = await createAes(v);
    const p = await ok(c, v, Operation.Get, getReq(uid));
    expect(p.value.map((n) => n.tag)).toEqual([Tag.ObjectType, Tag.UniqueIdentifier, Tag.SymmetricKey]);
    expect(findChild(p, Tag.ObjectType)).toMatchObject({ value: ObjectType.SymmetricKey });
    expect(material(p).length).toBe(32);
  });

  it('gives a symmetric key as Raw or as Transparent Symmetric Key (Key Material { Key }), same bytes', async () => {
    const uid = await createAes(v);
    const raw = await ok(c, v, Operation.Get, getReq(uid, [t.enum(Tag.KeyFormatType, KeyFormatType.Raw)]));
    const tr = await ok(c, v, Operation.Get, getReq(uid, [t.enum(Tag.KeyFormatType, KeyFormatType.TransparentSymmetricKey)]));
    expect(findPath(tr, Tag.SymmetricKey, Tag.KeyBlock, Tag.KeyFormatType)).toMatchObject({ value: KeyFormatType.TransparentSymmetricKey });
    expect(findPath(tr, Tag.SymmetricKey, Tag.KeyBlock, Tag.KeyValue, Tag.KeyMaterial)?.type).toBe('Structure');
    expect(Buffer.from(material(tr)).equals(Buffer.from(material(raw)))).toBe(true);
  });

  it('a key registered Transparent comes back Transparent, and Raw on request', async () => {
    const key = new Uint8Array(16).fill(7);
    const obj = t.struct(Tag.SymmetricKey, [
      t.struct(Tag.KeyBlock, [
        t.enum(Tag.KeyFormatType, KeyFormatType.TransparentSymmetricKey),
        t.struct(Tag.KeyValue, [t.struct(Tag.KeyMaterial, [t.bytes(Tag.Key, key)])]),
        t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
        t.int(Tag.CryptographicLength, 128),
      ]),
    ]);
    const uid = uidOf(await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(v, [attr.cryptographicUsageMask(ED)]), obj]));
    const asIs = await ok(c, v, Operation.Get, getReq(uid));
    expect(findPath(asIs, Tag.SymmetricKey, Tag.KeyBlock, Tag.KeyFormatType)).toMatchObject({ value: KeyFormatType.TransparentSymmetricKey });
    const raw = await ok(c, v, Operation.Get, getReq(uid, [t.enum(Tag.KeyFormatType, KeyFormatType.Raw)]));
    expect(findPath(raw, Tag.SymmetricKey, Tag.KeyBlock, Tag.KeyValue, Tag.KeyMaterial)).toMatchObject({ type: 'ByteString' });
    expect(Buffer.from(material(raw)).equals(Buffer.from(key))).toBe(true);
  });

  it('other formats are Key Format Type Not Supported; compression is Key Compression Type Not Supported', async () => {
    const uid = await createAes(v);
    for (const f of [KeyFormatType.PKCS_8, KeyFormatType.Opaque, KeyFormatType.TransparentRSAPrivateKey]) {
      expect((await fails(c, v, Operation.Get, getReq(uid, [t.enum(Tag.KeyFormatType, f)]))).reason).toBe(ResultReason.KeyFormatTypeNotSupported);
    }
    const r = await fails(c, v, Operation.Get, getReq(uid, [t.enum(Tag.KeyCompressionType, KeyCompressionType.ECPublicKeyTypeUncompressed)]));
    expect(r.reason).toBe(ResultReason.KeyCompressionTypeNotSupported);
  });

  it('a Key Wrapping Specification naming a Pre-Active key is refused (the rest: test/operations/key-wrap.test.ts)', async () => {
    const uid = await createAes(v);
    const kws = t.struct(Tag.KeyWrappingSpecification, [t.enum(Tag.WrappingMethod, 1), t.struct(Tag.EncryptionKeyInformation, [uidNode(uid)])]);
    expect((await fails(c, v, Operation.Get, getReq(uid, [kws]))).reason).toBe(v2 ? ResultReason.WrongKeyLifecycleState : ResultReason.PermissionDenied);
  });

  it('Key Wrap Type Not Wrapped is fine for an unwrapped key; a key registered wrapped cannot be unwrapped', async () => {
    const uid = await createAes(v);
    await ok(c, v, Operation.Get, getReq(uid, [t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)]));
    const wrapped = t.struct(Tag.SymmetricKey, [
      t.struct(Tag.KeyBlock, [
        t.enum(Tag.KeyFormatType, KeyFormatType.Raw),
        t.bytes(Tag.KeyValue, new Uint8Array(40).fill(3)),
        t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
        t.int(Tag.CryptographicLength, 256),
        // Wrapped under a key this server does not hold: stored as given.
        t.struct(Tag.KeyWrappingData, [t.enum(Tag.WrappingMethod, 1), t.struct(Tag.EncryptionKeyInformation, [uidNode('a-key-held-elsewhere')])]),
      ]),
    ]);
    const w = uidOf(await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(v, [attr.cryptographicUsageMask(ED)]), wrapped]));
    await ok(c, v, Operation.Get, getReq(w, [t.enum(Tag.KeyWrapType, KeyWrapType.AsRegistered)]));
    const r = await fails(c, v, Operation.Get, getReq(w, [t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)]));
    expect(r.reason).toBe(v2 ? ResultReason.KeyWrapTypeNotSupported : ResultReason.FeatureNotSupported);
  });

  it('an unknown uid and another identity’s object are both not found (Item/Object Not Found), with the same message shape', async () => {
    const want = notFoundReason(v);
    expect((await fails(c, v, Operation.Get, getReq('no-such-object'))).reason).toBe(want);
    const mine = await createAes(v);
    const r = await fails(alice, v, Operation.Get, getReq(mine));
    expect(r.reason).toBe(want);
    expect(r.message).toBe('no object ' + mine);
  });

  it('a destroyed key: Object Destroyed (2.x) / Item Not Found (1.x; operations/service/destroyed.ts)', async () => {
    const uid = await createAes(v);
    await ok(c, v, Operation.Destroy, [uidNode(uid)]);
    expect((await fails(c, v, Operation.Get, getReq(uid))).reason).toBe(v2 ? ResultReason.ObjectDestroyed : ResultReason.ItemNotFound);
  });

  it('an archived key is Object Archived until Recover', async () => {
    const uid = await createAes(v);
    await ok(c, v, Operation.Archive, [uidNode(uid)]);
    expect((await fails(c, v, Operation.Get, getReq(uid))).reason).toBe(ResultReason.ObjectArchived);
    await ok(c, v, Operation.Recover, [uidNode(uid)]);
    await ok(c, v, Operation.Get, getReq(uid));
  });
});

describe('Get, version and attribute specifics', () => {
  it('a destroyed key is Item Not Found at 1.0 and 1.2 alike (1.x has no reason for a destroyed object)', async () => {
    const uid = await createAes(V1_0);
    await ok(c, V1_0, Operation.Destroy, [uidNode(uid)]);
    expect((await fails(c, V1_0, Operation.Get, getReq(uid))).reason).toBe(ResultReason.ItemNotFound);
    expect((await fails(c, V1_2, Operation.Get, getReq(uid))).reason).toBe(ResultReason.ItemNotFound);
  });

  it('Sensitive → Sensitive; Extractable false → Not Extractable (2.x)', async () => {
    const base = [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(ED)];
    const s = uidOf(await ok(c, V2_1, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(V2_1, [...base, t.bool(Tag.Sensitive, true)])]));
    expect((await fails(c, V2_1, Operation.Get, getReq(s))).reason).toBe(ResultReason.Sensitive);
    const e = uidOf(await ok(c, V2_1, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(V2_1, [...base, t.bool(Tag.Extractable, false)])]));
    expect((await fails(c, V2_1, Operation.Get, getReq(e))).reason).toBe(ResultReason.NotExtractable);
  });

  it('a malformed payload is Invalid Field; no uid and no placeholder is Invalid Field', async () => {
    expect((await fails(c, V2_1, Operation.Get, [t.int(Tag.UniqueIdentifier, 5)])).reason).toBe(ResultReason.InvalidField);
    expect((await fails(c, V2_1, Operation.Get, [])).reason).toBe(ResultReason.InvalidField);
  });

  it('a sealed body copied onto another record fails to open: General Failure, and the server keeps serving', async () => {
    const a = await createAes(V2_1);
    const b = await createAes(V2_1);
    const store = srv.kms.services.store;
    const ra = (await store.get(a))!;
    const rb = (await store.get(b))!;
    await store.commit([{ type: 'put', record: { ...rb, sealedBody: ra.sealedBody! }, expectedRevision: rb.revision }]);
    const r = await fails(c, V2_1, Operation.Get, getReq(b));
    expect(r.reason).toBe(ResultReason.GeneralFailure);
    expect(r.message).toMatch(/integrity/);
    await ok(c, V2_1, Operation.Get, getReq(a));
    await ok(c, V1_4, Operation.Get, getReq(a));
  });
});

describe('plaintext scan', () => {
  function files(dir: string): string[] {
    return readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      const st = statSync(p);
      // Regular files only: the running server's admin socket (admin/kms.sock) holds no data.
      return st.isDirectory() ? files(p) : st.isFile() ? [p] : [];
    });
  }

  it('no file in the data folder holds any key’s bytes, created or registered, after Get, Destroy and a restart', async () => {
    const keys: Uint8Array[] = [];
    const uids: string[] = [];
    for (const v of [V1_4, V2_1]) {
      for (const bits of [128, 256]) {
        const uid = await createAes(v, c, bits);
        uids.push(uid);
        keys.push(material(await ok(c, v, Operation.Get, getReq(uid))));
      }
      const reg = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
      const uid = uidOf(
        await ok(c, v, Operation.Register, [
          t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
          attrs(v, [attr.cryptographicUsageMask(ED)]),
          symmetricKeyObject(reg, CryptographicAlgorithm.AES),
        ]),
      );
      keys.push(reg);
      uids.push(uid);
      const secret = new TextEncoder().encode(`secret-password-${v.major}-do-not-store-in-clear`);
      await ok(c, v, Operation.Register, [
        t.enum(Tag.ObjectType, ObjectType.SecretData),
        attrs(v, [attr.cryptographicUsageMask(CryptographicUsageMask.DeriveKey)]),
        t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, 1), keyBlock(secret, KeyFormatType.Opaque)]),
      ]);
      keys.push(secret);
    }
    await ok(c, V2_1, Operation.Destroy, [uidNode(uids[0]!)]);
    const check = () => {
      const all = files(srv.dataDir);
      expect(all.length).toBeGreaterThan(0);
      for (const f of all) {
        const bytes = readFileSync(f);
        for (const k of keys) expect(containsBytes(bytes, k), `${f} holds key bytes`).toBe(false);
      }
    };
    check();
    await srv.kms.services.store.close().catch(() => undefined);
    check();
    // The scan can see: a record's attributes (not secret) are in the files.
    const sample = files(srv.dataDir).some((f) => containsBytes(readFileSync(f), new TextEncoder().encode(uids[1]!)));
    expect(sample).toBe(true);
  });
});
