/**
 * The EME-OAEP codec with independent label and MGF1 hashes (src/crypto/oaep.ts, RFC 8017 §7.1):
 * - equal hashes: it interoperates with node's native OAEP (OpenSSL) both ways, with and without a
 *   label, for every hash the policy serves;
 * - the OASIS vectors (CS-AC-M-OAEP-8/10: SHA-384 label hash, MGF1-SHA-256, another server's
 *   ciphertexts) decrypt to the case's plaintext, and only with the right hashes and label;
 * - unequal hashes: round trips for all 20 ordered pairs, at the longest and the empty message;
 * - rejection: any flipped ciphertext bit, a wrong label, a wrong MGF1 hash (fast-check), and each
 *   decoding check on its own (leading byte, label hash, stray padding byte, missing 0x01), all with
 *   the one error (same code, same message), so the answer does not tell which check failed.
 */
import { constants as CC, createPrivateKey, createPublicKey, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CryptoError } from '../../src/crypto/errors.js';
import { mgf1 } from '../../src/crypto/mgf1.js';
import { emeOaepDecode, emeOaepEncode, maxMessageBytes, oaepDecrypt, oaepEncrypt, type OaepHash, type OaepScheme } from '../../src/crypto/oaep.js';
import { CASE_CIPHERTEXT_LABEL, CASE_CIPHERTEXT_NO_LABEL, CASE_LABEL, CASE_PLAINTEXT, CASE_PRIVATE_KEY_PKCS1 } from './oaep-vectors.js';

const HASHES: readonly OaepHash[] = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'];
const H_LEN: Readonly<Record<OaepHash, number>> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

let priv: KeyObject;
let pub: KeyObject;
const K = 256;

beforeAll(() => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  priv = pair.privateKey;
  pub = pair.publicKey;
});

/** The one decryption error: a CryptoError FAILURE with the existing OAEP path's message. */
function decryptionFailure(f: () => unknown): CryptoError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    expect((e as CryptoError).code).toBe('FAILURE');
    expect((e as CryptoError).message).toBe('RSA decryption failed');
    expect((e as CryptoError).cause).toBeUndefined();
    return e as CryptoError;
  }
  throw new Error('expected the decryption to fail');
}

describe('equal hashes: the codec and node:crypto OAEP agree', () => {
  for (const hash of HASHES) {
    for (const label of [undefined, Buffer.from('a label of some length')]) {
      it(`${hash}, ${label ? 'with' : 'without'} a label`, () => {
        const scheme: OaepScheme = { hash, mgfHash: hash, ...(label && { label }) };
        const native = { padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: hash, ...(label && { oaepLabel: label }) };
        const msg = randomBytes(maxMessageBytes(scheme, K));
        // codec encrypts, OpenSSL decrypts
        expect(privateDecrypt({ key: priv, ...native }, oaepEncrypt(pub, scheme, msg))).toEqual(msg);
        // OpenSSL encrypts, codec decrypts
        expect(Buffer.from(oaepDecrypt(priv, scheme, publicEncrypt({ key: pub, ...native }, msg)))).toEqual(msg);
        // and a message one byte too long is refused by both
        const tooLong = randomBytes(msg.length + 1);
        expect(() => publicEncrypt({ key: pub, ...native }, tooLong)).toThrow();
        expect(() => oaepEncrypt(pub, scheme, tooLong)).toThrow(expect.objectContaining({ code: 'BAD_DATA' }));
      });
    }
  }
});

describe('the OASIS vectors CS-AC-M-OAEP-8 and -10 (SHA-384 label hash, MGF1-SHA-256)', () => {
  const casePriv = () => createPrivateKey({ key: hex(CASE_PRIVATE_KEY_PKCS1), format: 'der', type: 'pkcs1' });

  it('decrypt to the case plaintext', () => {
    const k = casePriv();
    expect(Buffer.from(oaepDecrypt(k, { hash: 'sha384', mgfHash: 'sha256' }, hex(CASE_CIPHERTEXT_NO_LABEL))).toString('hex')).toBe(CASE_PLAINTEXT);
    expect(Buffer.from(oaepDecrypt(k, { hash: 'sha384', mgfHash: 'sha256', label: hex(CASE_LABEL) }, hex(CASE_CIPHERTEXT_LABEL))).toString('hex')).toBe(CASE_PLAINTEXT);
  });

  it('fail with the wrong label, the wrong MGF1 hash, or MGF1 over the label hash (what node alone would do)', () => {
    const k = casePriv();
    decryptionFailure(() => oaepDecrypt(k, { hash: 'sha384', mgfHash: 'sha256' }, hex(CASE_CIPHERTEXT_LABEL)));
    decryptionFailure(() => oaepDecrypt(k, { hash: 'sha384', mgfHash: 'sha256', label: hex(CASE_LABEL) }, hex(CASE_CIPHERTEXT_NO_LABEL)));
    decryptionFailure(() => oaepDecrypt(k, { hash: 'sha384', mgfHash: 'sha384' }, hex(CASE_CIPHERTEXT_NO_LABEL)));
    expect(() => privateDecrypt({ key: k, padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha384' }, hex(CASE_CIPHERTEXT_NO_LABEL))).toThrow();
  });

  it("what the codec encrypts with the case's public key, the case's private key decrypts", () => {
    const k = casePriv();
    const p = createPublicKey(k);
    const scheme: OaepScheme = { hash: 'sha384', mgfHash: 'sha256', label: hex(CASE_LABEL) };
    const ct = oaepEncrypt(p, scheme, hex(CASE_PLAINTEXT));
    expect(ct).toHaveLength(256);
    expect(Buffer.from(ct).toString('hex')).not.toBe(CASE_CIPHERTEXT_LABEL); // a fresh seed each time
    expect(Buffer.from(oaepDecrypt(k, scheme, ct)).toString('hex')).toBe(CASE_PLAINTEXT);
  });
});

describe('unequal hashes', () => {
  const pairs = HASHES.flatMap((hash) => HASHES.filter((m) => m !== hash).map((mgfHash) => ({ hash, mgfHash })));

  it('round trip for all 20 ordered pairs: the longest message, the empty one, with a label', () => {
    expect(pairs).toHaveLength(20);
    for (const p of pairs) {
      for (const label of [undefined, Buffer.from('Kilroy was here')]) {
        const scheme: OaepScheme = { ...p, ...(label && { label }) };
        for (const msg of [randomBytes(maxMessageBytes(scheme, K)), Buffer.alloc(0), Buffer.from([0x01]), Buffer.from([0x00, 0x00])]) {
          const ct = oaepEncrypt(pub, scheme, msg);
          expect(ct).toHaveLength(K);
          expect(Buffer.from(oaepDecrypt(priv, scheme, ct)), `${p.hash}/${p.mgfHash} ${msg.length} bytes`).toEqual(msg);
        }
      }
    }
  });

  it('the longest message is k - 2·hLen(label hash) - 2, whatever the MGF1 hash', () => {
    for (const p of pairs) {
      const n = K - 2 * H_LEN[p.hash] - 2;
      expect(maxMessageBytes(p, K)).toBe(n);
      expect(() => oaepEncrypt(pub, p, Buffer.alloc(n + 1))).toThrow(expect.objectContaining({ code: 'BAD_DATA' }));
    }
  });

  it('a key too small for the hash: encoding is refused, decoding fails', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }); // k = 128 < 2·64 + 2
    const scheme: OaepScheme = { hash: 'sha512', mgfHash: 'sha1' };
    expect(() => oaepEncrypt(small.publicKey, scheme, Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'BAD_DATA' }));
    decryptionFailure(() => oaepDecrypt(small.privateKey, scheme, Buffer.alloc(128, 1)));
  });

  it('ciphertexts of the wrong length or not below the modulus fail the same way', () => {
    const scheme: OaepScheme = { hash: 'sha256', mgfHash: 'sha1' };
    decryptionFailure(() => oaepDecrypt(priv, scheme, Buffer.alloc(K - 1, 1)));
    decryptionFailure(() => oaepDecrypt(priv, scheme, Buffer.alloc(K + 1, 1)));
    decryptionFailure(() => oaepDecrypt(priv, scheme, Buffer.alloc(K, 0xff)));
  });

  it('a flipped ciphertext bit, a wrong label or a wrong MGF1 hash is the one error (fast-check)', () => {
    const scheme: OaepScheme = { hash: 'sha384', mgfHash: 'sha256', label: Buffer.from('label') };
    const msg = Buffer.from('a key to wrap, say');
    const ct = Buffer.from(oaepEncrypt(pub, scheme, msg));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: K * 8 - 1 }), (bit) => {
        const bad = Buffer.from(ct);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        decryptionFailure(() => oaepDecrypt(priv, scheme, bad));
      }),
      { numRuns: 60 },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 24 }).filter((l) => !Buffer.from(l).equals(Buffer.from('label'))),
        (label) => {
          decryptionFailure(() => oaepDecrypt(priv, { ...scheme, label }, ct));
        },
      ),
      { numRuns: 40 },
    );
    for (const mgfHash of HASHES.filter((h) => h !== 'sha256')) decryptionFailure(() => oaepDecrypt(priv, { ...scheme, mgfHash }, ct));
    expect(Buffer.from(oaepDecrypt(priv, scheme, ct))).toEqual(msg);
  });
});

describe('each decoding check alone fails with the one error', () => {
  // EM built from a chosen DB and seed (RFC 8017 §7.1.1 steps 2.f-2.i), so one field at a time can be wrong.
  const scheme: OaepScheme = { hash: 'sha256', mgfHash: 'sha512', label: Buffer.from('L') };
  const hLen = 32;
  // lHash = SHA-256("L"), computed outside the codec (Python hashlib).
  const realLHash = (): Buffer => Buffer.from('72dfcfb0c470ac255cde83fb8fe38de8a128188e03ea5ba5b2a93adbea1062fa', 'hex');
  function em(db: Buffer, y = 0): Buffer {
    const seed = randomBytes(hLen);
    const maskedDb = Buffer.from(db);
    const dbMask = mgf1(scheme.mgfHash, seed, db.length);
    for (let i = 0; i < db.length; i++) maskedDb[i]! ^= dbMask[i]!;
    const seedMask = mgf1(scheme.mgfHash, maskedDb, hLen);
    const maskedSeed = Buffer.alloc(hLen);
    for (let i = 0; i < hLen; i++) maskedSeed[i] = seed[i]! ^ seedMask[i]!;
    return Buffer.concat([Buffer.from([y]), maskedSeed, maskedDb]);
  }
  function db(opts: { lHash?: Buffer; psByte?: number; separator?: number; message?: Buffer } = {}): Buffer {
    const message = opts.message ?? Buffer.from('message');
    const d = Buffer.alloc(K - hLen - 1);
    (opts.lHash ?? realLHash()).copy(d, 0);
    d[d.length - message.length - 1] = opts.separator ?? 0x01;
    if (opts.psByte !== undefined) d[hLen + 3] = opts.psByte;
    message.copy(d, d.length - message.length);
    return d;
  }

  it('the well-formed block decodes (the test builder is right)', () => {
    expect(emeOaepDecode(scheme, K, em(db())).toString()).toBe('message');
    // the builder agrees with the encoder: the encoder's EM decodes and vice versa
    const fromEncoder = emeOaepEncode(scheme, K, Buffer.from('message'));
    expect(emeOaepDecode(scheme, K, fromEncoder).toString()).toBe('message');
  });

  it('leading byte Y ≠ 0', () => {
    decryptionFailure(() => emeOaepDecode(scheme, K, em(db(), 0x01)));
  });
  it("lHash' ≠ lHash", () => {
    const wrong = realLHash();
    wrong[hLen - 1]! ^= 0x80;
    decryptionFailure(() => emeOaepDecode(scheme, K, em(db({ lHash: wrong }))));
  });
  it('a non-zero byte in PS before the 0x01', () => {
    decryptionFailure(() => emeOaepDecode(scheme, K, em(db({ psByte: 0x02 }))));
    decryptionFailure(() => emeOaepDecode(scheme, K, em(db({ psByte: 0xff }))));
  });
  it('no 0x01 separator at all', () => {
    decryptionFailure(() => emeOaepDecode(scheme, K, em(db({ separator: 0x00, message: Buffer.alloc(4) }))));
  });
  it('a 0x01 inside PS makes the rest the message (PS may be empty or short)', () => {
    expect(emeOaepDecode(scheme, K, em(db({ psByte: 0x01 }))).length).toBe(K - hLen - 1 - hLen - 4);
  });
});
