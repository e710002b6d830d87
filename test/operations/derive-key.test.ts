/**
 * Derive Key (src/operations/keys-and-certificates/derive-key.ts) over a real mTLS server, at 2.1 and 1.4: the base
 * object is registered, Derive Key runs, and the derived object's bytes (Get) are compared with
 * published vectors — RFC 6070 (PBKDF2-HMAC-SHA1), RFC 7914 §11 (PBKDF2-HMAC-SHA256), RFC 5869
 * (HKDF, 2.x only), RFC 4231 (HMAC derivation), FIPS-197 C.1 (ENCRYPT derivation with AES-ECB) and
 * the OASIS test cases TC-DERIVEKEY-1/2 (HASH, HMAC with an AES base key). Links (Derived Key /
 * Derivation Base Object), the Derivation Data from a Secret Data object, and the refusals: state,
 * usage mask, object types, lengths, parameters, methods.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, keyBlock, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  BlockCipherMode,
  CryptographicAlgorithm,
  DerivationMethod,
  HashingAlgorithm,
  KeyFormatType,
  LinkType,
  ObjectType,
  Operation,
  PaddingMethod,
  QueryFunction,
  ResultReason,
  SecretDataType,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { FULL_ATTRIBUTES, startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, linksOf, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';
import { cryptoParams, hex, registerKey, toHex, type Params } from './crypto-kit.js';

const { DeriveKey, Encrypt, Decrypt } = CryptographicUsageMask;
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;
beforeAll(async () => {
  // The published vectors (RFC 6070, 7914, 4231) use 1 iteration, 4-byte salts and a 4-byte HMAC
  // key, which the default policy refuses (test/policy/key-policy.test.ts): loosened here, by name.
  srv = await startTestKms({ ...FULL_ATTRIBUTES, cryptoPolicy: { pbkdf2MinIterations: 1, pbkdf2MinSaltBytes: 4, hmacMinBits: 32 } });
  [c, alice] = await Promise.all([srv.client(), srv.client('alice')]);
});
afterAll(async () => srv?.dispose());

const secretData = (material: Uint8Array): StructureNode => t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(material, KeyFormatType.Opaque)]);
const registerSecret = (v: KmipVersion, material: Uint8Array, mask: number = DeriveKey, activate = true, client = c): Promise<string> =>
  registerKey(client, v, material, 0, mask, { objectType: ObjectType.SecretData, object: secretData(material), activate });

interface Derivation {
  uids: string[];
  method: number;
  params?: Params;
  data?: Uint8Array;
  salt?: Uint8Array;
  iterations?: number;
  iv?: Uint8Array;
  /** The new object: Secret Data of `bits` by default, or a key of `algorithm`. */
  bits?: number;
  algorithm?: number;
  objectType?: number;
  extra?: TtlvNode[];
}

function derivePayload(v: KmipVersion, d: Derivation): TtlvNode[] {
  const objectType = d.objectType ?? (d.algorithm !== undefined ? ObjectType.SymmetricKey : ObjectType.SecretData);
  const list: TtlvNode[] = [
    ...(d.bits !== undefined ? [attr.cryptographicLength(d.bits)] : []),
    ...(d.algorithm !== undefined ? [attr.cryptographicAlgorithm(d.algorithm), attr.cryptographicUsageMask(Encrypt | Decrypt)] : []),
    ...(d.extra ?? []),
  ];
  return [
    t.enum(Tag.ObjectType, objectType),
    ...d.uids.map(uidNode),
    t.enum(Tag.DerivationMethod, d.method),
    t.struct(Tag.DerivationParameters, [
      ...(d.params ? [cryptoParams(d.params)] : []),
      ...(d.iv ? [t.bytes(Tag.InitializationVector, d.iv)] : []),
      ...(d.data ? [t.bytes(Tag.DerivationData, d.data)] : []),
      ...(d.salt ? [t.bytes(Tag.Salt, d.salt)] : []),
      ...(d.iterations !== undefined ? [t.int(Tag.IterationCount, d.iterations)] : []),
    ]),
    attrs(v, list),
  ];
}

/** Derive, then Get the new object's bytes. */
async function derived(v: KmipVersion, d: Derivation): Promise<{ uid: string; bytes: string }> {
  const uid = uidOf(await ok(c, v, Operation.DeriveKey, derivePayload(v, d)));
  const p = await ok(c, v, Operation.Get, [uidNode(uid)]);
  const obj = p.value.find((n) => n.tag === Tag.SymmetricKey || n.tag === Tag.SecretData) as StructureNode;
  const kv = findChild(findChild(obj, Tag.KeyBlock) as StructureNode, Tag.KeyValue) as StructureNode;
  return { uid, bytes: toHex((findChild(kv, Tag.KeyMaterial) as { value: Uint8Array }).value) };
}

const links = (v: KmipVersion, uid: string) => linksOf(c, v, uid);

describe.each([V2_1, V1_4])('Derive Key known answers at %o', (v) => {
  it('Query Operations lists Derive Key (read from the same handler table as the dispatcher)', async () => {
    const p = await ok(c, v, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]);
    const ops = p.value.filter((n) => n.tag === Tag.Operation).map((n) => n.value);
    expect(ops).toContain(Operation.DeriveKey);
    expect(ops).toContain(Operation.Get);
  });

  it('PBKDF2-HMAC-SHA1, RFC 6070 (c = 1, 2, 4096; long password and salt; embedded NULs)', async () => {
    const password = await registerSecret(v, ascii('password'));
    const salt = ascii('salt');
    const pb = (iterations: number, bits: number, uid = password, s = salt) => derived(v, { uids: [uid], method: DerivationMethod.PBKDF2, salt: s, iterations, bits });
    expect((await pb(1, 160)).bytes).toBe('0c60c80f961f0e71f3a9b524af6012062fe037a6');
    expect((await pb(2, 160)).bytes).toBe('ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957');
    expect((await pb(4096, 160)).bytes).toBe('4b007901b765489abead49d926f721d065a429c1');
    const long = await registerSecret(v, ascii('passwordPASSWORDpassword'));
    expect((await pb(4096, 200, long, ascii('saltSALTsaltSALTsaltSALTsaltSALTsalt'))).bytes).toBe('3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038');
    const nul = await registerSecret(v, ascii('pass\0word'));
    expect((await pb(4096, 128, nul, ascii('sa\0lt'))).bytes).toBe('56fa6aa75548099dcc37d7f03425e0c3');
    // TC-DERIVEKEY-3: the same password, salt and count giving an AES-128 key.
    expect((await derived(v, { uids: [password], method: DerivationMethod.PBKDF2, salt, iterations: 1, bits: 128, algorithm: CryptographicAlgorithm.AES })).bytes).toBe(
      '0c60c80f961f0e71f3a9b524af601206',
    );
  });

  it('PBKDF2-HMAC-SHA256, RFC 7914 §11 (P = "passwd", S = "salt", c = 1, 64 bytes)', async () => {
    const password = await registerSecret(v, ascii('passwd'));
    const r = await derived(v, { uids: [password], method: DerivationMethod.PBKDF2, params: { hashing: HashingAlgorithm.SHA_256 }, salt: ascii('salt'), iterations: 1, bits: 512 });
    expect(r.bytes).toBe('55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783');
  });

  it('HMAC derivation: RFC 4231 test case 2; TC-DERIVEKEY-2 (an AES base key, SHA-256 from the parameters); data from a Secret Data object', async () => {
    const jefe = await registerSecret(v, ascii('Jefe'));
    const data = ascii('what do ya want for nothing?');
    const want = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';
    expect((await derived(v, { uids: [jefe], method: DerivationMethod.HMAC, params: { hashing: HashingAlgorithm.SHA_256 }, data, bits: 256 })).bytes).toBe(want);
    const dataObject = await registerSecret(v, data);
    const viaObject = await derived(v, { uids: [jefe, dataObject], method: DerivationMethod.HMAC, params: { hashing: HashingAlgorithm.SHA_256 }, bits: 256 });
    expect(viaObject.bytes).toBe(want);
    expect(await links(v, viaObject.uid)).toEqual(
      expect.arrayContaining([
        [LinkType.DerivationBaseObjectLink, jefe],
        [LinkType.DerivationBaseObjectLink, dataObject],
      ]),
    );
    expect(await links(v, dataObject)).toContainEqual([LinkType.DerivedKeyLink, viaObject.uid]);

    const aes = await registerKey(c, v, hex('00112233445566778899aabbccddeeff'), CryptographicAlgorithm.AES, Encrypt | Decrypt | DeriveKey);
    const r = await derived(v, {
      uids: [aes],
      method: DerivationMethod.HMAC,
      params: { hashing: HashingAlgorithm.SHA_256 },
      data: hex('0102'),
      bits: 128,
      algorithm: CryptographicAlgorithm.AES,
    });
    expect(r.bytes).toBe('1e15c1f1da233629f770fb0a04a5020e');
    expect(await links(v, r.uid)).toEqual([[LinkType.DerivationBaseObjectLink, aes]]);
    expect(await links(v, aes)).toEqual([[LinkType.DerivedKeyLink, r.uid]]);
  });

  it('HASH derivation over the base key (TC-DERIVEKEY-1) and ENCRYPT with AES-ECB (FIPS-197 C.1)', async () => {
    const aes = await registerKey(c, v, hex('00112233445566778899aabbccddeeff'), CryptographicAlgorithm.AES, Encrypt | Decrypt | DeriveKey);
    expect((await derived(v, { uids: [aes], method: DerivationMethod.HASH, params: { hashing: HashingAlgorithm.SHA_256 }, bits: 128, algorithm: CryptographicAlgorithm.AES })).bytes).toBe(
      'a8faed6abbf35c12a4b26e40f6feb19d',
    );
    const fips = await registerKey(c, v, hex('000102030405060708090a0b0c0d0e0f'), CryptographicAlgorithm.AES, DeriveKey);
    const r = await derived(v, {
      uids: [fips],
      method: DerivationMethod.ENCRYPT,
      params: { mode: BlockCipherMode.ECB, padding: PaddingMethod.None },
      data: hex('00112233445566778899aabbccddeeff'),
      bits: 128,
      algorithm: CryptographicAlgorithm.AES,
    });
    expect(r.bytes).toBe('69c4e0d86a7b0430d8cdb78070b4c55a');
    // The derived key works: ECB-encrypting the zero block with it equals node's own AES.
    const { createCipheriv } = await import('node:crypto');
    const e = createCipheriv('aes-128-ecb', Buffer.from(r.bytes, 'hex'), null).setAutoPadding(false);
    const expected = Buffer.concat([e.update(Buffer.alloc(16)), e.final()]).toString('hex');
    await ok(c, v, Operation.Activate, [uidNode(r.uid)]);
    const enc = await ok(c, v, Operation.Encrypt, [uidNode(r.uid), cryptoParams({ mode: BlockCipherMode.ECB, padding: PaddingMethod.None }), t.bytes(Tag.Data, new Uint8Array(16))]);
    expect(toHex((findChild(enc, Tag.Data) as { value: Uint8Array }).value)).toBe(expected);
  });

  if (v.major >= 2) {
    it('HKDF, RFC 5869 test cases 1 (SHA-256), 3 (no salt or info) and 4 (SHA-1)', async () => {
      const ikm22 = await registerSecret(v, new Uint8Array(22).fill(0x0b));
      const salt = hex('000102030405060708090a0b0c');
      const info = hex('f0f1f2f3f4f5f6f7f8f9');
      expect((await derived(v, { uids: [ikm22], method: DerivationMethod.HKDF, salt, data: info, bits: 42 * 8 })).bytes).toBe(
        '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
      );
      expect((await derived(v, { uids: [ikm22], method: DerivationMethod.HKDF, params: { hashing: HashingAlgorithm.SHA_256 }, bits: 42 * 8 })).bytes).toBe(
        '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
      );
      const ikm11 = await registerSecret(v, new Uint8Array(11).fill(0x0b));
      expect((await derived(v, { uids: [ikm11], method: DerivationMethod.HKDF, params: { hashing: HashingAlgorithm.SHA_1 }, salt, data: info, bits: 42 * 8 })).bytes).toBe(
        '085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896',
      );
    });
  }
});

const REFUSALS = [
  {
    name: '2.1',
    v: V2_1,
    notFound: ResultReason.ObjectNotFound,
    wrongType: ResultReason.InvalidObjectType,
    wrongState: ResultReason.WrongKeyLifecycleState,
    usageMask: ResultReason.IncompatibleCryptographicUsageMask,
    badParams: ResultReason.BadCryptographicParameters,
    method: ResultReason.FeatureNotSupported,
    policy: ResultReason.InvalidAttributeValue,
  },
  {
    name: '1.4',
    v: V1_4,
    notFound: ResultReason.ItemNotFound,
    wrongType: ResultReason.InvalidField,
    wrongState: ResultReason.InvalidField,
    usageMask: ResultReason.InvalidField,
    badParams: ResultReason.InvalidField,
    method: ResultReason.InvalidField,
    policy: ResultReason.InvalidField,
  },
];

describe.each(REFUSALS)('Derive Key refusals at $name', (x) => {
  const v = x.v;
  const reason = async (d: Derivation): Promise<number | undefined> => (await fails(c, v, Operation.DeriveKey, derivePayload(v, d))).reason;
  const pb = (uid: string, more: Partial<Derivation> = {}): Derivation => ({ uids: [uid], method: DerivationMethod.PBKDF2, salt: ascii('salt'), iterations: 1, bits: 128, ...more });

  it("the base object: not Active, no Derive Key bit, the wrong type, missing, another principal's", async () => {
    expect(await reason(pb(await registerSecret(v, ascii('password'), DeriveKey, false)))).toBe(x.wrongState);
    expect(await reason(pb(await registerSecret(v, ascii('password'), Encrypt)))).toBe(x.usageMask);
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub = await registerKey(c, v, hex(''), 0, DeriveKey, {
      objectType: ObjectType.PublicKey,
      object: t.struct(Tag.PublicKey, [keyBlock(publicKey.export({ format: 'der', type: 'spki' }), KeyFormatType.X_509, CryptographicAlgorithm.RSA, 2048)]),
    });
    expect(await reason(pb(pub))).toBe(x.wrongType);
    expect(await reason(pb('no-such-object'))).toBe(x.notFound);
    expect(await reason(pb(await registerSecret(v, ascii('password'), DeriveKey, true, alice)))).toBe(x.notFound);
  });

  it('the new object: a type Derive Key does not make, no length, an AES length the policy refuses, a length beyond the method', async () => {
    const pw = await registerSecret(v, ascii('password'));
    expect(await reason(pb(pw, { objectType: ObjectType.PrivateKey, algorithm: CryptographicAlgorithm.RSA }))).toBe(x.wrongType);
    const { bits: _drop, ...noBits } = pb(pw);
    expect(await reason(noBits)).toBe(ResultReason.InvalidField);
    expect(await reason(pb(pw, { bits: 136, algorithm: CryptographicAlgorithm.AES }))).toBe(x.policy);
    const hmacTooLong: Derivation = { uids: [pw], method: DerivationMethod.HMAC, params: { hashing: HashingAlgorithm.SHA_256 }, data: hex('00'), bits: 264 };
    expect(await reason(hmacTooLong)).toBe(ResultReason.CryptographicFailure);
  });

  it('parameters and methods: PBKDF2 without a salt, a method not served, Derivation Data given twice', async () => {
    const pw = await registerSecret(v, ascii('password'));
    const { salt: _s, ...noSalt } = pb(pw);
    expect(await reason(noSalt)).toBe(x.badParams);
    expect(await reason({ uids: [pw], method: DerivationMethod.NIST800_108_C, data: hex('00'), bits: 128 })).toBe(x.method);
    const data = await registerSecret(v, hex('0102'));
    expect(await reason({ uids: [pw, data], method: DerivationMethod.HMAC, params: { hashing: HashingAlgorithm.SHA_256 }, data: hex('00'), bits: 128 })).toBe(ResultReason.InvalidMessage);
  });
});
