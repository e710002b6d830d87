/**
 * HSM-resident private keys with a real SoftHSM2 token over real mTLS: a Create Key Pair whose
 * private-key attributes say Extractable = false makes the private key a sensitive,
 * non-extractable token object (checked through the test's own PKCS#11 session); Get of it is
 * refused (Not Extractable); Sign runs in the HSM (RSA PKCS#1 v1.5, PSS, ECDSA P-256), verified
 * by node:crypto with the public key from Get and by the server's Signature Verify; Destroy
 * removes the token object; a restart keeps the key signing; RSA-OAEP Decrypt runs in the HSM.
 */
import { constants as CC, createHash, createPublicKey, publicEncrypt, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, HashingAlgorithm, KeyFormatType, Operation, PaddingMethod, RecommendedCurve, ResultReason, ValidityIndicator } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { oaepEncrypt } from '../../src/crypto/oaep.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { RESIDENT_LABEL_PREFIX } from '../../src/hsm/resident.js';
import type { KeyRef } from '../../src/hsm/key-backend.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { fails, ok, uidNode, V1_4, V2_1 } from '../operations/object-kit.js';
import { getKeyBlock, keyPairPayload, materialBytes, pairUids } from '../operations/asymmetric-kit.js';
import { useHsmTestKms } from './hsm-kms.js';

let srv: TestKms;
let c: KmipClient;
const { hsm } = useHsmTestKms('kms-resident-pairs', (server, client) => {
  srv = server;
  c = client;
});

const rsa2048 = [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)];
const p256 = [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), t.struct(Tag.CryptographicDomainParameters, [t.enum(Tag.RecommendedCurve, RecommendedCurve.P_256)])];
const notExtractable = t.bool(Tag.Extractable, false);

/** An active pair; `resident`: Extractable false on the private key. Returns the uids and the public key from Get. */
async function pair(common: readonly TtlvNode[], resident: boolean, privMask: number = M.Sign): Promise<{ priv: string; pub: string; pubKey: KeyObject }> {
  const privAttrs = [attr.cryptographicUsageMask(privMask), ...(resident ? [notExtractable] : [])];
  const { priv, pub } = pairUids(await ok(c, V2_1, Operation.CreateKeyPair, keyPairPayload(V2_1, common, privAttrs, [attr.cryptographicUsageMask(M.Verify)])));
  await ok(c, V2_1, Operation.Activate, [uidNode(priv)]);
  await ok(c, V2_1, Operation.Activate, [uidNode(pub)]);
  const spki = materialBytes(await getKeyBlock(c, V2_1, pub, Tag.PublicKey, KeyFormatType.X_509));
  return { priv, pub, pubKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }) };
}

/** The token's private key behind `uid`, through a PKCS#11 session of the test's own. */
async function tokenKey(uid: string): Promise<KeyRef | undefined> {
  const b = await Pkcs11Backend.open(hsm);
  try {
    const found = await b.findKeys({ label: RESIDENT_LABEL_PREFIX + uid, token: true });
    expect(found.length).toBeLessThanOrEqual(1);
    return found[0];
  } finally {
    await b.close();
  }
}

async function sign(uid: string, input: TtlvNode, params: TtlvNode[] = []): Promise<Buffer> {
  const p = await ok(c, V2_1, Operation.Sign, [uidNode(uid), ...(params.length ? [t.struct(Tag.CryptographicParameters, params)] : []), input]);
  const s = findChild(p, Tag.SignatureData);
  if (s?.type !== 'ByteString') throw new Error('no Signature Data');
  return Buffer.from(s.value);
}

async function serverVerify(uid: string, data: Buffer, sig: Buffer, params: TtlvNode[] = []): Promise<number | undefined> {
  const p = await ok(c, V2_1, Operation.SignatureVerify, [
    uidNode(uid),
    ...(params.length ? [t.struct(Tag.CryptographicParameters, params)] : []),
    t.bytes(Tag.Data, data),
    t.bytes(Tag.SignatureData, sig),
  ]);
  const v = findChild(p, Tag.ValidityIndicator);
  return v?.type === 'Enumeration' ? v.value : undefined;
}

const DATA = Buffer.from('signed by a key that never leaves the HSM');

describe('HSM-resident private keys (Create Key Pair, Extractable = false)', () => {
  it('RSA-2048: the token holds a sensitive, non-extractable private key; Get of it is Not Extractable; the public key is an ordinary object', async () => {
    const { priv, pub, pubKey } = await pair(rsa2048, true);
    expect(pubKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const rec = await srv.kms.services.store.get(priv);
    expect(rec?.hsmKey).toBeDefined();
    expect((await srv.kms.services.store.get(pub))?.hsmKey).toBeUndefined();
    const k = await tokenKey(priv);
    expect(k).toMatchObject({ type: 'RSA', bits: 2048, token: true, sensitive: true, extractable: false, usage: ['sign'] });
    expect(JSON.parse(rec!.hsmKey!).id).toBe(k!.id);
    // The sealed body has a Key Block without Key Value (tag 0x420045).
    const body = Buffer.from(await srv.kms.services.protector.open(priv, rec!.sealedBody!, rec!.kekId!));
    expect(body.includes(Buffer.from([0x42, 0x00, 0x45]))).toBe(false);
    expect((await fails(c, V2_1, Operation.Get, [uidNode(priv)])).reason).toBe(ResultReason.NotExtractable);
    expect((await fails(c, V1_4, Operation.Get, [uidNode(priv)])).reason).toBe(ResultReason.NotExtractable);
  });

  it('a pair without Extractable = false is made in the host, as before', async () => {
    const { priv } = await pair(rsa2048, false);
    expect((await srv.kms.services.store.get(priv))?.hsmKey).toBeUndefined();
    expect(await tokenKey(priv)).toBeUndefined();
  });

  it('RSA Sign in the HSM: PKCS#1 v1.5 SHA-256 (also over Digested Data) and PSS SHA-256, verified by node:crypto and by Signature Verify', async () => {
    const { priv, pub, pubKey } = await pair(rsa2048, true);
    const v15 = await sign(priv, t.bytes(Tag.Data, DATA));
    expect(nodeVerify('sha256', DATA, pubKey, v15)).toBe(true);
    expect(nodeVerify('sha256', Buffer.from('something else'), pubKey, v15)).toBe(false);
    const digest = createHash('sha256').update(DATA).digest();
    expect(await sign(priv, t.bytes(Tag.DigestedData, digest))).toEqual(v15); // deterministic
    expect(await serverVerify(pub, DATA, v15)).toBe(ValidityIndicator.Valid);
    const pssParams = [t.enum(Tag.PaddingMethod, PaddingMethod.PSS), t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256), t.int(Tag.SaltLength, 32)];
    const pss = await sign(priv, t.bytes(Tag.Data, DATA), pssParams);
    expect(pss).toHaveLength(256);
    expect(nodeVerify('sha256', DATA, { key: pubKey, padding: CC.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);
    expect(nodeVerify('sha256', DATA, pubKey, pss)).toBe(false); // not a v1.5 signature
    expect(await serverVerify(pub, DATA, pss, pssParams)).toBe(ValidityIndicator.Valid);
    const s384 = await sign(priv, t.bytes(Tag.Data, DATA), [t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_384)]);
    expect(nodeVerify('sha384', DATA, pubKey, s384)).toBe(true);
    // A digest of the wrong length is refused before the HSM.
    expect((await fails(c, V2_1, Operation.Sign, [uidNode(priv), t.bytes(Tag.DigestedData, Buffer.alloc(20))])).reason).toBe(ResultReason.BadCryptographicParameters);
  });

  it('EC P-256 Sign in the HSM: ECDSA SHA-256 as DER, verified by node:crypto and by Signature Verify', async () => {
    const { priv, pub, pubKey } = await pair(p256, true);
    expect(pubKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(await tokenKey(priv)).toMatchObject({ type: 'EC', bits: 256, sensitive: true, extractable: false });
    const sig = await sign(priv, t.bytes(Tag.Data, DATA));
    expect(sig[0]).toBe(0x30); // DER SEQUENCE, as node produces
    expect(nodeVerify('sha256', DATA, pubKey, sig)).toBe(true);
    expect(nodeVerify('sha256', Buffer.from('tampered'), pubKey, sig)).toBe(false);
    expect(await serverVerify(pub, DATA, sig)).toBe(ValidityIndicator.Valid);
    expect((await fails(c, V2_1, Operation.Get, [uidNode(priv)])).reason).toBe(ResultReason.NotExtractable);
  });

  it('multi-part Sign with a resident key gives a signature over the whole data', async () => {
    const { priv, pubKey } = await pair(rsa2048, true);
    const first = await ok(c, V2_1, Operation.Sign, [uidNode(priv), t.bytes(Tag.Data, DATA.subarray(0, 10)), t.bool(Tag.InitIndicator, true)]);
    const cv = findChild(first, Tag.CorrelationValue);
    if (cv?.type !== 'ByteString') throw new Error('no Correlation Value');
    const last = await ok(c, V2_1, Operation.Sign, [t.bytes(Tag.Data, DATA.subarray(10)), t.bytes(Tag.CorrelationValue, cv.value), t.bool(Tag.FinalIndicator, true)]);
    const s = findChild(last, Tag.SignatureData);
    expect(s?.type).toBe('ByteString');
    expect(nodeVerify('sha256', DATA, pubKey, Buffer.from(s!.value as Uint8Array))).toBe(true);
  });

  it('RSA-OAEP Decrypt with a resident private key runs in the HSM (SHA-1; SHA-256, another MGF1 hash and a label are beyond SoftHSM2 and refused as unsupported)', async () => {
    const { priv, pubKey } = await pair(rsa2048, true, M.Sign | M.Decrypt);
    expect((await tokenKey(priv))?.usage).toEqual(['sign', 'decrypt']);
    const msg = Buffer.from('a secret for the HSM to open');
    const oaep = (hash: number) => t.struct(Tag.CryptographicParameters, [t.enum(Tag.PaddingMethod, PaddingMethod.OAEP), t.enum(Tag.HashingAlgorithm, hash)]);
    const decrypt = (ct: Uint8Array, hash: number) => ok(c, V2_1, Operation.Decrypt, [uidNode(priv), oaep(hash), t.bytes(Tag.Data, ct)]);
    const dataOf = (p: StructureNode) => Buffer.from(findChild(p, Tag.Data)!.value as Uint8Array);
    const ct = publicEncrypt({ key: pubKey, padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, msg);
    expect(dataOf(await decrypt(ct, HashingAlgorithm.SHA_1))).toEqual(msg);
    const tampered = Buffer.from(ct);
    tampered[5]! ^= 1;
    expect((await fails(c, V2_1, Operation.Decrypt, [uidNode(priv), oaep(HashingAlgorithm.SHA_1), t.bytes(Tag.Data, tampered)])).reason).toBe(ResultReason.CryptographicFailure);
    const ct256 = publicEncrypt({ key: pubKey, padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, msg);
    expect((await fails(c, V2_1, Operation.Decrypt, [uidNode(priv), oaep(HashingAlgorithm.SHA_256), t.bytes(Tag.Data, ct256)])).reason).toBe(ResultReason.UnsupportedCryptographicParameters);
    // MGF1 over another hash than the label hash, or a label: the request reaches the HSM as
    // CK_RSA_PKCS_OAEP_PARAMS (mgf, pSourceData); SoftHSM2 takes neither, so the server refuses it
    // as unsupported before the call (and never decrypts an HSM key's ciphertext in the host).
    const mixed = t.struct(Tag.CryptographicParameters, [
      t.enum(Tag.PaddingMethod, PaddingMethod.OAEP),
      t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_1),
      t.enum(Tag.MaskGeneratorHashingAlgorithm, HashingAlgorithm.SHA_256),
    ]);
    const refusedMixed = await fails(c, V2_1, Operation.Decrypt, [uidNode(priv), mixed, t.bytes(Tag.Data, oaepEncrypt(pubKey, { hash: 'sha1', mgfHash: 'sha256' }, msg))]);
    expect(refusedMixed.reason).toBe(ResultReason.UnsupportedCryptographicParameters);
    expect(refusedMixed.message).toMatch(/MGF1/);
    const labelled = t.struct(Tag.CryptographicParameters, [
      t.enum(Tag.PaddingMethod, PaddingMethod.OAEP),
      t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_1),
      t.bytes(Tag.PSource, Buffer.from('label')),
    ]);
    const ctLabel = publicEncrypt({ key: pubKey, padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1', oaepLabel: Buffer.from('label') }, msg);
    expect((await fails(c, V1_4, Operation.Decrypt, [uidNode(priv), labelled, t.bytes(Tag.Data, ctLabel)])).reason).toBe(ResultReason.InvalidField);
    // A sign-only resident key: its mask says no.
    const signOnly = await pair(rsa2048, true);
    expect((await fails(c, V2_1, Operation.Decrypt, [uidNode(signOnly.priv), oaep(HashingAlgorithm.SHA_1), t.bytes(Tag.Data, ct)])).reason).toBe(
      ResultReason.IncompatibleCryptographicUsageMask,
    );
  });

  it('Destroy removes the token object; the public key stays', async () => {
    const { priv, pub } = await pair(rsa2048, true);
    expect(await tokenKey(priv)).toBeDefined();
    await ok(c, V2_1, Operation.Revoke, [uidNode(priv), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, 5)])]);
    await ok(c, V2_1, Operation.Destroy, [uidNode(priv)]);
    expect(await tokenKey(priv)).toBeUndefined();
    expect((await srv.kms.services.store.get(priv))?.hsmKey).toBeUndefined();
    await getKeyBlock(c, V2_1, pub, Tag.PublicKey, KeyFormatType.X_509);
  });

  it('Re-key Key Pair of a resident pair makes a new resident pair that signs; the old token key stays', async () => {
    const { priv } = await pair(rsa2048, true);
    const r = pairUids(await ok(c, V2_1, Operation.ReKeyKeyPair, [t.text(Tag.PrivateKeyUniqueIdentifier, priv)]));
    expect(r.priv).not.toBe(priv);
    expect((await srv.kms.services.store.get(r.priv))?.hsmKey).toBeDefined();
    const k = await tokenKey(r.priv);
    expect(k).toMatchObject({ type: 'RSA', bits: 2048, sensitive: true, extractable: false });
    expect((await tokenKey(priv))?.id).not.toBe(k!.id);
    expect((await fails(c, V2_1, Operation.Get, [uidNode(r.priv)])).reason).toBe(ResultReason.NotExtractable);
    const spki = materialBytes(await getKeyBlock(c, V2_1, r.pub, Tag.PublicKey, KeyFormatType.X_509));
    expect(nodeVerify('sha256', DATA, createPublicKey({ key: spki, format: 'der', type: 'spki' }), await sign(r.priv, t.bytes(Tag.Data, DATA)))).toBe(true);
  });

  it('after a restart the resident private key still signs', async () => {
    const { priv, pubKey } = await pair(rsa2048, true);
    await srv.stop();
    srv = await startTestKms({ hsm }, { dataDir: srv.dataDir });
    c = await srv.client();
    expect(nodeVerify('sha256', DATA, pubKey, await sign(priv, t.bytes(Tag.Data, DATA)))).toBe(true);
  });
});

describe('hsm.residentKeys = always', () => {
  it('every Create Key Pair keeps its private key in the HSM; Ed25519 (not holdable there) is refused', async () => {
    await srv.stop();
    srv = await startTestKms({ hsm: { ...hsm, residentKeys: 'always' } }, { dataDir: srv.dataDir });
    c = await srv.client();
    const { priv, pubKey } = await pair(rsa2048, false);
    expect((await srv.kms.services.store.get(priv))?.hsmKey).toBeDefined();
    expect(await tokenKey(priv)).toMatchObject({ type: 'RSA', sensitive: true, extractable: false });
    expect((await fails(c, V2_1, Operation.Get, [uidNode(priv)])).reason).toBe(ResultReason.NotExtractable);
    expect(nodeVerify('sha256', DATA, pubKey, await sign(priv, t.bytes(Tag.Data, DATA)))).toBe(true);
    const ed = await fails(
      c,
      V2_1,
      Operation.CreateKeyPair,
      keyPairPayload(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.Ed25519)], [attr.cryptographicUsageMask(M.Sign)], [attr.cryptographicUsageMask(M.Verify)]),
    );
    expect(ed.reason).toBe(ResultReason.InvalidAttributeValue);
  });
});
