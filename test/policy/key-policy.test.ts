/**
 * The crypto policy on every key (src/policy/key-policy.ts, src/operations/crypto/key-policy-check.ts),
 * over a real mTLS server: what Register and Import refuse, what Derive Key refuses, and what a
 * stored key may no longer protect once the policy is tightened (Sign, Encrypt, wrap, MAC) while
 * Signature Verify and MAC Verify keep working (legacy use). Each refusal names its setting.
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, keyBlock, symmetricKeyObject, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/config.js';
import {
  CryptographicAlgorithm,
  DerivationMethod,
  KeyFormatType,
  ObjectType,
  Operation,
  ResultReason,
  SecretDataType,
  ValidityIndicator,
  WrappingMethod,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, uidOf, V1_4, V2_1 } from '../operations/object-kit.js';
import { cipherPayload, registerKey } from '../operations/crypto-kit.js';

const rsa = (bits: number, publicExponent = 65537) => generateKeyPairSync('rsa', { modulusLength: bits, publicExponent });
const der = (k: KeyObject, type: 'pkcs8' | 'pkcs1' | 'spki' | 'sec1'): Uint8Array => k.export({ format: 'der', type } as never) as Buffer;

const privateKey = (material: Uint8Array, format: number, alg?: number, len?: number): StructureNode => t.struct(Tag.PrivateKey, [keyBlock(material, format, alg, len)]);
const publicKey = (material: Uint8Array, format: number, alg?: number, len?: number): StructureNode => t.struct(Tag.PublicKey, [keyBlock(material, format, alg, len)]);
const register = (v: KmipVersion, objectType: number, object: StructureNode, list: readonly TtlvNode[]): TtlvNode[] => [t.enum(Tag.ObjectType, objectType), attrs(v, list), object];

const RSA_1024 = rsa(1024);
const RSA_E3 = rsa(2048, 3);
const RSA_2048 = rsa(2048);
const K1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
const DSA = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 224 });

describe.each([
  ['2.1', V2_1, ResultReason.InvalidAttributeValue],
  ['1.4', V1_4, ResultReason.InvalidField],
])('the default policy at KMIP %s refuses weak or malformed keys at Register', (_l, v, policyReason) => {
  let srv: TestKms;
  let c: KmipClient;
  beforeAll(async () => {
    srv = await startTestKms();
    c = await srv.client();
  });
  afterAll(async () => srv?.dispose());

  const refused = async (objectType: number, object: StructureNode, list: readonly TtlvNode[] = []) => fails(c, v, Operation.Register, register(v, objectType, object, list));

  it('RSA-1024 (PKCS#8, PKCS#1 public): cryptoPolicy.rsaMinBits; RSA-2048 is accepted', async () => {
    const r1 = await refused(ObjectType.PrivateKey, privateKey(der(RSA_1024.privateKey, 'pkcs8'), KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 1024), [
      attr.cryptographicUsageMask(M.Sign),
    ]);
    expect(r1.reason).toBe(policyReason);
    expect(r1.message).toMatch(/at least 2048 bits.*cryptoPolicy\.rsaMinBits/);
    const r2 = await refused(ObjectType.PublicKey, publicKey(der(RSA_1024.publicKey, 'pkcs1'), KeyFormatType.PKCS_1, CryptographicAlgorithm.RSA, 1024), [
      attr.cryptographicUsageMask(M.Verify),
    ]);
    expect(r2.message).toMatch(/cryptoPolicy\.rsaMinBits/);
    const good = await ok(
      c,
      v,
      Operation.Register,
      register(v, ObjectType.PrivateKey, privateKey(der(RSA_2048.privateKey, 'pkcs8'), KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 2048), [attr.cryptographicUsageMask(M.Sign)]),
    );
    expect(uidOf(good)).not.toBe('');
  });

  it('an RSA public exponent of 3: cryptoPolicy.rsaMinPublicExponent', async () => {
    const r = await refused(ObjectType.PrivateKey, privateKey(der(RSA_E3.privateKey, 'pkcs1'), KeyFormatType.PKCS_1, CryptographicAlgorithm.RSA, 2048), [
      attr.cryptographicUsageMask(M.Sign),
    ]);
    expect(r.reason).toBe(policyReason);
    expect(r.message).toMatch(/public exponent.*65537.*this one is 3.*cryptoPolicy\.rsaMinPublicExponent/);
  });

  it('private-key bytes that do not parse, and key material of another algorithm than stated: Invalid Field', async () => {
    const garbage = new Uint8Array(1190).map((_, i) => (i * 31 + 2) & 0xff);
    const r = await refused(ObjectType.PrivateKey, privateKey(garbage, KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 2048), [attr.cryptographicUsageMask(M.Sign)]);
    expect(r.reason).toBe(ResultReason.InvalidField);
    expect(r.message).toMatch(/does not parse/);
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const wrongAlg = await refused(ObjectType.PrivateKey, privateKey(der(p256.privateKey, 'pkcs8'), KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 256), [
      attr.cryptographicUsageMask(M.Sign),
    ]);
    expect(wrongAlg.reason).toBe(ResultReason.InvalidField);
    expect(wrongAlg.message).toMatch(/EC key, not the Cryptographic Algorithm/);
  });

  it('an EC key on secp256k1: cryptoPolicy.ecCurves; a DSA key (not readable here): cryptoPolicy.legacyKeys', async () => {
    const k = await refused(ObjectType.PublicKey, publicKey(der(K1.publicKey, 'spki'), KeyFormatType.X_509, CryptographicAlgorithm.EC, 256), [attr.cryptographicUsageMask(M.Verify)]);
    expect(k.reason).toBe(policyReason);
    expect(k.message).toMatch(/secp256k1.*cryptoPolicy\.ecCurves/);
    const d = await refused(ObjectType.PrivateKey, privateKey(der(DSA.privateKey, 'pkcs8'), KeyFormatType.PKCS_8, CryptographicAlgorithm.DSA, 2048), [attr.cryptographicUsageMask(M.Sign)]);
    expect(d.reason).toBe(policyReason);
    expect(d.message).toMatch(/cryptoPolicy\.legacyKeys/);
  });

  it('single DES, and a Triple DES bundle that is single DES (K1 = K2): cryptoPolicy.des; three distinct keys are accepted', async () => {
    const des = await refused(ObjectType.SymmetricKey, symmetricKeyObject(Buffer.from('0123456789abcdef', 'hex'), CryptographicAlgorithm.DES), [attr.cryptographicUsageMask(M.Encrypt)]);
    expect(des.reason).toBe(policyReason);
    expect(des.message).toMatch(/single DES.*cryptoPolicy\.des/);
    const degenerate = await refused(ObjectType.SymmetricKey, symmetricKeyObject(Buffer.from('0123456789abcdef0123456789abcdef89abcdef01234567', 'hex'), CryptographicAlgorithm.DES3), [
      attr.cryptographicUsageMask(M.Encrypt),
    ]);
    expect(degenerate.message).toMatch(/K1 = K2.*cryptoPolicy\.des/);
    await registerKey(c, v, Buffer.from('0123456789abcdef23456789abcdef01456789abcdef0123', 'hex'), CryptographicAlgorithm.DES3, M.Encrypt | M.Decrypt);
  });

  it('a 1-byte HMAC key: cryptoPolicy.hmacMinBits; an AES key of a size AES does not have: Invalid Field', async () => {
    const h = await refused(ObjectType.SymmetricKey, symmetricKeyObject(Buffer.from([0x42]), CryptographicAlgorithm.HMAC_SHA256), [attr.cryptographicUsageMask(M.MACGenerate)]);
    expect(h.reason).toBe(policyReason);
    expect(h.message).toMatch(/at least 112 bits.*cryptoPolicy\.hmacMinBits/);
    const aes = await refused(ObjectType.SymmetricKey, symmetricKeyObject(Buffer.alloc(10, 7), CryptographicAlgorithm.AES), [attr.cryptographicUsageMask(M.Encrypt)]);
    expect(aes.reason).toBe(ResultReason.InvalidField);
    await registerKey(c, v, Buffer.alloc(14, 9), CryptographicAlgorithm.HMAC_SHA256, M.MACGenerate);
  });

  it('Derive Key: PBKDF2 with 1 iteration (cryptoPolicy.pbkdf2MinIterations) or a 4-byte salt (cryptoPolicy.pbkdf2MinSaltBytes); 1000 iterations and 16 bytes pass', async () => {
    const pw = new Uint8Array(Buffer.from('correct horse battery staple'));
    const secret = t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(pw, KeyFormatType.Opaque)]);
    const base = await registerKey(c, v, pw, 0, M.DeriveKey, { objectType: ObjectType.SecretData, object: secret });
    const derive = (iterations: number, salt: number): TtlvNode[] => [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      uidNode(base),
      t.enum(Tag.DerivationMethod, DerivationMethod.PBKDF2),
      t.struct(Tag.DerivationParameters, [t.bytes(Tag.Salt, Buffer.alloc(salt, 5)), t.int(Tag.IterationCount, iterations)]),
      attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(M.Encrypt)]),
    ];
    const badParams = v.major >= 2 ? ResultReason.BadCryptographicParameters : ResultReason.InvalidField;
    const one = await fails(c, v, Operation.DeriveKey, derive(1, 16));
    expect(one.reason).toBe(badParams);
    expect(one.message).toMatch(/at least 1000 iterations.*cryptoPolicy\.pbkdf2MinIterations/);
    const salt = await fails(c, v, Operation.DeriveKey, derive(1000, 4));
    expect(salt.message).toMatch(/salt of at least 16 bytes.*cryptoPolicy\.pbkdf2MinSaltBytes/);
    expect(uidOf(await ok(c, v, Operation.DeriveKey, derive(1000, 16)))).not.toBe('');
  });
});

describe('Import (2.1) applies the same policy', () => {
  let srv: TestKms;
  afterAll(async () => srv?.dispose());
  it('refuses an RSA-1024 private key naming cryptoPolicy.rsaMinBits', async () => {
    srv = await startTestKms();
    const c = await srv.client();
    const r = await fails(c, V2_1, Operation.Import, [
      t.text(Tag.UniqueIdentifier, 'imported-rsa-1024'),
      t.enum(Tag.ObjectType, ObjectType.PrivateKey),
      attrs(V2_1, [attr.cryptographicUsageMask(M.Sign)]),
      privateKey(der(RSA_1024.privateKey, 'pkcs8'), KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 1024),
    ]);
    expect(r.reason).toBe(ResultReason.InvalidAttributeValue);
    expect(r.message).toMatch(/cryptoPolicy\.rsaMinBits/);
  });
});

describe('a tightened policy stops stored keys from protecting, keeps legacy use', () => {
  let srv: TestKms;
  afterAll(async () => srv?.dispose());

  it('Sign, Encrypt, wrapping and MAC are refused naming the setting; Signature Verify and MAC Verify still work', async () => {
    srv = await startTestKms({ cryptoPolicy: { hmacMinBits: 112 } });
    let c = await srv.client();
    const v = V2_1;
    const priv = uidOf(
      await ok(
        c,
        v,
        Operation.Register,
        register(v, ObjectType.PrivateKey, privateKey(der(RSA_2048.privateKey, 'pkcs8'), KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 2048), [attr.cryptographicUsageMask(M.Sign)]),
      ),
    );
    const pub = uidOf(
      await ok(
        c,
        v,
        Operation.Register,
        register(v, ObjectType.PublicKey, publicKey(der(RSA_2048.publicKey, 'spki'), KeyFormatType.X_509, CryptographicAlgorithm.RSA, 2048), [
          attr.cryptographicUsageMask(M.Verify | M.Encrypt | M.WrapKey),
        ]),
      ),
    );
    for (const u of [priv, pub]) await ok(c, v, Operation.Activate, [uidNode(u)]);
    const hmac = await registerKey(c, v, Buffer.alloc(16, 3), CryptographicAlgorithm.HMAC_SHA256, M.MACGenerate | M.MACVerify);
    const target = await registerKey(c, v, Buffer.alloc(32, 4), CryptographicAlgorithm.AES, M.Encrypt);
    const data = Buffer.from('signed before the policy changed');
    const signer = createSign('sha256');
    signer.update(data);
    const sig = signer.sign(RSA_2048.privateKey);
    const mac = await ok(c, v, Operation.MAC, [uidNode(hmac), t.bytes(Tag.Data, data)]);
    const macData = mac.value.find((n) => n.tag === Tag.MACData);
    expect(macData?.type).toBe('ByteString');

    // The same folder under a stricter policy.
    await srv.stop();
    srv = await startTestKms({ cryptoPolicy: { rsaMinBits: 3072, hmacMinBits: 256 } }, { dataDir: srv.dataDir });
    c = await srv.client();
    const unsupported = ResultReason.UnsupportedCryptographicParameters;

    const sign = await fails(c, v, Operation.Sign, [uidNode(priv), t.bytes(Tag.Data, data)]);
    expect([sign.reason, sign.message]).toEqual([unsupported, expect.stringMatching(/at least 3072 bits.*cryptoPolicy\.rsaMinBits/)]);
    const verified = await ok(c, v, Operation.SignatureVerify, [uidNode(pub), t.bytes(Tag.Data, data), t.bytes(Tag.SignatureData, sig)]);
    expect(verified.value.find((n) => n.tag === Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Valid);

    const enc = await fails(c, v, Operation.Encrypt, cipherPayload({ uid: pub, data: Buffer.alloc(16) }));
    expect([enc.reason, enc.message]).toEqual([unsupported, expect.stringMatching(/cryptoPolicy\.rsaMinBits/)]);

    const wrapSpec = t.struct(Tag.KeyWrappingSpecification, [t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt), t.struct(Tag.EncryptionKeyInformation, [uidNode(pub)])]);
    const wrap = await fails(c, v, Operation.Get, [uidNode(target), wrapSpec]);
    expect([wrap.reason, wrap.message]).toEqual([unsupported, expect.stringMatching(/cryptoPolicy\.rsaMinBits/)]);

    const macNow = await fails(c, v, Operation.MAC, [uidNode(hmac), t.bytes(Tag.Data, data)]);
    expect([macNow.reason, macNow.message]).toEqual([unsupported, expect.stringMatching(/at least 256 bits.*cryptoPolicy\.hmacMinBits/)]);
    const macOk = await ok(c, v, Operation.MACVerify, [uidNode(hmac), t.bytes(Tag.Data, data), macData!]);
    expect(macOk.value.find((n) => n.tag === Tag.ValidityIndicator)?.value).toBe(ValidityIndicator.Valid);

    const rekey = await fails(c, v, Operation.ReKey, [uidNode(hmac)]);
    expect(rekey.message).toMatch(/cryptoPolicy\.hmacMinBits/);
  });
});

describe('legacyKeys: an operator opts in to keys the policy would refuse', () => {
  let srv: TestKms;
  afterAll(async () => srv?.dispose());
  it('RSA-1024 and secp256k1 keys are stored and sign; single DES and malformed material stay refused', async () => {
    srv = await startTestKms({ cryptoPolicy: { legacyKeys: true } });
    const c = await srv.client();
    const v = V2_1;
    const priv = uidOf(
      await ok(
        c,
        v,
        Operation.Register,
        register(v, ObjectType.PrivateKey, privateKey(der(RSA_1024.privateKey, 'pkcs8'), KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 1024), [attr.cryptographicUsageMask(M.Sign)]),
      ),
    );
    await ok(c, v, Operation.Activate, [uidNode(priv)]);
    const signed = await ok(c, v, Operation.Sign, [uidNode(priv), t.bytes(Tag.Data, Buffer.from('legacy'))]);
    expect((signed.value.find((n) => n.tag === Tag.SignatureData)?.value as Uint8Array).length).toBe(128);
    await ok(
      c,
      v,
      Operation.Register,
      register(v, ObjectType.PrivateKey, privateKey(der(K1.privateKey, 'sec1'), KeyFormatType.ECPrivateKey, CryptographicAlgorithm.EC, 256), [attr.cryptographicUsageMask(M.Sign)]),
    );
    const des = await fails(
      c,
      v,
      Operation.Register,
      register(v, ObjectType.SymmetricKey, symmetricKeyObject(Buffer.from('0123456789abcdef', 'hex'), CryptographicAlgorithm.DES), [attr.cryptographicUsageMask(M.Encrypt)]),
    );
    expect(des.message).toMatch(/cryptoPolicy\.des/);
    const garbage = await fails(
      c,
      v,
      Operation.Register,
      register(v, ObjectType.PrivateKey, privateKey(Buffer.alloc(600, 1), KeyFormatType.PKCS_1, CryptographicAlgorithm.RSA, 2048), [attr.cryptographicUsageMask(M.Sign)]),
    );
    expect(garbage.reason).toBe(ResultReason.InvalidField);
  });
});

describe('the new cryptoPolicy settings as configuration', () => {
  it('are read from the file and the KMS_CRYPTO_* environment, and checked', () => {
    const cfg = loadConfig({
      env: {
        KMS_CRYPTO_RSA_MIN_PUBLIC_EXPONENT: '65537',
        KMS_CRYPTO_HMAC_MIN_BITS: '256',
        KMS_CRYPTO_PBKDF2_MIN_ITERATIONS: '600000',
        KMS_CRYPTO_PBKDF2_MIN_SALT_BYTES: '32',
        KMS_CRYPTO_LEGACY_KEYS: 'false',
      },
    });
    expect(cfg.cryptoPolicy).toEqual({ rsaMinPublicExponent: 65537, hmacMinBits: 256, pbkdf2MinIterations: 600000, pbkdf2MinSaltBytes: 32, legacyKeys: false });
    expect(() => loadConfig({ env: { KMS_CRYPTO_RSA_MIN_PUBLIC_EXPONENT: '65536' } })).toThrow(/rsaMinPublicExponent must be odd/);
    expect(() => loadConfig({ env: { KMS_CRYPTO_HMAC_MIN_BITS: '0' } })).toThrow(/hmacMinBits must be a whole number from 8/);
    expect(() => loadConfig({ env: { KMS_CRYPTO_LEGACY_KEYS: 'yes' } })).toThrow(/legacyKeys must be true or false/);
  });
});
