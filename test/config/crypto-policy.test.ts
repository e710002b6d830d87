/**
 * The crypto policy as configuration: the `cryptoPolicy` section (file and KMS_CRYPTO_*
 * environment) is checked at load; a server started with a tightened or loosened policy refuses
 * or serves accordingly, and each refusal names the setting that refused it.
 */
import { createCipheriv, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, type KmipClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/config.js';
import { BlockCipherMode, CryptographicAlgorithm, HashingAlgorithm, KeyFormatType, Operation, PaddingMethod, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { fails, ok, uidNode, V2_1 } from '../operations/object-kit.js';
import { bytesOf, cipherPayload, registerKey } from '../operations/crypto-kit.js';
import { getKeyBlock, keyPairPayload, materialBytes, pairUids } from '../operations/asymmetric-kit.js';

const dir = mkdtempSync(join(tmpdir(), 'kms-policy-'));
function file(obj: unknown): string {
  const p = join(dir, `c-${Math.random()}.json`);
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

describe('cryptoPolicy configuration', () => {
  it('reads the section from the file, then KMS_CRYPTO_* from the environment', () => {
    const f = file({ cryptoPolicy: { rsaMinBits: 3072, aesModes: ['GCM'], tripleDes: false } });
    expect(loadConfig({ env: {}, flags: { config: f } }).cryptoPolicy).toEqual({ rsaMinBits: 3072, aesModes: ['GCM'], tripleDes: false });
    expect(loadConfig({ env: { KMS_CRYPTO_TRIPLE_DES: 'true', KMS_CRYPTO_RSA_MIN_BITS: '4096' }, flags: { config: f } }).cryptoPolicy).toEqual({
      rsaMinBits: 4096,
      aesModes: ['GCM'],
      tripleDes: true,
    });
  });

  it('refuses unsafe or unknown settings, naming them', () => {
    expect(() => loadConfig({ env: {}, flags: { config: file({ cryptoPolicy: { rsaMinBits: 1024 } }) } })).toThrow(/rsaMinBits must be one of 2048, 3072, 4096/);
    expect(() => loadConfig({ env: {}, flags: { config: file({ cryptoPolicy: { aesModes: ['OFB'] } }) } })).toThrow(/aesModes: OFB/);
    expect(() => loadConfig({ env: {}, flags: { config: file({ cryptoPolicy: { ecCurves: [192] } }) } })).toThrow(/ecCurves: 192/);
    expect(() => loadConfig({ env: {}, flags: { config: file({ cryptoPolicy: { des: true } }) } })).toThrow(/cryptoPolicy.des/);
    expect(() => loadConfig({ env: { KMS_CRYPTO_SHA1_SIGNATURES: 'yes' } })).toThrow(/KMS_CRYPTO_SHA1_SIGNATURES.*true or false/);
  });
});

describe('a server with a tightened policy', () => {
  let srv: TestKms;
  let c: KmipClient;
  afterAll(() => srv?.dispose());

  it('refuses RSA below rsaMinBits, EC curves not listed, AES modes not listed, and 3DES, each naming the setting', async () => {
    srv = await startTestKms({ cryptoPolicy: { rsaMinBits: 3072, ecCurves: [384], aesModes: ['GCM', 'CBC'] } });
    c = await srv.client();
    const rsa2048 = await fails(
      c,
      V2_1,
      Operation.CreateKeyPair,
      keyPairPayload(
        V2_1,
        [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)],
        [attr.cryptographicUsageMask(M.Sign)],
        [attr.cryptographicUsageMask(M.Verify)],
      ),
    );
    expect(rsa2048.message).toMatch(/cryptoPolicy.*at least 3072/);
    const p256 = await fails(
      c,
      V2_1,
      Operation.CreateKeyPair,
      keyPairPayload(
        V2_1,
        [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)],
        [attr.cryptographicUsageMask(M.Sign)],
        [attr.cryptographicUsageMask(M.Verify)],
      ),
    );
    expect(p256.message).toMatch(/cryptoPolicy/);
    const p384 = await ok(
      c,
      V2_1,
      Operation.CreateKeyPair,
      keyPairPayload(
        V2_1,
        [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(384)],
        [attr.cryptographicUsageMask(M.Sign)],
        [attr.cryptographicUsageMask(M.Verify)],
      ),
    );
    expect(pairUids(p384).priv).not.toBe('');

    const key = Buffer.alloc(16, 1);
    const uid = await registerKey(c, V2_1, key, CryptographicAlgorithm.AES, M.Encrypt | M.Decrypt);
    const ecb = await fails(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.ECB }, data: Buffer.alloc(16) }));
    expect(ecb.reason).toBe(ResultReason.UnsupportedCryptographicParameters);
    expect(ecb.message).toMatch(/cryptoPolicy.aesModes/);
    const gcm = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.GCM }, data: Buffer.alloc(16), iv: Buffer.alloc(12) }));
    expect(bytesOf(gcm, Tag.Data)).toHaveLength(16);

    const des3 = await registerKey(c, V2_1, Buffer.from('0123456789abcdef23456789abcdef01456789abcdef0123', 'hex'), CryptographicAlgorithm.DES3, M.Encrypt | M.Decrypt);
    const refused = await fails(
      c,
      V2_1,
      Operation.Encrypt,
      cipherPayload({ uid: des3, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 }, data: Buffer.alloc(8), iv: Buffer.alloc(8) }),
    );
    expect(refused.reason).toBe(ResultReason.UnsupportedCryptographicParameters);
    expect(refused.message).toMatch(/cryptoPolicy.tripleDes/);
  });
});

describe('a server with 3DES and SHA-1 signatures enabled', () => {
  let srv: TestKms;
  afterAll(() => srv?.dispose());

  it('serves three-key 3DES (checked with node:crypto) and SHA-1 RSA signatures (checked against the public key)', async () => {
    srv = await startTestKms({ cryptoPolicy: { tripleDes: true, sha1Signatures: true } });
    const c = await srv.client();
    const key = Buffer.from('0123456789abcdef01234567fedcba9876543210', 'utf8').subarray(0, 24);
    const iv = Buffer.alloc(8, 4);
    const data = Buffer.from('triple DES, knowingly');
    const uid = await registerKey(c, V2_1, key, CryptographicAlgorithm.DES3, M.Encrypt | M.Decrypt);
    const enc = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 }, data, iv }));
    const c3 = createCipheriv('des-ede3-cbc', key, iv);
    expect(Buffer.from(bytesOf(enc, Tag.Data)!)).toEqual(Buffer.concat([c3.update(data), c3.final()]));

    const pair = pairUids(
      await ok(
        c,
        V2_1,
        Operation.CreateKeyPair,
        keyPairPayload(
          V2_1,
          [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)],
          [attr.cryptographicUsageMask(M.Sign)],
          [attr.cryptographicUsageMask(M.Verify)],
        ),
      ),
    );
    await ok(c, V2_1, Operation.Activate, [uidNode(pair.priv)]);
    const msg = Buffer.from('signed with SHA-1 because the operator allowed it');
    const sig = await ok(c, V2_1, Operation.Sign, [
      uidNode(pair.priv),
      t.struct(Tag.CryptographicParameters, [t.enum(Tag.PaddingMethod, PaddingMethod.PKCS1V1_5), t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_1)]),
      t.bytes(Tag.Data, msg),
    ]);
    const spki = materialBytes(await getKeyBlock(c, V2_1, pair.pub, Tag.PublicKey, KeyFormatType.X_509));
    const pub = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(nodeVerify('sha1', msg, pub, Buffer.from(bytesOf(sig, Tag.SignatureData)!))).toBe(true);
  });
});
