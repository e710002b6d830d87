/**
 * RSA Encrypt / Decrypt (KMIP 1.4 §4.29-4.30, 2.1 §6.1.17 / §6.1.13) with keys registered as
 * PKCS#1 / X.509 (SubjectPublicKeyInfo) public keys and a PKCS#8 private key, checked against an
 * independent implementation: Python's `cryptography` (/usr/bin/python3) makes the key pair,
 * decrypts what the server encrypts, and encrypts what the server decrypts (RFC 8017 OAEP with
 * SHA-1 and SHA-256, PKCS#1 v1.5 encryption). PKCS#1 v1.5 decryption is refused (mechanism.ts).
 * OAEP with MGF1 over another hash than the label hash and with a label (P Source), as the test
 * cases CS-AC-M-OAEP-7…10 ask (src/crypto/oaep.ts), is checked the same way, both directions.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyBlock, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, HashingAlgorithm, KeyFormatType, MaskGenerator, ObjectType, Operation, PaddingMethod, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { fails, ok, V1_4, V2_1 } from './object-kit.js';
import { bytesOf, cipherPayload, cryptoParams, hex, registerKey, toHex } from './crypto-kit.js';

const PY_KEYGEN = `
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization as s
k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
print(k.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption()).hex())
print(k.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.PKCS1).hex())
print(k.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo).hex())
`;

const PY_CRYPT = `
import sys, json
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives import hashes, serialization as s
req = json.load(sys.stdin)
H = {'sha1': hashes.SHA1, 'sha224': hashes.SHA224, 'sha256': hashes.SHA256, 'sha384': hashes.SHA384, 'sha512': hashes.SHA512}
h = H[req.get('hash', 'sha1')]()
m = H[req.get('mgf', req.get('hash', 'sha1'))]()
label = bytes.fromhex(req['label']) if req.get('label') else None
pad = padding.PKCS1v15() if req['padding'] == 'pkcs1' else padding.OAEP(mgf=padding.MGF1(algorithm=m), algorithm=h, label=label)
if req['op'] == 'decrypt':
    k = s.load_der_private_key(bytes.fromhex(req['key']), password=None)
    print(k.decrypt(bytes.fromhex(req['data']), pad).hex())
else:
    k = s.load_der_public_key(bytes.fromhex(req['key']))
    print(k.encrypt(bytes.fromhex(req['data']), pad).hex())
`;

function python(script: string, input = ''): string {
  return execFileSync('/usr/bin/python3', ['-c', script], { input, encoding: 'utf8' }).trim();
}

let srv: TestKms;
let c: KmipClient;
let pkcs8: string;
let pkcs1Public: string;
let spki: string;

beforeAll(async () => {
  [pkcs8, pkcs1Public, spki] = python(PY_KEYGEN).split('\n') as [string, string, string];
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const MESSAGE = hex('4b4d495020525341206b6e6f776e2d616e73776572');

async function keyPair(v: KmipVersion, publicFormat: 'pkcs1' | 'spki', extra: readonly TtlvNode[] = []): Promise<{ pub: string; priv: string }> {
  const pubObject = t.struct(Tag.PublicKey, [
    keyBlock(hex(publicFormat === 'pkcs1' ? pkcs1Public : spki), publicFormat === 'pkcs1' ? KeyFormatType.PKCS_1 : KeyFormatType.X_509, CryptographicAlgorithm.RSA, 2048),
  ]);
  const privObject = t.struct(Tag.PrivateKey, [keyBlock(hex(pkcs8), KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 2048)]);
  const pub = await registerKey(c, v, new Uint8Array(0), CryptographicAlgorithm.RSA, CryptographicUsageMask.Encrypt, { objectType: ObjectType.PublicKey, object: pubObject, extra });
  const priv = await registerKey(c, v, new Uint8Array(0), CryptographicAlgorithm.RSA, CryptographicUsageMask.Decrypt, { objectType: ObjectType.PrivateKey, object: privObject, extra });
  return { pub, priv };
}

describe.each([V2_1, V1_4] as KmipVersion[])('RSA at %o', (v) => {
  it('OAEP SHA-256: the server encrypts (PKCS#1 public key), Python decrypts', async () => {
    const { pub } = await keyPair(v, 'pkcs1');
    const enc = await ok(c, v, Operation.Encrypt, cipherPayload({ uid: pub, params: { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_256 }, data: MESSAGE }));
    const ct = bytesOf(enc, Tag.Data)!;
    expect(ct.length).toBe(256);
    expect(python(PY_CRYPT, JSON.stringify({ op: 'decrypt', key: pkcs8, data: toHex(ct), padding: 'oaep', hash: 'sha256' }))).toBe(toHex(MESSAGE));
  });

  it('OAEP SHA-1: Python encrypts, the server decrypts (PKCS#8 private key)', async () => {
    const { priv } = await keyPair(v, 'spki');
    const ct = python(PY_CRYPT, JSON.stringify({ op: 'encrypt', key: spki, data: toHex(MESSAGE), padding: 'oaep', hash: 'sha1' }));
    const dec = await ok(c, v, Operation.Decrypt, cipherPayload({ uid: priv, params: { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_1 }, data: hex(ct) }));
    expect(toHex(bytesOf(dec, Tag.Data))).toBe(toHex(MESSAGE));
    // A corrupted ciphertext is a Cryptographic Failure.
    const bad = hex(ct);
    bad[10] = bad[10]! ^ 1;
    expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid: priv, params: { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_1 }, data: bad }))).reason).toBe(
      ResultReason.CryptographicFailure,
    );
  });

  it('PKCS#1 v1.5: the server encrypts (X.509 public key), Python decrypts; the server refuses v1.5 decryption', async () => {
    const { pub, priv } = await keyPair(v, 'spki');
    const enc = await ok(c, v, Operation.Encrypt, cipherPayload({ uid: pub, params: { padding: PaddingMethod.PKCS1V1_5 }, data: MESSAGE }));
    expect(python(PY_CRYPT, JSON.stringify({ op: 'decrypt', key: pkcs8, data: toHex(bytesOf(enc, Tag.Data)), padding: 'pkcs1' }))).toBe(toHex(MESSAGE));
    const r = await fails(c, v, Operation.Decrypt, cipherPayload({ uid: priv, params: { padding: PaddingMethod.PKCS1V1_5 }, data: bytesOf(enc, Tag.Data)! }));
    expect(r.reason).toBe(v.major >= 2 ? ResultReason.UnsupportedCryptographicParameters : ResultReason.InvalidField);
  });

  it('a public key cannot decrypt and a private key cannot encrypt', async () => {
    const { pub, priv } = await keyPair(v, 'pkcs1');
    const wrongType = v.major >= 2 ? ResultReason.InvalidObjectType : ResultReason.IllegalOperation;
    expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid: pub, data: MESSAGE }))).reason).toBe(wrongType);
    expect((await fails(c, v, Operation.Encrypt, cipherPayload({ uid: priv, data: MESSAGE }))).reason).toBe(wrongType);
  });

  it('OAEP SHA-384 label hash with MGF1-SHA-256 and a label: the server encrypts, Python decrypts; Python encrypts, the server decrypts', async () => {
    const { pub, priv } = await keyPair(v, 'spki');
    const label = Buffer.from('Kilroy was here');
    const params = { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_384, maskGenerator: MaskGenerator.MGF1, maskGeneratorHashing: HashingAlgorithm.SHA_256, pSource: label };
    const py = { padding: 'oaep', hash: 'sha384', mgf: 'sha256', label: label.toString('hex') };
    const enc = await ok(c, v, Operation.Encrypt, cipherPayload({ uid: pub, params, data: MESSAGE }));
    const ct = bytesOf(enc, Tag.Data)!;
    expect(ct.length).toBe(256);
    expect(python(PY_CRYPT, JSON.stringify({ ...py, op: 'decrypt', key: pkcs8, data: toHex(ct) }))).toBe(toHex(MESSAGE));
    const pyCt = python(PY_CRYPT, JSON.stringify({ ...py, op: 'encrypt', key: spki, data: toHex(MESSAGE) }));
    const dec = await ok(c, v, Operation.Decrypt, cipherPayload({ uid: priv, params, data: hex(pyCt) }));
    expect(toHex(bytesOf(dec, Tag.Data))).toBe(toHex(MESSAGE));
    // Without the label, or with MGF1 over the label hash, the same ciphertext is a Cryptographic Failure.
    const { pSource: _, ...noLabel } = params;
    for (const wrong of [noLabel, { ...params, maskGeneratorHashing: HashingAlgorithm.SHA_384 }, { ...params, pSource: Buffer.from('Kilroy was not here') }]) {
      expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid: priv, params: wrong, data: hex(pyCt) }))).reason).toBe(ResultReason.CryptographicFailure);
    }
  });

  it('OAEP SHA-1 label hash with MGF1-SHA-512 (the key attribute carries the parameters): both directions against Python', async () => {
    const attribute = cryptoParams({ padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_1, algorithm: CryptographicAlgorithm.RSA, maskGeneratorHashing: HashingAlgorithm.SHA_512 });
    const { pub, priv } = await keyPair(v, 'pkcs1', [attribute]);
    const py = { padding: 'oaep', hash: 'sha1', mgf: 'sha512' };
    const ct = bytesOf(await ok(c, v, Operation.Encrypt, cipherPayload({ uid: pub, data: MESSAGE })), Tag.Data)!;
    expect(python(PY_CRYPT, JSON.stringify({ ...py, op: 'decrypt', key: pkcs8, data: toHex(ct) }))).toBe(toHex(MESSAGE));
    const pyCt = python(PY_CRYPT, JSON.stringify({ ...py, op: 'encrypt', key: spki, data: toHex(MESSAGE) }));
    expect(toHex(bytesOf(await ok(c, v, Operation.Decrypt, cipherPayload({ uid: priv, data: hex(pyCt) })), Tag.Data))).toBe(toHex(MESSAGE));
    // The request's parameters, when given, replace the attribute's: MGF1 over SHA-1 does not open it.
    expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid: priv, params: { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_1 }, data: hex(pyCt) }))).reason).toBe(
      ResultReason.CryptographicFailure,
    );
  });

  it("OAEP SHA-256 with MGF1-SHA-256 and a label (node's native OAEP with its label): both directions against Python", async () => {
    const { pub, priv } = await keyPair(v, 'spki');
    const label = Buffer.from('a label');
    const params = { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_256, maskGeneratorHashing: HashingAlgorithm.SHA_256, pSource: label };
    const py = { padding: 'oaep', hash: 'sha256', mgf: 'sha256', label: label.toString('hex') };
    const ct = bytesOf(await ok(c, v, Operation.Encrypt, cipherPayload({ uid: pub, params, data: MESSAGE })), Tag.Data)!;
    expect(python(PY_CRYPT, JSON.stringify({ ...py, op: 'decrypt', key: pkcs8, data: toHex(ct) }))).toBe(toHex(MESSAGE));
    const pyCt = python(PY_CRYPT, JSON.stringify({ ...py, op: 'encrypt', key: spki, data: toHex(MESSAGE) }));
    expect(toHex(bytesOf(await ok(c, v, Operation.Decrypt, cipherPayload({ uid: priv, params, data: hex(pyCt) })), Tag.Data))).toBe(toHex(MESSAGE));
    const { pSource: _, ...noLabel } = params;
    expect((await fails(c, v, Operation.Decrypt, cipherPayload({ uid: priv, params: noLabel, data: hex(pyCt) }))).reason).toBe(ResultReason.CryptographicFailure);
  });

  it('the crypto policy refuses an OAEP hash it does not list, as the label hash or in MGF1; a Mask Generator other than MGF1; a label with PKCS#1 v1.5', async () => {
    const { pub } = await keyPair(v, 'spki');
    const unsupported = v.major >= 2 ? ResultReason.UnsupportedCryptographicParameters : ResultReason.InvalidField;
    const bad = v.major >= 2 ? ResultReason.BadCryptographicParameters : ResultReason.InvalidField;
    const enc = (params: Parameters<typeof cipherPayload>[0]['params']) => fails(c, v, Operation.Encrypt, cipherPayload({ uid: pub, params, data: MESSAGE }));
    expect((await enc({ padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA3_256, maskGeneratorHashing: HashingAlgorithm.SHA_256 })).reason).toBe(unsupported);
    const r = await enc({ padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_256, maskGeneratorHashing: HashingAlgorithm.SHA3_256 });
    expect(r.reason).toBe(unsupported);
    expect(r.message).toMatch(/Mask Generator Hashing Algorithm/);
    expect((await enc({ padding: PaddingMethod.OAEP, maskGenerator: 2 })).reason).toBe(unsupported);
    expect((await enc({ padding: PaddingMethod.PKCS1V1_5, pSource: Buffer.from('x') })).reason).toBe(bad);
  });
});
