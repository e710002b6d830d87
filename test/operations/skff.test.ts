/**
 * What the Symmetric Key Foundry (SKFF) conformance cases need, over a real mTLS server with
 * LevelDB:
 * - Create of three-key Triple DES keys (SKFF-M-4/8/12): Cryptographic Length 168 or 192, 24 bytes
 *   of odd parity with three distinct DES keys; two-key TDES and single DES refused; the key can be
 *   stored and served but not used to Encrypt unless cryptoPolicy.tripleDes is set.
 * - The always-valued attributes (SKFF-M-9..12 step 8): Short Unique Identifier and Protection
 *   Storage Mask (2.x), Sensitive, Extractable, Always Sensitive, Never Extractable (1.4+), Lease
 *   Time — listed by Get Attribute List and returned by Get Attributes where the version defines
 *   them, derived for records that never stored them; Always Sensitive / Never Extractable
 *   following every change of Sensitive / Extractable; Locate by Short Unique Identifier.
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChild, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { BlockCipherMode, CryptographicAlgorithm, ObjectType, Operation, PaddingMethod, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask, ProtectionStorageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { LEASE_POLICY } from '../../src/policy/crypto-policy.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { seed } from './attribute-kit.js';
import { bytesOf, cipherPayload } from './crypto-kit.js';
import { attrs, byteStrings, fails, ok, uidNode, uidOf, V1_2, V1_4, V2_0, V2_1 } from './object-kit.js';

const ED = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

async function create(client: KmipClient, v: KmipVersion, list: readonly TtlvNode[]): Promise<string> {
  return uidOf(await ok(client, v, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(v, list)]));
}

const tdes = (bits: number | undefined, extra: readonly TtlvNode[] = []): TtlvNode[] => [
  t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.DES3),
  ...(bits === undefined ? [] : [t.int(Tag.CryptographicLength, bits)]),
  t.int(Tag.CryptographicUsageMask, ED),
  ...extra,
];
const aes = (extra: readonly TtlvNode[] = []): TtlvNode[] => [
  t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
  t.int(Tag.CryptographicLength, 128),
  t.int(Tag.CryptographicUsageMask, ED),
  ...extra,
];

/** The Key Block of a Get response: its key bytes and Cryptographic Length. */
async function getKey(client: KmipClient, v: KmipVersion, uid: string): Promise<{ key: Buffer; length: unknown; algorithm: unknown }> {
  const p = await ok(client, v, Operation.Get, [uidNode(uid)]);
  const kb = findChild(findChild(p, Tag.SymmetricKey) as StructureNode, Tag.KeyBlock) as StructureNode;
  const [key] = byteStrings(kb);
  return { key: Buffer.from(key!), length: findChild(kb, Tag.CryptographicLength)?.value, algorithm: findChild(kb, Tag.CryptographicAlgorithm)?.value };
}

const oddParity = (b: number): boolean => {
  let n = 0;
  for (let x = b; x; x >>= 1) n += x & 1;
  return n % 2 === 1;
};

/** 2.x Get Attribute List: the referenced tags in order. */
async function list2x(v: KmipVersion, uid: string): Promise<number[]> {
  const p = await ok(c, v, Operation.GetAttributeList, [uidNode(uid)]);
  return p.value.filter((n) => n.tag === Tag.AttributeReference).map((n) => Number(n.value));
}

/** 1.x Get Attribute List: the names in order. */
async function list1x(v: KmipVersion, uid: string): Promise<string[]> {
  const p = await ok(c, v, Operation.GetAttributeList, [uidNode(uid)]);
  return p.value.filter((n) => n.tag === Tag.AttributeName).map((n) => String(n.value));
}

/** 2.x Get Attributes (the given tags, or all): the Attributes structure's items. */
async function get2x(v: KmipVersion, uid: string, tags: readonly number[] = []): Promise<readonly TtlvNode[]> {
  const p = await ok(c, v, Operation.GetAttributes, [uidNode(uid), ...tags.map((tag) => t.enum(Tag.AttributeReference, tag))]);
  return (findChild(p, Tag.Attributes) as StructureNode).value;
}

/** 1.x Get Attributes (the given names, or all): name → value. */
async function get1x(v: KmipVersion, uid: string, names: readonly string[] = []): Promise<Map<string, unknown>> {
  const p = await ok(c, v, Operation.GetAttributes, [uidNode(uid), ...names.map((n) => t.text(Tag.AttributeName, n))]);
  const out = new Map<string, unknown>();
  for (const a of p.value.filter((n): n is StructureNode => n.tag === Tag.Attribute && n.type === 'Structure')) {
    out.set(String(findChild(a, Tag.AttributeName)?.value), findChild(a, Tag.AttributeValue)?.value);
  }
  return out;
}

const valueIn = (items: readonly TtlvNode[], tag: number): unknown => items.find((n) => n.tag === tag)?.value;

describe('Create: three-key Triple DES (SKFF-M-4/8/12)', () => {
  for (const [v, bits] of [
    [V2_1, 168],
    [V2_1, 192],
    [V1_4, 168],
  ] as const) {
    it(`KMIP ${v.major}.${v.minor}, Cryptographic Length ${bits}: 24 bytes, odd parity, three distinct DES keys, the length as asked`, async () => {
      const uid = await create(c, v, tdes(bits));
      const got = await getKey(c, v, uid);
      expect(got.algorithm).toBe(CryptographicAlgorithm.DES3);
      expect(got.length).toBe(bits);
      expect(got.key.length).toBe(24);
      expect([...got.key].every(oddParity)).toBe(true);
      const parts = [0, 8, 16].map((o) => got.key.subarray(o, o + 8).toString('hex'));
      expect(new Set(parts).size).toBe(3);
      // The Digest the server computed is of these bytes (SHA-256 of the Raw key).
      const digest = (await get2x(V2_1, uid, [Tag.Digest]))[0] as StructureNode;
      expect(Buffer.from(findChild(digest, Tag.DigestValue)?.value as Uint8Array).toString('hex')).toBe(createHash('sha256').update(got.key).digest('hex'));
    });
  }

  it("with no Cryptographic Length: 168 (the KMIP profiles' length for three-key TDES)", async () => {
    const got = await getKey(c, V2_1, await create(c, V2_1, tdes(undefined)));
    expect([got.length, got.key.length]).toEqual([168, 24]);
  });

  it('every key differs (fresh randomness)', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5; i++) keys.add((await getKey(c, V2_1, await create(c, V2_1, tdes(168)))).key.toString('hex'));
    expect(keys.size).toBe(5);
  });

  it('two-key TDES (112, 128), odd lengths and single DES are refused, naming why', async () => {
    for (const bits of [112, 128]) {
      const f = await fails(c, V2_1, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(V2_1, tdes(bits))]);
      expect(f.reason).toBe(ResultReason.InvalidAttributeValue);
      expect(f.message).toMatch(/two-key/);
    }
    const odd = await fails(c, V2_1, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(V2_1, tdes(256))]);
    expect(odd.message).toMatch(/168, 192/);
    const des = await fails(c, V2_1, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(V2_1, [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.DES), t.int(Tag.CryptographicLength, 56), t.int(Tag.CryptographicUsageMask, ED)]),
    ]);
    expect(des.message).toMatch(/single DES/);
  });

  it('Encrypt with it is refused by default (cryptoPolicy.tripleDes is off)', async () => {
    const uid = await create(c, V2_1, tdes(168));
    await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
    const f = await fails(c, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5, randomIV: true }, data: new Uint8Array(16) }));
    expect(f.reason).toBe(ResultReason.UnsupportedCryptographicParameters);
    expect(f.message).toMatch(/cryptoPolicy\.tripleDes/);
    // …while an AES key on the same server encrypts: the refusal is the TDES policy, not Encrypt.
    const a = await create(c, V2_1, aes());
    await ok(c, V2_1, Operation.Activate, [uidNode(a)]);
    await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid: a, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5, randomIV: true }, data: new Uint8Array(16) }));
  });

  it('with cryptoPolicy.tripleDes set, the generated key encrypts, and OpenSSL decrypts with the bytes Get returns', async () => {
    const loose = await startTestKms({ cryptoPolicy: { tripleDes: true } });
    try {
      const lc = await loose.client();
      const uid = await create(lc, V2_1, tdes(168));
      await ok(lc, V2_1, Operation.Activate, [uidNode(uid)]);
      const plain = Buffer.from('legacy tape block, 3DES-CBC');
      const p = await ok(lc, V2_1, Operation.Encrypt, cipherPayload({ uid, params: { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5, randomIV: true }, data: plain }));
      const iv = bytesOf(p, Tag.IVCounterNonce);
      const ct = bytesOf(p, Tag.Data);
      expect(iv?.length).toBe(8);
      const { key } = await getKey(lc, V2_1, uid);
      const d = createDecipheriv('des-ede3-cbc', key, iv!);
      expect(Buffer.concat([d.update(ct!), d.final()]).equals(plain)).toBe(true);
    } finally {
      await loose.dispose();
    }
  });

  it('Re-key of a TDES key makes another valid TDES key', async () => {
    const uid = await create(c, V2_1, tdes(192));
    const p = await ok(c, V2_1, Operation.ReKey, [uidNode(uid)]);
    const got = await getKey(c, V2_1, uidOf(p));
    expect([got.algorithm, got.length, got.key.length]).toEqual([CryptographicAlgorithm.DES3, 192, 24]);
    expect([...got.key].every(oddParity)).toBe(true);
  });
});

describe('the always-valued attributes in Get Attribute List and Get Attributes', () => {
  it('2.1: listed in the order of SKFF-M-9-21 (Key Format Type after Digest, Short Unique Identifier second)', async () => {
    const uid = await create(c, V2_1, aes());
    const tags = await list2x(V2_1, uid);
    expect(tags).toEqual([
      Tag.UniqueIdentifier,
      Tag.ShortUniqueIdentifier,
      Tag.ObjectType,
      Tag.CryptographicAlgorithm,
      Tag.CryptographicLength,
      Tag.AlwaysSensitive,
      Tag.CryptographicUsageMask,
      Tag.Digest,
      Tag.KeyFormatType,
      Tag.Extractable,
      Tag.Fresh,
      Tag.InitialDate,
      Tag.LastChangeDate,
      Tag.LeaseTime,
      Tag.NeverExtractable,
      Tag.OriginalCreationDate,
      Tag.ProtectionStorageMask,
      Tag.RandomNumberGenerator,
      Tag.Sensitive,
      Tag.State,
    ]);
  });

  it('2.1 Get Attributes, named and all: Short Unique Identifier = SHA-256(uid), Protection Storage Mask Software, the Boolean defaults, Lease Time', async () => {
    const uid = await create(c, V2_1, aes());
    const want = [Tag.ShortUniqueIdentifier, Tag.ProtectionStorageMask, Tag.Sensitive, Tag.Extractable, Tag.AlwaysSensitive, Tag.NeverExtractable, Tag.LeaseTime];
    for (const items of [await get2x(V2_1, uid, want), await get2x(V2_1, uid)]) {
      const sui = valueIn(items, Tag.ShortUniqueIdentifier) as Uint8Array;
      expect(Buffer.from(sui).toString('hex')).toBe(createHash('sha256').update(uid).digest('hex'));
      expect(valueIn(items, Tag.ProtectionStorageMask)).toBe(ProtectionStorageMask.Software);
      expect([Tag.Sensitive, Tag.Extractable, Tag.AlwaysSensitive, Tag.NeverExtractable].map((tag) => valueIn(items, tag))).toEqual([false, true, false, false]);
      expect(valueIn(items, Tag.LeaseTime)).toBe(LEASE_POLICY.defaultSeconds);
    }
    // All attributes come in the list order.
    expect((await get2x(V2_1, uid)).map((n) => n.tag)).toEqual(await list2x(V2_1, uid));
  });

  it('1.4: lists the 1.4 attributes (Always Sensitive, Extractable, Never Extractable, Sensitive), not the 2.x ones', async () => {
    const uid = await create(c, V1_4, aes());
    const names = await list1x(V1_4, uid);
    expect(names).toEqual(expect.arrayContaining(['Always Sensitive', 'Extractable', 'Lease Time', 'Never Extractable', 'Sensitive']));
    for (const n of ['Short Unique Identifier', 'Protection Storage Mask', 'Key Format Type']) expect(names).not.toContain(n);
    const named = await get1x(V1_4, uid, ['Sensitive', 'Extractable', 'Always Sensitive', 'Never Extractable']);
    expect([...named.entries()]).toEqual([
      ['Sensitive', false],
      ['Extractable', true],
      ['Always Sensitive', false],
      ['Never Extractable', false],
    ]);
  });

  it('1.2: none of them (they were added in 1.4); Get Attributes refuses the name', async () => {
    const uid = await create(c, V1_2, aes());
    const names = await list1x(V1_2, uid);
    for (const n of ['Always Sensitive', 'Extractable', 'Never Extractable', 'Sensitive', 'Short Unique Identifier', 'Protection Storage Mask']) expect(names).not.toContain(n);
    expect(names).toContain('Lease Time');
    expect((await fails(c, V1_2, Operation.GetAttributes, [uidNode(uid), t.text(Tag.AttributeName, 'Always Sensitive')])).reason).toBe(ResultReason.InvalidField);
  });

  it('2.0 and 1.4 Get Attributes of all attributes leave out what PyKMIP 0.10 cannot decode (default client profile); asked for by name they come', async () => {
    const uid = await create(c, V2_0, aes());
    const all20 = (await get2x(V2_0, uid)).map((n) => n.tag);
    for (const tag of [Tag.ShortUniqueIdentifier, Tag.ProtectionStorageMask, Tag.AlwaysSensitive, Tag.Extractable, Tag.NeverExtractable]) expect(all20).not.toContain(tag);
    expect(all20).toContain(Tag.Sensitive); // PyKMIP 0.10 decodes Sensitive at 2.0
    expect(all20).toContain(Tag.LeaseTime); // stored on every new key
    expect((await get2x(V2_0, uid, [Tag.ShortUniqueIdentifier])).map((n) => n.tag)).toEqual([Tag.ShortUniqueIdentifier]);
    expect(await list2x(V2_0, uid)).toEqual(expect.arrayContaining([Tag.ShortUniqueIdentifier, Tag.ProtectionStorageMask, Tag.AlwaysSensitive]));
    const all14 = await get1x(V1_4, uid);
    for (const n of ['Always Sensitive', 'Extractable', 'Never Extractable', 'Sensitive']) expect(all14.has(n)).toBe(false);
    // A value the client set is stored; PyKMIP 0.10 cannot decode it at 1.4 either, so it comes when named.
    const set = await create(c, V1_4, aes([t.bool(Tag.Extractable, true)]));
    expect((await get1x(V1_4, set)).has('Extractable')).toBe(false);
    expect((await get1x(V1_4, set, ['Extractable'])).get('Extractable')).toBe(true);
  });

  it('an object stored before these attributes existed (no Lease Time, no Sensitive …) reads them derived', async () => {
    const uid = await seed(srv, { objectType: ObjectType.SymmetricKey });
    const items = await get2x(V2_1, uid);
    expect(Buffer.from(valueIn(items, Tag.ShortUniqueIdentifier) as Uint8Array).toString('hex')).toBe(createHash('sha256').update(uid).digest('hex'));
    expect(valueIn(items, Tag.LeaseTime)).toBe(LEASE_POLICY.defaultSeconds);
    expect([Tag.Sensitive, Tag.Extractable, Tag.AlwaysSensitive, Tag.NeverExtractable, Tag.ProtectionStorageMask].map((tag) => valueIn(items, tag))).toEqual([
      false,
      true,
      false,
      false,
      ProtectionStorageMask.Software,
    ]);
  });

  it('the server-set ones are read-only: Set Attribute of Short Unique Identifier or Protection Storage Mask is refused', async () => {
    const uid = await create(c, V2_1, aes());
    for (const n of [t.bytes(Tag.ShortUniqueIdentifier, new Uint8Array(32)), t.int(Tag.ProtectionStorageMask, ProtectionStorageMask.Hardware)]) {
      expect((await fails(c, V2_1, Operation.SetAttribute, [uidNode(uid), t.struct(Tag.NewAttribute, [n])])).reason).toBe(ResultReason.ReadOnlyAttribute);
    }
  });
});

describe('Always Sensitive and Never Extractable follow every change', () => {
  const set = async (uid: string, n: TtlvNode) => ok(c, V2_1, Operation.SetAttribute, [uidNode(uid), t.struct(Tag.NewAttribute, [n])]);
  const read = async (uid: string, tags: readonly number[]) => {
    const items = await get2x(V2_1, uid, tags);
    return tags.map((tag) => valueIn(items, tag));
  };

  it('Sensitive true at Create: Always Sensitive true; false → false; true again → stays false', async () => {
    const uid = await create(c, V2_1, aes([t.bool(Tag.Sensitive, true)]));
    expect(await read(uid, [Tag.Sensitive, Tag.AlwaysSensitive])).toEqual([true, true]);
    await set(uid, t.bool(Tag.Sensitive, true)); // set to the same value: still always sensitive
    expect(await read(uid, [Tag.Sensitive, Tag.AlwaysSensitive])).toEqual([true, true]);
    await set(uid, t.bool(Tag.Sensitive, false));
    expect(await read(uid, [Tag.Sensitive, Tag.AlwaysSensitive])).toEqual([false, false]);
    await set(uid, t.bool(Tag.Sensitive, true));
    expect(await read(uid, [Tag.Sensitive, Tag.AlwaysSensitive])).toEqual([true, false]);
  });

  it('Sensitive not given (false): made true later, Always Sensitive stays false (it was not always true)', async () => {
    const uid = await create(c, V2_1, aes());
    await set(uid, t.bool(Tag.Sensitive, true));
    expect(await read(uid, [Tag.Sensitive, Tag.AlwaysSensitive])).toEqual([true, false]);
  });

  it('Extractable false at Create: Never Extractable true; true → false; false again → stays false', async () => {
    const uid = await create(c, V2_1, aes([t.bool(Tag.Extractable, false)]));
    expect(await read(uid, [Tag.Extractable, Tag.NeverExtractable])).toEqual([false, true]);
    await set(uid, t.bool(Tag.Extractable, true));
    expect(await read(uid, [Tag.Extractable, Tag.NeverExtractable])).toEqual([true, false]);
    await set(uid, t.bool(Tag.Extractable, false));
    expect(await read(uid, [Tag.Extractable, Tag.NeverExtractable])).toEqual([false, false]);
  });

  it('Extractable not given (true): made false later, Never Extractable stays false', async () => {
    const uid = await create(c, V2_1, aes());
    await set(uid, t.bool(Tag.Extractable, false));
    expect(await read(uid, [Tag.Extractable, Tag.NeverExtractable])).toEqual([false, false]);
  });

  it('1.4 Modify Attribute of the default Sensitive works (the value exists though not stored) and moves the follower', async () => {
    const uid = await create(c, V1_4, aes());
    await ok(c, V1_4, Operation.ModifyAttribute, [uidNode(uid), t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Sensitive'), t.bool(Tag.AttributeValue, true)])]);
    expect([...(await get1x(V1_4, uid, ['Sensitive', 'Always Sensitive'])).values()]).toEqual([true, false]);
    // Sensitive now keeps the key from being returned in the clear.
    expect((await fails(c, V1_4, Operation.Get, [uidNode(uid)])).reason).toBeDefined();
  });
});

describe('Short Unique Identifier', () => {
  it('differs between objects, stays the same across reads and changes, and Locate finds the object by it', async () => {
    const uids = [await create(c, V2_1, aes()), await create(c, V2_1, tdes(168)), await create(c, V2_1, aes())];
    const suis = [];
    for (const uid of uids) suis.push(Buffer.from(valueIn(await get2x(V2_1, uid, [Tag.ShortUniqueIdentifier]), Tag.ShortUniqueIdentifier) as Uint8Array));
    expect(new Set(suis.map((s) => s.toString('hex'))).size).toBe(3);
    for (const s of suis) expect(s.length).toBe(32);
    await ok(c, V2_1, Operation.Activate, [uidNode(uids[1]!)]);
    const again = Buffer.from(valueIn(await get2x(V2_1, uids[1]!, [Tag.ShortUniqueIdentifier]), Tag.ShortUniqueIdentifier) as Uint8Array);
    expect(again.equals(suis[1]!)).toBe(true);
    const p = await ok(c, V2_1, Operation.Locate, [t.struct(Tag.Attributes, [t.bytes(Tag.ShortUniqueIdentifier, suis[1]!)])]);
    expect(p.value.filter((n) => n.tag === Tag.UniqueIdentifier).map((n) => n.value)).toEqual([uids[1]]);
    const none = await ok(c, V2_1, Operation.Locate, [t.struct(Tag.Attributes, [t.bytes(Tag.ShortUniqueIdentifier, new Uint8Array(32))])]);
    expect(none.value.filter((n) => n.tag === Tag.UniqueIdentifier)).toEqual([]);
  });

  it('Locate by a derived default (Extractable true) finds objects that never stored it', async () => {
    const uid = await seed(srv, { objectType: ObjectType.SecretData });
    const p = await ok(c, V2_1, Operation.Locate, [t.struct(Tag.Attributes, [t.enum(Tag.ObjectType, ObjectType.SecretData), t.bool(Tag.Extractable, true)])]);
    expect(p.value.filter((n) => n.tag === Tag.UniqueIdentifier).map((n) => n.value)).toContain(uid);
  });
});
