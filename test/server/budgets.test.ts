/**
 * Resource budgets (issue 13, item 2; policy/budgets.ts, docs/limits.md), over real mutual-TLS
 * connections to a server started with small limits: the response limit counted while the batch
 * runs, multi-part quotas per identity (count and bytes) with hash-then-sign streaming, the
 * per-object and per-attribute-value size limits, and a response that cannot be encoded failing
 * its own connection only.
 */
import { createHash, createPublicKey, createVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, createSymmetricKeyPayload, locatePayload, parseResponse, requestMessage, uniqueIdentifiersOf, KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, HashingAlgorithm, KeyFormatType, ObjectType, Operation, PaddingMethod, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../../src/server/limits.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { CERTS, startTestKms, tlsFiles, type TestKms } from '../support/kms.js';
import { HANDLERS } from '../../src/operations/index.js';
import { KmipServer } from '../../src/server/server.js';

import { addAttributePayload, custom, deleteAttributePayload, registerWith, Session } from '../support/kmip-session.js';
import { getKeyBlock, keyPairPayload, materialBytes, pairUids } from '../operations/asymmetric-kit.js';
import { bytesOf } from '../operations/crypto-kit.js';
import { uidNode, V1_4, V2_1 } from '../operations/object-kit.js';

const LIMITS: ServerLimits = {
  ...DEFAULT_SERVER_LIMITS,
  maxResponseBytes: 64 * 1024,
  maxMultipartPerIdentity: 2,
  maxMultipartBytesPerIdentity: 8 * 1024,
  maxObjectBytes: 32 * 1024,
  maxAttributeValueBytes: 4 * 1024,
};

let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;
let bob: KmipClient;
beforeAll(async () => {
  srv = await startTestKms({ limits: LIMITS });
  c = await srv.client();
  alice = await srv.client('alice');
  bob = await srv.client('bob');
});
afterAll(() => srv?.dispose());

const rng = (n: number) => ({ operation: Operation.RNGRetrieve, payload: t.struct(Tag.RequestPayload, [t.int(Tag.DataLength, n)]) });

async function send(client: KmipClient, batch: { operation: number; payload: StructureNode }[], version = V2_1) {
  return parseResponse(await client.send(requestMessage({ version, batch })));
}

async function located(name: string): Promise<string[]> {
  const r = await send(c, [{ operation: Operation.Locate, payload: locatePayload(V2_1, [attr.name(name)]) }]);
  return uniqueIdentifiersOf(r.items[0]!.payload!);
}

function expectLimit(item: { status: number; reason?: number; message?: string }, setting: string, reason: number = ResultReason.ServerLimitExceeded): void {
  expect(item.status, item.message).toBe(ResultStatus.OperationFailed);
  expect(item.reason).toBe(reason);
  expect(item.message).toContain(`limits.${setting}`);
}

describe('limits.maxResponseBytes: checked while the batch items run', () => {
  it('the item that passes the limit ends the batch: it and the earlier items answer Response Too Large, later items do not run', async () => {
    const create = {
      operation: Operation.Create,
      payload: createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: M.Encrypt, name: 'after-the-budget' }),
    };
    const r = await send(c, [rng(30_000), rng(30_000), rng(30_000), create, rng(30_000)]);
    expect(r.items).toHaveLength(3);
    for (const item of r.items) expectLimit(item, 'maxResponseBytes', ResultReason.ResponseTooLarge);
    expect(r.items.map((i) => i.operation)).toEqual([Operation.RNGRetrieve, Operation.RNGRetrieve, Operation.RNGRetrieve]);
    expect(await located('after-the-budget')).toEqual([]);
  });

  it('a batch within the limit is served whole', async () => {
    const create = {
      operation: Operation.Create,
      payload: createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: M.Encrypt, name: 'within-the-budget' }),
    };
    const r = await send(c, [rng(30_000), create]);
    expect(r.items.map((i) => i.status)).toEqual([ResultStatus.Success, ResultStatus.Success]);
    expect(bytesOf(r.items[0]!.payload!, Tag.Data)).toHaveLength(30_000);
    expect(await located('within-the-budget')).toHaveLength(1);
  });

  it("a client's Maximum Response Size above the server's limit does not lift it; 1.x clients get Response Too Large too", async () => {
    const r = parseResponse(await c.send(requestMessage({ version: V1_4, maximumResponseSize: 1 << 30, batch: [rng(40_000), rng(40_000)] })));
    expect(r.items).toHaveLength(2);
    for (const item of r.items) expectLimit(item, 'maxResponseBytes', ResultReason.ResponseTooLarge);
  });
});

describe('multi-part quotas per identity', () => {
  const sha256 = t.struct(Tag.CryptographicParameters, [t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256)]);
  const hashInit = (data: string) => [sha256, t.bytes(Tag.Data, Buffer.from(data)), t.bool(Tag.InitIndicator, true)];
  const hashNext = (cv: Uint8Array, data: string, final = false) => [
    t.bytes(Tag.Data, Buffer.from(data)),
    t.bytes(Tag.CorrelationValue, cv),
    ...(final ? [t.bool(Tag.FinalIndicator, true)] : []),
  ];
  const call = async (client: KmipClient, op: number, body: readonly TtlvNode[]) => (await send(client, [{ operation: op, payload: t.struct(Tag.RequestPayload, [...body]) }])).items[0]!;

  it("maxMultipartPerIdentity: alice's third open operation is refused; her first two and bob's are unaffected", async () => {
    const a1 = bytesOf((await call(alice, Operation.Hash, hashInit('a1-'))).payload!, Tag.CorrelationValue)!;
    const a2 = bytesOf((await call(alice, Operation.Hash, hashInit('a2-'))).payload!, Tag.CorrelationValue)!;
    expectLimit(await call(alice, Operation.Hash, hashInit('a3-')), 'maxMultipartPerIdentity');
    const b1 = await call(bob, Operation.Hash, hashInit('b1-'));
    expect(b1.status).toBe(ResultStatus.Success);
    const done = await call(alice, Operation.Hash, hashNext(a1, 'end', true));
    expect(Buffer.from(bytesOf(done.payload!, Tag.Data)!)).toEqual(createHash('sha256').update('a1-end').digest());
    // A finished operation frees its place.
    const a3 = await call(alice, Operation.Hash, hashInit('a3-'));
    expect(a3.status).toBe(ResultStatus.Success);
    for (const cv of [a2, bytesOf(a3.payload!, Tag.CorrelationValue)!]) expect((await call(alice, Operation.Hash, hashNext(cv, '', true))).status).toBe(ResultStatus.Success);
    expect((await call(bob, Operation.Hash, hashNext(bytesOf(b1.payload!, Tag.CorrelationValue)!, '', true))).status).toBe(ResultStatus.Success);
  });

  async function signingPair(client: KmipClient, common: readonly TtlvNode[]): Promise<{ priv: string; pub: string }> {
    const r = await send(client, [
      {
        operation: Operation.CreateKeyPair,
        payload: t.struct(Tag.RequestPayload, keyPairPayload(V2_1, common, [attr.cryptographicUsageMask(M.Sign)], [attr.cryptographicUsageMask(M.Verify)])),
      },
    ]);
    const pair = pairUids(r.items[0]!.payload!);
    expect((await call(client, Operation.Activate, [uidNode(pair.priv)])).status).toBe(ResultStatus.Success);
    expect((await call(client, Operation.Activate, [uidNode(pair.pub)])).status).toBe(ResultStatus.Success);
    return pair;
  }

  async function signInParts(client: KmipClient, priv: string, parts: readonly Buffer[], first: readonly TtlvNode[] = []) {
    let cv: Uint8Array | undefined;
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      const item = await call(client, Operation.Sign, [
        ...(i === 0 ? [uidNode(priv), ...first, t.bool(Tag.InitIndicator, true)] : [t.bytes(Tag.CorrelationValue, cv!)]),
        t.bytes(Tag.Data, part),
        ...(last ? [t.bool(Tag.FinalIndicator, true)] : []),
      ]);
      if (item.status !== ResultStatus.Success || last) return { item, cv };
      cv = bytesOf(item.payload!, Tag.CorrelationValue);
    }
    throw new Error('no parts');
  }

  it('hash-then-sign holds no data: RSA in parts passes an 8 KiB byte quota with 24 KiB (the one-shot signature) and with 20 MB', async () => {
    const { priv, pub } = await signingPair(alice, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)]);
    const params = t.struct(Tag.CryptographicParameters, [t.enum(Tag.PaddingMethod, PaddingMethod.PKCS1V1_5), t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256)]);
    const parts = [0, 1, 2, 3].map((i) => Buffer.alloc(6 * 1024, i + 1));
    const { item } = await signInParts(alice, priv, parts, [params]);
    expect(item.status, item.message).toBe(ResultStatus.Success);
    const oneShot = await call(alice, Operation.Sign, [uidNode(priv), params, t.bytes(Tag.Data, Buffer.concat(parts))]);
    expect(Buffer.from(bytesOf(item.payload!, Tag.SignatureData)!)).toEqual(Buffer.from(bytesOf(oneShot.payload!, Tag.SignatureData)!));
    // More than a buffering server would keep for one operation (16 MiB), in 4 MB parts.
    const huge = [0, 1, 2, 3, 4].map((i) => Buffer.alloc(4_000_000, i + 1));
    const long = await signInParts(alice, priv, huge, [params]);
    expect(long.item.status, long.item.message).toBe(ResultStatus.Success);
    const spki = materialBytes(await getKeyBlock(alice, V2_1, pub, Tag.PublicKey, KeyFormatType.X_509));
    const verifier = createVerify('sha256');
    for (const part of huge) verifier.update(part);
    expect(verifier.verify(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), bytesOf(long.item.payload!, Tag.SignatureData)!)).toBe(true);
  });

  it('maxMultipartBytesPerIdentity: Ed25519 keeps its parts; the part that passes the quota is refused and its operation ended', async () => {
    const { priv } = await signingPair(alice, [attr.cryptographicAlgorithm(CryptographicAlgorithm.Ed25519)]);
    const { item, cv } = await signInParts(alice, priv, [Buffer.alloc(6 * 1024, 1), Buffer.alloc(6 * 1024, 2), Buffer.alloc(10, 3)]);
    expectLimit(item, 'maxMultipartBytesPerIdentity');
    const again = await call(alice, Operation.Sign, [t.bytes(Tag.CorrelationValue, cv!), t.bytes(Tag.Data, Buffer.from('x')), t.bool(Tag.FinalIndicator, true)]);
    expect(again.reason).toBe(ResultReason.InvalidCorrelationValue);
    // Within the quota it works.
    const small = await signInParts(alice, priv, [Buffer.alloc(3 * 1024, 1), Buffer.alloc(3 * 1024, 2)]);
    expect(small.item.status, small.item.message).toBe(ResultStatus.Success);
  });
});

describe('limits.maxAttributeValueBytes and limits.maxObjectBytes', () => {
  const s = () => new Session(c, V2_1);
  const big = (n: number, name = 'blob') => custom('x', name, t.bytes(Tag.AttributeValue, Buffer.alloc(n, 7)));

  it('an attribute value over the limit is refused (Add Attribute, Create); one within it is kept', async () => {
    const uid = uniqueIdentifiersOf(await s().ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: M.Encrypt })))[0]!;
    expectLimit(await s().call(Operation.AddAttribute, addAttributePayload(V2_1, uid, big(5000))), 'maxAttributeValueBytes');
    expect((await s().call(Operation.AddAttribute, addAttributePayload(V2_1, uid, big(3000)))).status).toBe(ResultStatus.Success);
    // 1.x has no Server Limit Exceeded: General Failure, naming the setting all the same.
    expectLimit(await new Session(c, V1_4).call(Operation.AddAttribute, addAttributePayload(V1_4, uid, big(5000))), 'maxAttributeValueBytes', ResultReason.GeneralFailure);
  });

  it('an object is not grown past the limit: the Add Attribute that would pass it is refused, one that shrinks it is served', async () => {
    const uid = uniqueIdentifiersOf(await s().ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: M.Encrypt })))[0]!;
    let added = 0;
    let refused: Awaited<ReturnType<Session['call']>> | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      const r = await s().call(Operation.AddAttribute, addAttributePayload(V2_1, uid, big(4000)));
      if (r.status === ResultStatus.Success) added++;
      else refused = r;
    }
    expect(added).toBeGreaterThanOrEqual(6);
    expect(added).toBeLessThan(9);
    expectLimit(refused!, 'maxObjectBytes');
    expect((await s().call(Operation.DeleteAttribute, deleteAttributePayload(V2_1, uid, 'blob', { vendor: 'x' }))).status).toBe(ResultStatus.Success);
    expect((await s().call(Operation.Activate, t.struct(Tag.RequestPayload, [uidNode(uid)]))).status).toBe(ResultStatus.Success);
  });

  it('Register of an object over the limit is refused and stores nothing', async () => {
    const opaque = (n: number) => t.struct(Tag.OpaqueObject, [t.enum(Tag.OpaqueDataType, 0x80000000), t.bytes(Tag.OpaqueDataValue, Buffer.alloc(n, 1))]);
    expectLimit(await s().call(Operation.Register, registerWith(V2_1, ObjectType.OpaqueObject, opaque(40_000), [attr.name('too-big-opaque')])), 'maxObjectBytes');
    expect(await located('too-big-opaque')).toEqual([]);
    expect((await s().call(Operation.Register, registerWith(V2_1, ObjectType.OpaqueObject, opaque(20_000), [attr.name('fits-opaque')]))).status).toBe(ResultStatus.Success);
  });
});

describe('a response that cannot be encoded', () => {
  it('fails its own connection (General Failure, then close); the server and other connections go on', async () => {
    // A handler whose payload no TTLV encoder can write (an Integer past 32 bits), standing in for
    // any encode failure (a response past 4 GiB is another); on the listener of the running server.
    const handlers = new Map(HANDLERS);
    handlers.set(Operation.Ping, {
      operation: Operation.Ping,
      name: 'Ping',
      since: { major: 2, minor: 1 },
      handle: async () => t.struct(Tag.ResponsePayload, [t.int(Tag.MaximumItems, 2 ** 40)]),
    });
    const server = new KmipServer({
      host: '127.0.0.1',
      port: 0,
      tls: { cert: readFileSync(join(CERTS, 'server.pem')), key: readFileSync(join(CERTS, 'server.key')), ca: readFileSync(join(CERTS, 'ca.pem')) },
      identity: 'cn',
      limits: LIMITS,
      services: srv.kms.services,
      handlers,
    });
    const { port } = await server.listen();
    try {
      const victim = await KmipClient.connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(), timeoutMs: 5000 });
      const r = parseResponse(await victim.send(requestMessage({ version: V2_1, batch: [{ operation: Operation.Ping, payload: t.struct(Tag.RequestPayload, []) }] })));
      expect(r.items[0]!.reason).toBe(ResultReason.GeneralFailure);
      expect(r.items[0]!.message).toMatch(/^internal error, ref /);
      await expect(victim.send(requestMessage({ version: V2_1, batch: [rng(8)] }))).rejects.toThrow();
      await victim.close().catch(() => undefined);
      const next = await KmipClient.connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(), timeoutMs: 5000 });
      expect((await send(next, [rng(8)])).items[0]!.status).toBe(ResultStatus.Success);
      await next.close();
      expect((await send(c, [rng(8)])).items[0]!.status).toBe(ResultStatus.Success);
    } finally {
      await server.close();
    }
  });
});
