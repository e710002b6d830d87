/**
 * Sign / Signature Verify over Digested Data with RSA-PSS (EMSA-PSS encoded by the server, raw RSA
 * by OpenSSL): with salt length 0 PSS is deterministic and must equal node's own PSS signature
 * of the message byte for byte; with the default salt, node verifies the server's signature over
 * the message and the server verifies node's over the digest; ECDSA over a digest is refused.
 */
import { constants, createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, HashingAlgorithm, KeyFormatType, Operation, PaddingMethod, ResultReason, ValidityIndicator } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';
import { emsaPssEncode, emsaPssVerify } from '../../src/crypto/pss.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { fails, ok, uidNode, V2_1 } from './object-kit.js';
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
const pss = (salt?: number) => t.struct(Tag.CryptographicParameters, [t.enum(Tag.PaddingMethod, PaddingMethod.PSS), t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256), ...(salt !== undefined ? [t.int(Tag.SaltLength, salt)] : [])]);

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

describe('PSS over Digested Data through Sign and Signature Verify', () => {
  it('salt length 0: byte-identical to node signing the message; default salt: each side verifies the other', async () => {
    const { priv, pub } = pairUids(await ok(c, V2_1, Operation.CreateKeyPair, keyPairPayload(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)], [attr.cryptographicUsageMask(M.Sign)], [attr.cryptographicUsageMask(M.Verify)])));
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
    const verify = async (sig: Uint8Array) => findChild(await ok(c, V2_1, Operation.SignatureVerify, [uidNode(pub), pss(), t.bytes(Tag.DigestedData, DIGEST), t.bytes(Tag.SignatureData, sig)]), Tag.ValidityIndicator)?.value;
    expect(await verify(theirs)).toBe(ValidityIndicator.Valid);
    const bad = Buffer.from(theirs);
    bad[5]! ^= 1;
    expect(await verify(bad)).toBe(ValidityIndicator.Invalid);
    expect(await verify(bad.subarray(1))).toBe(ValidityIndicator.Invalid);
  });

  it('ECDSA over Digested Data is refused as unsupported', async () => {
    const { priv } = pairUids(await ok(c, V2_1, Operation.CreateKeyPair, keyPairPayload(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)], [attr.cryptographicUsageMask(M.Sign)], [attr.cryptographicUsageMask(M.Verify)])));
    await ok(c, V2_1, Operation.Activate, [uidNode(priv)]);
    const r = await fails(c, V2_1, Operation.Sign, [uidNode(priv), t.bytes(Tag.DigestedData, DIGEST)]);
    expect(r.reason).toBe(ResultReason.UnsupportedCryptographicParameters);
  });
});
