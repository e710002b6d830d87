/**
 * Metadata-only objects (KMIP 1.2+: 1.4 §2.1.3, §3.41-3.42; 2.1 §4.27-4.28) over a real mTLS server
 * at 1.4 and 2.1: Register of a Key Block without Key Value (Symmetric Key, Private Key, Secret
 * Data; Public Key in 2.x only), Get returns the Key Block without Key Value, Get Attributes shows
 * Key Value Present false and the Key Value Location as given (no Digest), Locate finds it by Key
 * Value Present; every operation that needs the value (Encrypt, Decrypt, MAC, Sign, Get in another
 * format or wrapped, Export, use as a wrapping key, Derive Key, Re-key, Create Split Key) refuses
 * with Key Value Not Present; Destroy works. The record survives a restart and a backup/restore
 * round trip, and `kms keys show` says where its value is. Import (2.1) of such a Key Block makes
 * the same metadata-only object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  BlockCipherMode,
  CryptographicAlgorithm,
  DerivationMethod,
  HashingAlgorithm,
  KeyFormatType,
  KeyValueLocationType,
  ObjectType,
  Operation,
  PaddingMethod,
  ResultReason,
  SecretDataType,
  SplitKeyMethod,
  WrappingMethod,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { FULL_ATTRIBUTES, startTestKms, type TestKms } from '../support/kms.js';
import { attributesOf } from './asymmetric-kit.js';
import { cipherPayload, cryptoParams, hex } from './crypto-kit.js';
import { attrs, fails, ok, uidNode, uidOf, V1_0, V1_4, V2_1 } from './object-kit.js';
import { ensureBuilt, kmsHere, recoveryKeys } from '../backup/kit.js';

const { Encrypt, Decrypt, Sign, MACGenerate, WrapKey, DeriveKey } = CryptographicUsageMask;
const NOT_PRESENT = ResultReason.KeyValueNotPresent;

const work = mkdtempSync(join(tmpdir(), 'kms-mdo-'));
const dataDir = join(work, 'data');
let keys: ReturnType<typeof recoveryKeys>;
let srv: TestKms | undefined;
let c: KmipClient;

beforeAll(async () => {
  ensureBuilt();
  keys = recoveryKeys(work);
  const init = await kmsHere(['init', '--data-dir', dataDir, '--recovery-key', keys.rsaPub]);
  expect(init.code, init.stderr).toBe(0);
  srv = await startTestKms(FULL_ATTRIBUTES, { dataDir });
  c = await srv.client();
}, 60_000);
afterAll(async () => {
  await srv?.stop();
  rmSync(work, { recursive: true, force: true });
});

const location = (value: string, type: number = KeyValueLocationType.URI): TtlvNode =>
  t.struct(Tag.KeyValueLocation, [t.text(Tag.KeyValueLocationValue, value), t.enum(Tag.KeyValueLocationType, type)]);

/** A Key Block without Key Value. */
const metaBlock = (format: number, algorithm?: number, bits?: number): StructureNode =>
  t.struct(Tag.KeyBlock, [t.enum(Tag.KeyFormatType, format), ...(algorithm !== undefined ? [t.enum(Tag.CryptographicAlgorithm, algorithm), t.int(Tag.CryptographicLength, bits!)] : [])]);

async function register(v: KmipVersion, objectType: number, object: StructureNode, list: TtlvNode[]): Promise<string> {
  return uidOf(await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, objectType), attrs(v, list), object]));
}

const registerMetaAes = (v: KmipVersion, where: string, mask = Encrypt | Decrypt | MACGenerate | WrapKey | DeriveKey): Promise<string> =>
  register(v, ObjectType.SymmetricKey, t.struct(Tag.SymmetricKey, [metaBlock(KeyFormatType.Raw, CryptographicAlgorithm.AES, 128)]), [attr.cryptographicUsageMask(mask), location(where)]);

const registerPlainAes = (v: KmipVersion, mask: number): Promise<string> =>
  register(
    v,
    ObjectType.SymmetricKey,
    t.struct(Tag.SymmetricKey, [
      t.struct(Tag.KeyBlock, [
        t.enum(Tag.KeyFormatType, KeyFormatType.Raw),
        t.struct(Tag.KeyValue, [t.bytes(Tag.KeyMaterial, hex('000102030405060708090a0b0c0d0e0f'))]),
        t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
        t.int(Tag.CryptographicLength, 128),
      ]),
    ]),
    [attr.cryptographicUsageMask(mask)],
  );

/** The object a Get returns and its Key Block. */
async function getKeyBlock(v: KmipVersion, uid: string, objectTag: number): Promise<StructureNode> {
  const p = await ok(c, v, Operation.Get, [uidNode(uid)]);
  const obj = findChild(p, objectTag) as StructureNode | undefined;
  expect(obj, 'Get returns the object').toBeDefined();
  return findChild(obj!, Tag.KeyBlock) as StructureNode;
}

async function expectMetadataOnly(v: KmipVersion, uid: string, where: string): Promise<void> {
  const kb = await getKeyBlock(v, uid, Tag.SymmetricKey);
  expect(findChild(kb, Tag.KeyValue)).toBeUndefined();
  expect(findChild(kb, Tag.KeyFormatType)?.value).toBe(KeyFormatType.Raw);
  expect(findChild(kb, Tag.CryptographicLength)?.value).toBe(128);
  const a = await attributesOf(c, v, uid);
  expect(a.get(Tag.KeyValuePresent)?.map((n) => n.value)).toEqual([false]);
  const loc = a.get(Tag.KeyValueLocation)?.[0] as StructureNode | undefined;
  expect(loc && findChild(loc, Tag.KeyValueLocationValue)?.value).toBe(where);
  expect(a.has(Tag.Digest)).toBe(false);
  const enc = await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.ECB, padding: PaddingMethod.None }, data: new Uint8Array(16) }));
  expect(enc.reason).toBe(NOT_PRESENT);
}

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
] as const)('KMIP %s', (_n, v) => {
  const where = `pkcs11:token=ext;object=mdo-${v.major}${v.minor}`;
  let mdo: string;
  let plain: string;
  beforeAll(async () => {
    mdo = await registerMetaAes(v, where);
    plain = await registerPlainAes(v, Encrypt | Decrypt | WrapKey);
    await ok(c, v, Operation.Activate, [uidNode(mdo)]);
    await ok(c, v, Operation.Activate, [uidNode(plain)]);
  });

  it('Register keeps the Key Block without Key Value; Get returns it so; Key Value Present false, the location as given, no Digest', async () => {
    await expectMetadataOnly(v, mdo, where);
    // A key registered with its value: no Key Value Present attribute, a Digest, its value served.
    const a = await attributesOf(c, v, plain);
    expect(a.has(Tag.KeyValuePresent)).toBe(false);
    expect(a.has(Tag.Digest)).toBe(true);
    expect(findChild(await getKeyBlock(v, plain, Tag.SymmetricKey), Tag.KeyValue)).toBeDefined();
  });

  it('Locate by Key Value Present false finds the metadata-only key, not the key with a value', async () => {
    const p = await ok(c, v, Operation.Locate, [
      v.major >= 2
        ? t.struct(Tag.Attributes, [t.bool(Tag.KeyValuePresent, false)])
        : t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Key Value Present'), t.bool(Tag.AttributeValue, false)]),
    ]);
    const found = p.value.filter((n) => n.tag === Tag.UniqueIdentifier).map((n) => n.value);
    expect(found).toContain(mdo);
    expect(found).not.toContain(plain);
  });

  it('every operation that needs the value refuses with Key Value Not Present', async () => {
    const ecb = { mode: BlockCipherMode.ECB, padding: PaddingMethod.None };
    const refusals: Array<[string, number, TtlvNode[]]> = [
      ['Decrypt', Operation.Decrypt, cipherPayload({ uid: mdo, params: ecb, data: new Uint8Array(16) })],
      ['MAC', Operation.MAC, [uidNode(mdo), cryptoParams({ algorithm: CryptographicAlgorithm.HMAC_SHA256 }), t.bytes(Tag.Data, new Uint8Array(8))]],
      ['Get as Transparent Symmetric Key', Operation.Get, [uidNode(mdo), t.enum(Tag.KeyFormatType, KeyFormatType.TransparentSymmetricKey)]],
      [
        'Get wrapped',
        Operation.Get,
        [
          uidNode(mdo),
          t.struct(Tag.KeyWrappingSpecification, [
            t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt),
            t.struct(Tag.EncryptionKeyInformation, [uidNode(plain), cryptoParams({ mode: BlockCipherMode.NISTKeyWrap })]),
          ]),
        ],
      ],
      [
        'use as a wrapping key',
        Operation.Get,
        [
          uidNode(plain),
          t.struct(Tag.KeyWrappingSpecification, [
            t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt),
            t.struct(Tag.EncryptionKeyInformation, [uidNode(mdo), cryptoParams({ mode: BlockCipherMode.NISTKeyWrap })]),
          ]),
        ],
      ],
      [
        'Derive Key',
        Operation.DeriveKey,
        [
          t.enum(Tag.ObjectType, ObjectType.SecretData),
          uidNode(mdo),
          t.enum(Tag.DerivationMethod, DerivationMethod.HMAC),
          t.struct(Tag.DerivationParameters, [cryptoParams({ hashing: HashingAlgorithm.SHA_256 }), t.bytes(Tag.DerivationData, new Uint8Array(8))]),
          attrs(v, [attr.cryptographicLength(256)]),
        ],
      ],
      ['Re-key', Operation.ReKey, [uidNode(mdo)]],
      [
        'Create Split Key',
        Operation.CreateSplitKey,
        [
          t.enum(Tag.ObjectType, ObjectType.SplitKey),
          uidNode(mdo),
          t.int(Tag.SplitKeyParts, 2),
          t.int(Tag.SplitKeyThreshold, 2),
          t.enum(Tag.SplitKeyMethod, SplitKeyMethod.XOR),
          attrs(v, []),
        ],
      ],
      ...(v.major >= 2 ? ([['Export', Operation.Export, [uidNode(mdo)]]] as Array<[string, number, TtlvNode[]]>) : []),
    ];
    for (const [what, op, payload] of refusals) {
      expect((await fails(c, v, op, payload)).reason, what).toBe(NOT_PRESENT);
    }
    // Get in the registered format is fine.
    const p = await ok(c, v, Operation.Get, [uidNode(mdo), t.enum(Tag.KeyFormatType, KeyFormatType.Raw)]);
    expect(findChild(findChild(p, Tag.SymmetricKey) as StructureNode, Tag.KeyBlock)).toBeDefined();
  });

  it('a metadata-only Private Key and Secret Data: registered, served without value, Sign refused', async () => {
    const priv = await register(v, ObjectType.PrivateKey, t.struct(Tag.PrivateKey, [metaBlock(KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 2048)]), [
      attr.cryptographicUsageMask(Sign),
      location('HSM-7', KeyValueLocationType.UninterpretedTextString),
    ]);
    await ok(c, v, Operation.Activate, [uidNode(priv)]);
    expect(findChild(await getKeyBlock(v, priv, Tag.PrivateKey), Tag.KeyValue)).toBeUndefined();
    const s = await fails(c, v, Operation.Sign, [
      uidNode(priv),
      cryptoParams({ padding: PaddingMethod.PKCS1V1_5, hashing: HashingAlgorithm.SHA_256, algorithm: CryptographicAlgorithm.RSA }),
      t.bytes(Tag.Data, new Uint8Array(4)),
    ]);
    expect(s.reason).toBe(NOT_PRESENT);
    const secret = await register(v, ObjectType.SecretData, t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), metaBlock(KeyFormatType.Opaque)]), [
      attr.cryptographicUsageMask(DeriveKey),
    ]);
    expect(findChild(await getKeyBlock(v, secret, Tag.SecretData), Tag.KeyValue)).toBeUndefined();
    expect((await attributesOf(c, v, secret)).get(Tag.KeyValuePresent)?.map((n) => n.value)).toEqual([false]);
  });

  it('metadata-only Split Key parts: registered, but Join Split Key refuses them with Key Value Not Present', async () => {
    const part = (id: number) =>
      register(
        v,
        ObjectType.SplitKey,
        t.struct(Tag.SplitKey, [
          t.int(Tag.SplitKeyParts, 2),
          t.int(Tag.KeyPartIdentifier, id),
          t.int(Tag.SplitKeyThreshold, 2),
          t.enum(Tag.SplitKeyMethod, SplitKeyMethod.XOR),
          metaBlock(KeyFormatType.Raw, CryptographicAlgorithm.AES, 128),
        ]),
        [location(`HSM-part-${id}`, KeyValueLocationType.UninterpretedTextString)],
      );
    const parts = [await part(1), await part(2)];
    expect((await attributesOf(c, v, parts[0]!)).get(Tag.KeyValuePresent)?.map((n) => n.value)).toEqual([false]);
    const j = await fails(c, v, Operation.JoinSplitKey, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      ...parts.map(uidNode),
      attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(Encrypt)]),
    ]);
    expect(j.reason).toBe(NOT_PRESENT);
  });

  it('Public Key without value: 2.x accepts it (Key Value Present applies to all objects), 1.x refuses (Invalid Field)', async () => {
    const payload = [
      t.enum(Tag.ObjectType, ObjectType.PublicKey),
      attrs(v, [attr.cryptographicUsageMask(CryptographicUsageMask.Verify)]),
      t.struct(Tag.PublicKey, [metaBlock(KeyFormatType.X_509, CryptographicAlgorithm.RSA, 2048)]),
    ];
    if (v.major >= 2) {
      const uid = uidOf(await ok(c, v, Operation.Register, payload));
      expect((await attributesOf(c, v, uid)).get(Tag.KeyValuePresent)?.map((n) => n.value)).toEqual([false]);
      await ok(c, v, Operation.Activate, [uidNode(uid)]);
      const verify = await fails(c, v, Operation.SignatureVerify, [
        uidNode(uid),
        cryptoParams({ padding: PaddingMethod.PKCS1V1_5, hashing: HashingAlgorithm.SHA_256, algorithm: CryptographicAlgorithm.RSA }),
        t.bytes(Tag.Data, new Uint8Array(4)),
        t.bytes(Tag.SignatureData, new Uint8Array(256)),
      ]);
      expect(verify.reason).toBe(NOT_PRESENT);
      // Certify reads the subject public key's value: refused the same way (the shared openBody guard).
      const subject = t.struct(Tag.X_509CertificateSubject, [t.bytes(Tag.SubjectDistinguishedName, new Uint8Array([0x30, 0]))]);
      const certify = await fails(c, v, Operation.Certify, [uidNode(uid), attrs(v, [subject])]);
      expect(certify.reason).toBe(NOT_PRESENT);
    } else {
      expect((await fails(c, v, Operation.Register, payload)).reason).toBe(ResultReason.InvalidField);
    }
  });

  it('the client may not set Key Value Present itself', async () => {
    const payload = [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(v, [attr.cryptographicUsageMask(Encrypt), t.bool(Tag.KeyValuePresent, false)]),
      t.struct(Tag.SymmetricKey, [metaBlock(KeyFormatType.Raw, CryptographicAlgorithm.AES, 128)]),
    ];
    // Server-set only (1.4 §3.41, 2.1 §4.28): Invalid Field in 1.x, Attribute Read Only in 2.x (objects/attributes.ts).
    expect((await fails(c, v, Operation.Register, payload)).reason).toBe(v.major >= 2 ? ResultReason.AttributeReadOnly : ResultReason.InvalidField);
  });

  it('Destroy works; the destroyed object keeps its attributes', async () => {
    const uid = await registerMetaAes(v, 'HSM-destroy');
    expect(uidOf(await ok(c, v, Operation.Destroy, [uidNode(uid)]))).toBe(uid);
    const g = await fails(c, v, Operation.Get, [uidNode(uid)]);
    // Destroyed: Item Not Found at 1.x, Object Destroyed at 2.x (operations/service/destroyed.ts), not Key Value Not Present.
    expect(g.reason).toBe(v.major >= 2 ? ResultReason.ObjectDestroyed : ResultReason.ItemNotFound);
    expect((await attributesOf(c, v, uid)).get(Tag.KeyValuePresent)?.map((n) => n.value)).toEqual([false]);
  });
});

it('Import (2.1) of a Key Block without Key Value: metadata-only as Register makes it; a Key Value Present true that contradicts it is refused', async () => {
  const uid = `mdo-import-${process.pid}`;
  const importPayload = (list: TtlvNode[]) => [
    t.text(Tag.UniqueIdentifier, uid),
    t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
    t.struct(Tag.Attributes, list),
    t.struct(Tag.SymmetricKey, [metaBlock(KeyFormatType.Raw, CryptographicAlgorithm.AES, 128)]),
  ];
  const bad = await fails(c, V2_1, Operation.Import, importPayload([attr.cryptographicUsageMask(Encrypt), t.bool(Tag.KeyValuePresent, true)]));
  expect(bad.reason).toBe(ResultReason.InvalidAttributeValue);
  expect(uidOf(await ok(c, V2_1, Operation.Import, importPayload([attr.cryptographicUsageMask(Encrypt), location('HSM-import')])))).toBe(uid);
  await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
  await expectMetadataOnly(V2_1, uid, 'HSM-import');
});

it('KMIP 1.0 (before Key Value Present existed): a Key Block without Key Value is Invalid Field', async () => {
  const r = await fails(c, V1_0, Operation.Register, [
    t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
    attrs(V1_0, [attr.cryptographicUsageMask(Encrypt)]),
    t.struct(Tag.SymmetricKey, [metaBlock(KeyFormatType.Raw, CryptographicAlgorithm.AES, 128)]),
  ]);
  expect(r.reason).toBe(ResultReason.InvalidField);
});

describe('a metadata-only record across a restart and a backup/restore', () => {
  it('is still metadata-only after a restart, after restore on a new folder, and `kms keys show` says so', async () => {
    const where = 'pkcs11:token=ext;object=survivor';
    const uid = await registerMetaAes(V2_1, where);
    await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
    await srv!.stop();
    srv = await startTestKms(FULL_ATTRIBUTES, { dataDir });
    c = await srv.client();
    await expectMetadataOnly(V2_1, uid, where);
    await expectMetadataOnly(V1_4, uid, where);
    await srv.stop();

    const show = await kmsHere(['keys', 'show', uid, '--data-dir', dataDir]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/metadata-only/);
    const file = join(work, 'mdo.kbk');
    const b = await kmsHere(['backup', '--out', file, '--data-dir', dataDir]);
    expect(b.code, b.stderr).toBe(0);
    const restored = join(work, 'restored');
    const r = await kmsHere(['restore', '--in', file, '--data-dir', restored, '--recovery-key', keys.rsaKey]);
    expect(r.code, r.stderr).toBe(0);
    srv = await startTestKms(FULL_ATTRIBUTES, { dataDir: restored });
    c = await srv.client();
    await expectMetadataOnly(V2_1, uid, where);
  }, 120_000);
});
