/**
 * Encrypt / Decrypt (KMIP 1.4 §4.29-4.30, 2.1 §6.1.17 / §6.1.13) over a real mTLS server:
 * known-answer tests from published vectors, through Register + Activate + Encrypt/Decrypt:
 * - NIST SP 800-38A F.1.1 (ECB-AES128), F.2.1 (CBC-AES128), F.5.1 (CTR-AES128);
 * - GCM: McGrew & Viega, "The Galois/Counter Mode of Operation", test case 4 (AAD, 60-byte text);
 * - XTS: IEEE 1619-2007 Annex B vector 2;
 * - ChaCha20 (RFC 8439 §2.4.2) and ChaCha20-Poly1305 (RFC 8439 §2.8.2);
 * plus Random IV, the key's own Cryptographic Parameters, and PKCS#5 padding (CS-BC-M-11-21 values).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient, KmipVersion } from '../../src/client/index.js';
import { BlockCipherMode, CryptographicAlgorithm, Operation, PaddingMethod, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { fails, ok, V1_4, V2_1 } from './object-kit.js';
import { bytesOf, cipherPayload, cryptoParams, hex, registerKey, toHex, type Params } from './crypto-kit.js';

const ED = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

interface Vector {
  readonly name: string;
  readonly algorithm: number;
  readonly key: string;
  readonly params: Params;
  readonly iv?: string;
  readonly aad?: string;
  readonly plain: string;
  readonly cipher: string;
  readonly tag?: string;
}

const SP800_38A_KEY = '2b7e151628aed2a6abf7158809cf4f3c';
const SP800_38A_PLAIN = '6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51';
const LADIES =
  '4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73637265656e20776f756c642062652069742e';

const VECTORS: readonly Vector[] = [
  {
    name: 'SP 800-38A F.1.1 ECB-AES128',
    algorithm: CryptographicAlgorithm.AES,
    key: SP800_38A_KEY,
    params: { mode: BlockCipherMode.ECB },
    plain: SP800_38A_PLAIN,
    cipher: '3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf',
  },
  {
    name: 'SP 800-38A F.2.1 CBC-AES128',
    algorithm: CryptographicAlgorithm.AES,
    key: SP800_38A_KEY,
    params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.None },
    iv: '000102030405060708090a0b0c0d0e0f',
    plain: SP800_38A_PLAIN,
    cipher: '7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2',
  },
  {
    name: 'SP 800-38A F.5.1 CTR-AES128',
    algorithm: CryptographicAlgorithm.AES,
    key: SP800_38A_KEY,
    params: { mode: BlockCipherMode.CTR },
    iv: 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff',
    plain: SP800_38A_PLAIN,
    cipher: '874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff',
  },
  {
    name: 'GCM (McGrew-Viega test case 4, with AAD)',
    algorithm: CryptographicAlgorithm.AES,
    key: 'feffe9928665731c6d6a8f9467308308',
    params: { mode: BlockCipherMode.GCM, tagLength: 16 },
    iv: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    plain: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    cipher: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091',
    tag: '5bc94fbc3221a5db94fae95ae7121a47',
  },
  {
    name: 'XTS-AES-128 (IEEE 1619 vector 2)',
    algorithm: CryptographicAlgorithm.AES,
    key: '11111111111111111111111111111111 22222222222222222222222222222222',
    params: { mode: BlockCipherMode.XTS },
    iv: '33333333330000000000000000000000',
    plain: '4444444444444444444444444444444444444444444444444444444444444444',
    cipher: 'c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0',
  },
  {
    name: 'ChaCha20 (RFC 8439 §2.4.2, counter 1)',
    algorithm: CryptographicAlgorithm.ChaCha20,
    key: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    params: { initialCounterValue: 1 },
    iv: '000000000000004a00000000',
    plain: LADIES,
    cipher:
      '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d',
  },
  {
    name: 'ChaCha20-Poly1305 (RFC 8439 §2.8.2)',
    algorithm: CryptographicAlgorithm.ChaCha20Poly1305,
    key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
    params: { mode: BlockCipherMode.AEAD, tagLength: 16 },
    iv: '070000004041424344454647',
    aad: '50515253c0c1c2c3c4c5c6c7',
    plain: LADIES,
    cipher:
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116',
    tag: '1ae10b594f09e26a7e902ecbd0600691',
  },
];

describe.each([V2_1, V1_4] as KmipVersion[])('known answers at %o', (v) => {
  for (const vec of VECTORS) {
    it(vec.name, async () => {
      const uid = await registerKey(c, v, hex(vec.key), vec.algorithm, ED);
      const common = { uid, params: vec.params, ...(vec.iv && { iv: hex(vec.iv) }), ...(vec.aad && { aad: hex(vec.aad) }) };
      const enc = await ok(c, v, Operation.Encrypt, cipherPayload({ ...common, data: hex(vec.plain) }));
      expect(toHex(bytesOf(enc, Tag.Data))).toBe(toHex(hex(vec.cipher)));
      if (vec.tag) expect(toHex(bytesOf(enc, Tag.AuthenticatedEncryptionTag))).toBe(vec.tag);
      else expect(bytesOf(enc, Tag.AuthenticatedEncryptionTag)).toBeUndefined();
      expect(bytesOf(enc, Tag.IVCounterNonce)).toBeUndefined();
      const dec = await ok(c, v, Operation.Decrypt, cipherPayload({ ...common, data: hex(vec.cipher), ...(vec.tag && { tag: hex(vec.tag) }) }));
      expect(toHex(bytesOf(dec, Tag.Data))).toBe(toHex(hex(vec.plain)));
    });
  }
});

describe('parameters', () => {
  it('CBC with PKCS#5 padding gives the CS-BC-M-11-21 ciphertext and round-trips', async () => {
    const uid = await registerKey(c, V2_1, hex('0123456789abcdef0123456789abcdef'), CryptographicAlgorithm.AES, ED);
    const params = { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 };
    const iv = hex('FF020304050607080910111213141516');
    const plain = hex('010203040506070809101112131415160102030405060708091011121314151601');
    const enc = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params, data: plain, iv }));
    expect(toHex(bytesOf(enc, Tag.Data))).toBe('e768203ba72b6e157daaad34b1e791d8e88457dc147942f01bfaff7b28a3cdde2203d4d5a4c7928ba9e9cc78b66a6546');
    const dec = await ok(c, V2_1, Operation.Decrypt, cipherPayload({ uid, params, data: bytesOf(enc, Tag.Data)!, iv }));
    expect(toHex(bytesOf(dec, Tag.Data))).toBe(toHex(plain));
  });

  it("uses the key's Cryptographic Parameters; Random IV makes the server return the IV it chose", async () => {
    const uid = await registerKey(c, V2_1, hex('0123456789abcdef0123456789abcdef'), CryptographicAlgorithm.AES, ED, {
      extra: [cryptoParams({ mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5, randomIV: true })],
    });
    const plain = hex('0102030405');
    const a = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, data: plain }));
    const b = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, data: plain }));
    const ivA = bytesOf(a, Tag.IVCounterNonce);
    expect(ivA?.length).toBe(16);
    expect(toHex(ivA)).not.toBe(toHex(bytesOf(b, Tag.IVCounterNonce)));
    expect(bytesOf(a, Tag.Data)?.length).toBe(16);
    const dec = await ok(c, V2_1, Operation.Decrypt, cipherPayload({ uid, data: bytesOf(a, Tag.Data)!, iv: ivA! }));
    expect(toHex(bytesOf(dec, Tag.Data))).toBe(toHex(plain));
  });

  it('ChaCha20-Poly1305 checks a tag truncated to Tag Length 12 (CS-BC-M-CHACHA20POLY1305-1-21 step 6)', async () => {
    const vec = VECTORS.find((x) => x.algorithm === CryptographicAlgorithm.ChaCha20Poly1305)!;
    const uid = await registerKey(c, V2_1, hex(vec.key), vec.algorithm, ED);
    const params = { mode: BlockCipherMode.AEAD, tagLength: 12 };
    const tag = hex(vec.tag!).subarray(0, 12);
    const dec = await ok(c, V2_1, Operation.Decrypt, cipherPayload({ uid, params, data: hex(vec.cipher), iv: hex(vec.iv!), aad: hex(vec.aad!), tag }));
    expect(toHex(bytesOf(dec, Tag.Data))).toBe(vec.plain);
    tag[11] = tag[11]! ^ 1;
    const r = await fails(c, V2_1, Operation.Decrypt, cipherPayload({ uid, params, data: hex(vec.cipher), iv: hex(vec.iv!), aad: hex(vec.aad!), tag }));
    expect(r.reason).toBe(ResultReason.CryptographicFailure);
  });

  it('GCM with a server-chosen 12-byte IV round-trips', async () => {
    const uid = await registerKey(c, V2_1, hex('feffe9928665731c6d6a8f9467308308'), CryptographicAlgorithm.AES, ED);
    const params = { mode: BlockCipherMode.GCM, tagLength: 16, randomIV: true };
    const enc = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params, data: hex('00112233') }));
    const iv = bytesOf(enc, Tag.IVCounterNonce)!;
    expect(iv.length).toBe(12);
    const dec = await ok(c, V2_1, Operation.Decrypt, cipherPayload({ uid, params, data: bytesOf(enc, Tag.Data)!, iv, tag: bytesOf(enc, Tag.AuthenticatedEncryptionTag)! }));
    expect(toHex(bytesOf(dec, Tag.Data))).toBe('00112233');
  });
});
