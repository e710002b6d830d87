/**
 * Server-to-client Notify and Put over the real server (mTLS): a KMIP 2.1 client sends Set Endpoint
 * Role Client on its connection, then receives Request Messages from the server and answers them
 * (src/notify/, KMIP 2.1 §6.1.54, §6.2; 1.4 §5). The subscriber here is a raw TLS connection with
 * its own framing, independent of the server's session code.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, createSymmetricKeyPayload, findChild, findChildren, parseResponse, requestMessage, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, EndpointRole, LinkType, Operation, PutFunction, QueryFunction, ResultReason, ResultStatus, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { decode, encode, t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { TtlvFramer } from '../../src/ttlv/framer.js';
import type { ServerToClientHub } from '../../src/notify/hub.js';
import { CERTS, startTestKms, tlsFiles, type TestKms } from '../support/kms.js';
import { modifyAttributePayload, V1_4, V2_1 } from '../support/kmip-session.js';
import { ok, uidNode } from '../operations/object-kit.js';

interface Received {
  readonly operation: number;
  readonly payload: StructureNode;
}

/** A client in the client role: answers each server request (or, `silent`, never answers). */
class Subscriber {
  readonly received: Received[] = [];
  private readonly framer = new TtlvFramer({ maxMessageBytes: 1 << 20 });
  private waiters: ((n: TtlvNode) => void)[] = [];
  private constructor(
    private readonly socket: tls.TLSSocket,
    private readonly silent: boolean,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.framer.push(chunk)) this.onFrame(decode(frame));
    });
  }

  static async connect(port: number, identity: string, v: KmipVersion, opts: { silent?: boolean } = {}): Promise<{ sub: Subscriber; answer: TtlvNode }> {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(identity) });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const sub = new Subscriber(socket, opts.silent ?? false);
    const msg = requestMessage({ version: v, batch: [{ operation: Operation.SetEndpointRole, payload: t.struct(Tag.RequestPayload, [t.enum(Tag.EndpointRole, EndpointRole.Client)]) }] });
    const answer = await sub.request(msg);
    return { sub, answer };
  }

  /** Send a request of our own and wait for its response. */
  request(msg: TtlvNode): Promise<TtlvNode> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.socket.write(encode(msg));
    });
  }

  private onFrame(node: TtlvNode): void {
    if (node.tag === Tag.ResponseMessage) {
      this.waiters.shift()?.(node);
      return;
    }
    // A server-to-client Request Message: record it, answer Success (echoing Operation and the id).
    const item = (node as StructureNode).value.find((c) => c.tag === Tag.BatchItem) as StructureNode;
    const op = findChild(item, Tag.Operation) as { value: number };
    const id = findChild(item, Tag.UniqueBatchItemID);
    const header = findChild(node, Tag.RequestHeader) as StructureNode;
    this.received.push({ operation: op.value, payload: findChild(item, Tag.RequestPayload) as StructureNode });
    if (this.silent) return;
    this.socket.write(
      encode(
        t.struct(Tag.ResponseMessage, [
          t.struct(Tag.ResponseHeader, [findChild(header, Tag.ProtocolVersion)!, t.date(Tag.TimeStamp, BigInt(Math.floor(Date.now() / 1000))), t.int(Tag.BatchCount, 1)]),
          t.struct(Tag.BatchItem, [t.enum(Tag.Operation, op.value), ...(id ? [id] : []), t.enum(Tag.ResultStatus, ResultStatus.Success), t.struct(Tag.ResponsePayload, [])]),
        ]),
      ),
    );
  }

  async waitFor(pred: (r: Received) => boolean, ms = 10_000): Promise<Received> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`not received within ${ms} ms; got ${this.received.map((r) => r.operation).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

const uidOf = (p: TtlvNode | undefined) => (findChild(p, Tag.UniqueIdentifier) as { value: string }).value;
const aes = (v: KmipVersion) =>
  createSymmetricKeyPayload(v, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt });
const forUid = (uid: string, op: number) => (r: Received) => r.operation === op && uidOf(r.payload) === uid;

describe('server-to-client Notify and Put (Set Endpoint Role Client)', () => {
  let srv: TestKms;
  const subs: Subscriber[] = [];
  beforeAll(async () => {
    srv = await startTestKms({ serverToClient: { maxQueue: 3, responseTimeoutMs: 60_000, maxAttempts: 1 } });
  });
  afterAll(async () => {
    for (const s of subs) s.close();
    await srv.dispose();
  });

  it('Set Endpoint Role Client is answered Client on the KMIP port; Query lists Notify and Put at 2.x, not at 1.x', async () => {
    const { sub, answer } = await Subscriber.connect(srv.port, 'alice', V2_1);
    subs.push(sub);
    const item = parseResponse(answer).items[0]!;
    expect(item.status).toBe(ResultStatus.Success);
    expect(findChild(item.payload, Tag.EndpointRole)).toMatchObject({ value: EndpointRole.Client });
    const c = await srv.client('alice');
    const opsAt = async (v: KmipVersion) =>
      findChildren(await ok(c, v, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]), Tag.Operation).map((n) => (n as { value: number }).value);
    expect(await opsAt(V2_1)).toEqual(expect.arrayContaining([Operation.Notify, Operation.Put, Operation.Poll, Operation.Cancel]));
    const at14 = await opsAt(V1_4);
    expect(at14).toEqual(expect.arrayContaining([Operation.Poll, Operation.Cancel]));
    expect(at14).not.toContain(Operation.Notify);
    expect(at14).not.toContain(Operation.Put);
    // A client cannot send Notify or Put to the server.
    const [sent] = parseResponse(
      await c.send(requestMessage({ version: V2_1, batch: [{ operation: Operation.Notify, payload: t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, 'x')]) }] })),
    ).items;
    expect(sent!.reason).toBe(ResultReason.OperationNotSupported);
  });

  it('the subscriber gets Put (New) for a key its identity creates on another connection, Notify after Modify Attribute and Activate, Put (Replace) after Re-key', async () => {
    const { sub } = await Subscriber.connect(srv.port, 'alice', V2_1);
    subs.push(sub);
    const c = await srv.client('alice');
    const name = `s2c-${Date.now()}`;
    const uid = uidOf(
      await ok(c, V2_1, Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt, name }).value),
    );

    const put = await sub.waitFor(forUid(uid, Operation.Put));
    expect(findChild(put.payload, Tag.PutFunction)).toMatchObject({ value: PutFunction.New });
    const key = findChild(put.payload, Tag.SymmetricKey) as StructureNode;
    expect(key).toBeDefined();
    // The key material is the key's: the same bytes a Get returns.
    const got = await ok(c, V2_1, Operation.Get, [uidNode(uid)]);
    expect(encode(findChild(put.payload, Tag.SymmetricKey)!)).toEqual(encode(findChild(got, Tag.SymmetricKey)!));
    expect(findChild(put.payload, Tag.Attributes)).toBeDefined();

    await ok(c, V2_1, Operation.ModifyAttribute, modifyAttributePayload(V2_1, uid, attr.name(`${name}-renamed`)).value);
    // (The Get above turned Fresh false: that change was notified too.)
    const fresh = await sub.waitFor((r) => forUid(uid, Operation.Notify)(r) && findChild(findChild(r.payload, Tag.Attributes), Tag.Fresh) !== undefined);
    expect(findChild(findChild(fresh.payload, Tag.Attributes), Tag.Fresh)).toMatchObject({ value: false });
    const n1 = await sub.waitFor((r) => forUid(uid, Operation.Notify)(r) && findChild(findChild(r.payload, Tag.Attributes), Tag.Name) !== undefined);
    const changed = findChild(n1.payload, Tag.Attributes) as StructureNode;
    expect(findChild(findChild(changed, Tag.Name), Tag.NameValue)).toMatchObject({ value: `${name}-renamed` });
    expect(findChild(changed, Tag.LastChangeDate)).toBeDefined();
    // Only what changed.
    expect(findChild(changed, Tag.CryptographicAlgorithm)).toBeUndefined();

    await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
    const n2 = await sub.waitFor((r) => r !== n1 && forUid(uid, Operation.Notify)(r) && findChild(findChild(r.payload, Tag.Attributes), Tag.State) !== undefined);
    expect(findChild(findChild(n2.payload, Tag.Attributes), Tag.State)).toMatchObject({ value: State.Active });

    const newUid = uidOf(await ok(c, V2_1, Operation.ReKey, [uidNode(uid)]));
    const replace = await sub.waitFor(forUid(newUid, Operation.Put));
    expect(findChild(replace.payload, Tag.PutFunction)).toMatchObject({ value: PutFunction.Replace });
    expect(findChild(replace.payload, Tag.ReplacedUniqueIdentifier)).toMatchObject({ value: uid });
    // The old key changed too (Replacement Object Link): a Notify names it.
    const n3 = await sub.waitFor(
      (r) =>
        forUid(uid, Operation.Notify)(r) &&
        findChildren(findChild(r.payload, Tag.Attributes), Tag.Link).some((l) => (findChild(l, Tag.LinkType) as { value: number }).value === LinkType.ReplacementObjectLink),
    );
    expect(n3).toBeDefined();
  });

  it('no events for objects the subscriber may not access, and none back to the connection that made the change', async () => {
    const { sub: bobSub } = await Subscriber.connect(srv.port, 'bob', V2_1);
    subs.push(bobSub);
    const { sub: aliceSub } = await Subscriber.connect(srv.port, 'alice', V2_1);
    subs.push(aliceSub);
    const alice = await srv.client('alice');
    const uid = uidOf(await ok(alice, V2_1, Operation.Create, aes(V2_1).value));
    await ok(alice, V2_1, Operation.Activate, [uidNode(uid)]);
    await aliceSub.waitFor(forUid(uid, Operation.Notify));
    // The subscriber's own change (on its own connection): alice's other subscriber sees it, it does not.
    const [own] = parseResponse(await aliceSub.request(requestMessage({ version: V2_1, batch: [{ operation: Operation.Create, payload: aes(V2_1) }] }))).items;
    const ownUid = uidOf(own!.payload);
    await (srv.kms.services.serverToClient as ServerToClientHub).idle();
    expect(aliceSub.received.some((r) => uidOf(r.payload) === ownUid)).toBe(false);
    expect(bobSub.received.some((r) => uidOf(r.payload) === uid || uidOf(r.payload) === ownUid)).toBe(false);
    expect(subs[1]!.received.some(forUid(ownUid, Operation.Put))).toBe(true);
  });

  it('a subscriber that never answers does not slow requests: its queue is bounded (serverToClient.maxQueue), the rest dropped and counted', async () => {
    const { sub } = await Subscriber.connect(srv.port, 'kms-client', V2_1, { silent: true });
    subs.push(sub);
    const hub = srv.kms.services.serverToClient as ServerToClientHub;
    const dropped0 = hub.counts.dropped;
    const c = await srv.client('kms-client');
    const t0 = performance.now();
    for (let i = 0; i < 8; i++) await ok(c, V2_1, Operation.Create, aes(V2_1).value);
    const elapsed = performance.now() - t0;
    // The first message waits for an answer that never comes (60 s timeout); the requests did not.
    expect(elapsed).toBeLessThan(30_000);
    expect(sub.received.length).toBe(1);
    // 8 Puts: one in flight, 3 queued, 4 dropped.
    expect(hub.counts.dropped - dropped0).toBe(4);
  });
});

describe('server-to-client turned off', () => {
  let srv: TestKms;
  beforeAll(async () => {
    srv = await startTestKms({ serverToClient: { enabled: false } });
  });
  afterAll(async () => srv.dispose());

  it('Set Endpoint Role Client is refused Feature Not Supported and Query does not list Notify / Put', async () => {
    const { sub, answer } = await Subscriber.connect(srv.port, 'alice', V2_1);
    const item = parseResponse(answer).items[0]!;
    expect(item.status).toBe(ResultStatus.OperationFailed);
    expect(item.reason).toBe(ResultReason.FeatureNotSupported);
    sub.close();
    const c = await srv.client('alice');
    const ops = findChildren(await ok(c, V2_1, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]), Tag.Operation).map((n) => (n as { value: number }).value);
    expect(ops).not.toContain(Operation.Notify);
    expect(ops).toContain(Operation.Poll);
  });
});

/** A client endpoint the server connects to (serverToClient.endpoints): records requests, answers Success. */
async function startReceiver(): Promise<{ port: number; received: Received[]; versions: string[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const versions: string[] = [];
  const files = tlsFiles('kms-client');
  const server = tls.createServer(
    { cert: readFileSync(join(CERTS, 'server.pem')), key: readFileSync(join(CERTS, 'server.key')), ca: files.ca, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      const framer = new TtlvFramer({ maxMessageBytes: 1 << 20 });
      socket.on('data', (chunk: Buffer) => {
        for (const frame of framer.push(chunk)) {
          const node = decode(frame) as StructureNode;
          const header = findChild(node, Tag.RequestHeader) as StructureNode;
          const pv = findChild(header, Tag.ProtocolVersion) as StructureNode;
          versions.push(`${(findChild(pv, Tag.ProtocolVersionMajor) as { value: number }).value}.${(findChild(pv, Tag.ProtocolVersionMinor) as { value: number }).value}`);
          const item = findChild(node, Tag.BatchItem) as StructureNode;
          const op = (findChild(item, Tag.Operation) as { value: number }).value;
          received.push({ operation: op, payload: findChild(item, Tag.RequestPayload) as StructureNode });
          socket.write(
            encode(
              t.struct(Tag.ResponseMessage, [
                t.struct(Tag.ResponseHeader, [pv, t.date(Tag.TimeStamp, BigInt(Math.floor(Date.now() / 1000))), t.int(Tag.BatchCount, 1)]),
                t.struct(Tag.BatchItem, [t.enum(Tag.Operation, op), t.enum(Tag.ResultStatus, ResultStatus.Success)]),
              ]),
            ),
          );
        }
      });
      socket.on('error', () => undefined);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, received, versions, close: () => new Promise((r) => server.close(() => r())) };
}

const endpointFor = (identity: string, port: number, version: string) => ({
  identity,
  host: '127.0.0.1',
  port,
  version,
  servername: 'localhost',
  ca: join(CERTS, 'ca.pem'),
  cert: join(CERTS, 'client.pem'),
  key: join(CERTS, 'client.key'),
});

describe('server-to-client over a configured endpoint (serverToClient.endpoints, KMIP 1.x)', () => {
  let srv: TestKms;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    srv = await startTestKms({
      serverToClient: { endpoints: [endpointFor('alice', receiver.port, '1.4'), endpointFor('bob', 1, '1.4')], retryBaseMs: 50, maxAttempts: 2, responseTimeoutMs: 2000 },
    });
  });
  afterAll(async () => {
    await srv.dispose();
    await receiver.close();
  });

  it('Query at 1.4 lists Notify and Put to an identity with an endpoint, not to one without', async () => {
    const opsFor = async (identity: string) =>
      findChildren(await ok(await srv.client(identity), V1_4, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]), Tag.Operation).map(
        (n) => (n as { value: number }).value,
      );
    expect(await opsFor('alice')).toEqual(expect.arrayContaining([Operation.Notify, Operation.Put]));
    const other = await opsFor('kms-client');
    expect(other).not.toContain(Operation.Notify);
    expect(other).not.toContain(Operation.Put);
  });

  it('the endpoint gets a 1.4 Put with 1.x Attribute structures for a new key, and a Notify after Activate', async () => {
    const c = await srv.client('alice');
    const uid = uidOf(await ok(c, V1_4, Operation.Create, aes(V1_4).value));
    const deadline = Date.now() + 10_000;
    while (!receiver.received.some(forUid(uid, Operation.Put)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const put = receiver.received.find(forUid(uid, Operation.Put))!;
    expect(put).toBeDefined();
    expect(receiver.versions).toContain('1.4');
    expect(findChild(put.payload, Tag.PutFunction)).toMatchObject({ value: PutFunction.New });
    const names = findChildren(put.payload, Tag.Attribute).map((a) => (findChild(a, Tag.AttributeName) as { value: string }).value);
    expect(names).toEqual(expect.arrayContaining(['Cryptographic Algorithm', 'State', 'Last Change Date']));
    await ok(c, V1_4, Operation.Activate, [uidNode(uid)]);
    while (!receiver.received.some(forUid(uid, Operation.Notify)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const notify = receiver.received.find(forUid(uid, Operation.Notify))!;
    const changed = findChildren(notify.payload, Tag.Attribute).map((a) => (findChild(a, Tag.AttributeName) as { value: string }).value);
    expect(changed).toEqual(expect.arrayContaining(['State', 'Activation Date', 'Last Change Date']));
  });

  it("an unreachable endpoint (bob) does not slow bob's requests; its messages fail after the retries and are counted", async () => {
    const hub = srv.kms.services.serverToClient as ServerToClientHub;
    const failed0 = hub.counts.failed;
    const c = await srv.client('bob');
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) await ok(c, V1_4, Operation.Create, aes(V1_4).value);
    expect(performance.now() - t0).toBeLessThan(5_000);
    await hub.idle();
    expect(hub.counts.failed - failed0).toBe(3);
  });
});
