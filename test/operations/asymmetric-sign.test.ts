/**
 * Sign and Signature Verify (KMIP 1.4 §4.31-4.32, 2.1 §6.1.52-53) over a real mTLS server, with
 * Python's `cryptography` as the independent oracle: it verifies what the server signs and signs
 * what the server verifies. Known answers: RSA PKCS#1 v1.5 (deterministic) with the fixed key of
 * test case CS-AC-M-1-21, compared with Python's signature; Ed25519 RFC 8032 §7.1 TEST 1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  CryptographicAlgorithm,
  DigitalSignatureAlgorithm,
  HashingAlgorithm,
  KeyFormatType,
  ObjectType,
  Operation,
  PaddingMethod,
  RecommendedCurve,
  ResultReason,
  RevocationReasonCode,
  ValidityIndicator,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { TESTCASES } from '../support/paths.js';
import { attrs, fails, ok, uidNode, uidOf, V1_2, V1_4, V2_1 } from './object-kit.js';
import { getKeyBlock, keyPairPayload, materialBytes, pairUids, pyPriv, pySign, pyVerify, type PyScheme } from './asymmetric-kit.js';
import { createHash } from 'node:crypto';

let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const SIGN = CryptographicUsageMask.Sign;
const VERIFY = CryptographicUsageMask.Verify;
const MSG = Buffer.from('01020304050607080910111213141516', 'hex');

const params = (p: { padding?: number; hash?: number; dsa?: number; alg?: number; salt?: number }): TtlvNode =>
  t.struct(Tag.CryptographicParameters, [
    ...(p.padding !== undefined ? [t.enum(Tag.PaddingMethod, p.padding)] : []),
    ...(p.hash !== undefined ? [t.enum(Tag.HashingAlgorithm, p.hash)] : []),
    ...(p.dsa !== undefined ? [t.enum(Tag.DigitalSignatureAlgorithm, p.dsa)] : []),
    ...(p.alg !== undefined ? [t.enum(Tag.CryptographicAlgorithm, p.alg)] : []),
    ...(p.salt !== undefined ? [t.int(Tag.SaltLength, p.salt)] : []),
  ]);

async function activePair(v: KmipVersion, common: readonly TtlvNode[]): Promise<{ priv: string; pub: string; pkcs8: string; spki: Buffer }> {
  const { priv, pub } = pairUids(await ok(c, v, Operation.CreateKeyPair, keyPairPayload(v, common, [attr.cryptographicUsageMask(SIGN)], [attr.cryptographicUsageMask(VERIFY)])));
  await ok(c, v, Operation.Activate, [uidNode(priv)]);
  await ok(c, v, Operation.Activate, [uidNode(pub)]);
  const pkcs8 = pyPriv(materialBytes(await getKeyBlock(c, v, priv, Tag.PrivateKey, KeyFormatType.PKCS_8))).pkcs8;
  const spki = materialBytes(await getKeyBlock(c, v, pub, Tag.PublicKey, KeyFormatType.X_509));
  return { priv, pub, pkcs8, spki };
}

async function sign(v: KmipVersion, uid: string, data: Uint8Array, extra: readonly TtlvNode[] = []): Promise<Buffer> {
  const p = await ok(c, v, Operation.Sign, [uidNode(uid), ...extra, t.bytes(Tag.Data, data)]);
  expect(uidOf(p)).toBe(uid);
  const s = findChild(p, Tag.SignatureData);
  if (s?.type !== 'ByteString') throw new Error('no Signature Data');
  return Buffer.from(s.value);
}

async function verify(v: KmipVersion, uid: string, data: Uint8Array, sig: Uint8Array, extra: readonly TtlvNode[] = []): Promise<number | undefined> {
  const p = await ok(c, v, Operation.SignatureVerify, [uidNode(uid), ...extra, t.bytes(Tag.Data, data), t.bytes(Tag.SignatureData, sig)]);
  const vi = findChild(p, Tag.ValidityIndicator);
  return vi?.type === 'Enumeration' ? vi.value : undefined;
}

const rsa2048 = [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)];

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Sign / Signature Verify at KMIP %s', (_l, v) => {
  interface Case {
    label: string;
    common: readonly TtlvNode[];
    req: readonly TtlvNode[];
    py: PyScheme;
  }
  const cases: Case[] = [
    { label: 'RSA PKCS#1 v1.5 SHA-256 (default parameters)', common: rsa2048, req: [], py: { kind: 'pkcs1v15', hash: 'sha256' } },
    {
      label: 'RSA PKCS#1 v1.5 SHA-512 (Digital Signature Algorithm)',
      common: rsa2048,
      req: [params({ dsa: DigitalSignatureAlgorithm.SHA_512WithRSAEncryption })],
      py: { kind: 'pkcs1v15', hash: 'sha512' },
    },
    {
      label: 'RSA PSS SHA-384',
      common: rsa2048,
      req: [params({ padding: PaddingMethod.PSS, hash: HashingAlgorithm.SHA_384, alg: CryptographicAlgorithm.RSA })],
      py: { kind: 'pss', hash: 'sha384' },
    },
    { label: 'ECDSA P-256 SHA-256', common: [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)], req: [], py: { kind: 'ecdsa', hash: 'sha256' } },
    {
      label: 'ECDSA P-384 SHA-384 (Digital Signature Algorithm)',
      common: [attr.cryptographicAlgorithm(CryptographicAlgorithm.ECDSA), attr.cryptographicLength(384)],
      req: [params({ dsa: DigitalSignatureAlgorithm.ECDSAWithSHA384 })],
      py: { kind: 'ecdsa', hash: 'sha384' },
    },
    { label: 'Ed25519', common: [attr.cryptographicAlgorithm(CryptographicAlgorithm.Ed25519)], req: [], py: { kind: 'ed25519' } },
  ];

  it.each(cases)("$label: Python verifies our signature, we verify Python's, a changed message is Invalid", async (k) => {
    const kp = await activePair(v, k.common);
    const sig = await sign(v, kp.priv, MSG, k.req);
    expect(pyVerify(kp.spki, k.py, MSG, sig)).toBe(true);
    expect(await verify(v, kp.pub, MSG, sig, k.req)).toBe(ValidityIndicator.Valid);
    const other = Buffer.from(MSG);
    other[0] = other[0]! ^ 1;
    expect(await verify(v, kp.pub, other, sig, k.req)).toBe(ValidityIndicator.Invalid);
    const theirs = pySign(kp.pkcs8, k.py, MSG);
    expect(await verify(v, kp.pub, MSG, theirs, k.req)).toBe(ValidityIndicator.Valid);
    expect(await verify(v, kp.pub, MSG, Buffer.from('not a signature'), k.req)).toBe(ValidityIndicator.Invalid);
  });

  it("the key's Cryptographic Parameters attribute applies when the request has none (PSS, salt 222 as in CS-AC-M-1-21)", async () => {
    const { priv, pub } = pairUids(
      await ok(
        c,
        v,
        Operation.CreateKeyPair,
        keyPairPayload(
          v,
          [...rsa2048, params({ padding: PaddingMethod.PSS, hash: HashingAlgorithm.SHA_256, salt: 222 })],
          [attr.cryptographicUsageMask(SIGN)],
          [attr.cryptographicUsageMask(VERIFY)],
        ),
      ),
    );
    await ok(c, v, Operation.Activate, [uidNode(priv)]);
    await ok(c, v, Operation.Activate, [uidNode(pub)]);
    const spki = materialBytes(await getKeyBlock(c, v, pub, Tag.PublicKey, KeyFormatType.X_509));
    const sig = await sign(v, priv, MSG);
    expect(pyVerify(spki, { kind: 'pss', hash: 'sha256' }, MSG, sig)).toBe(true);
    expect(pyVerify(spki, { kind: 'pkcs1v15', hash: 'sha256' }, MSG, sig)).toBe(false);
    expect(await verify(v, pub, MSG, sig)).toBe(ValidityIndicator.Valid);
    // A wrong hash verifies as Invalid, not as an error (CS-AC-M-3-21 step 4; SHA-1 still verifies).
    expect(await verify(v, pub, MSG, sig, [params({ padding: PaddingMethod.PSS, hash: HashingAlgorithm.SHA_1 })])).toBe(ValidityIndicator.Invalid);
  });

  it('Digested Data: RSA PKCS#1 v1.5 over a SHA-256 digest equals the signature over the data', async () => {
    const kp = await activePair(v, rsa2048);
    const digest = createHash('sha256').update(MSG).digest();
    const p = await ok(c, v, Operation.Sign, [uidNode(kp.priv), t.bytes(Tag.DigestedData, digest)]);
    const s = findChild(p, Tag.SignatureData);
    expect(s?.type === 'ByteString' && Buffer.from(s.value).equals(await sign(v, kp.priv, MSG))).toBe(true);
    const vr = await ok(c, v, Operation.SignatureVerify, [uidNode(kp.pub), t.bytes(Tag.DigestedData, digest), t.bytes(Tag.SignatureData, (s as { value: Uint8Array }).value)]);
    expect(findChild(vr, Tag.ValidityIndicator)).toMatchObject({ value: ValidityIndicator.Valid });
    const short = await fails(c, v, Operation.Sign, [uidNode(kp.priv), t.bytes(Tag.DigestedData, digest.subarray(0, 20))]);
    expect(short.reason).toBe(v.major >= 2 ? ResultReason.BadCryptographicParameters : ResultReason.InvalidField);
  });

  const wrongState = v.major >= 2 ? ResultReason.WrongKeyLifecycleState : ResultReason.PermissionDenied;
  const wrongType = v.major >= 2 ? ResultReason.InvalidObjectType : ResultReason.IllegalOperation;
  const wrongMask = v.major >= 2 ? ResultReason.IncompatibleCryptographicUsageMask : ResultReason.PermissionDenied;

  it('refusals: Pre-Active key, the wrong half, no Sign/Verify bit, a symmetric key, SHA-1 signing, no data', async () => {
    const { priv, pub } = pairUids(await ok(c, v, Operation.CreateKeyPair, keyPairPayload(v, rsa2048, [attr.cryptographicUsageMask(SIGN)], [attr.cryptographicUsageMask(VERIFY)])));
    expect((await fails(c, v, Operation.Sign, [uidNode(priv), t.bytes(Tag.Data, MSG)])).reason).toBe(wrongState);
    expect((await fails(c, v, Operation.SignatureVerify, [uidNode(pub), t.bytes(Tag.Data, MSG), t.bytes(Tag.SignatureData, MSG)])).reason).toBe(wrongState);
    await ok(c, v, Operation.Activate, [uidNode(priv)]);
    await ok(c, v, Operation.Activate, [uidNode(pub)]);
    expect((await fails(c, v, Operation.Sign, [uidNode(pub), t.bytes(Tag.Data, MSG)])).reason).toBe(wrongType);
    expect((await fails(c, v, Operation.SignatureVerify, [uidNode(priv), t.bytes(Tag.Data, MSG), t.bytes(Tag.SignatureData, MSG)])).reason).toBe(wrongType);
    const sha1 = await fails(c, v, Operation.Sign, [uidNode(priv), params({ hash: HashingAlgorithm.SHA_1 }), t.bytes(Tag.Data, MSG)]);
    expect(sha1.reason).toBe(v.major >= 2 ? ResultReason.UnsupportedCryptographicParameters : ResultReason.InvalidField);
    expect(sha1.message).toMatch(/crypto-policy/);
    expect((await fails(c, v, Operation.Sign, [uidNode(priv)])).reason).toBe(ResultReason.MissingData);

    const noBits = pairUids(
      await ok(
        c,
        v,
        Operation.CreateKeyPair,
        keyPairPayload(v, rsa2048, [attr.cryptographicUsageMask(CryptographicUsageMask.Decrypt)], [attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt)]),
      ),
    );
    await ok(c, v, Operation.Activate, [uidNode(noBits.priv)]);
    await ok(c, v, Operation.Activate, [uidNode(noBits.pub)]);
    expect((await fails(c, v, Operation.Sign, [uidNode(noBits.priv), t.bytes(Tag.Data, MSG)])).reason).toBe(wrongMask);
    expect((await fails(c, v, Operation.SignatureVerify, [uidNode(noBits.pub), t.bytes(Tag.Data, MSG), t.bytes(Tag.SignatureData, MSG)])).reason).toBe(wrongMask);

    const aes = uidOf(
      await ok(c, v, Operation.Create, [
        t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
        attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(SIGN)]),
      ]),
    );
    await ok(c, v, Operation.Activate, [uidNode(aes)]);
    expect((await fails(c, v, Operation.Sign, [uidNode(aes), t.bytes(Tag.Data, MSG)])).reason).toBe(wrongType);
  });

  it('after Revoke: Sign is refused, Signature Verify still works on the Deactivated / Compromised public key', async () => {
    const kp = await activePair(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)]);
    const sig = await sign(v, kp.priv, MSG);
    const revoke = (uid: string, code: number) => ok(c, v, Operation.Revoke, [uidNode(uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, code)])]);
    await revoke(kp.priv, RevocationReasonCode.CessationOfOperation);
    expect((await fails(c, v, Operation.Sign, [uidNode(kp.priv), t.bytes(Tag.Data, MSG)])).reason).toBe(wrongState);
    await revoke(kp.pub, RevocationReasonCode.CessationOfOperation);
    expect(await verify(v, kp.pub, MSG, sig)).toBe(ValidityIndicator.Valid);
    await revoke(kp.pub, RevocationReasonCode.KeyCompromise);
    expect(await verify(v, kp.pub, MSG, sig)).toBe(ValidityIndicator.Valid);
  });
});

describe('Protect Stop / Process Start dates of key pairs', () => {
  // 2.x: the dates apply to All Objects (2.1 §4.40-4.41). 1.3/1.4: the spec tables keep them to
  // symmetric keys (1.4 Tables 110, 112), but the Advanced Cryptographic profile cases
  // CS-AC-M-8-13/-14 register RSA key pairs with them and expect Sign / Signature Verify to be
  // refused (Permission Denied); src/kmip/spec/attributes.json widens 1.3-1.4 to Public/Private Key.
  it.each([
    [V2_1, ResultReason.WrongKeyLifecycleState],
    [V1_4, ResultReason.PermissionDenied],
  ] as const)('at %o Sign is refused past the Protect Stop Date, Signature Verify before the Process Start Date (CS-AC-M-8-21, CS-AC-M-8-14)', async (v, wrongState) => {
    const now = Math.floor(Date.now() / 1000);
    const pair = async (stop: number, start: number) => {
      const uids = pairUids(
        await ok(
          c,
          v,
          Operation.CreateKeyPair,
          keyPairPayload(
            v,
            rsa2048,
            [attr.cryptographicUsageMask(SIGN), t.date(Tag.ProtectStopDate, BigInt(stop))],
            [attr.cryptographicUsageMask(VERIFY), t.date(Tag.ProcessStartDate, BigInt(start))],
          ),
        ),
      );
      await ok(c, v, Operation.Activate, [uidNode(uids.priv)]);
      await ok(c, v, Operation.Activate, [uidNode(uids.pub)]);
      return uids;
    };
    // Within both limits: works.
    const good = await pair(now + 3600, now - 3600);
    const sig = await sign(v, good.priv, MSG);
    expect(await verify(v, good.pub, MSG, sig)).toBe(ValidityIndicator.Valid);
    // Past Protect Stop / before Process Start: refused although Active.
    const bad = await pair(now - 3600, now + 3600);
    expect((await fails(c, v, Operation.Sign, [uidNode(bad.priv), t.bytes(Tag.Data, MSG)])).reason).toBe(wrongState);
    expect((await fails(c, v, Operation.SignatureVerify, [uidNode(bad.pub), t.bytes(Tag.Data, MSG), t.bytes(Tag.SignatureData, sig)])).reason).toBe(wrongState);
  });

  it('KMIP 1.2 (no Advanced Cryptographic profile) keeps the spec table: Process Start Date on a public key is refused', async () => {
    const r = await fails(
      c,
      V1_2,
      Operation.CreateKeyPair,
      keyPairPayload(V1_2, rsa2048, [attr.cryptographicUsageMask(SIGN)], [attr.cryptographicUsageMask(VERIFY), t.date(Tag.ProcessStartDate, BigInt(Math.floor(Date.now() / 1000)))]),
    );
    expect(r.reason).toBe(ResultReason.InvalidField);
    expect(r.message).toMatch(/ProcessStartDate does not apply to PublicKey/);
  });
});

describe('known answers', () => {
  const v = V2_1;
  const register = async (type: number, tag: number, format: number, material: Uint8Array | TtlvNode, mask: number) =>
    uidOf(
      await ok(c, v, Operation.Register, [
        t.enum(Tag.ObjectType, type),
        attrs(v, [attr.cryptographicUsageMask(mask)]),
        t.struct(tag, [
          t.struct(Tag.KeyBlock, [t.enum(Tag.KeyFormatType, format), t.struct(Tag.KeyValue, [material instanceof Uint8Array ? t.bytes(Tag.KeyMaterial, material) : material])]),
        ]),
      ]),
    );

  it("RSA PKCS#1 v1.5 SHA-256 with the CS-AC-M-1-21 key equals Python's signature byte for byte", async () => {
    const xml = readFileSync(join(TESTCASES, '2.1/mandatory/CS-AC-M-1-21.xml'), 'utf8');
    const hex = /<KeyMaterial type="ByteString" value="([0-9a-f]+)"/.exec(xml)![1]!;
    const uid = await register(ObjectType.PrivateKey, Tag.PrivateKey, KeyFormatType.PKCS_1, Buffer.from(hex, 'hex'), SIGN);
    await ok(c, v, Operation.Activate, [uidNode(uid)]);
    const ours = await sign(v, uid, MSG, [params({ padding: PaddingMethod.PKCS1V1_5, hash: HashingAlgorithm.SHA_256 })]);
    const pkcs8 = pyPriv(materialBytes(await getKeyBlock(c, v, uid, Tag.PrivateKey, KeyFormatType.PKCS_8))).pkcs8;
    expect(ours.toString('hex')).toBe(pySign(pkcs8, { kind: 'pkcs1v15', hash: 'sha256' }, MSG).toString('hex'));
  });

  it('Ed25519 RFC 8032 §7.1 TEST 1 (empty message), key registered as Transparent EC Private Key on CURVE25519', async () => {
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const pubKey = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
    const expected = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
    const d = t.bigint(Tag.D, Buffer.concat([Buffer.alloc(8), seed])); // positive: a leading zero word
    const priv = await register(
      ObjectType.PrivateKey,
      Tag.PrivateKey,
      KeyFormatType.TransparentECPrivateKey,
      t.struct(Tag.KeyMaterial, [t.enum(Tag.RecommendedCurve, RecommendedCurve.CURVE25519), d]),
      SIGN,
    );
    const pub = await register(
      ObjectType.PublicKey,
      Tag.PublicKey,
      KeyFormatType.TransparentECPublicKey,
      t.struct(Tag.KeyMaterial, [t.enum(Tag.RecommendedCurve, RecommendedCurve.CURVE25519), t.bytes(Tag.QString, pubKey)]),
      VERIFY,
    );
    await ok(c, v, Operation.Activate, [uidNode(priv)]);
    await ok(c, v, Operation.Activate, [uidNode(pub)]);
    expect((await sign(v, priv, Buffer.alloc(0))).toString('hex')).toBe(expected);
    expect(await verify(v, pub, Buffer.alloc(0), Buffer.from(expected, 'hex'))).toBe(ValidityIndicator.Valid);
    // The public key Get returns is the RFC's.
    const spki = materialBytes(await getKeyBlock(c, v, pub, Tag.PublicKey, KeyFormatType.X_509));
    expect(spki.subarray(-32).toString('hex')).toBe(pubKey.toString('hex'));
  });
});
