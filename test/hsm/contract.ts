/**
 * The KeyBackend contract, one suite for every backend (software, PKCS#11/SoftHSM2),
 * configured by the backend's capabilities(): a mechanism it does not offer must be refused
 * with NOT_SUPPORTED, one it offers must meet the published vectors.
 *
 * Vectors, copied from the publications (never from our code):
 *   NIST SP 800-38A Appendix F: F.1.1 ECB-AES128.Encrypt, F.2.1 CBC-AES128.Encrypt,
 *   F.5.1 CTR-AES128.Encrypt; RFC 4231 §4.3 (test case 2) and §4.7 (test case 6),
 *   HMAC-SHA-256; RFC 3394 §4.1; RFC 5649 §6.
 */
import { constants as CC, createHash, createPublicKey, publicEncrypt, verify as nodeVerify } from 'node:crypto';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { oaepEncrypt } from '../../src/crypto/oaep.js';
import { HsmError, type CipherMechanism, type KeyBackend, type KeyRef, type KeyTemplate, type WrapMechanism, type WrapParams } from '../../src/hsm/key-backend.js';

export interface ContractHarness {
  open(): Promise<KeyBackend>;
  /** A new backend instance over the same persistent store/token (restart), when there is one. */
  reopen?(): Promise<KeyBackend>;
}

const H = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// NIST SP 800-38A, Appendix F (AES-128 key and the four plaintext blocks shared by F.1-F.5).
const SP800_38A = {
  key: H('2b7e151628aed2a6abf7158809cf4f3c'),
  plaintext: H(`6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
                30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710`),
  // F.1.1 ECB-AES128.Encrypt
  ecb: H(`3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf
          43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4`),
  // F.2.1 CBC-AES128.Encrypt
  cbcIv: H('000102030405060708090a0b0c0d0e0f'),
  cbc: H(`7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
          73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7`),
  // F.5.1 CTR-AES128.Encrypt
  ctrCounter: H('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'),
  ctr: H(`874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff
          5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee`),
};

// RFC 4231 §4.3 test case 2 and §4.7 test case 6, HMAC-SHA-256.
const RFC4231_TC2 = {
  key: Buffer.from('Jefe'),
  data: Buffer.from('what do ya want for nothing?'),
  mac: H('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'),
};
const RFC4231_TC6 = {
  key: Buffer.alloc(131, 0xaa),
  data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'),
  mac: H('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'),
};

// RFC 3394 §4.1: wrap 128 bits of key data with a 128-bit KEK.
const RFC3394_41 = {
  kek: H('000102030405060708090A0B0C0D0E0F'),
  key: H('00112233445566778899AABBCCDDEEFF'),
  wrapped: H('1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5'),
};

// RFC 5649 §6: a 192-bit KEK, a 20-octet and a 7-octet key.
const RFC5649 = {
  kek: H('5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8'),
  key20: H('c37b7e6492584340bed12207808941155068f738'),
  wrapped20: H('138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a'),
  key7: H('466f7250617369'),
  wrapped7: H('afbeb0f07dfbf5419200f2ccb50bb24f'),
};

const ALL_CIPHERS: CipherMechanism[] = ['AES_GCM', 'AES_CBC', 'AES_CBC_PAD', 'AES_CTR', 'AES_ECB'];
const ALL_WRAPS: WrapMechanism[] = ['AES_KEY_WRAP', 'AES_KEY_WRAP_PAD', 'AES_GCM'];

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HsmError);
    return (e as HsmError).code;
  }
  throw new Error('expected an HsmError, the call succeeded');
}

const session = (t: Omit<KeyTemplate, 'token' | 'sensitive' | 'extractable'> & Partial<KeyTemplate>): KeyTemplate => ({ token: false, sensitive: false, extractable: true, ...t });

function wrapParams(m: WrapMechanism): WrapParams {
  return m === 'AES_GCM' ? { mechanism: m, iv: Buffer.alloc(12, 7), aad: Buffer.from('wrap-aad') } : { mechanism: m };
}

export function keyBackendContract(name: string, harness: ContractHarness): void {
  describe(`KeyBackend contract: ${name}`, () => {
    let b: KeyBackend;
    beforeAll(async () => {
      b = await harness.open();
    });
    afterAll(async () => {
      await b?.close();
    });
    const caps = () => b.capabilities();
    const importAes = (value: Buffer, usage: KeyTemplate['usage'] = ['encrypt', 'decrypt']) => b.importKey(session({ type: 'AES', bits: value.length * 8, usage }), value);

    it('describes itself and its capabilities', () => {
      const c = caps();
      expect(b.description.length).toBeGreaterThan(10);
      expect(c.aesKeyBits).toEqual(expect.arrayContaining([128, 256]));
      expect(c.ciphers).toContain('AES_GCM');
      expect(c.maxSessions).toBeGreaterThanOrEqual(1);
      if (c.kind === 'software') expect(b.description).toMatch(/NOT AN HSM/);
    });

    it('generates AES keys of every offered size, session and token, and uses them (GCM round trip)', async () => {
      for (const bits of caps().aesKeyBits) {
        for (const token of [false, true]) {
          const k = await b.generateKey({ type: 'AES', bits, token, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'], label: `gen-${bits}-${token}` });
          expect(k).toMatchObject({ type: 'AES', bits, token, sensitive: true, extractable: false });
          const iv = await b.random(12);
          const ct = await b.encrypt({ mechanism: 'AES_GCM', iv }, k, Buffer.from('hello'));
          expect(ct.length).toBe(5 + 16);
          expect(Buffer.from(await b.decrypt({ mechanism: 'AES_GCM', iv }, k, ct)).toString()).toBe('hello');
          await b.destroyKey(k);
        }
      }
    });

    it('refuses AES sizes that do not exist', async () => {
      expect(await code(b.generateKey(session({ type: 'AES', bits: 64, usage: ['encrypt'] })))).toBe('NOT_SUPPORTED');
    });

    it('AES-GCM with AAD: tampered AAD, ciphertext or tag fails with CKR_ENCRYPTED_DATA_INVALID', async () => {
      const k = await b.generateKey(session({ type: 'AES', bits: 256, usage: ['encrypt', 'decrypt'] }));
      const iv = Buffer.from(await b.random(12));
      const aad = Buffer.from('uid-1234');
      const pt = Buffer.from('the quick brown fox jumps over the lazy dog');
      const ct = Buffer.from(await b.encrypt({ mechanism: 'AES_GCM', iv, aad }, k, pt));
      expect(Buffer.from(await b.decrypt({ mechanism: 'AES_GCM', iv, aad }, k, ct))).toEqual(pt);
      expect(await code(b.decrypt({ mechanism: 'AES_GCM', iv, aad: Buffer.from('uid-1235') }, k, ct))).toBe('CKR_ENCRYPTED_DATA_INVALID');
      for (const i of [0, pt.length - 1, pt.length, ct.length - 1]) {
        const bad = Buffer.from(ct);
        bad[i]! ^= 0x01;
        expect(await code(b.decrypt({ mechanism: 'AES_GCM', iv, aad }, k, bad))).toBe('CKR_ENCRYPTED_DATA_INVALID');
      }
      const badIv = Buffer.from(iv);
      badIv[0]! ^= 1;
      expect(await code(b.decrypt({ mechanism: 'AES_GCM', iv: badIv, aad }, k, ct))).toBe('CKR_ENCRYPTED_DATA_INVALID');
      // still usable after failures
      expect(Buffer.from(await b.decrypt({ mechanism: 'AES_GCM', iv, aad }, k, ct))).toEqual(pt);
    });

    it('SP 800-38A F.1.1 ECB-AES128, F.2.1 CBC-AES128, F.5.1 CTR-AES128 (encrypt and decrypt)', async () => {
      if (!caps().importKeys) return;
      const k = await importAes(SP800_38A.key);
      const cases: [CipherMechanism, Parameters<KeyBackend['encrypt']>[0], Buffer][] = [
        ['AES_ECB', { mechanism: 'AES_ECB' }, SP800_38A.ecb],
        ['AES_CBC', { mechanism: 'AES_CBC', iv: SP800_38A.cbcIv }, SP800_38A.cbc],
        ['AES_CTR', { mechanism: 'AES_CTR', counterBlock: SP800_38A.ctrCounter }, SP800_38A.ctr],
      ];
      for (const [m, params, expected] of cases) {
        if (!caps().ciphers.includes(m)) {
          expect(await code(b.encrypt(params, k, SP800_38A.plaintext))).toBe('NOT_SUPPORTED');
          continue;
        }
        expect(Buffer.from(await b.encrypt(params, k, SP800_38A.plaintext)).toString('hex'), m).toBe(expected.toString('hex'));
        expect(Buffer.from(await b.decrypt(params, k, expected)).toString('hex'), m).toBe(SP800_38A.plaintext.toString('hex'));
      }
    });

    it('CBC-PAD: the F.2.1 blocks then one full padding block; round trip of odd lengths; bad padding refused', async () => {
      if (!caps().importKeys || !caps().ciphers.includes('AES_CBC_PAD')) return;
      const k = await importAes(SP800_38A.key);
      const p = { mechanism: 'AES_CBC_PAD' as const, iv: SP800_38A.cbcIv };
      const ct = Buffer.from(await b.encrypt(p, k, SP800_38A.plaintext));
      expect(ct.length).toBe(80);
      expect(ct.subarray(0, 64).toString('hex')).toBe(SP800_38A.cbc.toString('hex'));
      for (const n of [0, 1, 15, 16, 17, 100]) {
        const pt = Buffer.alloc(n, n);
        const c = await b.encrypt(p, k, pt);
        expect(c.length).toBe((Math.floor(n / 16) + 1) * 16);
        expect(Buffer.from(await b.decrypt(p, k, c))).toEqual(pt);
      }
      // Unpadded CBC blocks decrypt to F.2.1's plaintext, whose last byte is no valid padding.
      await expect(b.decrypt(p, k, SP800_38A.cbc)).rejects.toBeInstanceOf(HsmError);
    });

    it('refuses ECB/CBC input that is not whole blocks', async () => {
      if (!caps().importKeys) return;
      const k = await importAes(SP800_38A.key);
      for (const m of ['AES_ECB', 'AES_CBC'] as const) {
        if (!caps().ciphers.includes(m)) continue;
        const p = m === 'AES_ECB' ? { mechanism: m } : { mechanism: m, iv: SP800_38A.cbcIv };
        expect(await code(b.encrypt(p, k, Buffer.alloc(17)))).toBe('CKR_DATA_LEN_RANGE');
      }
    });

    it('every cipher it does not offer is refused with NOT_SUPPORTED', async () => {
      const k = await b.generateKey(session({ type: 'AES', bits: 128, usage: ['encrypt', 'decrypt'] }));
      for (const m of ALL_CIPHERS.filter((x) => !caps().ciphers.includes(x))) {
        expect(await code(b.encrypt({ mechanism: m, iv: Buffer.alloc(16), counterBlock: Buffer.alloc(16) } as never, k, Buffer.alloc(16)))).toBe('NOT_SUPPORTED');
      }
    });

    it('HMAC-SHA256: RFC 4231 test case 2 (where the backend accepts a 4-byte key) and test case 6', async () => {
      if (!caps().importKeys) return;
      const hmac = caps().macs.find((m) => m.mechanism === 'HMAC_SHA256');
      expect(hmac).toBeDefined();
      const mk = (key: Buffer) => b.importKey(session({ type: 'GENERIC_SECRET', bits: key.length * 8, usage: ['sign', 'verify'] }), key);
      const k2 = await mk(RFC4231_TC2.key);
      if (RFC4231_TC2.key.length * 8 >= hmac!.minKeyBits) {
        expect(Buffer.from(await b.sign('HMAC_SHA256', k2, RFC4231_TC2.data)).toString('hex')).toBe(RFC4231_TC2.mac.toString('hex'));
        expect(await b.verify('HMAC_SHA256', k2, RFC4231_TC2.data, RFC4231_TC2.mac)).toBe(true);
      } else {
        // The backend declares the 32-bit key too short for HMAC-SHA256 and must refuse it so.
        expect(await code(b.sign('HMAC_SHA256', k2, RFC4231_TC2.data))).toBe('CKR_KEY_SIZE_RANGE');
      }
      const k6 = await mk(RFC4231_TC6.key);
      expect(Buffer.from(await b.sign('HMAC_SHA256', k6, RFC4231_TC6.data)).toString('hex')).toBe(RFC4231_TC6.mac.toString('hex'));
      expect(await b.verify('HMAC_SHA256', k6, RFC4231_TC6.data, RFC4231_TC6.mac)).toBe(true);
      const bad = Buffer.from(RFC4231_TC6.mac);
      bad[31]! ^= 1;
      expect(await b.verify('HMAC_SHA256', k6, RFC4231_TC6.data, bad)).toBe(false);
      expect(await b.verify('HMAC_SHA256', k6, Buffer.from('other data'), RFC4231_TC6.mac)).toBe(false);
    });

    it('generated HMAC keys sign and verify with every offered MAC', async () => {
      for (const m of caps().macs) {
        const bits = Math.max(m.minKeyBits, 256);
        const k = await b.generateKey(session({ type: 'GENERIC_SECRET', bits, usage: ['sign', 'verify'] }));
        const mac = await b.sign(m.mechanism, k, Buffer.from('data'));
        expect(await b.verify(m.mechanism, k, Buffer.from('data'), mac)).toBe(true);
        expect(await b.verify(m.mechanism, k, Buffer.from('Data'), mac)).toBe(false);
      }
    });

    it('enforces key usage and key type', async () => {
      const k = await b.generateKey(session({ type: 'AES', bits: 128, usage: ['decrypt'] }));
      expect(await code(b.encrypt({ mechanism: 'AES_GCM', iv: Buffer.alloc(12) }, k, Buffer.alloc(4)))).toBe('CKR_KEY_FUNCTION_NOT_PERMITTED');
      const mac = await b.generateKey(session({ type: 'GENERIC_SECRET', bits: 256, usage: ['verify'] }));
      expect(await code(b.sign('HMAC_SHA256', mac, Buffer.alloc(4)))).toBe('CKR_KEY_FUNCTION_NOT_PERMITTED');
    });

    it('RFC 3394 §4.1 key wrap vector (wrap of an imported key, and unwrap)', async () => {
      if (!caps().importKeys || !caps().wraps.includes('AES_KEY_WRAP')) return;
      const kek = await importAes(RFC3394_41.kek, ['wrap', 'unwrap']);
      const key = await importAes(RFC3394_41.key);
      expect(Buffer.from(await b.wrapKey({ mechanism: 'AES_KEY_WRAP' }, kek, key)).toString('hex')).toBe(RFC3394_41.wrapped.toString('hex'));
      const back = await b.unwrapKey({ mechanism: 'AES_KEY_WRAP' }, kek, RFC3394_41.wrapped, { type: 'AES', token: false, sensitive: false, extractable: true, usage: ['encrypt'] });
      expect(back.bits).toBe(128);
      expect(Buffer.from(await b.exportKey(back)).toString('hex')).toBe(RFC3394_41.key.toString('hex'));
    });

    it('RFC 5649 §6 vectors (KWP): unwrap both; wrap as published unless the backend declares its deviation', async () => {
      if (!caps().importKeys || !caps().wraps.includes('AES_KEY_WRAP_PAD')) return;
      const kek = await importAes(RFC5649.kek, ['wrap', 'unwrap']);
      for (const [key, wrapped] of [
        [RFC5649.key20, RFC5649.wrapped20],
        [RFC5649.key7, RFC5649.wrapped7],
      ] as const) {
        const k = await b.unwrapKey({ mechanism: 'AES_KEY_WRAP_PAD' }, kek, wrapped, { type: 'GENERIC_SECRET', token: false, sensitive: false, extractable: true, usage: ['sign'] });
        expect(Buffer.from(await b.exportKey(k)).toString('hex')).toBe(key.toString('hex'));
        expect(k.bits).toBe(key.length * 8);
        const again = Buffer.from(await b.wrapKey({ mechanism: 'AES_KEY_WRAP_PAD' }, kek, k)).toString('hex');
        if (caps().quirks.includes('KWP_WRAP_PADS_UNALIGNED_KEYS')) expect(again).not.toBe(wrapped.toString('hex'));
        else expect(again).toBe(wrapped.toString('hex'));
      }
    });

    it('wrap/unwrap round trips with every offered mechanism; a tampered wrapped key does not unwrap; the others are NOT_SUPPORTED', async () => {
      const kek = await b.generateKey(session({ type: 'AES', bits: 256, sensitive: true, extractable: false, usage: ['wrap', 'unwrap'] }));
      for (const m of ALL_WRAPS) {
        const key = await b.generateKey(session({ type: 'AES', bits: 256, sensitive: true, extractable: true, usage: ['encrypt', 'decrypt'] }));
        if (!caps().wraps.includes(m)) {
          expect(await code(b.wrapKey(wrapParams(m), kek, key))).toBe('NOT_SUPPORTED');
          continue;
        }
        const wrapped = Buffer.from(await b.wrapKey(wrapParams(m), kek, key));
        expect(wrapped.length).toBeGreaterThanOrEqual(32);
        const copy = await b.unwrapKey(wrapParams(m), kek, wrapped, { type: 'AES', token: false, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'] });
        expect(copy.bits).toBe(256);
        const iv = Buffer.alloc(12, 3);
        const ct = await b.encrypt({ mechanism: 'AES_GCM', iv }, key, Buffer.from('same key?'));
        expect(Buffer.from(await b.decrypt({ mechanism: 'AES_GCM', iv }, copy, ct)).toString()).toBe('same key?');
        const bad = Buffer.from(wrapped);
        bad[bad.length - 1]! ^= 0x80;
        await expect(b.unwrapKey(wrapParams(m), kek, bad, { type: 'AES', token: false, sensitive: true, extractable: false, usage: ['encrypt'] }), m).rejects.toBeInstanceOf(HsmError);
      }
    });

    it('non-extractable and sensitive keys cannot be read or wrapped out', async () => {
      const kek = await b.generateKey(session({ type: 'AES', bits: 256, usage: ['wrap', 'unwrap'] }));
      const sealed = await b.generateKey({ type: 'AES', bits: 256, token: false, sensitive: true, extractable: false, usage: ['encrypt'] });
      expect(await code(b.exportKey(sealed))).toBe('CKR_ATTRIBUTE_SENSITIVE');
      const anyWrap = caps().wraps[0];
      if (anyWrap) expect(await code(b.wrapKey(wrapParams(anyWrap), kek, sealed))).toBe('CKR_KEY_UNEXTRACTABLE');
      const nonExtractable = await b.generateKey({ type: 'AES', bits: 128, token: false, sensitive: false, extractable: false, usage: ['encrypt'] });
      if (anyWrap) expect(await code(b.wrapKey(wrapParams(anyWrap), kek, nonExtractable))).toBe('CKR_KEY_UNEXTRACTABLE');
      const sensitive = await b.generateKey({ type: 'AES', bits: 128, token: false, sensitive: true, extractable: true, usage: ['encrypt'] });
      expect(await code(b.exportKey(sensitive))).toBe('CKR_ATTRIBUTE_SENSITIVE');
      // and a plain key can be read, with the right length
      const plain = await b.generateKey(session({ type: 'AES', bits: 192, usage: ['encrypt'] }));
      expect((await b.exportKey(plain)).length).toBe(24);
    });

    it('random: the asked lengths, distinct outputs, bounds checked', async () => {
      for (const n of [0, 1, 12, 16, 1000, 65536]) expect((await b.random(n)).length).toBe(n);
      const a = Buffer.from(await b.random(32));
      const c = Buffer.from(await b.random(32));
      expect(a.equals(c)).toBe(false);
      expect(a.equals(Buffer.alloc(32))).toBe(false);
      expect(await code(b.random(-1))).toBe('BAD_ARGUMENT');
      expect(await code(b.random(1.5))).toBe('BAD_ARGUMENT');
      expect(await code(b.random((1 << 20) + 1))).toBe('BAD_ARGUMENT');
    });

    it('finds keys by label and by id, with their attributes', async () => {
      const label = `find-me-${Date.now()}`;
      const id = Buffer.from(await b.random(16));
      const k = await b.generateKey({ type: 'AES', bits: 256, token: true, sensitive: true, extractable: false, usage: ['wrap', 'unwrap'], label, id });
      expect(k.id).toBe(id.toString('hex'));
      const byLabel = await b.findKeys({ label });
      expect(byLabel).toHaveLength(1);
      expect(byLabel[0]).toMatchObject({ id: k.id, label, token: true, type: 'AES', bits: 256, sensitive: true, extractable: false });
      expect([...byLabel[0]!.usage].sort()).toEqual(['unwrap', 'wrap']);
      expect((await b.findKeys({ id })).map((r) => r.id)).toEqual([k.id]);
      expect(await b.findKeys({ label: `${label}-nope` })).toEqual([]);
      expect((await b.findKeys({ label, token: false })).length).toBe(0);
      await b.destroyKey(k);
    });

    it('destroy: the key is gone, further use is KEY_NOT_FOUND', async () => {
      for (const token of [false, true]) {
        const label = `doomed-${token}-${Date.now()}`;
        const k = await b.generateKey({ type: 'AES', bits: 128, token, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'], label });
        await b.encrypt({ mechanism: 'AES_GCM', iv: Buffer.alloc(12) }, k, Buffer.alloc(1));
        await b.destroyKey(k);
        expect(await b.findKeys({ label })).toEqual([]);
        expect(await code(b.encrypt({ mechanism: 'AES_GCM', iv: Buffer.alloc(12) }, k, Buffer.alloc(1)))).toBe('KEY_NOT_FOUND');
        expect(await code(b.destroyKey(k))).toBe('KEY_NOT_FOUND');
      }
    });

    it('key pairs: capabilities say which; anything else is NOT_SUPPORTED', async () => {
      const c = caps();
      for (const bits of [2048, 3072, 4096]) {
        if (c.rsaKeyBits.includes(bits)) continue;
        expect(await code(b.generateKeyPair({ type: 'RSA', bits, token: false, sensitive: true, extractable: false }))).toBe('NOT_SUPPORTED');
      }
      expect(await code(b.generateKeyPair({ type: 'RSA', bits: 1024, token: false, sensitive: true, extractable: false }))).toBe('NOT_SUPPORTED');
      for (const curve of ['P-256', 'P-384'] as const) {
        if (!c.ecCurves.includes(curve)) expect(await code(b.generateKeyPair({ type: 'EC', curve, token: false, sensitive: true, extractable: false }))).toBe('NOT_SUPPORTED');
      }
      // Both backends in this project offer RSA-2048 and P-256 with all three signatures; a backend that does not must say so here.
      expect(c.rsaKeyBits).toContain(2048);
      expect(c.ecCurves).toContain('P-256');
      expect([...c.asymmetricSigns].sort()).toEqual(['ECDSA', 'RSA_PKCS1', 'RSA_PSS']);
    });

    it('RSA-2048 token pair: sensitive, unreadable private key; PKCS#1 v1.5 and PSS signatures verify with the returned public key; survives a restart; destroy', async () => {
      const label = `pair-rsa-${Date.now()}`;
      const { privateKey: k, publicKey } = await b.generateKeyPair({ type: 'RSA', bits: 2048, token: true, sensitive: true, extractable: false, label });
      expect(k).toMatchObject({ type: 'RSA', bits: 2048, token: true, sensitive: true, extractable: false, usage: ['sign'], label });
      const pub = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
      expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(await b.findKeys({ label })).toEqual([expect.objectContaining({ id: k.id, type: 'RSA', bits: 2048, sensitive: true, extractable: false })]);
      expect(await code(b.exportKey(k))).toMatch(/^CKR_ATTRIBUTE_(SENSITIVE|TYPE_INVALID)$/);
      const data = Buffer.from('signed inside the backend');
      const d256 = createHash('sha256').update(data).digest();
      const v15 = await b.signDigest({ mechanism: 'RSA_PKCS1', hash: 'sha256' }, k, d256);
      expect(v15).toHaveLength(256);
      expect(nodeVerify('sha256', data, pub, v15)).toBe(true);
      expect(nodeVerify('sha256', Buffer.from('other'), pub, v15)).toBe(false);
      // PKCS#1 v1.5 is deterministic: the same digest signs to the same bytes.
      expect(Buffer.from(await b.signDigest({ mechanism: 'RSA_PKCS1', hash: 'sha256' }, k, d256))).toEqual(Buffer.from(v15));
      const d384 = createHash('sha384').update(data).digest();
      expect(nodeVerify('sha384', data, pub, await b.signDigest({ mechanism: 'RSA_PKCS1', hash: 'sha384' }, k, d384))).toBe(true);
      const pss = await b.signDigest({ mechanism: 'RSA_PSS', hash: 'sha256', saltLength: 32 }, k, d256);
      expect(nodeVerify('sha256', data, { key: pub, padding: CC.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);
      expect(Buffer.from(await b.signDigest({ mechanism: 'RSA_PSS', hash: 'sha256', saltLength: 32 }, k, d256))).not.toEqual(Buffer.from(pss)); // random salt
      expect(await code(b.signDigest({ mechanism: 'RSA_PKCS1', hash: 'sha256' }, k, d384))).toBe('BAD_ARGUMENT');
      expect(await code(b.signDigest({ mechanism: 'ECDSA' }, k, d256))).toBe('CKR_KEY_TYPE_INCONSISTENT');
      expect(await code(b.encrypt({ mechanism: 'AES_GCM', iv: Buffer.alloc(12) }, k, Buffer.alloc(1)))).toMatch(/^(CKR_KEY_TYPE_INCONSISTENT|CKR_KEY_FUNCTION_NOT_PERMITTED|KEY_NOT_FOUND)$/);
      if (harness.reopen && caps().persistentKeys) {
        const b2 = await harness.reopen();
        try {
          expect(nodeVerify('sha256', data, pub, await b2.signDigest({ mechanism: 'RSA_PKCS1', hash: 'sha256' }, k, d256))).toBe(true);
        } finally {
          await b2.close();
        }
      }
      await b.destroyKey(k);
      expect(await b.findKeys({ label })).toEqual([]);
      expect(await code(b.signDigest({ mechanism: 'RSA_PKCS1', hash: 'sha256' }, k, d256))).toBe('KEY_NOT_FOUND');
    });

    it('RSA-OAEP decryption with a private key that allows it (SHA-1 and SHA-256, MGF1 over another hash, a label); a sign-only key refuses; a tampered ciphertext fails', async () => {
      expect(caps().asymmetricDecrypts).toEqual(['RSA_OAEP']);
      const { privateKey: k, publicKey } = await b.generateKeyPair({ type: 'RSA', bits: 2048, token: false, sensitive: true, extractable: false, usage: ['sign', 'decrypt'] });
      expect([...k.usage].sort()).toEqual(['decrypt', 'sign']);
      const pub = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
      const msg = Buffer.from('a key to unwrap, say');
      expect(caps().oaepHashes).toContain('sha1');
      for (const hash of ['sha1', 'sha256'] as const) {
        const ct = publicEncrypt({ key: pub, padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, msg);
        if (!caps().oaepHashes.includes(hash)) {
          expect(await code(b.decryptAsymmetric({ mechanism: 'RSA_OAEP', hash }, k, ct))).toBe('NOT_SUPPORTED');
          continue;
        }
        expect(Buffer.from(await b.decryptAsymmetric({ mechanism: 'RSA_OAEP', hash }, k, ct))).toEqual(msg);
        const bad = Buffer.from(ct);
        bad[bad.length - 1]! ^= 1;
        expect(await code(b.decryptAsymmetric({ mechanism: 'RSA_OAEP', hash }, k, bad))).toBe('CKR_ENCRYPTED_DATA_INVALID');
      }
      // MGF1 over another hash than the label hash, and a label (CK_RSA_PKCS_OAEP_PARAMS mgf / pSourceData):
      // decrypted where the capabilities say so, NOT_SUPPORTED where not (SoftHSM2). Ciphertexts from
      // node's OAEP (equal hashes) and from the codec in src/crypto/oaep.ts (unequal hashes).
      const label = Buffer.from('Kilroy was here');
      const withLabel = publicEncrypt({ key: pub, padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1', oaepLabel: label }, msg);
      const labelled = { mechanism: 'RSA_OAEP', hash: 'sha1', label } as const;
      if (caps().oaepLabels) {
        expect(Buffer.from(await b.decryptAsymmetric(labelled, k, withLabel))).toEqual(msg);
        expect(await code(b.decryptAsymmetric({ mechanism: 'RSA_OAEP', hash: 'sha1', label: Buffer.from('Kilroy was not here') }, k, withLabel))).toBe('CKR_ENCRYPTED_DATA_INVALID');
      } else {
        expect(await code(b.decryptAsymmetric(labelled, k, withLabel))).toBe('NOT_SUPPORTED');
      }
      const mixed = { mechanism: 'RSA_OAEP', hash: 'sha256', mgfHash: 'sha1' } as const;
      const mixedCt = oaepEncrypt(pub, { hash: 'sha256', mgfHash: 'sha1' }, msg);
      if (caps().oaepMixedHashes && caps().oaepHashes.includes('sha256')) {
        expect(Buffer.from(await b.decryptAsymmetric(mixed, k, mixedCt))).toEqual(msg);
        expect(await code(b.decryptAsymmetric({ mechanism: 'RSA_OAEP', hash: 'sha256' }, k, mixedCt))).toBe('CKR_ENCRYPTED_DATA_INVALID');
      } else {
        expect(await code(b.decryptAsymmetric(mixed, k, mixedCt))).toBe('NOT_SUPPORTED');
      }
      const signOnly = await b.generateKeyPair({ type: 'RSA', bits: 2048, token: false, sensitive: true, extractable: false });
      const ct = publicEncrypt({ key: createPublicKey({ key: Buffer.from(signOnly.publicKey), format: 'der', type: 'spki' }), padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, msg);
      expect(await code(b.decryptAsymmetric({ mechanism: 'RSA_OAEP', hash: 'sha1' }, signOnly.privateKey, ct))).toBe('CKR_KEY_FUNCTION_NOT_PERMITTED');
      await b.destroyKey(k);
      await b.destroyKey(signOnly.privateKey);
    });

    it('EC P-256 and P-384 pairs: ECDSA r ‖ s signatures verify with the returned public key', async () => {
      for (const [curve, hash, size] of [
        ['P-256', 'sha256', 32],
        ['P-384', 'sha384', 48],
      ] as const) {
        if (!caps().ecCurves.includes(curve)) continue;
        const { privateKey: k, publicKey } = await b.generateKeyPair({ type: 'EC', curve, token: false, sensitive: true, extractable: false });
        expect(k).toMatchObject({ type: 'EC', bits: size * 8, usage: ['sign'] });
        const pub = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
        expect(pub.asymmetricKeyDetails?.namedCurve).toBe(curve === 'P-256' ? 'prime256v1' : 'secp384r1');
        const data = Buffer.from(`ecdsa on ${curve}`);
        const sig = await b.signDigest({ mechanism: 'ECDSA' }, k, createHash(hash).update(data).digest());
        expect(sig).toHaveLength(2 * size);
        expect(nodeVerify(hash, data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
        expect(nodeVerify(hash, Buffer.from('tampered'), { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
        expect(await code(b.signDigest({ mechanism: 'RSA_PKCS1', hash: 'sha256' }, k, Buffer.alloc(32)))).toBe('CKR_KEY_TYPE_INCONSISTENT');
        await b.destroyKey(k);
      }
    });

    it('token keys survive a restart; session keys do not', async () => {
      if (!harness.reopen || !caps().persistentKeys) return;
      const label = `persist-${Date.now()}`;
      const tok = await b.generateKey({ type: 'AES', bits: 256, token: true, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'], label });
      const ses = await b.generateKey({ type: 'AES', bits: 256, token: false, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'], label });
      const iv = Buffer.alloc(12, 9);
      const ct = await b.encrypt({ mechanism: 'AES_GCM', iv, aad: Buffer.from('x') }, tok, Buffer.from('kept'));
      await b.close();
      const b2 = await harness.reopen();
      try {
        const found = await b2.findKeys({ label });
        expect(found.map((r) => r.id)).toEqual([tok.id]);
        expect(Buffer.from(await b2.decrypt({ mechanism: 'AES_GCM', iv, aad: Buffer.from('x') }, tok, ct)).toString()).toBe('kept');
        expect(await code(b2.encrypt({ mechanism: 'AES_GCM', iv }, ses, Buffer.alloc(1)))).toBe('KEY_NOT_FOUND');
        await b2.destroyKey(tok);
      } finally {
        b = b2; // afterAll closes it
      }
    });

    it('after close every call is CLOSED', async () => {
      const x = await harness.open();
      const k = await x.generateKey(session({ type: 'AES', bits: 128, usage: ['encrypt'] }));
      await x.close();
      expect(await code(x.encrypt({ mechanism: 'AES_ECB' }, k, Buffer.alloc(16)))).toBe('CLOSED');
      expect(await code(x.random(4))).toBe('CLOSED');
      await x.close(); // idempotent
    });

    it('concurrent calls beyond the session pool all complete', async () => {
      const k = await b.generateKey(session({ type: 'AES', bits: 256, usage: ['encrypt', 'decrypt'] }));
      const n = Math.min(64, Number.isFinite(caps().maxSessions) ? caps().maxSessions * 4 : 64);
      const out = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const iv = Buffer.alloc(12, i);
          const ct = await b.encrypt({ mechanism: 'AES_GCM', iv }, k, Buffer.from(`msg ${i}`));
          return Buffer.from(await b.decrypt({ mechanism: 'AES_GCM', iv }, k, ct)).toString();
        }),
      );
      expect(out).toEqual(Array.from({ length: n }, (_, i) => `msg ${i}`));
    });
  });
}

export type { KeyRef };
