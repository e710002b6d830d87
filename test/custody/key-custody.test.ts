/**
 * The key-custody seam (src/custody/) on a real SoftHSM2 token, without a server: the same
 * operation through the host-sealed and the HSM-resident custody gives interoperable results
 * (a token key imported with a known value encrypts, decrypts and MACs exactly as the host
 * does with that value; a resident private key signs what the host verifies and decrypts what
 * the host encrypted), an unsupported mechanism on a resident key fails with the error that
 * maps to the Result Reason the server has always answered, and a new key is placed as the
 * residency policy says.
 */
import { createVerify, publicEncrypt, constants, randomBytes, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCipherMode, CryptographicAlgorithm, HashingAlgorithm, ObjectType, PaddingMethod, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import type { KmipError } from '../../src/kmip/errors.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import type { TtlvNode } from '../../src/ttlv/node.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { encodeKeyRef, residentPublicKey, type ResidencyPolicy } from '../../src/hsm/resident.js';
import { CIPHER_POLICY } from '../../src/policy/crypto-policy.js';
import { AsymmetricError, type SignatureScheme } from '../../src/crypto/asymmetric.js';
import { CryptoError } from '../../src/crypto/errors.js';
import { custodies, type KeyCipher, type UsableKey } from '../../src/custody/index.js';
import { hostUsableKey } from '../../src/custody/host-custody.js';
import { translate } from '../../src/operations/service/crypto-params.js';
import { asymmetricFailure } from '../../src/operations/crypto/sign.js';
import type { OperationContext } from '../../src/operations/context.js';
import { createSoftHsmToken } from '../hsm/softhsm.js';

const token = createSoftHsmToken('kms-custody-seam');
let backend: Pkcs11Backend;
const logged: string[] = [];
const log = { info: () => undefined, error: (_o: object, m: string) => void logged.push(m) };
const keysUnder = (policy: ResidencyPolicy) => custodies({ backend, policy }, log);

beforeAll(async () => {
  backend = await Pkcs11Backend.open({ module: token.module, tokenLabel: token.label, pin: token.pin });
});
afterAll(async () => {
  await backend?.close();
  token.cleanup();
});

const enumNode = (tag: number, value: number): TtlvNode => ({ tag, type: 'Enumeration', value });

function record(uid: string, objectType: number, algorithm: number, hsmKey?: string): ObjectRecord {
  return {
    v: 1,
    uid,
    objectType,
    owner: 'test',
    state: 2,
    attributes: new Map([['CryptographicAlgorithm', [enumNode(Tag.CryptographicAlgorithm, algorithm)]]]),
    ...(hsmKey !== undefined && { hsmKey }),
    revision: 0,
  };
}

const noHost = { unavailable: ResultReason.CryptographicFailure, host: () => Promise.reject(new Error('a resident key never opens a host value')) };

/** A token key with a known value (extractable, so the test can compare), opened by the HSM custody, and the same value opened by the host custody. */
async function sameKeyBothWays(type: 'AES' | 'GENERIC_SECRET', algorithm: number, value: Uint8Array): Promise<{ hsm: UsableKey; host: UsableKey }> {
  const ref = await backend.importKey(
    { type, bits: value.length * 8, token: false, sensitive: false, extractable: true, usage: type === 'AES' ? ['encrypt', 'decrypt'] : ['sign', 'verify'] },
    value,
  );
  const keys = keysUnder('requested');
  const hsm = await keys.open(record('k-hsm', ObjectType.SymmetricKey, algorithm, encodeKeyRef(ref)), noHost);
  const host = await keys.open(record('k-host', ObjectType.SymmetricKey, algorithm), { unavailable: ResultReason.CryptographicFailure, host: async () => ({ algorithm, material: value }) });
  return { hsm, host };
}

async function run(c: KeyCipher, data: Uint8Array, tag?: Uint8Array): Promise<{ data: Buffer; tag?: Uint8Array }> {
  const first = c.update(data);
  const f = await c.final(tag);
  return { data: Buffer.concat([first, f.data]), ...(f.tag && { tag: f.tag }) };
}

describe('one key, two custodies: interoperable results', () => {
  it('AES-GCM: encrypted in the HSM, decrypted in the host, and the other way round', async () => {
    const { hsm, host } = await sameKeyBothWays('AES', CryptographicAlgorithm.AES, randomBytes(32));
    expect([hsm.custody, host.custody]).toEqual(['hsm', 'host']);
    const gcm = { blockCipherMode: BlockCipherMode.GCM, tagLength: 16 };
    const iv = randomBytes(12);
    const aad = Buffer.from('header');
    const plain = randomBytes(100);
    const inHsm = await run(hsm.openCipher(gcm, 'encrypt', { iv, aad }, CIPHER_POLICY), plain);
    expect(inHsm.data.equals(plain)).toBe(false);
    expect((await run(host.openCipher(gcm, 'decrypt', { iv, aad }, CIPHER_POLICY), inHsm.data, inHsm.tag)).data).toEqual(plain);
    const inHost = await run(host.openCipher(gcm, 'encrypt', { iv, aad }, CIPHER_POLICY), plain);
    expect(inHost.data).toEqual(inHsm.data);
    expect(Buffer.from(inHost.tag!)).toEqual(Buffer.from(inHsm.tag!));
    expect((await run(hsm.openCipher(gcm, 'decrypt', { iv, aad }, CIPHER_POLICY), inHost.data, inHost.tag)).data).toEqual(plain);
    // A tag that does not match fails alike in both custodies.
    const bad = Buffer.from(inHost.tag!);
    bad[0]! ^= 1;
    for (const k of [hsm, host]) await expect(run(k.openCipher(gcm, 'decrypt', { iv, aad }, CIPHER_POLICY), inHost.data, bad)).rejects.toMatchObject({ code: 'FAILURE' });
  });

  it('AES-CBC with PKCS5 padding, part by part in the HSM, in one part in the host', async () => {
    const { hsm, host } = await sameKeyBothWays('AES', CryptographicAlgorithm.AES, randomBytes(16));
    const cbc = { blockCipherMode: BlockCipherMode.CBC, paddingMethod: PaddingMethod.PKCS5 };
    const iv = randomBytes(16);
    const plain = randomBytes(37);
    const c = hsm.openCipher(cbc, 'encrypt', { iv }, CIPHER_POLICY);
    const parts = [c.update(plain.subarray(0, 20)), c.update(plain.subarray(20))];
    const ct = Buffer.concat([...parts, (await c.final()).data]);
    expect(ct.length).toBe(48);
    expect((await run(host.openCipher(cbc, 'decrypt', { iv }, CIPHER_POLICY), ct)).data).toEqual(plain);
  });

  it('HMAC-SHA256: the MAC made in the HSM is the host MAC of the same key value', async () => {
    const value = randomBytes(32);
    const { hsm, host } = await sameKeyBothWays('GENERIC_SECRET', CryptographicAlgorithm.HMAC_SHA256, value);
    const data = randomBytes(1000);
    const macs = [];
    for (const k of [hsm, host]) {
      const m = k.openMac({});
      m.update(data.subarray(0, 300));
      m.update(data.subarray(300));
      macs.push(Buffer.from(await m.digest()));
    }
    expect(macs[0]).toEqual(createHmac('sha256', value).update(data).digest());
    expect(macs[1]).toEqual(macs[0]);
  });

  const schemes: [string, 'rsa' | 'ec', SignatureScheme][] = [
    ['RSA PKCS#1 v1.5 SHA-256', 'rsa', { kind: 'rsa-pkcs1v15', hash: 'sha256' }],
    ['RSA-PSS SHA-384', 'rsa', { kind: 'rsa-pss', hash: 'sha384' }],
    ['ECDSA P-256 SHA-256', 'ec', { kind: 'ecdsa', hash: 'sha256' }],
  ];
  it.each(schemes)('%s: signed with the resident private key, verified in the host (and by node:crypto)', async (_name, kind, scheme) => {
    const keys = keysUnder('requested');
    const custody = keys.forPair(
      { attributes: new Map([['Extractable', [{ tag: Tag.Extractable, type: 'Boolean', value: false }]]]), refusal: ResultReason.InvalidAttributeValue },
      kind === 'rsa' ? { kind: 'rsa', bits: 2048 } : { kind: 'ec', curve: 'P-256' },
    );
    expect(custody.kind).toBe('hsm');
    const algorithm = kind === 'rsa' ? CryptographicAlgorithm.RSA : CryptographicAlgorithm.EC;
    const made = await custody.generatePair({
      privateUid: `sign-${kind}-${scheme.kind}`,
      algorithm,
      bits: kind === 'rsa' ? 2048 : 256,
      spec: kind === 'rsa' ? { kind: 'rsa', bits: 2048 } : { kind: 'ec', curve: 'P-256' },
      usageMask: M.Sign,
    });
    const priv = await keys.open(record('priv', ObjectType.PrivateKey, algorithm, made.hsmKey), noHost);
    const pub = residentPublicKey(made.hsmKey!)!;
    const host = hostUsableKey(record('pub', ObjectType.PublicKey, algorithm), { algorithm, keyObject: pub });
    const data = randomBytes(200);
    const sig = await priv.sign(scheme, { data });
    expect(host.verify(scheme, { data }, sig)).toBe(true);
    expect(host.verify(scheme, { data: Buffer.concat([data, Buffer.from([0])]) }, sig)).toBe(false);
    expect(priv.verify(scheme, { data }, sig)).toBe(true);
    if (scheme.kind === 'ecdsa') expect(createVerify('sha256').update(data).verify(pub, Buffer.from(sig))).toBe(true);
    await custody.destroy({ uid: 'priv', hsmKey: made.hsmKey! });
  });

  it('RSA-OAEP: encrypted in the host with the public key, decrypted by the resident private key', async () => {
    const keys = keysUnder('always');
    const custody = keys.forPair({ attributes: new Map(), refusal: ResultReason.InvalidAttributeValue }, { kind: 'rsa', bits: 2048 });
    const made = await custody.generatePair({ privateUid: 'oaep', algorithm: CryptographicAlgorithm.RSA, bits: 2048, spec: { kind: 'rsa', bits: 2048 }, usageMask: M.Sign | M.Decrypt });
    const pub = residentPublicKey(made.hsmKey!)!;
    const host = hostUsableKey(record('pub', ObjectType.PublicKey, CryptographicAlgorithm.RSA), { algorithm: CryptographicAlgorithm.RSA, keyObject: pub });
    const priv = await keys.open(record('priv', ObjectType.PrivateKey, CryptographicAlgorithm.RSA, made.hsmKey), noHost);
    const oaep = { paddingMethod: PaddingMethod.OAEP, hashingAlgorithm: HashingAlgorithm.SHA_1 /* what SoftHSM2 decrypts */ };
    const secret = randomBytes(32);
    const ct = await host.rsa('encrypt', oaep, secret, CIPHER_POLICY);
    expect(Buffer.from(await priv.rsa('decrypt', oaep, ct, CIPHER_POLICY))).toEqual(secret);
    const byNode = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, secret);
    expect(Buffer.from(await priv.rsa('decrypt', oaep, byNode, CIPHER_POLICY))).toEqual(secret);
    await custody.destroy({ uid: 'priv', hsmKey: made.hsmKey! });
  });
});

describe('refusals on a resident key keep their Result Reasons', () => {
  const ctx = (minor: 4 | 1, major: 1 | 2) => ({ version: { major, minor } }) as unknown as OperationContext;
  const v21 = ctx(1, 2);
  const v14 = ctx(4, 1);

  it('a mode that needs the value in the host (XTS) and a MAC the token does not make (CMAC): Unsupported Cryptographic Parameters (2.x) / Invalid Field (1.x)', async () => {
    const { hsm } = await sameKeyBothWays('AES', CryptographicAlgorithm.AES, randomBytes(32));
    const refusals: unknown[] = [];
    try {
      hsm.openCipher({ blockCipherMode: BlockCipherMode.XTS }, 'encrypt', { iv: randomBytes(16) }, CIPHER_POLICY);
    } catch (e) {
      refusals.push(e);
    }
    try {
      hsm.openMac({ blockCipherMode: BlockCipherMode.CMAC });
    } catch (e) {
      refusals.push(e);
    }
    expect(refusals).toHaveLength(2);
    for (const e of refusals) {
      expect(e).toBeInstanceOf(CryptoError);
      expect((translate(v21, e) as KmipError).reason).toBe(ResultReason.UnsupportedCryptographicParameters);
      expect((translate(v14, e) as KmipError).reason).toBe(ResultReason.InvalidField);
    }
  });

  it('Ed25519 and SHA-1 signatures are not made in the HSM: Unsupported Cryptographic Parameters (2.x) / Invalid Field (1.x); a wrong digest length is Bad Cryptographic Parameters', async () => {
    const keys = keysUnder('always');
    const custody = keys.forPair({ attributes: new Map(), refusal: ResultReason.InvalidAttributeValue }, { kind: 'ec', curve: 'P-256' });
    const made = await custody.generatePair({ privateUid: 'refuse', algorithm: CryptographicAlgorithm.EC, bits: 256, spec: { kind: 'ec', curve: 'P-256' }, usageMask: M.Sign });
    const priv = await keys.open(record('priv', ObjectType.PrivateKey, CryptographicAlgorithm.EC, made.hsmKey), noHost);
    const reasonOf = async (scheme: SignatureScheme, input: { data: Uint8Array } | { digest: Uint8Array }, c: OperationContext) => {
      const e = await priv.sign(scheme, input).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(AsymmetricError);
      try {
        asymmetricFailure(c, e);
      } catch (k) {
        return (k as KmipError).reason;
      }
    };
    expect(await reasonOf({ kind: 'ed25519' }, { data: randomBytes(8) }, v21)).toBe(ResultReason.UnsupportedCryptographicParameters);
    expect(await reasonOf({ kind: 'ecdsa', hash: 'sha1' }, { data: randomBytes(8) }, v21)).toBe(ResultReason.UnsupportedCryptographicParameters);
    expect(await reasonOf({ kind: 'ecdsa', hash: 'sha1' }, { data: randomBytes(8) }, v14)).toBe(ResultReason.InvalidField);
    expect(await reasonOf({ kind: 'ecdsa', hash: 'sha256' }, { digest: randomBytes(31) }, v21)).toBe(ResultReason.BadCryptographicParameters);
    await custody.destroy({ uid: 'priv', hsmKey: made.hsmKey! });
  });

  it('a resident key on a server without that HSM opens with the reason the operation names', async () => {
    const none = custodies(undefined, log);
    const rec = record(
      'orphan',
      ObjectType.SymmetricKey,
      CryptographicAlgorithm.AES,
      encodeKeyRef({ id: 'abcd', token: true, type: 'AES', bits: 256, sensitive: true, extractable: false, usage: [] }),
    );
    await expect(none.open(rec, { ...noHost, unavailable: ResultReason.KeyValueNotPresent })).rejects.toMatchObject({ reason: ResultReason.KeyValueNotPresent });
    expect(() => none.requireHostValue(rec, 'not built')).toThrow(expect.objectContaining({ reason: ResultReason.FeatureNotSupported }));
    expect(() => none.requireHostValue({ uid: 'x' }, 'not built')).not.toThrow();
  });
});

describe('placing a new key', () => {
  const extractableFalse = new Map([['Extractable', [{ tag: Tag.Extractable, type: 'Boolean' as const, value: false }]]]);
  const refusal = ResultReason.InvalidAttributeValue;

  it('requested: Extractable false goes to the HSM when the token holds the key, else to the host; never: the host', () => {
    const keys = keysUnder('requested');
    expect(keys.forSecret({ attributes: extractableFalse, refusal }, CryptographicAlgorithm.AES, 256).kind).toBe('hsm');
    expect(keys.forSecret({ attributes: new Map(), refusal }, CryptographicAlgorithm.AES, 256).kind).toBe('host');
    expect(keys.forSecret({ attributes: extractableFalse, refusal }, CryptographicAlgorithm.DES3, 168).kind).toBe('host');
    expect(keys.forPair({ attributes: extractableFalse, refusal }, { kind: 'ed25519' }).kind).toBe('host');
    expect(keysUnder('never').forSecret({ attributes: extractableFalse, refusal }, CryptographicAlgorithm.AES, 256).kind).toBe('host');
  });

  it('always, or replacing a resident key: a key the token cannot hold is refused with the reason given', () => {
    expect(() => keysUnder('always').forSecret({ attributes: new Map(), refusal }, CryptographicAlgorithm.DES3, 168)).toThrow(expect.objectContaining({ reason: refusal }));
    expect(() => keysUnder('always').forPair({ attributes: new Map(), refusal: ResultReason.InvalidField }, { kind: 'ec', curve: 'P-521' })).toThrow(
      expect.objectContaining({ reason: ResultReason.InvalidField }),
    );
    expect(() => keysUnder('never').forSecret({ attributes: new Map(), replacesResident: true, refusal }, CryptographicAlgorithm.DES3, 168)).toThrow(
      expect.objectContaining({ reason: refusal }),
    );
    expect(keysUnder('never').forSecret({ attributes: new Map(), replacesResident: true, refusal }, CryptographicAlgorithm.AES, 128).kind).toBe('hsm');
  });

  it('a resident secret key is a token key with no value in its content; discard removes it; the host key carries its Digest', async () => {
    const keys = keysUnder('always');
    const hsm = keys.forSecret({ attributes: new Map(), refusal }, CryptographicAlgorithm.AES, 256);
    const made = await hsm.generate({ uid: 'made-1', algorithm: CryptographicAlgorithm.AES, bits: 256 });
    const attrs = new Map<string, TtlvNode[]>([['Digest', []]]);
    made.stamp(attrs);
    expect(attrs.has('Digest')).toBe(false);
    expect(attrs.get('Extractable')?.[0]).toMatchObject({ value: false });
    const kb = made.body.value.find((n) => n.tag === Tag.KeyBlock);
    expect(kb?.type === 'Structure' && kb.value.some((n) => n.tag === Tag.KeyValue)).toBe(false);
    expect(await backend.findKeys({ label: 'kms-obj-made-1' })).toHaveLength(1);
    await made.discard();
    expect(await backend.findKeys({ label: 'kms-obj-made-1' })).toHaveLength(0);

    const host = keysUnder('never').forSecret({ attributes: new Map(), refusal }, CryptographicAlgorithm.AES, 256);
    const h = await host.generate({ uid: 'made-2', algorithm: CryptographicAlgorithm.AES, bits: 256 });
    const hostAttrs = new Map<string, TtlvNode[]>();
    h.stamp(hostAttrs);
    expect(hostAttrs.get('Digest')?.[0]?.type).toBe('Structure');
    const hkb = h.body.value.find((n) => n.tag === Tag.KeyBlock);
    expect(hkb?.type === 'Structure' && hkb.value.some((n) => n.tag === Tag.KeyValue)).toBe(true);
    h.wipe();
    expect(await backend.findKeys({ label: 'kms-obj-made-2' })).toHaveLength(0);
  });
});
