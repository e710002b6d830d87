/**
 * Create (KMIP 1.4 §4.1, 2.1 §6.1.8) over a real mTLS server with LevelDB: AES and HMAC keys at
 * 1.x and 2.x, the server-set attributes, the crypto policy, attribute rules, Templates, Names,
 * the ID Placeholder, and every Result Reason in src/operations/lifecycle/create.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, findPath, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyFormatType, NameType, ObjectType, Operation, ResultReason, State, UsageLimitsUnit } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, batch, fails, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';

const ED = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

function createItem(v: KmipVersion, list: readonly TtlvNode[], objectType: number = ObjectType.SymmetricKey): TtlvNode[] {
  return [t.enum(Tag.ObjectType, objectType), attrs(v, list)];
}
const aes = (bits: number, extra: readonly TtlvNode[] = []): TtlvNode[] => [
  attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
  attr.cryptographicLength(bits),
  attr.cryptographicUsageMask(ED),
  ...extra,
];

async function getKey(v: KmipVersion, uid: string) {
  const p = await ok(c, v, Operation.Get, [uidNode(uid)]);
  const kb = findPath(p, Tag.SymmetricKey, Tag.KeyBlock);
  const material = findPath(kb, Tag.KeyValue, Tag.KeyMaterial);
  return { p, kb, material: material?.type === 'ByteString' ? material.value : undefined };
}

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Create at KMIP %s', (_label, v) => {
  it.each([128, 192, 256])('makes an AES-%i key that Get returns as Raw with its algorithm and length', async (bits) => {
    const p = await ok(c, v, Operation.Create, createItem(v, aes(bits)));
    expect(findChild(p, Tag.ObjectType)).toMatchObject({ value: ObjectType.SymmetricKey });
    const uid = uidOf(p);
    const { kb, material } = await getKey(v, uid);
    expect(material?.length).toBe(bits / 8);
    expect(findChild(kb, Tag.KeyFormatType)).toMatchObject({ value: KeyFormatType.Raw });
    expect(findChild(kb, Tag.CryptographicAlgorithm)).toMatchObject({ value: CryptographicAlgorithm.AES });
    expect(findChild(kb, Tag.CryptographicLength)).toMatchObject({ value: bits });
  });

  it('two keys differ (fresh random bytes)', async () => {
    const a = await getKey(v, uidOf(await ok(c, v, Operation.Create, createItem(v, aes(256)))));
    const b = await getKey(v, uidOf(await ok(c, v, Operation.Create, createItem(v, aes(256)))));
    expect(Buffer.from(a.material!).equals(Buffer.from(b.material!))).toBe(false);
  });

  it('HMAC keys default to the hash size and take an explicit length', async () => {
    for (const [alg, bits] of [
      [CryptographicAlgorithm.HMAC_SHA1, 160],
      [CryptographicAlgorithm.HMAC_SHA224, 224],
      [CryptographicAlgorithm.HMAC_SHA256, 256],
      [CryptographicAlgorithm.HMAC_SHA384, 384],
      [CryptographicAlgorithm.HMAC_SHA512, 512],
    ] as const) {
      const mask = attr.cryptographicUsageMask(CryptographicUsageMask.MACGenerate | CryptographicUsageMask.MACVerify);
      const uid = uidOf(await ok(c, v, Operation.Create, createItem(v, [attr.cryptographicAlgorithm(alg), mask])));
      expect((await getKey(v, uid)).material?.length).toBe(bits / 8);
    }
    const uid = uidOf(
      await ok(
        c,
        v,
        Operation.Create,
        createItem(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.HMAC_SHA256), attr.cryptographicLength(128), attr.cryptographicUsageMask(CryptographicUsageMask.MACGenerate)]),
      ),
    );
    expect((await getKey(v, uid)).material?.length).toBe(16);
  });

  it('refuses AES lengths other than 128/192/256 and HMAC keys under 112 bits (Invalid Field / Invalid Attribute Value)', async () => {
    const want = v.major >= 2 ? ResultReason.InvalidAttributeValue : ResultReason.InvalidField;
    for (const bits of [64, 100, 512]) expect((await fails(c, v, Operation.Create, createItem(v, aes(bits)))).reason).toBe(want);
    const hmac = [attr.cryptographicAlgorithm(CryptographicAlgorithm.HMAC_SHA256), attr.cryptographicLength(104), attr.cryptographicUsageMask(CryptographicUsageMask.MACGenerate)];
    expect((await fails(c, v, Operation.Create, createItem(v, hmac))).reason).toBe(want);
    const rsa = [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048), attr.cryptographicUsageMask(ED)];
    expect((await fails(c, v, Operation.Create, createItem(v, rsa))).reason).toBe(want);
  });

  it('refuses object types other than Symmetric Key (Invalid Field / Invalid Object Type)', async () => {
    const r = await fails(c, v, Operation.Create, createItem(v, aes(256), ObjectType.SecretData));
    expect(r.reason).toBe(v.major >= 2 ? ResultReason.InvalidObjectType : ResultReason.InvalidField);
  });

  it('a missing Cryptographic Algorithm is Missing Data', async () => {
    expect((await fails(c, v, Operation.Create, createItem(v, [attr.cryptographicLength(256), attr.cryptographicUsageMask(ED)]))).reason).toBe(ResultReason.MissingData);
  });

  it('a server-only attribute is refused (Invalid Field / Attribute Read Only)', async () => {
    const r = await fails(c, v, Operation.Create, createItem(v, aes(256, [attr.state(State.Active)])));
    expect(r.reason).toBe(v.major >= 2 ? ResultReason.AttributeReadOnly : ResultReason.InvalidField);
  });

  it('two values of a single-valued attribute are refused (Invalid Field / Attribute Single Valued)', async () => {
    const r = await fails(c, v, Operation.Create, createItem(v, aes(256, [attr.cryptographicUsageMask(ED)])));
    expect(r.reason).toBe(v.major >= 2 ? ResultReason.AttributeSingleValued : ResultReason.InvalidField);
  });

  it('a Name already taken is refused (Invalid Field / Non Unique Name Attribute); after Destroy it is free', async () => {
    const name = `dup-${v.major}`;
    const first = uidOf(await ok(c, v, Operation.Create, createItem(v, aes(128, [attr.name(name)]))));
    const r = await fails(c, v, Operation.Create, createItem(v, aes(128, [attr.name(name)])));
    expect(r.reason).toBe(v.major >= 2 ? ResultReason.NonUniqueNameAttribute : ResultReason.InvalidField);
    await ok(c, v, Operation.Destroy, [uidNode(first)]);
    await ok(c, v, Operation.Create, createItem(v, aes(128, [attr.name(name)])));
  });

  it('an Activation Date already reached creates the key Active; Usage Limits Count is set to the Total', async () => {
    const ul = t.struct(Tag.UsageLimits, [t.long(Tag.UsageLimitsTotal, 10n), t.long(Tag.UsageLimitsCount, 999n), t.enum(Tag.UsageLimitsUnit, UsageLimitsUnit.Object)]);
    const uid = uidOf(await ok(c, v, Operation.Create, createItem(v, aes(128, [t.date(Tag.ActivationDate, 1n), ul]))));
    const rec = await srv.kms.services.store.get(uid);
    expect(rec?.state).toBe(State.Active);
    const stored = rec?.attributes.get('UsageLimits')?.[0];
    expect(findChild(stored, Tag.UsageLimitsCount)).toMatchObject({ value: 10n });
    expect(rec?.attributes.get('InitialDate')?.[0]?.type).toBe('DateTime');
    expect(rec?.attributes.get('LastChangeDate')?.[0]?.type).toBe('DateTime');
    expect(rec?.attributes.get('Digest')?.length).toBe(1);
    expect(rec?.owner).toBe('kms-client');
  });
});

describe('Create, version specifics', () => {
  it('1.x without a Cryptographic Usage Mask is Missing Data (1.4 Table 165)', async () => {
    const r = await fails(c, V1_4, Operation.Create, createItem(V1_4, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128)]));
    expect(r.reason).toBe(ResultReason.MissingData);
  });

  it('2.x without a Cryptographic Usage Mask gets the policy default', async () => {
    const uid = uidOf(await ok(c, V2_1, Operation.Create, createItem(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128)])));
    expect((await srv.kms.services.store.get(uid))?.attributes.get('CryptographicUsageMask')?.[0]).toMatchObject({ value: ED });
  });

  it('a 1.x Template-Attribute naming an unknown Template is Item Not Found', async () => {
    const ta = t.struct(Tag.TemplateAttribute, [t.struct(Tag.Name, [t.text(Tag.NameValue, 'no-such-template'), t.enum(Tag.NameType, NameType.UninterpretedTextString)])]);
    expect((await fails(c, V1_4, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), ta])).reason).toBe(ResultReason.ItemNotFound);
  });

  it('a 2.x Create carrying a 1.x Template-Attribute breaks the schema (Invalid Field)', async () => {
    const r = await fails(c, V2_1, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(V1_4, aes(128))]);
    expect(r.reason).toBe(ResultReason.InvalidField);
  });

  it('Protection Storage Masks (2.x) are accepted and ignored', async () => {
    await ok(c, V2_1, Operation.Create, [...createItem(V2_1, aes(128)), t.struct(Tag.ProtectionStorageMasks, [t.int(Tag.ProtectionStorageMask, 1)])]);
  });

  it('sets the ID Placeholder: Create then Get and Activate with empty payloads, in one batch', async () => {
    for (const v of [V1_4, V2_1]) {
      const items = await batch(c, v, [
        { operation: Operation.Create, payload: createItem(v, aes(256)) },
        { operation: Operation.Activate, payload: [] },
        { operation: Operation.Get, payload: [] },
      ]);
      expect(items.map((i) => i.status)).toEqual([0, 0, 0]);
      const uid = uidOf(items[0]!.payload!);
      expect(uidOf(items[1]!.payload!)).toBe(uid);
      expect(uidOf(items[2]!.payload!)).toBe(uid);
      expect((await srv.kms.services.store.get(uid))?.state).toBe(State.Active);
    }
  });
});
