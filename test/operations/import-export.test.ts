/**
 * Export and Import (KMIP 2.1 §6.1.18 / §6.1.25, 2.0 §6.1.18 / §6.1.24) end to end over mutual TLS,
 * between two real servers (src/operations/lifecycle/export.ts, import.ts), at 2.0 and 2.1:
 * - a symmetric key and a key pair's keys move from server A to server B with their identifiers and
 *   attributes (server-set ones included) and give the same cryptographic results there;
 * - an existing identifier is refused (Object Already Exists); Replace Existing replaces only the
 *   importer's own object; another principal's identifier is never taken over and reads as not
 *   there (Object Not Found, as its Get); the importer owns what it imports; bad identifiers are refused;
 * - a wrapped export imported Not Wrapped (unwrapped under the same KEK moved before) and As
 *   Registered (stored wrapped, unwrapped by a later Get);
 * - Sensitive and non-extractable keys are refused as by Get;
 * - 1.x requests get Operation Not Supported; Query lists both operations at 2.x only.
 * Requests are written from the spec tables, independently of the server's code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, expectSuccess, findChild, findChildren, keyBlock, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  BlockCipherMode,
  CryptographicAlgorithm,
  HashingAlgorithm,
  KeyFormatType,
  KeyWrapType,
  ObjectType,
  Operation,
  PaddingMethod,
  QueryFunction,
  ResultReason,
  SecretDataType,
  State,
  WrappingMethod,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { notFoundReason } from '../support/reasons.js';
import { keyPairPayload, pairUids } from './asymmetric-kit.js';
import { bytesOf, cipherPayload, hex, toHex } from './crypto-kit.js';
import { readLog } from '../audit/helpers.js';
import { attrs, batch, byteStrings, containsBytes, fails, ok, textOf, uidNode, uidOf, V1_2, V1_4, V2_0, V2_1 } from './object-kit.js';

const { Encrypt, Decrypt, WrapKey, UnwrapKey } = CryptographicUsageMask;

let a: TestKms;
let b: TestKms;
let ca: KmipClient;
let cb: KmipClient;
let aliceB: KmipClient;

beforeAll(async () => {
  // B runs a day ahead, so a date B set itself cannot pass for the one A set.
  [a, b] = await Promise.all([startTestKms(), startTestKms({}, { clock: () => Date.now() + 86_400_000 })]);
  [ca, cb, aliceB] = await Promise.all([a.client(), b.client(), b.client('alice')]);
});
afterAll(async () => {
  await Promise.all([a?.dispose(), b?.dispose()]);
});

const MESSAGE = hex('4578706f72742f496d706f7274206b6e6f776e2064617461');
const IV = hex('000102030405060708090a0b0c0d0e0f');
const CBC = { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 };

let seq = 0;
const unique = (what: string) => `${what}-${process.pid}-${++seq}`;

async function createAes(c: KmipClient, v: KmipVersion, mask: number, extra: readonly TtlvNode[] = [], activate = true): Promise<string> {
  const uid = uidOf(
    await ok(c, v, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(mask), ...extra]),
    ]),
  );
  if (activate) await ok(c, v, Operation.Activate, [uidNode(uid)]);
  return uid;
}

const exportOf = (c: KmipClient, v: KmipVersion, uid: string, extra: readonly TtlvNode[] = []) => ok(c, v, Operation.Export, [uidNode(uid), ...extra]);

/** The object structure of an Export / Get response (the child after the Attributes). */
function objectOf(p: StructureNode): StructureNode {
  const o = p.value.find((n) => n.tag === Tag.SymmetricKey || n.tag === Tag.PrivateKey || n.tag === Tag.PublicKey || n.tag === Tag.SecretData);
  if (o?.type !== 'Structure') throw new Error('no object in the response');
  return o;
}
function plainMaterial(p: StructureNode): Uint8Array {
  const kv = findChild(findChild(objectOf(p), Tag.KeyBlock), Tag.KeyValue);
  const m = findChild(kv, Tag.KeyMaterial);
  if (m?.type !== 'ByteString') throw new Error('no plain Key Material');
  return m.value;
}
const isWrappedBlock = (p: StructureNode) => findChild(findChild(objectOf(p), Tag.KeyBlock), Tag.KeyWrappingData) !== undefined;

/** One attribute of an Attributes structure, by tag. */
const attributeIn = (p: StructureNode, tag: number): TtlvNode[] => findChildren(findChild(p, Tag.Attributes), tag);

/**
 * Import payload (2.1 Table 238) from an Export response: its identifier (or `uid`, written in the
 * Unique Identifier attribute too), Object Type, Replace Existing, Key Wrap Type, Attributes, object.
 */
function importFrom(exp: StructureNode, opts: { uid?: string; replace?: boolean; keyWrapType?: number } = {}): TtlvNode[] {
  const uid = opts.uid ?? textOf(findChild(exp, Tag.UniqueIdentifier));
  const attributes = findChild(exp, Tag.Attributes) as StructureNode;
  const rewritten = t.struct(
    Tag.Attributes,
    attributes.value.filter((n) => n.tag !== Tag.ShortUniqueIdentifier).map((n) => (n.tag === Tag.UniqueIdentifier ? t.text(Tag.UniqueIdentifier, uid) : n)),
  );
  return [
    uidNode(uid),
    findChild(exp, Tag.ObjectType)!,
    ...(opts.replace !== undefined ? [t.bool(Tag.ReplaceExisting, opts.replace)] : []),
    ...(opts.keyWrapType !== undefined ? [t.enum(Tag.KeyWrapType, opts.keyWrapType)] : []),
    rewritten,
    objectOf(exp),
  ];
}

function wrappingSpec(kekUid: string): TtlvNode {
  return t.struct(Tag.KeyWrappingSpecification, [t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt), t.struct(Tag.EncryptionKeyInformation, [uidNode(kekUid)])]);
}

describe.each([V2_0, V2_1] as KmipVersion[])('Export and Import at %o', (v) => {
  it('a symmetric key moves to a second server with its identifier and attributes, and encrypts the same there', async () => {
    const name = unique('moved');
    const uid = await createAes(ca, v, Encrypt | Decrypt, [attr.name(name)]);
    const exp = await exportOf(ca, v, uid);
    expect(textOf(findChild(exp, Tag.UniqueIdentifier))).toBe(uid);
    expect(findChild(exp, Tag.ObjectType)).toMatchObject({ value: ObjectType.SymmetricKey });
    // All the attributes: the client's, the server-set ones, the derived ones.
    expect(attributeIn(exp, Tag.UniqueIdentifier)).toEqual([t.text(Tag.UniqueIdentifier, uid)]);
    expect(attributeIn(exp, Tag.State)).toEqual([t.enum(Tag.State, State.Active)]);
    expect(attributeIn(exp, Tag.CryptographicAlgorithm)).toEqual([t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)]);
    expect(attributeIn(exp, Tag.CryptographicUsageMask)).toEqual([t.int(Tag.CryptographicUsageMask, Encrypt | Decrypt)]);
    expect(attributeIn(exp, Tag.Name)).toHaveLength(1);
    for (const tag of [Tag.InitialDate, Tag.ActivationDate, Tag.LastChangeDate, Tag.Digest, Tag.ShortUniqueIdentifier, Tag.Extractable])
      expect(attributeIn(exp, tag), `tag ${tag}`).toHaveLength(1);
    const material = plainMaterial(exp);
    expect(material).toHaveLength(32);
    // Export is not Get: the object stays Fresh on A.
    expect(attributeIn(await exportOf(ca, v, uid), Tag.Fresh)).toEqual([t.bool(Tag.Fresh, true)]);

    expect(uidOf(await ok(cb, v, Operation.Import, importFrom(exp)))).toBe(uid);
    // On B: same identifier, same attributes (dates the server would set itself included), same key.
    const onB = await exportOf(cb, v, uid);
    for (const tag of [Tag.State, Tag.InitialDate, Tag.ActivationDate, Tag.LastChangeDate, Tag.Name, Tag.Digest, Tag.CryptographicUsageMask, Tag.CryptographicLength]) {
      expect(attributeIn(onB, tag), `tag ${tag}`).toEqual(attributeIn(exp, tag));
    }
    expect(toHex(plainMaterial(onB))).toBe(toHex(material));
    const located = await ok(cb, v, Operation.Locate, [attrs(v, [attr.name(name)])]);
    expect(findChildren(located, Tag.UniqueIdentifier).map((n) => textOf(n))).toEqual([uid]);
    // The same results on both servers.
    const ctA = bytesOf(await ok(ca, v, Operation.Encrypt, cipherPayload({ uid, params: CBC, iv: IV, data: MESSAGE })), Tag.Data)!;
    const ctB = bytesOf(await ok(cb, v, Operation.Encrypt, cipherPayload({ uid, params: CBC, iv: IV, data: MESSAGE })), Tag.Data)!;
    expect(toHex(ctB)).toBe(toHex(ctA));
    const back = bytesOf(await ok(cb, v, Operation.Decrypt, cipherPayload({ uid, params: CBC, iv: IV, data: ctA })), Tag.Data);
    expect(toHex(back)).toBe(toHex(MESSAGE));
  });

  it("a key pair's keys move with their attributes and links; each server decrypts what the other encrypted", async () => {
    const pair = pairUids(
      await ok(
        ca,
        v,
        Operation.CreateKeyPair,
        keyPairPayload(
          v,
          [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)],
          [attr.cryptographicUsageMask(Decrypt)],
          [attr.cryptographicUsageMask(Encrypt)],
        ),
      ),
    );
    for (const uid of [pair.priv, pair.pub]) await ok(ca, v, Operation.Activate, [uidNode(uid)]);
    const [expPriv, expPub] = [await exportOf(ca, v, pair.priv), await exportOf(ca, v, pair.pub)];
    expect(findChild(expPriv, Tag.ObjectType)).toMatchObject({ value: ObjectType.PrivateKey });
    expect(attributeIn(expPriv, Tag.Link).length).toBeGreaterThan(0);
    await ok(cb, v, Operation.Import, importFrom(expPriv));
    await ok(cb, v, Operation.Import, importFrom(expPub));
    const privOnB = await exportOf(cb, v, pair.priv);
    expect(attributeIn(privOnB, Tag.Link)).toEqual(attributeIn(expPriv, Tag.Link));
    expect(attributeIn(privOnB, Tag.CryptographicLength)).toEqual([t.int(Tag.CryptographicLength, 2048)]);
    expect(attributeIn(privOnB, Tag.State)).toEqual([t.enum(Tag.State, State.Active)]);
    const oaep = { padding: PaddingMethod.OAEP, hashing: HashingAlgorithm.SHA_256 };
    const fromA = bytesOf(await ok(ca, v, Operation.Encrypt, cipherPayload({ uid: pair.pub, params: oaep, data: MESSAGE })), Tag.Data)!;
    const fromB = bytesOf(await ok(cb, v, Operation.Encrypt, cipherPayload({ uid: pair.pub, params: oaep, data: MESSAGE })), Tag.Data)!;
    expect(toHex(bytesOf(await ok(cb, v, Operation.Decrypt, cipherPayload({ uid: pair.priv, params: oaep, data: fromA })), Tag.Data))).toBe(toHex(MESSAGE));
    expect(toHex(bytesOf(await ok(ca, v, Operation.Decrypt, cipherPayload({ uid: pair.priv, params: oaep, data: fromB })), Tag.Data))).toBe(toHex(MESSAGE));
  });

  it("an existing identifier is refused; Replace Existing replaces only the importer's own object; another principal's never", async () => {
    const first = await exportOf(ca, v, await createAes(ca, v, Encrypt | Decrypt));
    const second = await exportOf(ca, v, await createAes(ca, v, Encrypt | Decrypt));
    const uid = textOf(findChild(first, Tag.UniqueIdentifier));
    await ok(cb, v, Operation.Import, importFrom(first));
    // Absent or false: Object Already Exists.
    expect((await fails(cb, v, Operation.Import, importFrom(first))).reason).toBe(ResultReason.ObjectAlreadyExists);
    expect((await fails(cb, v, Operation.Import, importFrom(second, { uid, replace: false }))).reason).toBe(ResultReason.ObjectAlreadyExists);
    // Another principal: refused even with Replace Existing, and answered exactly as for an
    // object that does not exist (as its Get is), so the identifier's existence does not leak;
    // the owner's object is untouched and still invisible to it.
    const asIfAbsent = await fails(aliceB, v, Operation.Get, [uidNode(uid)]);
    for (const replace of [true, false]) {
      const refused = await fails(aliceB, v, Operation.Import, importFrom(second, { uid, replace }));
      expect([refused.reason, refused.message]).toEqual([notFoundReason(v), asIfAbsent.message]);
    }
    expect(toHex(plainMaterial(await ok(cb, v, Operation.Get, [uidNode(uid)])))).toBe(toHex(plainMaterial(first)));
    expect((await fails(aliceB, v, Operation.Export, [uidNode(uid)])).reason).toBe(notFoundReason(v));
    // The owner replaces it: the other key's material and attributes under this identifier.
    expect(uidOf(await ok(cb, v, Operation.Import, importFrom(second, { uid, replace: true })))).toBe(uid);
    const now = await exportOf(cb, v, uid);
    expect(toHex(plainMaterial(now))).toBe(toHex(plainMaterial(second)));
    expect(attributeIn(now, Tag.Digest)).toEqual(attributeIn(second, Tag.Digest));
    expect(attributeIn(now, Tag.Digest)).not.toEqual(attributeIn(first, Tag.Digest));
    // What alice imports is alice's: the first client cannot see it, alice can.
    const aliceUid = unique('alice-import');
    expect(uidOf(await ok(aliceB, v, Operation.Import, importFrom(first, { uid: aliceUid })))).toBe(aliceUid);
    expect((await fails(cb, v, Operation.Get, [uidNode(aliceUid)])).reason).toBe(notFoundReason(v));
    expect(toHex(plainMaterial(await ok(aliceB, v, Operation.Get, [uidNode(aliceUid)])))).toBe(toHex(plainMaterial(first)));
    // ... and the first client cannot take it over by importing on top of it.
    expect((await fails(cb, v, Operation.Import, importFrom(second, { uid: aliceUid, replace: true }))).reason).toBe(notFoundReason(v));
    expect(toHex(plainMaterial(await ok(aliceB, v, Operation.Get, [uidNode(aliceUid)])))).toBe(toHex(plainMaterial(first)));
  });

  it('Secret Data moves under a new identifier the client picks; a Name already in use is refused', async () => {
    const secret = hex('70617373776f7264');
    const object = t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(secret, KeyFormatType.Opaque)]);
    const name = unique('secret');
    const uid = uidOf(await ok(ca, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SecretData), attrs(v, [attr.name(name)]), object]));
    const exp = await exportOf(ca, v, uid);
    const chosen = `${unique('RANDOM')}-${uid}`;
    expect(uidOf(await ok(cb, v, Operation.Import, importFrom(exp, { uid: chosen })))).toBe(chosen);
    const got = await ok(cb, v, Operation.Get, [uidNode(chosen)]);
    expect(findChild(got, Tag.ObjectType)).toMatchObject({ value: ObjectType.SecretData });
    expect(toHex(plainMaterial(got))).toBe(toHex(secret));
    // The same Name under yet another identifier: Non Unique Name Attribute, nothing stored.
    const third = unique('third');
    expect((await fails(cb, v, Operation.Import, importFrom(exp, { uid: third }))).reason).toBe(ResultReason.NonUniqueNameAttribute);
    expect((await fails(cb, v, Operation.Get, [uidNode(third)])).reason).toBe(notFoundReason(v));
  });

  it('refuses identifiers the store cannot take and attributes that contradict the request', async () => {
    const exp = await exportOf(ca, v, await createAes(ca, v, Encrypt));
    for (const bad of ['', 'a'.repeat(257), 'tab\there', 'nul\u0000x']) {
      const payload = importFrom(exp, { uid: bad });
      expect((await fails(cb, v, Operation.Import, payload)).reason, JSON.stringify(bad)).toBe(ResultReason.InvalidField);
    }
    // A Unique Identifier attribute other than the request's.
    const p = importFrom(exp, { uid: unique('mismatch') });
    p[0] = uidNode(unique('other'));
    expect((await fails(cb, v, Operation.Import, p)).reason).toBe(ResultReason.InvalidAttributeValue);
    // A Destroyed State with key material.
    const destroyed = importFrom(exp, { uid: unique('destroyed') }).map((n) =>
      n.tag === Tag.Attributes && n.type === 'Structure'
        ? t.struct(
            Tag.Attributes,
            n.value.map((x) => (x.tag === Tag.State ? t.enum(Tag.State, State.Destroyed) : x)),
          )
        : n,
    );
    expect((await fails(cb, v, Operation.Import, destroyed)).reason).toBe(ResultReason.InvalidAttributeValue);
    // A long but valid identifier is taken as given.
    const long = `${'x'.repeat(200)}-${unique('long')}`;
    expect(uidOf(await ok(cb, v, Operation.Import, importFrom(exp, { uid: long })))).toBe(long);
  });

  it('a wrapped export imports Not Wrapped (unwrapped under the moved KEK) or As Registered (kept wrapped)', async () => {
    const kek = await createAes(ca, v, WrapKey | UnwrapKey);
    await ok(cb, v, Operation.Import, importFrom(await exportOf(ca, v, kek)));
    const target = await createAes(ca, v, Encrypt | Decrypt);
    const plain = plainMaterial(await exportOf(ca, v, target));
    const wrapped = await exportOf(ca, v, target, [wrappingSpec(kek)]);
    expect(isWrappedBlock(wrapped)).toBe(true);
    expect(byteStrings(objectOf(wrapped)).some((bs) => containsBytes(bs, plain))).toBe(false);
    // A wrapped object needs a Key Wrap Type.
    expect((await fails(cb, v, Operation.Import, importFrom(wrapped))).reason).toBe(ResultReason.InvalidField);
    // Not Wrapped: B unwraps it under the KEK it holds now and stores it plain.
    await ok(cb, v, Operation.Import, importFrom(wrapped, { keyWrapType: KeyWrapType.NotWrapped }));
    const gotB = await ok(cb, v, Operation.Get, [uidNode(target)]);
    expect(isWrappedBlock(gotB)).toBe(false);
    expect(toHex(plainMaterial(gotB))).toBe(toHex(plain));
    // As Registered: stored as given; Get returns it wrapped, Not Wrapped unwraps it.
    const asRegistered = unique('as-registered');
    await ok(cb, v, Operation.Import, importFrom(wrapped, { uid: asRegistered, keyWrapType: KeyWrapType.AsRegistered }));
    expect(isWrappedBlock(await ok(cb, v, Operation.Get, [uidNode(asRegistered)]))).toBe(true);
    expect(toHex(plainMaterial(await ok(cb, v, Operation.Get, [uidNode(asRegistered), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)])))).toBe(toHex(plain));
    // Not Wrapped under a KEK that never left A: the wrapping key is not available on B.
    const localKek = await createAes(ca, v, WrapKey | UnwrapKey);
    const other = await exportOf(ca, v, target, [wrappingSpec(localKek)]);
    expect((await fails(cb, v, Operation.Import, importFrom(other, { uid: unique('no-kek'), keyWrapType: KeyWrapType.NotWrapped }))).reason).toBe(ResultReason.WrappingObjectNotFound);
  });

  it('Sensitive and non-extractable keys are refused as by Get; a destroyed key has no material to export', async () => {
    const kek = await createAes(ca, v, WrapKey | UnwrapKey);
    const sensitive = await createAes(ca, v, Encrypt, [t.bool(Tag.Sensitive, true)]);
    expect((await fails(ca, v, Operation.Export, [uidNode(sensitive)])).reason).toBe(ResultReason.Sensitive);
    expect((await fails(ca, v, Operation.Get, [uidNode(sensitive)])).reason).toBe(ResultReason.Sensitive);
    expect(isWrappedBlock(await exportOf(ca, v, sensitive, [wrappingSpec(kek)]))).toBe(true);
    const stuck = await createAes(ca, v, Encrypt, [t.bool(Tag.Extractable, false)]);
    expect((await fails(ca, v, Operation.Export, [uidNode(stuck)])).reason).toBe(ResultReason.NotExtractable);
    expect((await fails(ca, v, Operation.Export, [uidNode(stuck), wrappingSpec(kek)])).reason).toBe(ResultReason.NotExtractable);
    const gone = await createAes(ca, v, Encrypt, [], false);
    await ok(ca, v, Operation.Destroy, [uidNode(gone)]);
    expect((await fails(ca, v, Operation.Export, [uidNode(gone)])).reason).toBe(ResultReason.KeyValueNotPresent);
  });
});

describe('Import is durable, audited and sets the ID Placeholder', () => {
  it('an imported key survives a restart; the audit log names the Import and its identifier, never the key', async () => {
    const exp = await exportOf(ca, V2_1, await createAes(ca, V2_1, Encrypt | Decrypt));
    const uid = textOf(findChild(exp, Tag.UniqueIdentifier));
    const material = plainMaterial(exp);
    const c = await startTestKms();
    try {
      const cc = await c.client();
      await ok(cc, V2_1, Operation.Import, importFrom(exp));
      expect((await fails(cc, V2_1, Operation.Import, importFrom(exp))).reason).toBe(ResultReason.ObjectAlreadyExists);
      await c.stop();
      const { raw, records } = await readLog(c.dataDir);
      const imports = records.filter((r) => r.kind === 'op' && r.op === 'Import');
      expect(imports.map((r) => (r.kind === 'op' ? [r.status, r.uids ?? [], r.reason ?? ''] : []))).toEqual([
        ['Success', [uid], ''],
        ['OperationFailed', expect.anything(), 'ObjectAlreadyExists'],
      ]);
      expect(raw.some((bytes) => containsBytes(bytes, material) || bytes.toString('utf8').includes(Buffer.from(material).toString('hex')))).toBe(false);
      const again = await startTestKms({}, { dataDir: c.dataDir });
      try {
        expect(toHex(plainMaterial(await ok(await again.client(), V2_1, Operation.Get, [uidNode(uid)])))).toBe(toHex(material));
      } finally {
        await again.dispose();
      }
    } finally {
      await c.dispose();
    }
  });

  it('a later batch item without an identifier acts on the imported / exported object', async () => {
    const exp = await exportOf(ca, V2_1, await createAes(ca, V2_1, Encrypt, [], false));
    const uid = unique('placeholder');
    const items = await batch(cb, V2_1, [
      { operation: Operation.Import, payload: importFrom(exp, { uid }) },
      { operation: Operation.Activate, payload: [] },
    ]);
    expect(uidOf(expectSuccess(items[1]!))).toBe(uid);
    const [, second] = await batch(ca, V2_1, [
      { operation: Operation.Export, payload: [uidNode(textOf(findChild(exp, Tag.UniqueIdentifier)))] },
      { operation: Operation.Activate, payload: [] },
    ]);
    expect(uidOf(expectSuccess(second!))).toBe(textOf(findChild(exp, Tag.UniqueIdentifier)));
  });
});

describe('protocol versions', () => {
  const queryOps = async (v: KmipVersion) =>
    findChildren(await ok(ca, v, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]), Tag.Operation).map((n) => (n.type === 'Enumeration' ? n.value : -1));

  it('Query lists Export and Import at 2.0 and 2.1, not at 1.x', async () => {
    for (const v of [V2_0, V2_1]) expect(await queryOps(v)).toEqual(expect.arrayContaining([Operation.Export, Operation.Import]));
    for (const v of [V1_4, V1_2]) {
      const ops = await queryOps(v);
      expect(ops).toContain(Operation.Get);
      expect(ops).not.toContain(Operation.Export);
      expect(ops).not.toContain(Operation.Import);
    }
  });

  it('1.x requests get Operation Not Supported', async () => {
    const uid = await createAes(ca, V2_1, Encrypt);
    const exp = await exportOf(ca, V2_1, uid);
    for (const v of [V1_4, V1_2]) {
      expect((await fails(ca, v, Operation.Export, [uidNode(uid)])).reason).toBe(ResultReason.OperationNotSupported);
      expect((await fails(cb, v, Operation.Import, importFrom(exp, { uid: unique('v1') }))).reason).toBe(ResultReason.OperationNotSupported);
    }
  });
});
