/**
 * Sign / Signature Verify over Digested Data with RSA-PSS (EMSA-PSS encoded by the server, raw RSA
 * by OpenSSL): with salt length 0 PSS is deterministic and must equal node's own PSS signature
 * of the message byte for byte; with the default salt, node verifies the server's signature over
 * the message and the server verifies node's over the digest; ECDSA over a digest likewise on
 * P-256/384/521 (the server's own implementation, src/crypto/ecdsa-prehash.ts).
 */
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, HashingAlgorithm, KeyFormatType, Operation, PaddingMethod, ValidityIndicator } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';
import { emsaPssEncode, emsaPssVerify } from '../../src/crypto/pss.js';
import { decodeSig, ecdsaSignDigest, ecdsaVerifyDigest, encodeSig } from '../../src/crypto/ecdsa-prehash.js';

const privateOrder = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n; // P-256 n
import { startTestKms, type TestKms } from '../support/kms.js';
import { ok, uidNode, V2_1 } from './object-kit.js';
import { getKeyBlock, keyPairPayload, materialBytes, pairUids } from './asymmetric-kit.js';
import { bytesOf } from './crypto-kit.js';

let srv: TestKms;
let c: KmipClient;
beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(() => srv?.dispose());

const MSG = Buffer.from('a message hashed by the client');
const DIGEST = createHash('sha256').update(MSG).digest();
const pss = (salt?: number) =>
  t.struct(Tag.CryptographicParameters, [
    t.enum(Tag.PaddingMethod, PaddingMethod.PSS),
    t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256),
    ...(salt !== undefined ? [t.int(Tag.SaltLength, salt)] : []),
  ]);

describe('EMSA-PSS', () => {
  it('encode then verify round-trips; any flipped bit fails; the top bits beyond emBits are clear', () => {
    for (const modBits of [1024, 2047, 2049]) {
      const em = emsaPssEncode('sha256', DIGEST, modBits, 32);
      expect(em.length).toBe(Math.ceil((modBits - 1) / 8));
      const spare = 8 * em.length - (modBits - 1); // leftmost bits of EM that must be zero
      expect(em[0]! & ~(0xff >> spare) & 0xff).toBe(0);
      expect(emsaPssVerify('sha256', DIGEST, em, modBits, 32)).toBe(true);
      expect(emsaPssVerify('sha256', DIGEST, em, modBits, undefined)).toBe(true);
      expect(emsaPssVerify('sha256', DIGEST, em, modBits, 20)).toBe(false);
      for (const i of [0, 10, em.length - 2]) {
        const bad = Buffer.from(em);
        bad[i]! ^= 0x01;
        expect(emsaPssVerify('sha256', DIGEST, bad, modBits, 32)).toBe(false);
      }
    }
  });
});

describe('ECDSA over a digest (unit)', () => {
  it('a digest longer than the order is truncated to its leftmost bits (P-256 with SHA-512); DER is strict', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const d512 = createHash('sha512').update(MSG).digest();
    const sig = ecdsaSignDigest(privateKey, d512);
    expect(nodeVerify('sha512', MSG, publicKey, sig)).toBe(true);
    expect(ecdsaVerifyDigest(publicKey, d512, nodeSign('sha512', MSG, privateKey))).toBe(true);
    const { r, s } = decodeSig(sig)!;
    expect(encodeSig(r, s)).toEqual(sig);
    expect(ecdsaVerifyDigest(publicKey, d512, encodeSig(r, privateOrder - s))).toBe(true); // (r, n-s) is valid too: ECDSA is malleable
    expect(ecdsaVerifyDigest(publicKey, d512, encodeSig(r, (s + 1n) % privateOrder))).toBe(false);
    expect(ecdsaVerifyDigest(publicKey, d512, encodeSig(r, privateOrder))).toBe(false); // s out of range
    expect(decodeSig(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]))).toBeUndefined();
    expect(decodeSig(Buffer.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]))).toBeUndefined(); // non-minimal
  });
});

describe('PSS and ECDSA over Digested Data through Sign and Signature Verify', () => {
  it('salt length 0: byte-identical to node signing the message; default salt: each side verifies the other', async () => {
    const { priv, pub } = pairUids(
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
    await ok(c, V2_1, Operation.Activate, [uidNode(priv)]);
    await ok(c, V2_1, Operation.Activate, [uidNode(pub)]);
    const pkcs8 = materialBytes(await getKeyBlock(c, V2_1, priv, Tag.PrivateKey, KeyFormatType.PKCS_8));
    const privKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const pubKey = createPublicKey(privKey);

    const zero = bytesOf(await ok(c, V2_1, Operation.Sign, [uidNode(priv), pss(0), t.bytes(Tag.DigestedData, DIGEST)]), Tag.SignatureData)!;
    const nodeZero = nodeSign('sha256', MSG, { key: privKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 0 });
    expect(Buffer.from(zero)).toEqual(nodeZero);

    const ours = bytesOf(await ok(c, V2_1, Operation.Sign, [uidNode(priv), pss(), t.bytes(Tag.DigestedData, DIGEST)]), Tag.SignatureData)!;
    expect(nodeVerify('sha256', MSG, { key: pubKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, ours)).toBe(true);
    const theirs = nodeSign('sha256', MSG, { key: privKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    const verify = async (sig: Uint8Array) =>
      findChild(await ok(c, V2_1, Operation.SignatureVerify, [uidNode(pub), pss(), t.bytes(Tag.DigestedData, DIGEST), t.bytes(Tag.SignatureData, sig)]), Tag.ValidityIndicator)?.value;
    expect(await verify(theirs)).toBe(ValidityIndicator.Valid);
    const bad = Buffer.from(theirs);
    bad[5]! ^= 1;
    expect(await verify(bad)).toBe(ValidityIndicator.Invalid);
    expect(await verify(bad.subarray(1))).toBe(ValidityIndicator.Invalid);
  });

  it.each([
    [256, HashingAlgorithm.SHA_256, 'sha256'],
    [384, HashingAlgorithm.SHA_384, 'sha384'],
    [521, HashingAlgorithm.SHA_512, 'sha512'],
  ] as const)("ECDSA P-%i over Digested Data: node verifies the server signature over the message, the server verifies node's", async (bits, hashing, hash) => {
    const { priv, pub } = pairUids(
      await ok(
        c,
        V2_1,
        Operation.CreateKeyPair,
        keyPairPayload(
          V2_1,
          [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(bits)],
          [attr.cryptographicUsageMask(M.Sign)],
          [attr.cryptographicUsageMask(M.Verify)],
        ),
      ),
    );
    await ok(c, V2_1, Operation.Activate, [uidNode(priv)]);
    await ok(c, V2_1, Operation.Activate, [uidNode(pub)]);
    const params = t.struct(Tag.CryptographicParameters, [t.enum(Tag.HashingAlgorithm, hashing)]);
    const digest = createHash(hash).update(MSG).digest();
    const pubKey = createPublicKey({ key: materialBytes(await getKeyBlock(c, V2_1, pub, Tag.PublicKey, KeyFormatType.X_509)), format: 'der', type: 'spki' });
    const privKey = createPrivateKey({ key: materialBytes(await getKeyBlock(c, V2_1, priv, Tag.PrivateKey, KeyFormatType.PKCS_8)), format: 'der', type: 'pkcs8' });
    for (let i = 0; i < 3; i++) {
      const ours = bytesOf(await ok(c, V2_1, Operation.Sign, [uidNode(priv), params, t.bytes(Tag.DigestedData, digest)]), Tag.SignatureData)!;
      expect(nodeVerify(hash, MSG, { key: pubKey, dsaEncoding: 'der' }, ours)).toBe(true);
      expect(nodeVerify(hash, Buffer.from('another message'), { key: pubKey, dsaEncoding: 'der' }, ours)).toBe(false);
    }
    const verify = async (sig: Uint8Array) =>
      findChild(await ok(c, V2_1, Operation.SignatureVerify, [uidNode(pub), params, t.bytes(Tag.DigestedData, digest), t.bytes(Tag.SignatureData, sig)]), Tag.ValidityIndicator)?.value;
    const theirs = nodeSign(hash, MSG, { key: privKey, dsaEncoding: 'der' });
    expect(await verify(theirs)).toBe(ValidityIndicator.Valid);
    const bad = Buffer.from(theirs);
    bad[bad.length - 3]! ^= 1;
    expect(await verify(bad)).toBe(ValidityIndicator.Invalid);
    expect(await verify(Buffer.concat([theirs, Buffer.from([0])]))).toBe(ValidityIndicator.Invalid); // trailing byte: not DER
  });
});
