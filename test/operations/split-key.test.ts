/**
 * Create Split Key and Join Split Key (src/operations/keys-and-certificates/create-split-key.ts, join-split-key.ts) over
 * a real mTLS server at 2.1 and 1.4: split a new key and an existing one (XOR, Polynomial Sharing
 * GF(2^8)), the parts as Split Key objects (Get), links, joins with enough / too few / mixed parts,
 * the joined key encrypting like the original, Secret Data, and the refusals with their Result
 * Reasons; Query lists both operations; a grantee without Get cannot split or join another's key;
 * no key bytes in the server log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, keyBlock, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  BlockCipherMode,
  CryptographicAlgorithm,
  KeyFormatType,
  LinkType,
  ObjectType,
  Operation,
  PaddingMethod,
  QueryFunction,
  ResultReason,
  SecretDataType,
  SplitKeyMethod,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { FULL_ATTRIBUTES, startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, linksOf, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';
import { bytesOf, cipherPayload, hex, registerKey, toHex } from './crypto-kit.js';

const { Encrypt, Decrypt } = CryptographicUsageMask;
const KEY = hex('0102030405060708090a0b0c0d0e0f10');
const logLines: string[] = [];

let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;
beforeAll(async () => {
  // alice may run both operations on anything, but not Get: splitting or joining would hand her the value.
  srv = await startTestKms(
    { ...FULL_ATTRIBUTES, access: { administrators: [], grants: [{ identity: 'alice', objectGroup: '*', operations: ['CreateSplitKey', 'JoinSplitKey'] }] } },
    { captureLog: logLines },
  );
  [c, alice] = await Promise.all([srv.client(), srv.client('alice')]);
});
afterAll(async () => srv?.dispose());

interface SplitRequest {
  uid?: string;
  parts: number;
  threshold: number;
  method: number;
  objectType?: number;
  list?: TtlvNode[];
}
const splitPayload = (v: KmipVersion, r: SplitRequest): TtlvNode[] => [
  t.enum(Tag.ObjectType, r.objectType ?? ObjectType.SplitKey),
  ...(r.uid ? [uidNode(r.uid)] : []),
  t.int(Tag.SplitKeyParts, r.parts),
  t.int(Tag.SplitKeyThreshold, r.threshold),
  t.enum(Tag.SplitKeyMethod, r.method),
  attrs(v, r.list ?? []),
];
async function split(v: KmipVersion, r: SplitRequest): Promise<string[]> {
  const p = await ok(c, v, Operation.CreateSplitKey, splitPayload(v, r));
  return p.value.filter((n) => n.tag === Tag.UniqueIdentifier).map((n) => n.value as string);
}

const aes128 = [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(Encrypt | Decrypt)];
const joinPayload = (v: KmipVersion, uids: readonly string[], list: TtlvNode[] = aes128, objectType: number = ObjectType.SymmetricKey, extra: TtlvNode[] = []): TtlvNode[] => [
  t.enum(Tag.ObjectType, objectType),
  ...uids.map(uidNode),
  ...extra,
  attrs(v, list),
];
const join = async (v: KmipVersion, uids: readonly string[], list?: TtlvNode[], objectType?: number, extra?: TtlvNode[]): Promise<string> =>
  uidOf(await ok(c, v, Operation.JoinSplitKey, joinPayload(v, uids, list, objectType, extra)));

/** Get an object: its structure (Split Key, Symmetric Key, Secret Data) and Key Material. */
async function getObject(v: KmipVersion, uid: string): Promise<{ obj: StructureNode; material: Uint8Array }> {
  const p = await ok(c, v, Operation.Get, [uidNode(uid)]);
  const obj = p.value.find((n) => n.tag === Tag.SplitKey || n.tag === Tag.SymmetricKey || n.tag === Tag.SecretData) as StructureNode;
  const kv = findChild(findChild(obj, Tag.KeyBlock) as StructureNode, Tag.KeyValue) as StructureNode;
  return { obj, material: (findChild(kv, Tag.KeyMaterial) as { value: Uint8Array }).value };
}
const intOf = (s: StructureNode, tag: number): number | undefined => (findChild(s, tag) as { value: number } | undefined)?.value;

const links = (v: KmipVersion, uid: string) => linksOf(c, v, uid);

/** AES-ECB without padding of one block under `uid` (activated first). */
async function ecb(v: KmipVersion, uid: string, plain: Uint8Array): Promise<string> {
  await ok(c, v, Operation.Activate, [uidNode(uid)]).catch(() => undefined);
  const p = await ok(c, v, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.ECB, padding: PaddingMethod.None }, data: plain }));
  return toHex(bytesOf(p, Tag.Data));
}

const both = [V2_1, V1_4];
const wrongType = (v: KmipVersion) => (v.major >= 2 ? ResultReason.InvalidObjectType : ResultReason.InvalidField);
const notFound = (v: KmipVersion) => (v.major >= 2 ? ResultReason.ObjectNotFound : ResultReason.ItemNotFound);

describe.each(both)('Create Split Key / Join Split Key at %o', (v) => {
  it('Query Operations lists both (read from the handler table)', async () => {
    const p = await ok(c, v, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]);
    const ops = p.value.filter((n) => n.tag === Tag.Operation).map((n) => n.value);
    expect(ops).toContain(Operation.CreateSplitKey);
    expect(ops).toContain(Operation.JoinSplitKey);
  });

  it("splits an existing key 3 of 5 (GF(2^8)): parts are Split Keys 1…5 with the key's algorithm, linked to it; any 3 rebuild it", async () => {
    const key = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, Encrypt | Decrypt, { activate: false });
    const parts = await split(v, { uid: key, parts: 5, threshold: 3, method: SplitKeyMethod.PolynomialSharingGF2_8 });
    expect(parts).toHaveLength(5);
    expect(new Set(parts).size).toBe(5);
    const materials: string[] = [];
    for (const [i, uid] of parts.entries()) {
      const { obj, material } = await getObject(v, uid);
      expect(obj.tag).toBe(Tag.SplitKey);
      expect([intOf(obj, Tag.SplitKeyParts), intOf(obj, Tag.KeyPartIdentifier), intOf(obj, Tag.SplitKeyThreshold), intOf(obj, Tag.SplitKeyMethod)]).toEqual([
        5,
        i + 1,
        3,
        SplitKeyMethod.PolynomialSharingGF2_8,
      ]);
      const kb = findChild(obj, Tag.KeyBlock) as StructureNode;
      expect([intOf(kb, Tag.KeyFormatType), intOf(kb, Tag.CryptographicAlgorithm), intOf(kb, Tag.CryptographicLength)]).toEqual([KeyFormatType.Raw, CryptographicAlgorithm.AES, 128]);
      expect(material).toHaveLength(16);
      expect(toHex(material)).not.toBe(toHex(KEY));
      materials.push(toHex(material));
      expect(await links(v, uid)).toContainEqual([LinkType.ParentLink, key]);
    }
    expect(new Set(materials).size).toBe(5);
    const keyLinks = await links(v, key);
    for (const uid of parts) expect(keyLinks).toContainEqual([LinkType.ChildLink, uid]);

    for (const pick of [
      [0, 2, 4],
      [4, 1, 3],
      [0, 1, 2, 3, 4],
    ]) {
      const joined = await join(
        v,
        pick.map((i) => parts[i]!),
      );
      const { obj, material } = await getObject(v, joined);
      expect(obj.tag).toBe(Tag.SymmetricKey);
      expect(toHex(material)).toBe(toHex(KEY));
    }
  });

  it('two parts of a 3-of-5 split: Cryptographic Failure, nothing stored', async () => {
    const key = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, Encrypt | Decrypt, { activate: false });
    const parts = await split(v, { uid: key, parts: 5, threshold: 3, method: SplitKeyMethod.PolynomialSharingGF2_8 });
    const r = await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [parts[1]!, parts[3]!], [...aes128, attr.name(`too-few-${v.major}`)]));
    expect(r.reason).toBe(ResultReason.CryptographicFailure);
    const found = await ok(c, v, Operation.Locate, [attrs(v, [attr.name(`too-few-${v.major}`)])]);
    expect(found.value.filter((n) => n.tag === Tag.UniqueIdentifier)).toHaveLength(0);
  });

  it('splits a new key (XOR 4 of 4): only the parts are stored; all four rebuild a key that encrypts like the parts say', async () => {
    const parts = await split(v, { parts: 4, threshold: 4, method: SplitKeyMethod.XOR, list: aes128 });
    expect(parts).toHaveLength(4);
    const materials = await Promise.all(parts.map(async (u) => (await getObject(v, u)).material));
    const expected = new Uint8Array(16);
    for (const m of materials) for (let i = 0; i < 16; i++) expected[i]! ^= m[i]!;
    for (const u of parts) expect((await links(v, u)).filter(([type]) => type === LinkType.ParentLink)).toEqual([]);
    const joined = await join(v, [...parts].reverse());
    expect(toHex((await getObject(v, joined)).material)).toBe(toHex(expected));
    // Three of four: Cryptographic Failure.
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, parts.slice(1)))).reason).toBe(ResultReason.CryptographicFailure);
  });

  it('the joined key encrypts exactly as the original', async () => {
    const original = await registerKey(c, v, hex('000102030405060708090a0b0c0d0e0f'), CryptographicAlgorithm.AES, Encrypt | Decrypt);
    const parts = await split(v, { uid: original, parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_8 });
    const joined = await join(v, [parts[2]!, parts[0]!]);
    const plain = hex('00112233445566778899aabbccddeeff');
    const a = await ecb(v, original, plain);
    expect(a).toBe('69c4e0d86a7b0430d8cdb78070b4c55a'); // FIPS-197 C.1
    expect(await ecb(v, joined, plain)).toBe(a);
  });

  it('mixed parts are refused: from two keys (Invalid Field), from splits of different shape (Invalid Field)', async () => {
    const k1 = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, Encrypt | Decrypt, { activate: false });
    const k2 = await registerKey(c, v, hex('ffeeddccbbaa99887766554433221100'), CryptographicAlgorithm.AES, Encrypt | Decrypt, { activate: false });
    const p1 = await split(v, { uid: k1, parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_8 });
    const p2 = await split(v, { uid: k2, parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_8 });
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [p1[0]!, p2[1]!]))).reason).toBe(ResultReason.InvalidField);
    const p3 = await split(v, { uid: k1, parts: 3, threshold: 3, method: SplitKeyMethod.PolynomialSharingGF2_8 });
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [p1[0]!, p3[1]!, p3[2]!]))).reason).toBe(ResultReason.InvalidField);
    // A part given twice, and a non-Split-Key object among the parts.
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [p1[0]!, p1[0]!]))).reason).toBe(ResultReason.InvalidField);
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [p1[0]!, k2]))).reason).toBe(wrongType(v));
  });

  it('parts of two new keys split alike (no key to tell them apart) are refused together: the Previous/Next chain differs', async () => {
    const a = await split(v, { parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_8, list: aes128 });
    const b = await split(v, { parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_8, list: aes128 });
    expect(await links(v, a[0]!)).toContainEqual([LinkType.NextLink, a[1]!]);
    expect(await links(v, a[1]!)).toEqual(
      expect.arrayContaining([
        [LinkType.PreviousLink, a[0]!],
        [LinkType.NextLink, a[2]!],
      ]),
    );
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [a[0]!, b[1]!]))).reason).toBe(ResultReason.InvalidField);
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [b[2]!, a[0]!]))).reason).toBe(ResultReason.InvalidField);
    // Their own parts, even skipping one in the chain, still join, to the same key from any pair.
    const k1 = (await getObject(v, await join(v, [a[2]!, a[0]!]))).material;
    const k2 = (await getObject(v, await join(v, [a[1]!, a[2]!]))).material;
    expect(toHex(k1)).toBe(toHex(k2));
  });

  it('Secret Data: split and joined back as Secret Data of the asked type', async () => {
    const secret = hex('5ec7e7da7a0011223344');
    const sd = t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(secret, KeyFormatType.Opaque)]);
    const uid = await registerKey(c, v, secret, 0, CryptographicUsageMask.DeriveKey, { objectType: ObjectType.SecretData, object: sd, activate: false });
    const parts = await split(v, { uid, parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_8 });
    const joined = await join(v, parts.slice(0, 2), [], ObjectType.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password)]);
    const { obj, material } = await getObject(v, joined);
    expect(obj.tag).toBe(Tag.SecretData);
    expect(intOf(obj, Tag.SecretDataType)).toBe(SecretDataType.Password);
    expect(toHex(material)).toBe(toHex(secret));
  });

  it('refusals of Create Split Key with their Result Reasons', async () => {
    const key = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, Encrypt | Decrypt, { activate: false });
    const reason = async (r: SplitRequest) => (await fails(c, v, Operation.CreateSplitKey, splitPayload(v, r))).reason;
    const gf8 = SplitKeyMethod.PolynomialSharingGF2_8;
    expect(await reason({ uid: key, parts: 3, threshold: 2, method: gf8, objectType: ObjectType.SymmetricKey })).toBe(wrongType(v));
    const unsupported = v.major >= 2 ? ResultReason.FeatureNotSupported : ResultReason.InvalidField;
    expect(await reason({ uid: key, parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_16 })).toBe(unsupported);
    expect(await reason({ uid: key, parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingPrimeField })).toBe(unsupported);
    expect(await reason({ uid: key, parts: 3, threshold: 4, method: gf8 })).toBe(ResultReason.InvalidField);
    expect(await reason({ uid: key, parts: 4, threshold: 2, method: SplitKeyMethod.XOR })).toBe(ResultReason.InvalidField);
    expect(await reason({ uid: key, parts: 256, threshold: 2, method: gf8 })).toBe(ResultReason.InvalidField);
    expect(await reason({ uid: 'no-such-key', parts: 3, threshold: 2, method: gf8 })).toBe(notFound(v));
    // A new key needs its algorithm; a Name would be on every part.
    expect(await reason({ parts: 3, threshold: 2, method: gf8, list: [attr.cryptographicLength(128)] })).toBe(ResultReason.InvalidField);
    expect(await reason({ uid: key, parts: 3, threshold: 2, method: gf8, list: [attr.name(`named-${v.major}`)] })).toBe(
      v.major >= 2 ? ResultReason.NonUniqueNameAttribute : ResultReason.InvalidField,
    );
    // A public key is not split.
    const cert = await ok(c, v, Operation.Register, [
      t.enum(Tag.ObjectType, ObjectType.OpaqueObject),
      attrs(v, []),
      t.struct(Tag.OpaqueObject, [t.enum(Tag.OpaqueDataType, 0x80000000), t.bytes(Tag.OpaqueDataValue, KEY)]),
    ]);
    expect(await reason({ uid: uidOf(cert), parts: 3, threshold: 2, method: gf8 })).toBe(wrongType(v));
    // Destroyed: Key Value Not Present. Not Extractable: refused (its parts would carry it out).
    await ok(c, v, Operation.Destroy, [uidNode(key)]);
    expect(await reason({ uid: key, parts: 3, threshold: 2, method: gf8 })).toBe(ResultReason.KeyValueNotPresent);
    const locked = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, Encrypt | Decrypt, { activate: false, extra: [t.bool(Tag.Extractable, false)] });
    expect(await reason({ uid: locked, parts: 3, threshold: 2, method: gf8 })).toBe(ResultReason.NotExtractable);
  });

  it('refusals of Join Split Key: wrong Object Type, algorithm or length contradicting the parts, unknown part', async () => {
    const parts = await split(v, { parts: 3, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_8, list: aes128 });
    const reason = async (p: TtlvNode[]) => (await fails(c, v, Operation.JoinSplitKey, p)).reason;
    const badValue = v.major >= 2 ? ResultReason.InvalidAttributeValue : ResultReason.InvalidField;
    expect(await reason(joinPayload(v, parts.slice(0, 2), [], ObjectType.PrivateKey))).toBe(wrongType(v));
    expect(await reason(joinPayload(v, parts.slice(0, 2), [attr.cryptographicAlgorithm(CryptographicAlgorithm.HMAC_SHA256)]))).toBe(badValue);
    expect(await reason(joinPayload(v, parts.slice(0, 2), [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256)]))).toBe(badValue);
    expect(await reason(joinPayload(v, [parts[0]!, 'no-such-part']))).toBe(notFound(v));
    expect(await reason(joinPayload(v, []))).toBe(ResultReason.InvalidField);
  });

  it('registered parts without algorithm or length (OASIS TC-SJ-3 vectors) join into the key; half-stated or malformed splits are refused', async () => {
    const vectors = ['66C46A7754F94DE420C7B1A7FFF5EC56', 'CF93D1E2A7E593CD5B8D6247F4E5D49C', 'A855B891F61AD9217240D8EC061E37DA', '803DBAD55CDD329FAD19D99AE2C5A415'];
    const part = (id: number, material: string, extra: TtlvNode[] = [], method: number = SplitKeyMethod.PolynomialSharingGF2_8, threshold = 2) =>
      t.struct(Tag.SplitKey, [
        t.int(Tag.SplitKeyParts, 4),
        t.int(Tag.KeyPartIdentifier, id),
        t.int(Tag.SplitKeyThreshold, threshold),
        t.enum(Tag.SplitKeyMethod, method),
        t.struct(Tag.KeyBlock, [t.enum(Tag.KeyFormatType, KeyFormatType.Raw), t.struct(Tag.KeyValue, [t.bytes(Tag.KeyMaterial, hex(material))]), ...extra]),
      ]);
    const register = (object: StructureNode) => ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SplitKey), attrs(v, []), object]);
    const uids = [];
    for (const [i, m] of vectors.entries()) uids.push(uidOf(await register(part(i + 1, m))));
    const joined = await join(v, [uids[0]!, uids[2]!]);
    expect(toHex((await getObject(v, joined)).material)).toBe('0102030405060708090a0b0c0d0e0f10');
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [uids[1]!]))).reason).toBe(ResultReason.CryptographicFailure);
    // Algorithm without length: Missing Data, as for any key.
    const half = await fails(c, v, Operation.Register, [
      t.enum(Tag.ObjectType, ObjectType.SplitKey),
      attrs(v, []),
      part(1, vectors[0]!, [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)]),
    ]);
    expect(half.reason).toBe(ResultReason.MissingData);
    // An XOR split registered as 2-of-4 cannot be joined from two parts (XOR needs them all).
    const x1 = uidOf(await register(part(1, vectors[0]!, [], SplitKeyMethod.XOR)));
    const x2 = uidOf(await register(part(2, vectors[1]!, [], SplitKeyMethod.XOR)));
    expect((await fails(c, v, Operation.JoinSplitKey, joinPayload(v, [x1, x2]))).reason).toBe(ResultReason.InvalidField);
  });

  it('another principal allowed to split and join, but not to Get, sees neither the key nor the parts', async () => {
    const key = await registerKey(c, v, KEY, CryptographicAlgorithm.AES, Encrypt | Decrypt, { activate: false });
    const parts = await split(v, { uid: key, parts: 2, threshold: 2, method: SplitKeyMethod.PolynomialSharingGF2_8 });
    expect((await fails(alice, v, Operation.CreateSplitKey, splitPayload(v, { uid: key, parts: 2, threshold: 2, method: SplitKeyMethod.XOR }))).reason).toBe(notFound(v));
    expect((await fails(alice, v, Operation.JoinSplitKey, joinPayload(v, parts))).reason).toBe(notFound(v));
  });
});

describe('version', () => {
  it('KMIP 1.1 has neither operation (added in 1.2): Operation Not Supported', async () => {
    const v11 = { major: 1, minor: 1 };
    expect((await fails(c, v11, Operation.CreateSplitKey, splitPayload(v11, { parts: 2, threshold: 2, method: SplitKeyMethod.XOR, list: aes128 }))).reason).toBe(
      ResultReason.OperationNotSupported,
    );
    expect((await fails(c, v11, Operation.JoinSplitKey, joinPayload(v11, ['x']))).reason).toBe(ResultReason.OperationNotSupported);
  });
});

describe('no key material in the log', () => {
  it('the server log holds none of the keys or parts handled above', async () => {
    const parts = await split(V2_1, { parts: 2, threshold: 2, method: SplitKeyMethod.XOR, list: aes128 });
    const materials = [KEY, ...(await Promise.all(parts.map(async (u) => (await getObject(V2_1, u)).material)))];
    const joined = await join(V2_1, parts);
    materials.push((await getObject(V2_1, joined)).material);
    const text = logLines.join('\n').toLowerCase();
    expect(logLines.length).toBeGreaterThan(0);
    for (const m of materials) {
      expect(text).not.toContain(Buffer.from(m).toString('hex'));
      expect(text).not.toContain(Buffer.from(m).toString('base64').toLowerCase());
    }
  });
});
