/**
 * The refusals the cryptographic operations' file headers list (src/operations/crypto/encrypt.ts,
 * decrypt.ts, mac.ts, crypto/key-use.ts), at 1.4 and 2.1, over a real mTLS server: lifecycle state
 * and dates, usage mask, unknown / other principal's Correlation Value, bad and unsupported
 * parameters, missing IV (Invalid Message, CS-BC-M-11/12/13), Usage Limits (Permission Denied,
 * CS-BC-M-7), an impossible Tag Length (General Failure, CS-BC-M-GCM-1 steps 7-8), tag mismatch
 * (Cryptographic Failure, as test case CS-BC-M-GCM-1-21).
 * Also: a 3-part GCM Encrypt equals the one-shot result (McGrew-Viega test case 4), and a key
 * revoked mid-stream stops the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, symmetricKeyObject, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { BlockCipherMode, CryptographicAlgorithm, ObjectType, Operation, PaddingMethod, ResultReason, RevocationReasonCode, UsageLimitsUnit } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { findChild } from '../../src/client/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, V1_4, V2_1 } from './object-kit.js';
import { bytesOf, cipherPayload, hex, registerKey, toHex } from './crypto-kit.js';

const { Encrypt, Decrypt, MACGenerate } = CryptographicUsageMask;
const ED = Encrypt | Decrypt;
let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  [c, alice] = await Promise.all([srv.client(), srv.client('alice')]);
});
afterAll(async () => srv?.dispose());

const KEY = hex('feffe9928665731c6d6a8f9467308308');
const IV = hex('cafebabefacedbaddecaf888');
const AAD = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
const PLAIN = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
const CIPHER = '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091';
const TAG = '5bc94fbc3221a5db94fae95ae7121a47';
const GCM = { mode: BlockCipherMode.GCM, tagLength: 16 };
const ECB = { mode: BlockCipherMode.ECB };
const BLOCK = hex('00112233445566778899aabbccddeeff');
const nowSec = (): bigint => BigInt(Math.floor(Date.now() / 1000));
const revoke = (uid: string, code: number): TtlvNode[] => [uidNode(uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, code)])];

interface Versioned {
  readonly v: KmipVersion;
  readonly wrongState: number;
  readonly usageMask: number;
  readonly badParams: number;
  readonly unsupported: number;
  readonly missingIv: number;
  readonly unknownCv: number;
  readonly usageLimit: number;
}

const VERSIONS: readonly Versioned[] = [
  {
    v: V2_1,
    wrongState: ResultReason.WrongKeyLifecycleState,
    usageMask: ResultReason.IncompatibleCryptographicUsageMask,
    badParams: ResultReason.BadCryptographicParameters,
    unsupported: ResultReason.UnsupportedCryptographicParameters,
    // Invalid Message at every version, not Missing Initialization Vector: the profile test cases
    // CS-BC-M-11/12/13-21 expect it (src/operations/crypto/key-use.ts quotes the error tables).
    missingIv: ResultReason.InvalidMessage,
    unknownCv: ResultReason.InvalidCorrelationValue,
    // Permission Denied at every version, not Usage Limit Exceeded: profile test case CS-BC-M-7-21.
    usageLimit: ResultReason.PermissionDenied,
  },
  {
    v: V1_4,
    wrongState: ResultReason.PermissionDenied,
    usageMask: ResultReason.PermissionDenied,
    badParams: ResultReason.InvalidField,
    unsupported: ResultReason.InvalidField,
    // Invalid Message, not Invalid Field: profile test cases CS-BC-M-11/12/13-14.
    missingIv: ResultReason.InvalidMessage,
    unknownCv: ResultReason.ItemNotFound,
    usageLimit: ResultReason.PermissionDenied,
  },
];

describe.each(VERSIONS)('refusals at $v.major.$v.minor', (x) => {
  const v = x.v;

  it('a Pre-Active key neither encrypts nor decrypts (CS-BC-M-14-21)', async () => {
    const uid = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED, { activate: false });
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: ECB, data: BLOCK }))).reason).toBe(x.wrongState);
    expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid, params: ECB, data: BLOCK }))).reason).toBe(x.wrongState);
  });

  it('a Deactivated or Compromised key decrypts but does not encrypt or MAC', async () => {
    for (const code of [RevocationReasonCode.CessationOfOperation, RevocationReasonCode.KeyCompromise]) {
      const uid = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED | MACGenerate);
      const enc = await ok(c, v, Operation.Encrypt, cipherPayload({ uid, params: ECB, data: BLOCK }));
      await ok(c, v, Operation.Revoke, [...revoke(uid, code), ...(code === RevocationReasonCode.KeyCompromise ? [t.date(Tag.CompromiseOccurrenceDate, nowSec() - 60n)] : [])]);
      expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: ECB, data: BLOCK }))).reason).toBe(x.wrongState);
      expect((await fails(c, v, Operation.MAC, [uidNode(uid), t.bytes(Tag.Data, BLOCK)])).reason).toBe(x.wrongState);
      const dec = await ok(c, v, Operation.Decrypt, cipherPayload({ uid, params: ECB, data: bytesOf(enc, Tag.Data)! }));
      expect(toHex(bytesOf(dec, Tag.Data))).toBe(toHex(BLOCK));
    }
  });

  it('past the Protect Stop Date a key does not encrypt; before the Process Start Date it does not decrypt', async () => {
    const stopped = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED, { extra: [t.date(Tag.ProtectStopDate, nowSec() - 3600n)] });
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid: stopped, params: ECB, data: BLOCK }))).reason).toBe(x.wrongState);
    await ok(c, v, Operation.Decrypt, cipherPayload({ uid: stopped, params: ECB, data: BLOCK }));
    const later = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED, { extra: [t.date(Tag.ProcessStartDate, nowSec() + 3600n)] });
    expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid: later, params: ECB, data: BLOCK }))).reason).toBe(x.wrongState);
    await ok(c, v, Operation.Encrypt, cipherPayload({ uid: later, params: ECB, data: BLOCK }));
  });

  it('the Cryptographic Usage Mask must hold the operation', async () => {
    const decOnly = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, Decrypt);
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid: decOnly, params: ECB, data: BLOCK }))).reason).toBe(x.usageMask);
    expect((await fails(c, v, Operation.MAC, [uidNode(decOnly), t.bytes(Tag.Data, BLOCK)])).reason).toBe(x.usageMask);
    const encOnly = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, Encrypt);
    expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid: encOnly, params: ECB, data: BLOCK }))).reason).toBe(x.usageMask);
    expect((await fails(c, v, Operation.MACVerify, [uidNode(encOnly), t.bytes(Tag.Data, BLOCK), t.bytes(Tag.MACData, BLOCK)])).reason).toBe(x.usageMask);
  });

  it('Usage Limits in bytes are spent by Encrypt; past them Encrypt is refused, Decrypt is not (CS-BC-M-7-21)', async () => {
    const limits = t.struct(Tag.UsageLimits, [t.long(Tag.UsageLimitsTotal, 16n), t.enum(Tag.UsageLimitsUnit, UsageLimitsUnit.Byte)]);
    const uid = await registerKey(c, v, hex('0123456789abcdef0123456789abcdef'), CryptographicAlgorithm.AES, ED, { extra: [limits] });
    const plain = hex('01020304050607080910111213141516');
    const enc = await ok(c, v, Operation.Encrypt, cipherPayload({ uid, params: ECB, data: plain }));
    expect(toHex(bytesOf(enc, Tag.Data))).toBe('d9bcce11b0b437b90239552df3a360c9');
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: ECB, data: plain }))).reason).toBe(x.usageLimit);
    await ok(c, v, Operation.Decrypt, cipherPayload({ uid, params: ECB, data: bytesOf(enc, Tag.Data)! }));
    // MAC spends the same way and is refused with the same reason.
    const perUse = t.struct(Tag.UsageLimits, [t.long(Tag.UsageLimitsTotal, 1n), t.enum(Tag.UsageLimitsUnit, UsageLimitsUnit.Object)]);
    const macKey = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, MACGenerate, { extra: [perUse] });
    await ok(c, v, Operation.MAC, [uidNode(macKey), t.bytes(Tag.Data, BLOCK)]);
    expect((await fails(c, v, Operation.MAC, [uidNode(macKey), t.bytes(Tag.Data, BLOCK)])).reason).toBe(x.usageLimit);
  });

  it('a Tag Length no AEAD mode has (1 or 32 bytes) is General Failure for GCM and ChaCha20-Poly1305 (CS-BC-M-GCM-1, CS-BC-M-CHACHA20POLY1305-1 steps 7-8)', async () => {
    // General Failure, not Bad Cryptographic Parameters / Invalid Field: the profile test cases ask for it.
    const gcm = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED);
    const chacha = await registerKey(c, v, hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'), CryptographicAlgorithm.ChaCha20Poly1305, ED);
    for (const tagLength of [1, 32]) {
      expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid: gcm, params: { mode: BlockCipherMode.GCM, tagLength }, data: PLAIN, iv: IV }))).reason).toBe(
        ResultReason.GeneralFailure,
      );
      expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid: chacha, params: { tagLength }, data: PLAIN, iv: IV }))).reason).toBe(ResultReason.GeneralFailure);
      expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid: gcm, params: { mode: BlockCipherMode.GCM, tagLength }, data: hex(CIPHER), iv: IV, tag: hex(TAG) }))).reason).toBe(
        ResultReason.GeneralFailure,
      );
    }
    // A length the modes have but the policy does not serve stays a parameter refusal; 12 is served.
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid: chacha, params: { tagLength: 8 }, data: PLAIN, iv: IV }))).reason).toBe(x.badParams);
    const short = await ok(c, v, Operation.Encrypt, cipherPayload({ uid: chacha, params: { tagLength: 12 }, data: PLAIN, iv: IV }));
    expect(bytesOf(short, Tag.AuthenticatedEncryptionTag)).toHaveLength(12);
  });

  it('bad parameters: GCM Tag Length 8, a CBC IV of 8 bytes, no Block Cipher Mode for AES', async () => {
    const uid = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED);
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.GCM, tagLength: 8 }, data: PLAIN, iv: IV }))).reason).toBe(x.badParams);
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC }, data: BLOCK, iv: hex('0001020304050607') }))).reason).toBe(x.badParams);
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: {}, data: BLOCK }))).reason).toBe(x.badParams);
  });

  it('unsupported parameters: AES-CFB, an unknown padding, single DES', async () => {
    const uid = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED);
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CFB }, data: BLOCK, iv: BLOCK }))).reason).toBe(x.unsupported);
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.ANSIX9_23 }, data: BLOCK, iv: BLOCK }))).reason).toBe(
      x.unsupported,
    );
    // Single DES is refused when it is registered (the crypto policy on every key, src/policy/key-policy.ts).
    const des = await fails(c, v, Operation.Register, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(v, [attr.cryptographicUsageMask(ED)]),
      symmetricKeyObject(hex('0123456789abcdef'), CryptographicAlgorithm.DES),
    ]);
    expect(des.reason).toBe(v.major >= 2 ? ResultReason.InvalidAttributeValue : ResultReason.InvalidField);
    expect(des.message).toMatch(/cryptoPolicy\.des/);
  });

  it('CBC with no IV and no Random IV: missing IV (CS-BC-M-11-21 decrypt step); unpadded partial block: Invalid Field', async () => {
    const uid = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED);
    expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 }, data: BLOCK }))).reason).toBe(x.missingIv);
    // Encrypt without IV and without Random IV: the same condition, the same reason.
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 }, data: BLOCK }))).reason).toBe(x.missingIv);
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid, params: ECB, data: BLOCK.subarray(0, 15) }))).reason).toBe(ResultReason.InvalidField);
  });

  it('a changed GCM tag, IV or ciphertext is a Cryptographic Failure (CS-BC-M-GCM-1-21)', async () => {
    const uid = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED);
    const badTag = hex(TAG);
    badTag[0] = badTag[0]! ^ 0xff;
    const badIv = new Uint8Array(IV);
    badIv[0] = 0xff;
    const badCipher = hex(CIPHER);
    badCipher[0] = 0xff;
    for (const p of [
      { iv: IV, tag: badTag, data: hex(CIPHER) },
      { iv: badIv, tag: hex(TAG), data: hex(CIPHER) },
      { iv: IV, tag: hex(TAG), data: badCipher },
    ]) {
      expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid, params: GCM, aad: AAD, ...p }))).reason).toBe(ResultReason.CryptographicFailure);
    }
  });

  it('an unknown Correlation Value, or another principal’s, is refused', async () => {
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ correlation: hex('00112233445566778899aabbccddeeff'), data: BLOCK }))).reason).toBe(x.unknownCv);
    const uid = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, ED);
    const first = await ok(c, v, Operation.Encrypt, cipherPayload({ uid, params: GCM, iv: IV, aad: AAD, data: PLAIN.subarray(0, 16), init: true }));
    const cv = bytesOf(first, Tag.CorrelationValue)!;
    expect((await fails(alice, v, Operation.Encrypt, cipherPayload({ correlation: cv, data: BLOCK }))).reason).toBe(x.unknownCv);
    // Bound to the operation too: the Encrypt state cannot be continued as a MAC.
    expect((await fails(c, v, Operation.MAC, [t.bytes(Tag.Data, BLOCK), t.bytes(Tag.CorrelationValue, cv)])).reason).toBe(x.unknownCv);
    // The owner still can.
    await ok(c, v, Operation.Encrypt, cipherPayload({ correlation: cv, data: PLAIN.subarray(16), final: true }));
    // Finished: the value is gone.
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ correlation: cv, data: BLOCK }))).reason).toBe(x.unknownCv);
  });
});

describe('multi-part Encrypt/Decrypt (2.1)', () => {
  it('a 3-part GCM encrypt equals the one-shot result (McGrew-Viega case 4), and a 3-part decrypt checks the tag', async () => {
    const uid = await registerKey(c, V2_1, KEY, CryptographicAlgorithm.AES, ED);
    const one = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: GCM, iv: IV, aad: AAD, data: PLAIN }));
    expect(toHex(bytesOf(one, Tag.Data))).toBe(CIPHER);
    expect(toHex(bytesOf(one, Tag.AuthenticatedEncryptionTag))).toBe(TAG);

    const p1 = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: GCM, iv: IV, aad: AAD, data: PLAIN.subarray(0, 7), init: true }));
    const cv = bytesOf(p1, Tag.CorrelationValue)!;
    expect(bytesOf(p1, Tag.AuthenticatedEncryptionTag)).toBeUndefined();
    const p2 = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: GCM, data: PLAIN.subarray(7, 40), correlation: cv }));
    expect(toHex(bytesOf(p2, Tag.CorrelationValue))).toBe(toHex(cv));
    const p3 = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: GCM, data: PLAIN.subarray(40), correlation: cv, final: true }));
    const joined = Buffer.concat([bytesOf(p1, Tag.Data) ?? new Uint8Array(0), bytesOf(p2, Tag.Data) ?? new Uint8Array(0), bytesOf(p3, Tag.Data) ?? new Uint8Array(0)]);
    expect(joined.toString('hex')).toBe(CIPHER);
    expect(toHex(bytesOf(p3, Tag.AuthenticatedEncryptionTag))).toBe(TAG);

    const d1 = await ok(c, V2_1, Operation.Decrypt, cipherPayload({ uid, params: GCM, iv: IV, aad: AAD, data: hex(CIPHER).subarray(0, 20), init: true }));
    const dcv = bytesOf(d1, Tag.CorrelationValue)!;
    const d2 = await ok(c, V2_1, Operation.Decrypt, cipherPayload({ data: hex(CIPHER).subarray(20, 50), correlation: dcv }));
    const d3 = await ok(c, V2_1, Operation.Decrypt, cipherPayload({ data: hex(CIPHER).subarray(50), correlation: dcv, final: true, tag: hex(TAG) }));
    const plain = Buffer.concat([bytesOf(d1, Tag.Data)!, bytesOf(d2, Tag.Data)!, bytesOf(d3, Tag.Data) ?? new Uint8Array(0)]);
    expect(plain.toString('hex')).toBe(toHex(PLAIN));
  });

  it('a part that yields no output answers without Data (multi-part: Data not required), and the same Correlation Value throughout', async () => {
    const uid = await registerKey(c, V2_1, KEY, CryptographicAlgorithm.AES, ED);
    const ecb = { mode: BlockCipherMode.ECB };
    const one = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: ecb, data: PLAIN.subarray(0, 16) }));
    const p1 = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: ecb, data: PLAIN.subarray(0, 8), init: true }));
    expect(findChild(p1, Tag.Data)).toBeUndefined();
    const cv = bytesOf(p1, Tag.CorrelationValue)!;
    const p2 = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: ecb, data: PLAIN.subarray(8, 16), correlation: cv }));
    expect(toHex(bytesOf(p2, Tag.Data))).toBe(toHex(bytesOf(one, Tag.Data)));
    expect(toHex(bytesOf(p2, Tag.CorrelationValue))).toBe(toHex(cv));
    const p3 = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: ecb, correlation: cv, final: true }));
    expect(findChild(p3, Tag.Data)).toBeUndefined();
    // A one-shot request always carries Data, even when it is empty.
    const empty = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: ecb, data: new Uint8Array(0) }));
    expect(bytesOf(empty, Tag.Data)?.length).toBe(0);
  });

  it('revoking the key mid-stream stops the stream', async () => {
    const uid = await registerKey(c, V2_1, KEY, CryptographicAlgorithm.AES, ED);
    const p1 = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: GCM, iv: IV, data: PLAIN.subarray(0, 16), init: true }));
    const cv = bytesOf(p1, Tag.CorrelationValue)!;
    await ok(c, V2_1, Operation.Revoke, revoke(uid, RevocationReasonCode.CessationOfOperation));
    expect((await fails(c, V2_1, Operation.Encrypt, cipherPayload({ correlation: cv, data: PLAIN.subarray(16), final: true }))).reason).toBe(ResultReason.WrongKeyLifecycleState);
    expect((await fails(c, V2_1, Operation.Encrypt, cipherPayload({ correlation: cv, data: PLAIN.subarray(16), final: true }))).reason).toBe(ResultReason.InvalidCorrelationValue);
  });
});
