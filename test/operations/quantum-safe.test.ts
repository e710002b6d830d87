/**
 * The KMIP Quantum Safe profile over a real mTLS server (test cases QS-M-1 and QS-M-2, KMIP 2.0/2.1):
 * - Set Endpoint Role (2.1 §6.1.54): Server is accepted and echoed; Client is Feature Not
 *   Supported (this server sends no server-to-client operations); an undefined role or an empty
 *   payload is Invalid Field; KMIP 1.4 has no such operation. Query lists it at 2.x only.
 * - The crypto-policy Quantum Safe rule (src/policy/crypto-policy.ts): an object with Quantum Safe
 *   True must not be RSA/EC (Shor) and a symmetric key must have at least 256 bits; refusals are
 *   General Failure naming the rule, and nothing is stored. Create, Create Key Pair, Register,
 *   Re-key, Derive Key and Set Attribute all meet it; Quantum Safe False or absent is unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChildren, keyBlock, symmetricKeyObject, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  CryptographicAlgorithm,
  DerivationMethod,
  EndpointRole,
  KeyFormatType,
  ObjectType,
  Operation,
  ProtectionLevel,
  QueryFunction,
  ResultReason,
  SecretDataType,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attributesOf, keyPairPayload } from './asymmetric-kit.js';
import { seed } from './attribute-kit.js';
import { registerKey } from './crypto-kit.js';
import { attrs, fails, ok, uidNode, uidOf, V1_4, V2_0, V2_1 } from './object-kit.js';

const { Encrypt, Decrypt, Sign, Verify, DeriveKey } = CryptographicUsageMask;
const v = V2_1;
let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const role = (r: number): TtlvNode => t.enum(Tag.EndpointRole, r);
const qs = (on: boolean): TtlvNode => t.bool(Tag.QuantumSafe, on);
/** QS-M-2's attributes: Protection Level High, a 13-year Protection Period. */
const QS_M_2 = [t.enum(Tag.ProtectionLevel, ProtectionLevel.High), t.interval(Tag.ProtectionPeriod, 409968000)];
const aes = (bits: number, extra: readonly TtlvNode[] = []): TtlvNode[] => [
  t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
  attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(bits), attr.cryptographicUsageMask(Encrypt | Decrypt), ...extra]),
];
const bytes = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 29 + seed) & 0xff);

/** A refusal by the Quantum Safe rule: General Failure, and the message names the rule. */
async function refusedAsNotSafe(operation: number, payload: readonly TtlvNode[]): Promise<string> {
  const r = await fails(c, v, operation, payload);
  expect(r.reason).toBe(ResultReason.GeneralFailure);
  expect(r.message).toMatch(/crypto-policy quantum-safe/);
  return r.message ?? '';
}

async function quantumSafeOf(uid: string): Promise<TtlvNode | undefined> {
  return (await attributesOf(c, v, uid)).get(Tag.QuantumSafe)?.[0];
}

describe('Set Endpoint Role', () => {
  it('Endpoint Role Server: Success, the response names Server', async () => {
    const p = await ok(c, v, Operation.SetEndpointRole, [role(EndpointRole.Server)]);
    expect(p.value).toEqual([role(EndpointRole.Server)]);
    // The connection still serves requests as before.
    await ok(c, v, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]);
  });

  it('Endpoint Role Client: Success, the response names Client (the connection then receives server-to-client Notify / Put: test/notify/s2c.test.ts)', async () => {
    const own = await srv.client();
    const p = await ok(own, v, Operation.SetEndpointRole, [role(EndpointRole.Client)]);
    expect(p.value).toEqual([role(EndpointRole.Client)]);
    await own.close();
  });

  it('an undefined role, or no role: Invalid Field; also at KMIP 2.0', async () => {
    expect((await fails(c, v, Operation.SetEndpointRole, [role(3)])).reason).toBe(ResultReason.InvalidField);
    expect((await fails(c, v, Operation.SetEndpointRole, [role(0x80000001)])).reason).toBe(ResultReason.InvalidField);
    expect((await fails(c, v, Operation.SetEndpointRole, [])).reason).toBe(ResultReason.InvalidField);
    expect((await ok(c, V2_0, Operation.SetEndpointRole, [role(EndpointRole.Server)])).value).toEqual([role(EndpointRole.Server)]);
  });

  it('KMIP 1.4: Operation Not Supported', async () => {
    expect((await fails(c, V1_4, Operation.SetEndpointRole, [role(EndpointRole.Server)])).reason).toBe(ResultReason.OperationNotSupported);
  });

  it('Query Operations lists Set Endpoint Role at 2.0 and 2.1, not at 1.4', async () => {
    const ops = async (ver: KmipVersion): Promise<number[]> =>
      findChildren(await ok(c, ver, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]), Tag.Operation).map((n) => (n.type === 'Enumeration' ? n.value : -1));
    expect(await ops(V2_1)).toContain(Operation.SetEndpointRole);
    expect(await ops(V2_0)).toContain(Operation.SetEndpointRole);
    const old = await ops(V1_4);
    expect(old).toContain(Operation.Create);
    expect(old).not.toContain(Operation.SetEndpointRole);
  });
});

describe('Quantum Safe: Create', () => {
  it('QS-M-2: AES-128 asked to be Quantum Safe (High, 13 years) is General Failure and is not stored', async () => {
    const msg = await refusedAsNotSafe(Operation.Create, aes(128, [...QS_M_2, qs(true), attr.name('qs-aes128')]));
    expect(msg).toMatch(/256 bits/);
    // The refused key was not stored: its Name is still free.
    await ok(c, v, Operation.Create, aes(128, [attr.name('qs-aes128')]));
  });

  it('AES-192 with Quantum Safe True is refused too; AES-256 succeeds and keeps Quantum Safe True', async () => {
    await refusedAsNotSafe(Operation.Create, aes(192, [qs(true)]));
    const uid = uidOf(await ok(c, v, Operation.Create, aes(256, [...QS_M_2, qs(true)])));
    expect(await quantumSafeOf(uid)).toEqual(qs(true));
  });

  it('Quantum Safe False or absent: AES-128 is created as before', async () => {
    const off = uidOf(await ok(c, v, Operation.Create, aes(128, [...QS_M_2, qs(false)])));
    expect(await quantumSafeOf(off)).toEqual(qs(false));
    const absent = uidOf(await ok(c, v, Operation.Create, aes(128)));
    expect(await quantumSafeOf(absent)).toBeUndefined();
  });
});

describe('Quantum Safe: Create Key Pair', () => {
  it('RSA and EC key pairs asked to be Quantum Safe are General Failure (Shor)', async () => {
    const rsa = [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)];
    const ec = [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)];
    expect(await refusedAsNotSafe(Operation.CreateKeyPair, keyPairPayload(v, [...rsa, qs(true)], [attr.cryptographicUsageMask(Sign)], [attr.cryptographicUsageMask(Verify)]))).toMatch(
      /Shor/,
    );
    await refusedAsNotSafe(Operation.CreateKeyPair, keyPairPayload(v, [...ec, qs(true)], [attr.cryptographicUsageMask(Sign)], [attr.cryptographicUsageMask(Verify)]));
    // Only the public key asked to be Quantum Safe: still refused, and neither key is stored.
    await refusedAsNotSafe(Operation.CreateKeyPair, keyPairPayload(v, ec, [attr.cryptographicUsageMask(Sign), attr.name('qs-ec')], [attr.cryptographicUsageMask(Verify), qs(true)]));
    // Quantum Safe False or absent: the same pairs are made.
    await ok(c, v, Operation.CreateKeyPair, keyPairPayload(v, [...ec, qs(false)], [attr.cryptographicUsageMask(Sign)], [attr.cryptographicUsageMask(Verify)]));
    await ok(c, v, Operation.CreateKeyPair, keyPairPayload(v, ec, [attr.cryptographicUsageMask(Sign), attr.name('qs-ec')], [attr.cryptographicUsageMask(Verify)]));
  });
});

describe('Quantum Safe: Register, Re-key, Derive Key, Set Attribute', () => {
  const register = (material: Uint8Array, extra: readonly TtlvNode[]): TtlvNode[] => [
    t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
    attrs(v, [attr.cryptographicUsageMask(Encrypt | Decrypt), ...extra]),
    symmetricKeyObject(material, CryptographicAlgorithm.AES),
  ];

  it('Register: a 128-bit AES key with Quantum Safe True is refused (length read from the key); 256 bits is stored', async () => {
    await refusedAsNotSafe(Operation.Register, register(bytes(16, 1), [qs(true)]));
    const uid = uidOf(await ok(c, v, Operation.Register, register(bytes(32, 2), [qs(true)])));
    expect(await quantumSafeOf(uid)).toEqual(qs(true));
    // Secret Data has no algorithm: the server makes no cryptographic claim and stores the flag as given.
    const secret = t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(new TextEncoder().encode('pw'), KeyFormatType.Opaque)]);
    await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SecretData), attrs(v, [qs(true)]), secret]);
  });

  it('Re-key: asking an AES-128 key to become Quantum Safe is refused; an AES-256 Quantum Safe key re-keys', async () => {
    const small = uidOf(await ok(c, v, Operation.Create, aes(128)));
    await refusedAsNotSafe(Operation.ReKey, [uidNode(small), attrs(v, [qs(true)])]);
    const big = uidOf(await ok(c, v, Operation.Create, aes(256, [qs(true)])));
    const next = uidOf(await ok(c, v, Operation.ReKey, [uidNode(big)]));
    expect(await quantumSafeOf(next)).toEqual(qs(true));
  });

  it('Derive Key: a 128-bit AES key asked to be Quantum Safe is refused; 256 bits is derived', async () => {
    const pw = new TextEncoder().encode('password');
    const base = await registerKey(c, v, pw, 0, DeriveKey, {
      objectType: ObjectType.SecretData,
      object: t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(pw, KeyFormatType.Opaque)]),
    });
    const derive = (bits: number): TtlvNode[] => [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      uidNode(base),
      t.enum(Tag.DerivationMethod, DerivationMethod.PBKDF2),
      t.struct(Tag.DerivationParameters, [t.bytes(Tag.Salt, new TextEncoder().encode('salt of 16 bytes')), t.int(Tag.IterationCount, 1000)]),
      attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(bits), attr.cryptographicUsageMask(Encrypt | Decrypt), qs(true)]),
    ];
    await refusedAsNotSafe(Operation.DeriveKey, derive(128));
    const uid = uidOf(await ok(c, v, Operation.DeriveKey, derive(256)));
    expect(await quantumSafeOf(uid)).toEqual(qs(true));
  });

  it('Set Attribute Quantum Safe True: refused on AES-128, accepted on AES-256; False is always accepted', async () => {
    const set = (uid: string, on: boolean): TtlvNode[] => [uidNode(uid), t.struct(Tag.NewAttribute, [qs(on)])];
    const small = uidOf(await ok(c, v, Operation.Create, aes(128)));
    await refusedAsNotSafe(Operation.SetAttribute, set(small, true));
    expect(await quantumSafeOf(small)).toBeUndefined();
    await ok(c, v, Operation.SetAttribute, set(small, false));
    const big = uidOf(await ok(c, v, Operation.Create, aes(256)));
    await ok(c, v, Operation.SetAttribute, set(big, true));
    expect(await quantumSafeOf(big)).toEqual(qs(true));
  });

  it('an object stored before the rule (AES-128, Quantum Safe True) still takes changes that leave those attributes alone', async () => {
    const uid = await seed(srv, {
      attributes: [
        ['CryptographicAlgorithm', [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES)]],
        ['CryptographicLength', [attr.cryptographicLength(128)]],
        ['CryptographicUsageMask', [attr.cryptographicUsageMask(Encrypt | Decrypt)]],
        ['QuantumSafe', [qs(true)]],
      ],
    });
    await ok(c, v, Operation.Activate, [uidNode(uid)]);
    await ok(c, v, Operation.SetAttribute, [uidNode(uid), t.struct(Tag.NewAttribute, [t.text(Tag.Description, 'legacy')])]);
  });
});
