/**
 * Key wrapping through Get (Key Wrapping Specification) and Register (Key Wrapping Data), over a
 * real mTLS server (src/operations/service/key-wrapping.ts), at 2.1 and 1.4:
 * - known answers: RFC 3394 §4.1 and §4.6 (AES Key Wrap), RFC 5649 §6 (both vectors, AES Key Wrap
 *   with Padding), with Encoding Option No Encoding, the KEK registered and the wrapped key got back;
 * - TTLV Encoding (the default) wraps the Key Value structure, checked by unwrapping with node's
 *   own id-aes*-wrap cipher and comparing with hand-built TTLV bytes; Attribute Names put the
 *   attributes inside;
 * - RSA-OAEP (SHA-1, SHA-256, and SHA-384 with MGF1-SHA-256 and a label) under an RSA public key,
 *   decrypted with the private key here;
 * - Register of a wrapped key (test case TC-WRAP-3): unwrapped under the KEK the server holds, Get
 *   Not Wrapped gives the plain key, As Registered the same wrapped bytes; the key is usable;
 * - the refusals: the wrapping key's state, usage mask, type, existence, destruction; parameters that
 *   match none of the key's; No Encoding with Attribute Names; MAC/sign; a tampered wrapped key.
 */
import { constants, createCipheriv, createDecipheriv, createHmac, createPrivateKey, generateKeyPairSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, findChild, keyBlock, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  BlockCipherMode,
  CryptographicAlgorithm,
  EncodingOption,
  HashingAlgorithm,
  KeyFormatType,
  KeyWrapType,
  ObjectType,
  Operation,
  PaddingMethod,
  ResultReason,
  RevocationReasonCode,
  SecretDataType,
  WrappingMethod,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { decode, t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { oaepDecrypt } from '../../src/crypto/oaep.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { batch, fails, ok, uidNode, V1_4, V2_1 } from './object-kit.js';
import { cipherPayload, cryptoParams, hex, registerKey, toHex, type Params } from './crypto-kit.js';

const { WrapKey, UnwrapKey, Encrypt, Decrypt } = CryptographicUsageMask;
const KW = { mode: BlockCipherMode.NISTKeyWrap };
const KWP = { mode: BlockCipherMode.AESKeyWrapPadding };

let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  [c, alice] = await Promise.all([srv.client(), srv.client('alice')]);
});
afterAll(async () => srv?.dispose());

const secretData = (material: Uint8Array): StructureNode => t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(material, KeyFormatType.Opaque)]);

/** A KEK registered (and activated) with Wrap/Unwrap Key and the given Cryptographic Parameters. */
async function kek(v: KmipVersion, material: Uint8Array, params: Params | undefined, opts: { mask?: number; activate?: boolean } = {}): Promise<string> {
  return registerKey(c, v, material, CryptographicAlgorithm.AES, opts.mask ?? WrapKey | UnwrapKey, {
    extra: params ? [cryptoParams(params)] : [],
    ...(opts.activate === false && { activate: false }),
  });
}

interface Spec {
  uid: string;
  params?: Params;
  encoding?: number;
  names?: string[];
  method?: number;
}
function wrappingSpec(s: Spec): TtlvNode {
  return t.struct(Tag.KeyWrappingSpecification, [
    t.enum(Tag.WrappingMethod, s.method ?? WrappingMethod.Encrypt),
    t.struct(Tag.EncryptionKeyInformation, [uidNode(s.uid), ...(s.params ? [cryptoParams(s.params)] : [])]),
    ...(s.names ?? []).map((n) => t.text(Tag.AttributeName, n)),
    ...(s.encoding !== undefined ? [t.enum(Tag.EncodingOption, s.encoding)] : []),
  ]);
}

const getWrapped = (v: KmipVersion, uid: string, s: Spec, extra: TtlvNode[] = []): Promise<StructureNode> => ok(c, v, Operation.Get, [uidNode(uid), ...extra, wrappingSpec(s)]);

function keyBlockOf(p: StructureNode): StructureNode {
  const obj = p.value.find((n) => n.tag === Tag.SymmetricKey || n.tag === Tag.SecretData || n.tag === Tag.PrivateKey);
  const kb = obj?.type === 'Structure' ? findChild(obj, Tag.KeyBlock) : undefined;
  if (kb?.type !== 'Structure') throw new Error('no Key Block in the response');
  return kb;
}
/** The wrapped bytes: Key Value as a Byte String (2.x; 1.x TTLV Encoding), or Key Value { Key Material } with Key Wrapping Data (1.x No Encoding, TC-WRAP-1-14). */
function wrappedValue(p: StructureNode): Uint8Array {
  const kb = keyBlockOf(p);
  if (!findChild(kb, Tag.KeyWrappingData)) throw new Error('no Key Wrapping Data: the key is not wrapped');
  const kv = findChild(kb, Tag.KeyValue);
  if (kv?.type === 'ByteString') return kv.value;
  const m = kv?.type === 'Structure' ? findChild(kv, Tag.KeyMaterial) : undefined;
  if (m?.type !== 'ByteString') throw new Error('the wrapped Key Value holds no bytes');
  return m.value;
}
function plainMaterial(p: StructureNode): Uint8Array {
  const kv = findChild(keyBlockOf(p), Tag.KeyValue);
  const m = kv?.type === 'Structure' ? findChild(kv, Tag.KeyMaterial) : undefined;
  if (m?.type !== 'ByteString') throw new Error('no plain Key Material');
  return m.value;
}

/** RFC 3394 unwrap with node's own cipher (the test's oracle, not the server's module). */
function nodeUnwrap(k: Uint8Array, data: Uint8Array): Buffer {
  const d = createDecipheriv(`id-aes${k.length * 8}-wrap`, k, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  return Buffer.concat([d.update(data), d.final()]);
}

const KEK128 = hex('000102030405060708090A0B0C0D0E0F');
const KEK256 = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F');
const KEY128 = hex('00112233445566778899AABBCCDDEEFF');
const KEY256 = hex('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F');
const KWP_KEK = hex('5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8');

describe.each([V2_1, V1_4])('Get with a Key Wrapping Specification at %o', (v) => {
  it('RFC 3394 §4.1 and §4.6: AES Key Wrap, No Encoding, gives the published ciphertext', async () => {
    const k128 = await kek(v, KEK128, KW);
    const key = await registerKey(c, v, KEY128, CryptographicAlgorithm.AES, Encrypt | Decrypt);
    const p = await getWrapped(v, key, { uid: k128, params: KW, encoding: EncodingOption.NoEncoding });
    expect(toHex(wrappedValue(p))).toBe('1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5');
    const kb = keyBlockOf(p);
    const kwd = findChild(kb, Tag.KeyWrappingData) as StructureNode;
    expect(findChild(kwd, Tag.WrappingMethod)).toMatchObject({ value: WrappingMethod.Encrypt });
    expect(findChild(findChild(kwd, Tag.EncryptionKeyInformation) as StructureNode, Tag.UniqueIdentifier)).toMatchObject({ value: k128 });
    expect(findChild(kwd, Tag.EncodingOption)).toMatchObject({ value: EncodingOption.NoEncoding });
    expect(findChild(kb, Tag.CryptographicLength)).toMatchObject({ value: 128 });
    expect(findChild(kb, Tag.KeyValue)?.type).toBe(v.major >= 2 ? 'ByteString' : 'Structure');

    const k256 = await kek(v, KEK256, KW);
    const key256 = await registerKey(c, v, KEY256, CryptographicAlgorithm.AES, Encrypt | Decrypt);
    const p2 = await getWrapped(v, key256, { uid: k256, params: KW, encoding: EncodingOption.NoEncoding });
    expect(toHex(wrappedValue(p2))).toBe('28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21');
    // RFC 3394 §4.3: the 128-bit key under the 256-bit KEK.
    const p3 = await getWrapped(v, key, { uid: k256, encoding: EncodingOption.NoEncoding });
    expect(toHex(wrappedValue(p3))).toBe('64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7');
  });

  it('RFC 5649 §6: AES Key Wrap with Padding, both published vectors', async () => {
    const k = await kek(v, KWP_KEK, KWP);
    const twenty = await registerKey(c, v, hex(''), 0, Encrypt, { objectType: ObjectType.SecretData, object: secretData(hex('c37b7e6492584340bed12207808941155068f738')), activate: true });
    const seven = await registerKey(c, v, hex(''), 0, Encrypt, { objectType: ObjectType.SecretData, object: secretData(hex('466f7250617369')) });
    expect(toHex(wrappedValue(await getWrapped(v, twenty, { uid: k, params: KWP, encoding: EncodingOption.NoEncoding })))).toBe(
      '138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a',
    );
    expect(toHex(wrappedValue(await getWrapped(v, seven, { uid: k, encoding: EncodingOption.NoEncoding })))).toBe('afbeb0f07dfbf5419200f2ccb50bb24f');
  });

  it('TTLV Encoding (the default) wraps the Key Value structure; Attribute Names go inside it', async () => {
    const k = await kek(v, KEK128, KW);
    const key = await registerKey(c, v, KEY128, CryptographicAlgorithm.AES, Encrypt | Decrypt);
    const whole = await getWrapped(v, key, { uid: k });
    // The wrapped TTLV Key Value is itself the Key Value, a Byte String, at every version (1.4 §2.1.4, AX-M-2-14).
    expect(findChild(keyBlockOf(whole), Tag.KeyValue)?.type).toBe('ByteString');
    const plain = nodeUnwrap(KEK128, wrappedValue(whole));
    // Key Value (0x420045) { Key Material (0x420043) ByteString 16 }, built by hand.
    expect(plain.toString('hex')).toBe(`42004501000000184200430800000010${toHex(KEY128)}`);

    const withAttrs = decode(nodeUnwrap(KEK128, wrappedValue(await getWrapped(v, key, { uid: k, names: ['Cryptographic Algorithm'], encoding: EncodingOption.TTLVEncoding }))));
    expect(withAttrs.tag).toBe(Tag.KeyValue);
    expect(toHex((findChild(withAttrs as StructureNode, Tag.KeyMaterial) as { value: Uint8Array }).value)).toBe(toHex(KEY128));
    if (v.major >= 2) {
      const attrs = findChild(withAttrs as StructureNode, Tag.Attributes) as StructureNode;
      expect(findChild(attrs, Tag.CryptographicAlgorithm)).toMatchObject({ value: CryptographicAlgorithm.AES });
    } else {
      const a = findChild(withAttrs as StructureNode, Tag.Attribute) as StructureNode;
      expect(findChild(a, Tag.AttributeName)).toMatchObject({ value: 'Cryptographic Algorithm' });
      expect(findChild(a, Tag.AttributeValue)).toMatchObject({ value: CryptographicAlgorithm.AES });
    }
  });

  it('RSA-OAEP with SHA-1 and SHA-256 under a registered RSA public key', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = pair.publicKey.export({ format: 'der', type: 'spki' });
    const pub = await registerKey(c, v, hex(''), 0, WrapKey, {
      objectType: ObjectType.PublicKey,
      object: t.struct(Tag.PublicKey, [keyBlock(spki, KeyFormatType.X_509, CryptographicAlgorithm.RSA, 2048)]),
    });
    const key = await registerKey(c, v, KEY256, CryptographicAlgorithm.AES, Encrypt | Decrypt);
    // No parameters anywhere: OAEP with SHA-1 (the defaults).
    const p1 = await getWrapped(v, key, { uid: pub, encoding: EncodingOption.NoEncoding });
    expect(toHex(privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, wrappedValue(p1)))).toBe(toHex(KEY256));
    // SHA-256 through the public key's own Cryptographic Parameters attribute.
    const pub256 = await registerKey(c, v, hex(''), 0, WrapKey, {
      objectType: ObjectType.PublicKey,
      object: t.struct(Tag.PublicKey, [keyBlock(spki, KeyFormatType.X_509, CryptographicAlgorithm.RSA, 2048)]),
      extra: [cryptoParams({ padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_256 })],
    });
    const p = await getWrapped(v, key, { uid: pub256, params: { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_256 }, encoding: EncodingOption.NoEncoding });
    const out = privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrappedValue(p));
    expect(toHex(out)).toBe(toHex(KEY256));
    expect(() => privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, wrappedValue(p))).toThrow();
    // SHA-384 over a label, MGF1 over SHA-256 (the parameters of CS-AC-M-OAEP-9/10): the EME-OAEP
    // codec wraps (src/crypto/oaep.ts, checked against Python and the OASIS vectors in
    // test/crypto/oaep.test.ts and crypto-rsa.test.ts); node's single-hash OAEP cannot open it.
    const label = Buffer.from('Kilroy was here');
    const mixed = { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_384, maskGeneratorHashing: HashingAlgorithm.SHA_256, pSource: label };
    const pubMixed = await registerKey(c, v, hex(''), 0, WrapKey, {
      objectType: ObjectType.PublicKey,
      object: t.struct(Tag.PublicKey, [keyBlock(spki, KeyFormatType.X_509, CryptographicAlgorithm.RSA, 2048)]),
      extra: [cryptoParams(mixed)],
    });
    const pm = await getWrapped(v, key, { uid: pubMixed, params: mixed, encoding: EncodingOption.NoEncoding });
    expect(toHex(oaepDecrypt(pair.privateKey, { hash: 'sha384', mgfHash: 'sha256', label }, wrappedValue(pm)))).toBe(toHex(KEY256));
    expect(() => privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha384', oaepLabel: label }, wrappedValue(pm))).toThrow();
  });

  it('formats compose with wrapping: a PKCS#1 private key asked for as PKCS#8, wrapped with AES Key Wrap with Padding (TTLV Encoding)', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = pair.privateKey.export({ format: 'der', type: 'pkcs1' });
    const priv = await registerKey(c, v, hex(''), 0, CryptographicUsageMask.Sign, {
      objectType: ObjectType.PrivateKey,
      object: t.struct(Tag.PrivateKey, [keyBlock(pkcs1, KeyFormatType.PKCS_1, CryptographicAlgorithm.RSA, 2048)]),
    });
    const kek256 = await kek(v, KEK256, KWP);
    const p = await getWrapped(v, priv, { uid: kek256 }, [t.enum(Tag.KeyFormatType, KeyFormatType.PKCS_8)]);
    expect(findChild(keyBlockOf(p), Tag.KeyFormatType)).toMatchObject({ value: KeyFormatType.PKCS_8 });
    const d = createDecipheriv('id-aes256-wrap-pad', KEK256, Buffer.from('A65959A6', 'hex'));
    const kv = decode(Buffer.concat([d.update(wrappedValue(p)), d.final()])) as StructureNode;
    const der = (findChild(kv, Tag.KeyMaterial) as { value: Uint8Array }).value;
    // node reads the unwrapped bytes as PKCS#8, and it is the registered key.
    const back = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    expect(back.export({ format: 'der', type: 'pkcs1' }).equals(pkcs1)).toBe(true);
  });

  it('a Sensitive key is refused plain but given wrapped', async () => {
    const k = await kek(v, KEK128, KW);
    const key = await registerKey(c, v, KEY128, CryptographicAlgorithm.AES, Encrypt | Decrypt, { extra: [t.bool(Tag.Sensitive, true)] });
    expect((await fails(c, v, Operation.Get, [uidNode(key)])).reason).toBe(ResultReason.Sensitive);
    const p = await getWrapped(v, key, { uid: k, encoding: EncodingOption.NoEncoding });
    expect(toHex(wrappedValue(p))).toBe('1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5');
  });
});

interface Reasons {
  name: string;
  v: KmipVersion;
  notFound: number;
  destroyed: number;
  wrongType: number;
  wrongState: number;
  usageMask: number;
  paramsMismatch: number;
  unsupported: number;
}
const REASONS: Reasons[] = [
  {
    name: '2.1',
    v: V2_1,
    notFound: ResultReason.WrappingObjectNotFound,
    destroyed: ResultReason.WrappingObjectDestroyed,
    wrongType: ResultReason.InvalidObjectType,
    wrongState: ResultReason.WrongKeyLifecycleState,
    usageMask: ResultReason.IncompatibleCryptographicUsageMask,
    paramsMismatch: ResultReason.BadCryptographicParameters,
    unsupported: ResultReason.UnsupportedCryptographicParameters,
  },
  {
    name: '1.4',
    v: V1_4,
    notFound: ResultReason.ItemNotFound,
    destroyed: ResultReason.PermissionDenied,
    wrongType: ResultReason.IllegalOperation,
    wrongState: ResultReason.PermissionDenied,
    usageMask: ResultReason.PermissionDenied,
    paramsMismatch: ResultReason.ItemNotFound,
    unsupported: ResultReason.InvalidField,
  },
];

describe.each(REASONS)('wrapping refusals at $name', (x) => {
  const v = x.v;
  const getFails = async (key: string, s: Spec): Promise<number | undefined> => (await fails(c, v, Operation.Get, [uidNode(key), wrappingSpec(s)])).reason;
  let key: string;
  beforeAll(async () => {
    key = await registerKey(c, v, KEY128, CryptographicAlgorithm.AES, Encrypt | Decrypt);
  });

  it('a Pre-Active wrapping key (Wrong Key Lifecycle State / Permission Denied)', async () => {
    const k = await kek(v, KEK128, KW, { activate: false });
    expect(await getFails(key, { uid: k })).toBe(x.wrongState);
  });

  it('a wrapping key without Wrap Key in its usage mask', async () => {
    const k = await kek(v, KEK128, KW, { mask: Encrypt | UnwrapKey });
    expect(await getFails(key, { uid: k })).toBe(x.usageMask);
  });

  it("a wrapping key of the wrong type (Secret Data), a missing one, another principal's one", async () => {
    const sd = await registerKey(c, v, hex(''), 0, WrapKey, { objectType: ObjectType.SecretData, object: secretData(KEK128) });
    expect(await getFails(key, { uid: sd })).toBe(x.wrongType);
    expect(await getFails(key, { uid: 'no-such-key' })).toBe(x.notFound);
    const alicesKek = await registerKey(alice, v, KEK128, CryptographicAlgorithm.AES, WrapKey);
    expect(await getFails(key, { uid: alicesKek })).toBe(x.notFound);
  });

  it('a destroyed wrapping key', async () => {
    const k = await kek(v, KEK128, KW, { activate: false });
    await ok(c, v, Operation.Destroy, [uidNode(k)]);
    expect(await getFails(key, { uid: k })).toBe(x.destroyed);
  });

  it("parameters that match none of the key's Cryptographic Parameters, or that the server does not serve", async () => {
    const k = await kek(v, KEK128, KW);
    expect(await getFails(key, { uid: k, params: KWP })).toBe(x.paramsMismatch);
    const noParams = await kek(v, KEK128, undefined);
    expect(await getFails(key, { uid: noParams, params: KW })).toBe(x.paramsMismatch);
    const cbc = await kek(v, KEK128, { mode: BlockCipherMode.CBC });
    expect(await getFails(key, { uid: cbc })).toBe(x.unsupported);
  });

  it('No Encoding with Attribute Names (Encoding Option Error); MAC/sign (Feature Not Supported)', async () => {
    const k = await kek(v, KEK128, KW);
    expect(await getFails(key, { uid: k, encoding: EncodingOption.NoEncoding, names: ['Name'] })).toBe(ResultReason.EncodingOptionError);
    expect(await getFails(key, { uid: k, method: WrappingMethod.MACSign })).toBe(ResultReason.FeatureNotSupported);
  });

  it('Encrypt then MAC/sign with an HMAC-SHA256 key: node checks the MAC; Register verifies it before unwrapping; a bad MAC or a key without MAC Generate is refused', async () => {
    const k = await kek(v, KEK128, KW);
    const macBytes = hex('0b'.repeat(32));
    const macKey = await registerKey(c, v, macBytes, CryptographicAlgorithm.HMAC_SHA256, CryptographicUsageMask.MACGenerate | CryptographicUsageMask.MACVerify);
    const spec = (macUid: string): TtlvNode =>
      t.struct(Tag.KeyWrappingSpecification, [
        t.enum(Tag.WrappingMethod, WrappingMethod.EncryptThenMACSign),
        t.struct(Tag.EncryptionKeyInformation, [uidNode(k)]),
        t.struct(Tag.MACSignatureKeyInformation, [uidNode(macUid)]),
        t.enum(Tag.EncodingOption, EncodingOption.NoEncoding),
      ]);
    const p = await ok(c, v, Operation.Get, [uidNode(key), spec(macKey)]);
    const wrapped = wrappedValue(p);
    expect(toHex(wrapped)).toBe('1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5');
    const kwd = findChild(keyBlockOf(p), Tag.KeyWrappingData) as StructureNode;
    const mac = (findChild(kwd, Tag.MACSignature) as { value: Uint8Array }).value;
    expect(toHex(mac)).toBe(createHmac('sha256', macBytes).update(wrapped).digest('hex'));

    // The returned Key Block registers back: the MAC verifies, the key is unwrapped.
    const back = await registerKey(c, v, hex(''), 0, Encrypt, { object: t.struct(Tag.SymmetricKey, [keyBlockOf(p)]) });
    expect(toHex(plainMaterial(await ok(c, v, Operation.Get, [uidNode(back), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)])))).toBe(toHex(KEY128));
    const badMac = Uint8Array.from(mac);
    badMac[0] = badMac[0]! ^ 1;
    const tamperedKb: StructureNode = {
      ...keyBlockOf(p),
      value: keyBlockOf(p).value.map((n) =>
        n.tag === Tag.KeyWrappingData && n.type === 'Structure' ? { ...n, value: n.value.map((m) => (m.tag === Tag.MACSignature ? t.bytes(Tag.MACSignature, badMac) : m)) } : n,
      ),
    };
    const r = await fails(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), registerAttrs(v), t.struct(Tag.SymmetricKey, [tamperedKb])]);
    expect(r.reason).toBe(ResultReason.CryptographicFailure);

    const verifyOnly = await registerKey(c, v, macBytes, CryptographicAlgorithm.HMAC_SHA256, CryptographicUsageMask.MACVerify);
    expect((await fails(c, v, Operation.Get, [uidNode(key), spec(verifyOnly)])).reason).toBe(x.usageMask);
  });

  it('a key cannot be wrapped with an RFC 3394 KEK when it is not whole 8-byte blocks (use padding)', async () => {
    const k = await kek(v, KEK128, KW);
    const seven = await registerKey(c, v, hex(''), 0, Encrypt, { objectType: ObjectType.SecretData, object: secretData(hex('466f7250617369')) });
    expect(await getFails(seven, { uid: k, encoding: EncodingOption.NoEncoding })).toBe(ResultReason.InvalidField);
  });
});

/** A wrapped Symmetric Key for Register (test case TC-WRAP-3 shape). */
function wrappedSymmetricKey(wrapped: Uint8Array, kekUid: string, encoding?: number, algorithm = true): StructureNode {
  return t.struct(Tag.SymmetricKey, [
    t.struct(Tag.KeyBlock, [
      t.enum(Tag.KeyFormatType, KeyFormatType.Raw),
      t.bytes(Tag.KeyValue, wrapped),
      ...(algorithm ? [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES), t.int(Tag.CryptographicLength, 128)] : []),
      t.struct(Tag.KeyWrappingData, [
        t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt),
        t.struct(Tag.EncryptionKeyInformation, [uidNode(kekUid), cryptoParams(KW)]),
        ...(encoding !== undefined ? [t.enum(Tag.EncodingOption, encoding)] : []),
      ]),
    ]),
  ]);
}

describe.each(REASONS)('Register of a wrapped key at $name', (x) => {
  const v = x.v;
  const WRAPPED = hex('1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5');

  it('TC-WRAP-3: unwrapped under the KEK the server holds; Not Wrapped gives the plain key, As Registered the wrapped bytes', async () => {
    const k = await kek(v, KEK128, KW);
    const key = await registerKey(c, v, hex(''), 0, Encrypt | Decrypt, { object: wrappedSymmetricKey(WRAPPED, k, EncodingOption.NoEncoding) });
    const plain = await ok(c, v, Operation.Get, [uidNode(key), t.enum(Tag.KeyFormatType, KeyFormatType.Raw), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)]);
    expect(toHex(plainMaterial(plain))).toBe(toHex(KEY128));
    const asRegistered = await ok(c, v, Operation.Get, [uidNode(key), t.enum(Tag.KeyWrapType, KeyWrapType.AsRegistered)]);
    expect(toHex(wrappedValue(asRegistered))).toBe(toHex(WRAPPED));
    expect(toHex(wrappedValue(await ok(c, v, Operation.Get, [uidNode(key)])))).toBe(toHex(WRAPPED));
    // The key is usable: AES-ECB of the zero block under 00112233… equals node's own result.
    const enc = await ok(c, v, Operation.Encrypt, cipherPayload({ uid: key, params: { mode: BlockCipherMode.ECB, padding: PaddingMethod.None }, data: new Uint8Array(16) }));
    expect(toHex((findChild(enc, Tag.Data) as { value: Uint8Array }).value)).toBe('fde4fbae4a09e020eff722969f83832b');
  });

  it('TTLV-encoded wrapped Key Value; algorithm and length taken from the unwrapped key', async () => {
    const k = await kek(v, KEK128, KW);
    const ttlv = hex(`42004501000000184200430800000010${toHex(KEY128)}`);
    const e = createCipheriv('id-aes128-wrap', KEK128, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    const wrapped = Buffer.concat([e.update(ttlv), e.final()]);
    const key = await registerKey(c, v, hex(''), 0, Encrypt | Decrypt, {
      object: wrappedSymmetricKey(wrapped, k, undefined, false),
      extra: [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)],
    });
    const plain = await ok(c, v, Operation.Get, [uidNode(key), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)]);
    expect(toHex(plainMaterial(plain))).toBe(toHex(KEY128));
    const attrs = await ok(c, v, Operation.GetAttributes, [uidNode(key)]);
    expect(lengthAttribute(attrs)).toBe(128);
  });

  it('a KEK that may not unwrap (no Unwrap Key, Pre-Active): stored as given (TC-WRAP-1-14), and Not Wrapped gives its refusal', async () => {
    const reg = (kekUid: string) => registerKey(c, v, hex(''), 0, Encrypt, { object: wrappedSymmetricKey(WRAPPED, kekUid, EncodingOption.NoEncoding) });
    const notWrapped = async (uid: string) => (await fails(c, v, Operation.Get, [uidNode(uid), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)])).reason;
    // 2.x: Unwrap Key is the bit that allows unwrapping; 1.x gives it no rule (and its test cases
    // unwrap under a Wrap-Key-only KEK), so there only a KEK with neither bit cannot unwrap.
    const noUnwrap = await kek(v, KEK128, KW, { mask: v.major >= 2 ? WrapKey : Encrypt });
    const a = await reg(noUnwrap);
    expect(toHex(wrappedValue(await ok(c, v, Operation.Get, [uidNode(a), t.enum(Tag.KeyWrapType, KeyWrapType.AsRegistered)])))).toBe(toHex(WRAPPED));
    expect(await notWrapped(a)).toBe(x.usageMask);
    const preActive = await kek(v, KEK128, KW, { activate: false });
    const b = await reg(preActive);
    expect(await notWrapped(b)).toBe(x.wrongState);
    // Once the KEK is Active, Not Wrapped unwraps the stored key.
    await ok(c, v, Operation.Activate, [uidNode(preActive)]);
    expect(toHex(plainMaterial(await ok(c, v, Operation.Get, [uidNode(b), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)])))).toBe(toHex(KEY128));
  });

  it('RSA-OAEP: a key wrapped here under a registered RSA public key is unwrapped with the private key; As Registered gives the very bytes, even once the private key is destroyed', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    const priv = await registerKey(c, v, hex(''), 0, UnwrapKey, {
      objectType: ObjectType.PrivateKey,
      object: t.struct(Tag.PrivateKey, [keyBlock(pkcs8, KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA, 2048)]),
    });
    const wrapped = publicEncrypt({ key: pair.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, KEY128);
    const object = t.struct(Tag.SymmetricKey, [
      t.struct(Tag.KeyBlock, [
        t.enum(Tag.KeyFormatType, KeyFormatType.Raw),
        t.bytes(Tag.KeyValue, wrapped),
        t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
        t.int(Tag.CryptographicLength, 128),
        t.struct(Tag.KeyWrappingData, [
          t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt),
          t.struct(Tag.EncryptionKeyInformation, [uidNode(priv), cryptoParams({ padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_256 })]),
          t.enum(Tag.EncodingOption, EncodingOption.NoEncoding),
        ]),
      ]),
    ]);
    const key = await registerKey(c, v, hex(''), 0, Encrypt, { object });
    expect(toHex(plainMaterial(await ok(c, v, Operation.Get, [uidNode(key), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)])))).toBe(toHex(KEY128));
    await ok(c, v, Operation.Revoke, [uidNode(priv), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, RevocationReasonCode.CessationOfOperation)])]);
    await ok(c, v, Operation.Destroy, [uidNode(priv)]);
    expect(toHex(wrappedValue(await ok(c, v, Operation.Get, [uidNode(key), t.enum(Tag.KeyWrapType, KeyWrapType.AsRegistered)])))).toBe(toHex(wrapped));
  });

  it('a Wrap-Key-only KEK unwraps at 1.x (TC-WRAP-1/2/3-14) but not at 2.x', async () => {
    const wrapOnly = await kek(v, KEK128, KW, { mask: WrapKey });
    const key = await registerKey(c, v, hex(''), 0, Encrypt, { object: wrappedSymmetricKey(WRAPPED, wrapOnly, EncodingOption.NoEncoding) });
    const get = () => batch(c, v, [{ operation: Operation.Get, payload: [uidNode(key), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)] }]);
    const [item] = await get();
    if (v.major >= 2) expect(item!.reason).toBe(ResultReason.IncompatibleCryptographicUsageMask);
    else expect(toHex(plainMaterial(expectSuccess(item!)))).toBe(toHex(KEY128));
  });

  it('a tampered wrapped key under a KEK that may unwrap is Cryptographic Failure; an unknown KEK stores the key as given', async () => {
    const good = await kek(v, KEK128, KW);
    const tampered = Uint8Array.from(WRAPPED);
    tampered[5] = tampered[5]! ^ 1;
    const r = await fails(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), registerAttrs(v), wrappedSymmetricKey(tampered, good, EncodingOption.NoEncoding)]);
    expect(r.reason).toBe(ResultReason.CryptographicFailure);

    const stored = await registerKey(c, v, hex(''), 0, Encrypt, { object: wrappedSymmetricKey(WRAPPED, 'a-key-held-elsewhere', EncodingOption.NoEncoding) });
    expect(toHex(wrappedValue(await ok(c, v, Operation.Get, [uidNode(stored)])))).toBe(toHex(WRAPPED));
    const nw = await fails(c, v, Operation.Get, [uidNode(stored), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)]);
    expect(nw.reason).toBe(v.major >= 2 ? ResultReason.KeyWrapTypeNotSupported : ResultReason.FeatureNotSupported);
  });
});

function registerAttrs(v: KmipVersion): TtlvNode {
  const mask = t.int(Tag.CryptographicUsageMask, Encrypt);
  return v.major >= 2
    ? t.struct(Tag.Attributes, [mask])
    : t.struct(Tag.TemplateAttribute, [t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Cryptographic Usage Mask'), { ...mask, tag: Tag.AttributeValue }])]);
}

/** The Cryptographic Length in a Get Attributes response (2.x node or 1.x Attribute structure). */
function lengthAttribute(n: TtlvNode): number | undefined {
  if (n.tag === Tag.CryptographicLength && n.type === 'Integer') return n.value;
  if (n.type !== 'Structure') return undefined;
  if (n.tag === Tag.Attribute && n.value.some((c) => c.type === 'TextString' && c.value === 'Cryptographic Length')) {
    const val = findChild(n, Tag.AttributeValue);
    return val?.type === 'Integer' ? val.value : undefined;
  }
  for (const c of n.value) {
    const r = lengthAttribute(c);
    if (r !== undefined) return r;
  }
  return undefined;
}
