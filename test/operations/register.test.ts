/**
 * Register (KMIP 1.4 §4.3, 2.1 §6.1.43) over a real mTLS server with LevelDB: every object type
 * this server stores, at 1.x and 2.x, the attributes derived from the content, Templates (1.x),
 * and every Result Reason in src/operations/lifecycle/register.ts. Object layouts follow 1.4 §2.2 Tables
 * 45-52 and the OASIS test cases (OMOS-M-1-21 for the Opaque Object).
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, certificateObject, findChild, findPath, keyBlock, symmetricKeyObject, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  CertificateRequestType,
  CertificateType,
  CryptographicAlgorithm,
  KeyFormatType,
  NameType,
  ObjectType,
  Operation,
  QueryFunction,
  ResultReason,
  SecretDataType,
  SplitKeyMethod,
  State,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { nodesEqual, t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';
import { pyChain, pyCsr } from './certificate-kit.js';

const ED = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  [c, alice] = await Promise.all([srv.client(), srv.client('alice')]);
});
afterAll(async () => srv?.dispose());

const bytes = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
// Real keys: key material that does not parse is refused (operations/crypto/key-policy-check.ts).
const RSA = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PKCS8 = RSA.privateKey.export({ format: 'der', type: 'pkcs8' });
const RSA_PUB_PKCS1 = RSA.publicKey.export({ format: 'der', type: 'pkcs1' });
// A real certificate and PKCS#10 request (the server parses both; certificates-register.test.ts checks what it reads).
const CERT = pyChain('ec').leaf;
const CSR = pyCsr('register-test').der;
const reg = (v: KmipVersion, objectType: number, object: TtlvNode, list: readonly TtlvNode[] = []): TtlvNode[] => [t.enum(Tag.ObjectType, objectType), attrs(v, list), object];

interface Case {
  readonly name: string;
  readonly type: number;
  readonly object: StructureNode;
  readonly attributes?: readonly TtlvNode[];
  readonly only2x?: true;
  /** Derived attributes expected on the record. */
  readonly derived?: ReadonlyArray<[string, TtlvNode]>;
}

const CASES: readonly Case[] = [
  {
    name: 'Symmetric Key (Raw)',
    type: ObjectType.SymmetricKey,
    object: symmetricKeyObject(bytes(24, 1), CryptographicAlgorithm.AES),
    attributes: [attr.cryptographicUsageMask(ED)],
    derived: [
      ['CryptographicAlgorithm', t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)],
      ['CryptographicLength', t.int(Tag.CryptographicLength, 192)],
    ],
  },
  {
    name: 'Private Key (PKCS#8)',
    type: ObjectType.PrivateKey,
    object: t.struct(Tag.PrivateKey, [keyBlock(RSA_PKCS8, KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 2048)]),
    attributes: [attr.cryptographicUsageMask(CryptographicUsageMask.Sign)],
    derived: [['CryptographicLength', t.int(Tag.CryptographicLength, 2048)]],
  },
  {
    name: 'Public Key (PKCS#1)',
    type: ObjectType.PublicKey,
    object: t.struct(Tag.PublicKey, [keyBlock(RSA_PUB_PKCS1, KeyFormatType.PKCS_1, CryptographicAlgorithm.RSA, 2048)]),
    attributes: [attr.cryptographicUsageMask(CryptographicUsageMask.Verify)],
  },
  {
    name: 'Certificate (X.509)',
    type: ObjectType.Certificate,
    object: certificateObject(CERT),
    attributes: [attr.cryptographicUsageMask(CryptographicUsageMask.Verify)],
    derived: [
      ['CertificateType', t.enum(Tag.CertificateType, CertificateType.X_509)],
      ['CertificateLength', t.int(Tag.CertificateLength, CERT.length)],
    ],
  },
  {
    name: 'Secret Data (password)',
    type: ObjectType.SecretData,
    object: t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(new TextEncoder().encode('correct horse'), KeyFormatType.Opaque)]),
    attributes: [attr.cryptographicUsageMask(CryptographicUsageMask.DeriveKey)],
  },
  {
    name: 'Opaque Object (vendor Opaque Data Type 0x80000000, as PyKMIP sends)',
    type: ObjectType.OpaqueObject,
    object: t.struct(Tag.OpaqueObject, [t.enum(Tag.OpaqueDataType, 0x80000000), t.bytes(Tag.OpaqueDataValue, bytes(14, 5))]),
    derived: [['OpaqueDataType', t.enum(Tag.OpaqueDataType, 0x80000000)]],
  },
  {
    name: 'Split Key',
    type: ObjectType.SplitKey,
    object: t.struct(Tag.SplitKey, [
      t.int(Tag.SplitKeyParts, 3),
      t.int(Tag.KeyPartIdentifier, 1),
      t.int(Tag.SplitKeyThreshold, 2),
      t.enum(Tag.SplitKeyMethod, SplitKeyMethod.XOR),
      keyBlock(bytes(32, 6), KeyFormatType.Raw, CryptographicAlgorithm.AES, 256),
    ]),
    attributes: [attr.cryptographicUsageMask(ED)],
  },
  {
    name: 'PGP Key',
    type: ObjectType.PGPKey,
    object: t.struct(Tag.PGPKey, [t.int(Tag.PGPKeyVersion, 4), keyBlock(new TextEncoder().encode('-----BEGIN PGP PUBLIC KEY BLOCK-----'), KeyFormatType.Opaque)]),
  },
  {
    name: 'Certificate Request (PKCS#10, 2.x)',
    type: ObjectType.CertificateRequest,
    object: t.struct(Tag.CertificateRequest, [t.enum(Tag.CertificateRequestType, CertificateRequestType.PKCS_10), t.bytes(Tag.CertificateRequestValue, CSR)]),
    only2x: true,
  },
];

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Register at KMIP %s', (_l, v) => {
  const v2 = v.major >= 2;
  for (const k of CASES) {
    if (k.only2x && !v2) continue;
    it(`${k.name}: stored Pre-Active, sealed, returned by Get exactly as registered, attributes derived`, async () => {
      const p = await ok(c, v, Operation.Register, reg(v, k.type, k.object, [...(k.attributes ?? []), attr.name(`${k.name}-${v.major}`)]));
      const uid = uidOf(p);
      expect(p.value.map((n) => n.tag)).toEqual([Tag.UniqueIdentifier]);
      const rec = (await srv.kms.services.store.get(uid))!;
      expect(rec).toMatchObject({ objectType: k.type, state: State.PreActive, owner: 'kms-client' });
      expect(rec.sealedBody?.length).toBeGreaterThan(0);
      expect(rec.attributes.get('InitialDate')?.[0]?.type).toBe('DateTime');
      expect(rec.attributes.get('Digest')?.[0]?.type).toBe('Structure');
      for (const [key, node] of k.derived ?? []) expect(rec.attributes.get(key), key).toEqual([node]);
      const got = await ok(c, v, Operation.Get, [uidNode(uid)]);
      expect(findChild(got, Tag.ObjectType)).toMatchObject({ value: k.type });
      expect(nodesEqual(findChild(got, k.object.tag)!, k.object)).toBe(true);
    });
  }

  it('Opaque Object as in test case OMOS-M-1-21 (Name only, no usage mask)', async () => {
    const obj = t.struct(Tag.OpaqueObject, [t.enum(Tag.OpaqueDataType, 0x80000001), t.bytes(Tag.OpaqueDataValue, Buffer.from('53656372657450617373776f7264', 'hex'))]);
    const uid = uidOf(await ok(c, v, Operation.Register, reg(v, ObjectType.OpaqueObject, obj, [attr.name(`OMOS-M-1-${v.major}`)])));
    expect(findPath(await ok(c, v, Operation.Get, [uidNode(uid)]), Tag.OpaqueObject, Tag.OpaqueDataValue)).toMatchObject({ type: 'ByteString' });
  });

  it('the new uid is the ID Placeholder (Register then Get with an empty payload)', async () => {
    const { batch } = await import('./object-kit.js');
    const items = await batch(c, v, [
      { operation: Operation.Register, payload: reg(v, ObjectType.SymmetricKey, symmetricKeyObject(bytes(16, 9), CryptographicAlgorithm.AES), [attr.cryptographicUsageMask(ED)]) },
      { operation: Operation.Get, payload: [] },
    ]);
    expect(uidOf(items[1]!.payload!)).toBe(uidOf(items[0]!.payload!));
  });

  it('an object that does not match the Object Type is Invalid Field', async () => {
    const r = await fails(c, v, Operation.Register, reg(v, ObjectType.PrivateKey, symmetricKeyObject(bytes(16, 1), CryptographicAlgorithm.AES), [attr.cryptographicUsageMask(ED)]));
    expect(r.reason).toBe(ResultReason.InvalidField);
  });

  it('an object missing its required parts is Invalid Field (no Key Block, no Certificate Value, empty Key Material, bad Split Key)', async () => {
    const cases: [number, TtlvNode][] = [
      [ObjectType.SymmetricKey, t.struct(Tag.SymmetricKey, [])],
      [ObjectType.Certificate, t.struct(Tag.Certificate, [t.enum(Tag.CertificateType, CertificateType.X_509)])],
      [ObjectType.SymmetricKey, t.struct(Tag.SymmetricKey, [keyBlock(new Uint8Array(0), KeyFormatType.Raw, CryptographicAlgorithm.AES, 128)])],
      [ObjectType.SymmetricKey, t.struct(Tag.SymmetricKey, [t.struct(Tag.KeyBlock, [t.struct(Tag.KeyValue, [t.bytes(Tag.KeyMaterial, bytes(16, 1))])])])],
      [
        ObjectType.SplitKey,
        t.struct(Tag.SplitKey, [
          t.int(Tag.SplitKeyParts, 2),
          t.int(Tag.KeyPartIdentifier, 3),
          t.int(Tag.SplitKeyThreshold, 2),
          t.enum(Tag.SplitKeyMethod, SplitKeyMethod.XOR),
          keyBlock(bytes(16, 1), KeyFormatType.Raw, CryptographicAlgorithm.AES, 128),
        ]),
      ],
      [ObjectType.OpaqueObject, t.struct(Tag.OpaqueObject, [t.enum(Tag.OpaqueDataType, 1), t.text(Tag.OpaqueDataValue, 'text')])],
    ];
    for (const [type, obj] of cases) expect((await fails(c, v, Operation.Register, reg(v, type, obj, [attr.cryptographicUsageMask(ED)]))).reason).toBe(ResultReason.InvalidField);
    expect((await fails(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(v, [])])).reason).toBe(ResultReason.InvalidField);
  });

  it('attributes that contradict the Key Block are Invalid Field / Invalid Attribute Value', async () => {
    const r = await fails(
      c,
      v,
      Operation.Register,
      reg(v, ObjectType.SymmetricKey, symmetricKeyObject(bytes(16, 1), CryptographicAlgorithm.AES), [attr.cryptographicLength(256), attr.cryptographicUsageMask(ED)]),
    );
    expect(r.reason).toBe(v2 ? ResultReason.InvalidAttributeValue : ResultReason.InvalidField);
  });

  it('a key whose algorithm is neither in the attributes nor in the Key Block is Missing Data; given as attributes it is accepted if its material parses', async () => {
    const obj = t.struct(Tag.PrivateKey, [keyBlock(bytes(100, 1), KeyFormatType.PKCS_8)]);
    expect((await fails(c, v, Operation.Register, reg(v, ObjectType.PrivateKey, obj, [attr.cryptographicUsageMask(CryptographicUsageMask.Sign)]))).reason).toBe(ResultReason.MissingData);
    const stated = [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048), attr.cryptographicUsageMask(CryptographicUsageMask.Sign)];
    expect((await fails(c, v, Operation.Register, reg(v, ObjectType.PrivateKey, obj, stated))).reason).toBe(ResultReason.InvalidField);
    const uid = uidOf(await ok(c, v, Operation.Register, reg(v, ObjectType.PrivateKey, t.struct(Tag.PrivateKey, [keyBlock(RSA_PKCS8, KeyFormatType.PKCS_8)]), stated)));
    expect((await srv.kms.services.store.get(uid))?.attributes.get('CryptographicAlgorithm')).toEqual([t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.RSA)]);
  });

  it('deployed clients mislabel DER keys: PKCS#1 bytes sent as PKCS#8 and SubjectPublicKeyInfo sent as Raw are read by their structure and returned as registered; bytes no structure reads stay refused', async () => {
    const pkcs1 = RSA.privateKey.export({ format: 'der', type: 'pkcs1' });
    const spki = RSA.publicKey.export({ format: 'der', type: 'spki' });
    const stated = [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048), attr.cryptographicUsageMask(CryptographicUsageMask.Sign)];
    const priv = uidOf(await ok(c, v, Operation.Register, reg(v, ObjectType.PrivateKey, t.struct(Tag.PrivateKey, [keyBlock(pkcs1, KeyFormatType.PKCS_8)]), stated)));
    const got = await ok(c, v, Operation.Get, [uidNode(priv)]);
    expect(Buffer.from(findPath(got, Tag.PrivateKey, Tag.KeyBlock, Tag.KeyValue, Tag.KeyMaterial)!.value as Uint8Array)).toEqual(pkcs1);
    const verify = [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048), attr.cryptographicUsageMask(CryptographicUsageMask.Verify)];
    await ok(c, v, Operation.Register, reg(v, ObjectType.PublicKey, t.struct(Tag.PublicKey, [keyBlock(spki, KeyFormatType.Raw)]), verify));
    expect((await fails(c, v, Operation.Register, reg(v, ObjectType.PublicKey, t.struct(Tag.PublicKey, [keyBlock(bytes(300, 7), KeyFormatType.Raw)]), verify))).reason).toBe(
      v.major >= 2 ? ResultReason.InvalidAttributeValue : ResultReason.InvalidField,
    );
    expect((await fails(c, v, Operation.Register, reg(v, ObjectType.PrivateKey, t.struct(Tag.PrivateKey, [keyBlock(bytes(300, 7), KeyFormatType.PKCS_8)]), stated))).reason).toBe(
      ResultReason.InvalidField,
    );
  });

  it('a Name already taken is refused; another identity may use it (names are not disclosed across identities)', async () => {
    const name = `reg-dup-${v.major}`;
    const obj = t.struct(Tag.OpaqueObject, [t.enum(Tag.OpaqueDataType, 0x80000000), t.bytes(Tag.OpaqueDataValue, bytes(8, 1))]);
    await ok(c, v, Operation.Register, reg(v, ObjectType.OpaqueObject, obj, [attr.name(name)]));
    const r = await fails(c, v, Operation.Register, reg(v, ObjectType.OpaqueObject, obj, [attr.name(name)]));
    expect(r.reason).toBe(v2 ? ResultReason.NonUniqueNameAttribute : ResultReason.InvalidField);
    await ok(alice, v, Operation.Register, reg(v, ObjectType.OpaqueObject, obj, [attr.name(name)]));
  });

  it('a server-only attribute is refused (Invalid Field / Attribute Read Only)', async () => {
    const r = await fails(
      c,
      v,
      Operation.Register,
      reg(v, ObjectType.SymmetricKey, symmetricKeyObject(bytes(16, 1), CryptographicAlgorithm.AES), [attr.cryptographicUsageMask(ED), t.date(Tag.InitialDate, 5n)]),
    );
    expect(r.reason).toBe(v2 ? ResultReason.AttributeReadOnly : ResultReason.InvalidField);
  });
});

describe('Register, version specifics', () => {
  it('1.x has no Certificate Request object type: Invalid Field; 2.x has no Template: Invalid Object Type', async () => {
    const cr = CASES.find((k) => k.type === ObjectType.CertificateRequest)!;
    expect((await fails(c, V1_4, Operation.Register, reg(V1_4, cr.type, cr.object))).reason).toBe(ResultReason.InvalidField);
    const tpl = t.struct(Tag.Template, [t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Cryptographic Length'), t.int(Tag.AttributeValue, 128)])]);
    expect((await fails(c, V2_1, Operation.Register, reg(V2_1, ObjectType.Template, tpl))).reason).toBe(ResultReason.InvalidObjectType);
    expect((await fails(c, V2_1, Operation.Register, reg(V2_1, 0x77, tpl))).reason).toBe(ResultReason.InvalidObjectType);
  });

  it('Query Objects lists exactly what Register accepts per version: Template in 1.x (SASED-M-1-14, TL-M-1-14), Certificate Request in 2.x', async () => {
    const listed = async (v: KmipVersion) =>
      (await ok(c, v, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryObjects)])).value.filter((n) => n.tag === Tag.ObjectType).map((n) => n.value);
    const v1 = await listed(V1_4);
    const v2 = await listed(V2_1);
    expect(v1).toContain(ObjectType.Template);
    expect(v1).not.toContain(ObjectType.CertificateRequest);
    expect(v2).not.toContain(ObjectType.Template);
    expect(v2).toContain(ObjectType.CertificateRequest);
    for (const k of [ObjectType.SymmetricKey, ObjectType.SecretData, ObjectType.OpaqueObject]) {
      expect(v1).toContain(k);
      expect(v2).toContain(k);
    }
  });

  it('1.x Templates: registered with a Name, their attributes merged into a Create and a Register that name them', async () => {
    const tpl = t.struct(Tag.Template, [
      t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Cryptographic Algorithm'), t.enum(Tag.AttributeValue, CryptographicAlgorithm.AES)]),
      t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Cryptographic Length'), t.int(Tag.AttributeValue, 128)]),
      t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Cryptographic Usage Mask'), t.int(Tag.AttributeValue, ED)]),
      t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Object Group'), t.text(Tag.AttributeValue, 'from-template')]),
    ]);
    const tuid = uidOf(await ok(c, V1_4, Operation.Register, reg(V1_4, ObjectType.Template, tpl, [attr.name('aes-128-template')])));
    const byName = t.struct(Tag.Name, [t.text(Tag.NameValue, 'aes-128-template'), t.enum(Tag.NameType, NameType.UninterpretedTextString)]);
    // Create: only the template's name, plus an override of the length and one more group.
    const ta = t.struct(Tag.TemplateAttribute, [
      byName,
      t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Cryptographic Length'), t.int(Tag.AttributeValue, 256)]),
      t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Object Group'), t.text(Tag.AttributeValue, 'own')]),
    ]);
    const uid = uidOf(await ok(c, V1_4, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), ta]));
    const rec = (await srv.kms.services.store.get(uid))!;
    expect(rec.attributes.get('CryptographicLength')).toEqual([t.int(Tag.CryptographicLength, 256)]);
    expect(rec.attributes.get('CryptographicUsageMask')).toEqual([t.int(Tag.CryptographicUsageMask, ED)]);
    expect(rec.attributes.get('ObjectGroup')).toEqual([t.text(Tag.ObjectGroup, 'from-template'), t.text(Tag.ObjectGroup, 'own')]);
    // Get of the Template returns it as registered.
    expect(nodesEqual(findChild(await ok(c, V1_4, Operation.Get, [uidNode(tuid)]), Tag.Template)!, tpl)).toBe(true);
    // Register naming the template.
    const ruid = uidOf(
      await ok(c, V1_4, Operation.Register, [
        t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
        t.struct(Tag.TemplateAttribute, [byName]),
        symmetricKeyObject(bytes(16, 2), CryptographicAlgorithm.AES),
      ]),
    );
    expect((await srv.kms.services.store.get(ruid))?.attributes.get('ObjectGroup')).toEqual([t.text(Tag.ObjectGroup, 'from-template')]);
    // Another identity does not see the template.
    expect((await fails(alice, V1_4, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), t.struct(Tag.TemplateAttribute, [byName])])).reason).toBe(ResultReason.ItemNotFound);
    // Archived template: Object Archived (1.4 §11.2); Activate on a Template: Illegal Operation.
    expect((await fails(c, V1_4, Operation.Activate, [uidNode(tuid)])).reason).toBe(ResultReason.IllegalOperation);
    await ok(c, V1_4, Operation.Archive, [uidNode(tuid)]);
    expect((await fails(c, V1_4, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), t.struct(Tag.TemplateAttribute, [byName])])).reason).toBe(ResultReason.ObjectArchived);
    await ok(c, V1_4, Operation.Recover, [uidNode(tuid)]);
    // Destroy removes a Template with all its metadata (1.4 §4.21).
    await ok(c, V1_4, Operation.Destroy, [uidNode(tuid)]);
    expect(await srv.kms.services.store.get(tuid)).toBeUndefined();
    expect((await fails(c, V1_4, Operation.Create, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), t.struct(Tag.TemplateAttribute, [byName])])).reason).toBe(ResultReason.ItemNotFound);
  });

  it('a Template holding a Name, or holding nothing, is Invalid Field', async () => {
    const withName = t.struct(Tag.Template, [
      t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Name'), t.struct(Tag.AttributeValue, [t.text(Tag.NameValue, 'x'), t.enum(Tag.NameType, 1)])]),
    ]);
    expect((await fails(c, V1_4, Operation.Register, reg(V1_4, ObjectType.Template, withName))).reason).toBe(ResultReason.InvalidField);
    expect((await fails(c, V1_4, Operation.Register, reg(V1_4, ObjectType.Template, t.struct(Tag.Template, [])))).reason).toBe(ResultReason.InvalidField);
  });
});
