/**
 * The attributes the server sets itself (src/objects/server-set.ts) over a real mTLS server with
 * LevelDB: Original Creation Date and Random Number Generator on generated objects (2.1 §4.38,
 * §4.46; conformance cases AKLC-M-*, SKFF-M-10/11), the 2.x Key Format Type attribute (§4.26),
 * the Boolean attributes that always have a value — Sensitive, Extractable, Always Sensitive,
 * Never Extractable (§4.55, §4.23, §4.3, §4.33; BL-M-12) — and Fresh turning False at the first
 * Get (§4.24; BL-M-13).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, symmetricKeyObject, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, RNGAlgorithm } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { LEASE_POLICY } from '../../src/policy/crypto-policy.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';

const ED = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const aes = (extra: readonly TtlvNode[] = []): TtlvNode[] => [
  attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
  attr.cryptographicLength(256),
  attr.cryptographicUsageMask(ED),
  ...extra,
];

async function create(v: KmipVersion, extra: readonly TtlvNode[] = []): Promise<string> {
  return uidOf(await ok(c, v, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(v, aes(extra))]));
}

async function register(extra: readonly TtlvNode[]): Promise<string> {
  const key = symmetricKeyObject(new Uint8Array(32).fill(7), CryptographicAlgorithm.AES);
  return uidOf(await ok(c, V2_1, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(V2_1, aes(extra)), key]));
}

/** 2.1 Get Attributes of the named tags: the Attributes structure's items by tag. */
async function get21(uid: string, tags: readonly number[]): Promise<Map<number, TtlvNode>> {
  const p = await ok(c, V2_1, Operation.GetAttributes, [uidNode(uid), ...tags.map((tag) => t.enum(Tag.AttributeReference, tag))]);
  const a = findChild(p, Tag.Attributes) as StructureNode;
  return new Map(a.value.map((n) => [n.tag, n]));
}

const valueOf = (n: TtlvNode | undefined): unknown => n?.value;

describe('generated objects (Create, Create Key Pair)', () => {
  it('Create: Original Creation Date equals Initial Date; Random Number Generator names the DRBG; Key Format Type Raw', async () => {
    const uid = await create(V2_1);
    const got = await get21(uid, [Tag.InitialDate, Tag.OriginalCreationDate, Tag.RandomNumberGenerator, Tag.KeyFormatType]);
    expect(got.get(Tag.OriginalCreationDate)?.type).toBe('DateTime');
    expect(valueOf(got.get(Tag.OriginalCreationDate))).toBe(valueOf(got.get(Tag.InitialDate)));
    const rng = got.get(Tag.RandomNumberGenerator) as StructureNode;
    expect(rng.value.map((n) => [n.tag, n.value])).toEqual([
      [Tag.RNGAlgorithm, RNGAlgorithm.DRBG],
      [Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES],
      [Tag.CryptographicLength, 256],
    ]);
    expect(valueOf(got.get(Tag.KeyFormatType))).toBe(KeyFormatType.Raw);
  });

  it('Create Key Pair (RSA): both keys carry them; the Key Format Type is the stored PKCS#1', async () => {
    const p = await ok(c, V2_1, Operation.CreateKeyPair, [
      t.struct(Tag.CommonAttributes, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)]),
      t.struct(Tag.PrivateKeyAttributes, [attr.cryptographicUsageMask(CryptographicUsageMask.Sign)]),
      t.struct(Tag.PublicKeyAttributes, [attr.cryptographicUsageMask(CryptographicUsageMask.Verify)]),
    ]);
    for (const tag of [Tag.PrivateKeyUniqueIdentifier, Tag.PublicKeyUniqueIdentifier]) {
      const uid = String(findChild(p, tag)?.value);
      const got = await get21(uid, [Tag.InitialDate, Tag.OriginalCreationDate, Tag.RandomNumberGenerator, Tag.KeyFormatType]);
      expect(valueOf(got.get(Tag.OriginalCreationDate))).toBe(valueOf(got.get(Tag.InitialDate)));
      expect(got.has(Tag.RandomNumberGenerator)).toBe(true);
      expect(valueOf(got.get(Tag.KeyFormatType))).toBe(KeyFormatType.PKCS_1);
    }
  });

  it('Register sets neither Original Creation Date nor Random Number Generator (the client made the key), nor Key Format Type (see server-set.ts)', async () => {
    const uid = await register([]);
    const got = await get21(uid, [Tag.OriginalCreationDate, Tag.RandomNumberGenerator, Tag.KeyFormatType, Tag.Fresh]);
    expect([...got.keys()]).toEqual([Tag.Fresh]);
  });

  it('KMIP 1.4 sees Original Creation Date and Random Number Generator, not the 2.x Key Format Type attribute', async () => {
    const uid = await create(V1_4);
    const p = await ok(c, V1_4, Operation.GetAttributeList, [uidNode(uid)]);
    const names = p.value.filter((n) => n.tag === Tag.AttributeName).map((n) => n.value);
    expect(names).toEqual(expect.arrayContaining(['Original Creation Date', 'Random Number Generator', 'Fresh', 'Lease Time']));
    expect(names).not.toContain('Key Format Type');
  });
});

describe('Lease Time and the Get Attribute List order', () => {
  it('a new key has Lease Time (the lease policy default, which Obtain Lease grants)', async () => {
    const uid = await create(V2_1);
    const lease = (await get21(uid, [Tag.LeaseTime])).get(Tag.LeaseTime);
    expect(lease).toMatchObject({ type: 'Interval', value: LEASE_POLICY.defaultSeconds });
    const p = await ok(c, V2_1, Operation.ObtainLease, [uidNode(uid)]);
    expect(valueOf(findChild(p, Tag.LeaseTime))).toBe(LEASE_POLICY.defaultSeconds);
  });

  it('Get Attribute List: identifier, type, algorithm, length first, then by name, custom attributes last (SKFF-M-10-14)', async () => {
    const uid = await create(V1_4);
    await ok(c, V1_4, Operation.AddAttribute, [uidNode(uid), t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'x-zeta'), t.text(Tag.AttributeValue, 'z')])]);
    const p = await ok(c, V1_4, Operation.GetAttributeList, [uidNode(uid)]);
    const names = p.value.filter((n) => n.tag === Tag.AttributeName).map((n) => String(n.value));
    expect(names.slice(0, 4)).toEqual(['Unique Identifier', 'Object Type', 'Cryptographic Algorithm', 'Cryptographic Length']);
    expect(names.at(-1)).toBe('x-zeta');
    const middle = names.slice(4, -1);
    expect(middle).toEqual([...middle].sort((a, b) => a.replaceAll(' ', '').localeCompare(b.replaceAll(' ', ''), 'en')));
    expect(middle).toEqual(expect.arrayContaining(['Digest', 'Fresh', 'Initial Date', 'Lease Time', 'Original Creation Date', 'State']));
  });
});

describe('Boolean attributes that always have a value', () => {
  it('none given: the defaults read Sensitive false, Extractable true, Always Sensitive false, Never Extractable false (2.1 §4.55, §4.23, §4.3, §4.33)', async () => {
    const got = await get21(await create(V2_1), [Tag.Sensitive, Tag.Extractable, Tag.AlwaysSensitive, Tag.NeverExtractable, Tag.Fresh]);
    expect([...got.entries()].map(([tag, n]) => [tag, n.value])).toEqual([
      [Tag.Sensitive, false],
      [Tag.Extractable, true],
      [Tag.AlwaysSensitive, false],
      [Tag.NeverExtractable, false],
      [Tag.Fresh, true],
    ]);
  });

  it('Register with Sensitive true: Always Sensitive true until Sensitive is set to false', async () => {
    const uid = await register([t.bool(Tag.Sensitive, true)]);
    expect(valueOf((await get21(uid, [Tag.AlwaysSensitive])).get(Tag.AlwaysSensitive))).toBe(true);
    await ok(c, V2_1, Operation.SetAttribute, [uidNode(uid), t.struct(Tag.NewAttribute, [t.bool(Tag.Sensitive, false)])]);
    const got = await get21(uid, [Tag.Sensitive, Tag.AlwaysSensitive]);
    expect([valueOf(got.get(Tag.Sensitive)), valueOf(got.get(Tag.AlwaysSensitive))]).toEqual([false, false]);
  });

  it('Extractable false at Create: Never Extractable true until Extractable is set to true', async () => {
    const uid = await create(V2_1, [t.bool(Tag.Extractable, false)]);
    expect(valueOf((await get21(uid, [Tag.NeverExtractable])).get(Tag.NeverExtractable))).toBe(true);
    await ok(c, V2_1, Operation.SetAttribute, [uidNode(uid), t.struct(Tag.NewAttribute, [t.bool(Tag.Extractable, true)])]);
    expect(valueOf((await get21(uid, [Tag.NeverExtractable])).get(Tag.NeverExtractable))).toBe(false);
  });

  it('Fresh: true after Create, false once Get has served the key (and stays false)', async () => {
    const uid = await create(V2_1);
    expect(valueOf((await get21(uid, [Tag.Fresh])).get(Tag.Fresh))).toBe(true);
    // Reading attributes does not serve the key.
    expect(valueOf((await get21(uid, [Tag.Fresh])).get(Tag.Fresh))).toBe(true);
    await ok(c, V2_1, Operation.Get, [uidNode(uid)]);
    expect(valueOf((await get21(uid, [Tag.Fresh])).get(Tag.Fresh))).toBe(false);
    await ok(c, V2_1, Operation.Get, [uidNode(uid)]);
    expect(valueOf((await get21(uid, [Tag.Fresh])).get(Tag.Fresh))).toBe(false);
  });

  it('concurrent first Gets of one fresh key all succeed (the Fresh update retries a lost race)', async () => {
    for (let round = 0; round < 3; round++) {
      const uid = await create(V2_1);
      const clients = await Promise.all([0, 1, 2, 3, 4, 5].map(() => srv.client()));
      const results = await Promise.all(clients.map((k) => ok(k, V2_1, Operation.Get, [uidNode(uid)])));
      expect(results).toHaveLength(6);
      expect(valueOf((await get21(uid, [Tag.Fresh])).get(Tag.Fresh))).toBe(false);
      await Promise.all(clients.map((k) => k.close()));
    }
  });

  it('Register with Fresh false keeps it false', async () => {
    const uid = await register([t.bool(Tag.Fresh, false)]);
    expect(valueOf((await get21(uid, [Tag.Fresh])).get(Tag.Fresh))).toBe(false);
  });
});
