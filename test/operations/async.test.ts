/**
 * Asynchronous operations over the real server (mTLS): Operation Pending, Poll, Cancel
 * (operations/async-requests.ts, poll.ts, cancel.ts; KMIP 1.4 §4.27-4.28, §6.7-6.9; 2.1 §6.1.5,
 * §6.1.36). Threshold 0 makes every eligible item go Pending at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, parseResponse, requestMessage, type KmipClient, type KmipVersion, type ResponseItem } from '../../src/client/index.js';
import { AsynchronousIndicator, CancellationResult, CryptographicAlgorithm, ObjectType, Operation, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { keyPairPayload, pairUids } from './asymmetric-kit.js';
import { ok, uidNode, V1_4, V2_1 } from './object-kit.js';

const pairPayload = (v: KmipVersion): TtlvNode[] =>
  keyPairPayload(
    v,
    [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)],
    [attr.cryptographicUsageMask(CryptographicUsageMask.Sign)],
    [attr.cryptographicUsageMask(CryptographicUsageMask.Verify)],
  );

const acv = (value: Uint8Array) => t.bytes(Tag.AsynchronousCorrelationValue, value);

async function send(c: KmipClient, v: KmipVersion, items: { operation: number; payload: readonly TtlvNode[] }[], header: Record<string, unknown> = {}): Promise<readonly ResponseItem[]> {
  const res = parseResponse(
    await c.send(requestMessage({ version: v, batch: items.map((i) => ({ operation: i.operation, payload: t.struct(Tag.RequestPayload, [...i.payload]) })), ...header })),
  );
  return res.items;
}

const allow = (v: KmipVersion) => ({ asynchronousIndicator: v.major >= 2 ? AsynchronousIndicator.Optional : true });

/** Poll until the item is no longer pending (bounded). */
async function pollDone(c: KmipClient, v: KmipVersion, value: Uint8Array): Promise<ResponseItem> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [item] = await send(c, v, [{ operation: Operation.Poll, payload: [acv(value)] }]);
    if (item!.status !== ResultStatus.OperationPending) return item!;
    expect(item!.asynchronousCorrelationValue).toEqual(value);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('still pending after 60 s of polling');
}

describe('asynchronous operations (threshold 0)', () => {
  let srv: TestKms;
  beforeAll(async () => {
    srv = await startTestKms({ async: { pendingAfterMs: 0, maxPendingPerIdentity: 3, maxPending: 100, resultTtlMs: 60_000 } });
  });
  afterAll(async () => srv.dispose());

  for (const v of [V1_4, V2_1]) {
    it(`${v.major}.${v.minor}: Create Key Pair answers Pending; Poll returns the pair once (the keys exist); a second Poll gets the spec's reason`, async () => {
      const c = await srv.client('alice');
      const [pending] = await send(c, v, [{ operation: Operation.CreateKeyPair, payload: pairPayload(v) }], allow(v));
      expect(pending!.status).toBe(ResultStatus.OperationPending);
      expect(pending!.operation).toBe(Operation.CreateKeyPair);
      expect(pending!.payload).toBeUndefined();
      const value = pending!.asynchronousCorrelationValue!;
      expect(value.length).toBeGreaterThanOrEqual(16);

      const done = await pollDone(c, v, value);
      expect(done.status).toBe(ResultStatus.Success);
      expect(done.operation).toBe(Operation.Poll);
      const { priv, pub } = pairUids(done.payload!);
      // The keys exist and belong to the caller.
      for (const uid of [priv, pub]) {
        const got = await ok(c, v, Operation.GetAttributes, [uidNode(uid)]);
        expect(got.value.length).toBeGreaterThan(1);
      }
      const got = await ok(c, v, Operation.Get, [uidNode(pub)]);
      expect(findChild(got, Tag.ObjectType)).toMatchObject({ value: ObjectType.PublicKey });

      const [again] = await send(c, v, [{ operation: Operation.Poll, payload: [acv(value)] }]);
      expect(again!.status).toBe(ResultStatus.OperationFailed);
      expect(again!.reason).toBe(v.major >= 2 ? ResultReason.InvalidAsynchronousCorrelationValue : ResultReason.ItemNotFound);
    });
  }

  it('another identity cannot poll or cancel the result (unknown to it); the owner still can', async () => {
    const alice = await srv.client('alice');
    const bob = await srv.client('bob');
    const [pending] = await send(alice, V2_1, [{ operation: Operation.CreateKeyPair, payload: pairPayload(V2_1) }], allow(V2_1));
    const value = pending!.asynchronousCorrelationValue!;
    const [theirs] = await send(bob, V2_1, [{ operation: Operation.Poll, payload: [acv(value)] }]);
    expect(theirs!.reason).toBe(ResultReason.InvalidAsynchronousCorrelationValue);
    const [cancel] = await send(bob, V2_1, [{ operation: Operation.Cancel, payload: [acv(value)] }]);
    expect(findChild(cancel!.payload, Tag.CancellationResult)).toMatchObject({ value: CancellationResult.Unavailable });
    expect((await pollDone(alice, V2_1, value)).status).toBe(ResultStatus.Success);
  });

  it('Cancel: Completed for a finished item (still pollable), Failed for one that failed, Unavailable for an unknown value', async () => {
    const c = await srv.client('alice');
    const [a] = await send(c, V2_1, [{ operation: Operation.CreateKeyPair, payload: pairPayload(V2_1) }], allow(V2_1));
    // Wait for it to finish without consuming it: Cancel answers Completed once it has.
    let result: number | undefined;
    for (let i = 0; i < 200; i++) {
      const [r] = await send(c, V2_1, [{ operation: Operation.Cancel, payload: [acv(a!.asynchronousCorrelationValue!)] }]);
      expect(r!.status).toBe(ResultStatus.Success);
      expect(findChild(r!.payload, Tag.AsynchronousCorrelationValue)).toMatchObject({ value: a!.asynchronousCorrelationValue });
      result = (findChild(r!.payload, Tag.CancellationResult) as { value: number }).value;
      if (result !== CancellationResult.UnableToCancel) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(result).toBe(CancellationResult.Completed);
    expect((await pollDone(c, V2_1, a!.asynchronousCorrelationValue!)).status).toBe(ResultStatus.Success);

    // An eligible item that fails (P-192 is not a curve the server generates).
    const bad = keyPairPayload(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(192)]);
    // (Mandatory: under Optional a refusal this fast may beat even a 0 ms threshold and be answered synchronously.)
    const [f] = await send(c, V2_1, [{ operation: Operation.CreateKeyPair, payload: bad }], { asynchronousIndicator: AsynchronousIndicator.Mandatory });
    expect(f!.status, `answered ${JSON.stringify({ status: f!.status, reason: f!.reason, message: f!.message })}`).toBe(ResultStatus.OperationPending);
    for (let i = 0; i < 200; i++) {
      const [r] = await send(c, V2_1, [{ operation: Operation.Cancel, payload: [acv(f!.asynchronousCorrelationValue!)] }]);
      result = (findChild(r!.payload, Tag.CancellationResult) as { value: number }).value;
      if (result !== CancellationResult.UnableToCancel) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(result).toBe(CancellationResult.Failed);
    const failed = await pollDone(c, V2_1, f!.asynchronousCorrelationValue!);
    expect(failed.status).toBe(ResultStatus.OperationFailed);
    expect(failed.reason).toBeDefined();

    const [u] = await send(c, V2_1, [{ operation: Operation.Cancel, payload: [acv(Buffer.alloc(16, 7))] }]);
    expect(findChild(u!.payload, Tag.CancellationResult)).toMatchObject({ value: CancellationResult.Unavailable });
  });

  it('a batch: the item after a pending one is Pending too, runs after it (ID Placeholder), and a queued item can be Canceled', { timeout: 120_000 }, async () => {
    const c = await srv.client('kms-client');
    const create = { operation: Operation.CreateKeyPair, payload: pairPayload(V2_1) };
    // Item 2 (Activate) uses the ID Placeholder item 1 sets (the private key).
    const items = await send(c, V2_1, [create, { operation: Operation.Activate, payload: [] }], allow(V2_1));
    expect(items.map((i) => i.status)).toEqual([ResultStatus.OperationPending, ResultStatus.OperationPending]);
    const first = await pollDone(c, V2_1, items[0]!.asynchronousCorrelationValue!);
    const second = await pollDone(c, V2_1, items[1]!.asynchronousCorrelationValue!);
    expect(second.status).toBe(ResultStatus.Success);
    expect(findChild(second.payload, Tag.UniqueIdentifier)).toMatchObject({ value: pairUids(first.payload!).priv });

    // Three key pairs in a row (Mandatory), the first a slow RSA-4096: the first is running (Unable
    // to Cancel: it completes), the third waits behind it and is canceled.
    const slow = { operation: Operation.CreateKeyPair, payload: keyPairPayload(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(4096)]) };
    const three = await send(c, V2_1, [slow, create, create], { asynchronousIndicator: AsynchronousIndicator.Mandatory });
    expect(three.every((i) => i.status === ResultStatus.OperationPending)).toBe(true);
    const [running] = await send(c, V2_1, [{ operation: Operation.Cancel, payload: [acv(three[0]!.asynchronousCorrelationValue!)] }]);
    expect(findChild(running!.payload, Tag.CancellationResult)).toMatchObject({ value: CancellationResult.UnableToCancel });
    const [cx] = await send(c, V2_1, [{ operation: Operation.Cancel, payload: [acv(three[2]!.asynchronousCorrelationValue!)] }]);
    expect(findChild(cx!.payload, Tag.CancellationResult)).toMatchObject({ value: CancellationResult.Canceled });
    const [gone] = await send(c, V2_1, [{ operation: Operation.Poll, payload: [acv(three[2]!.asynchronousCorrelationValue!)] }]);
    expect(gone!.reason).toBe(ResultReason.InvalidAsynchronousCorrelationValue);
    for (const i of three.slice(0, 2)) expect((await pollDone(c, V2_1, i.asynchronousCorrelationValue!)).status).toBe(ResultStatus.Success);
  });

  it('limits: Mandatory over async.maxPendingPerIdentity is refused Server Limit Exceeded; Optional then answers synchronously', async () => {
    const c = await srv.client('bob');
    const create = { operation: Operation.CreateKeyPair, payload: pairPayload(V2_1) };
    const held = await send(c, V2_1, [create, create, create], { asynchronousIndicator: AsynchronousIndicator.Mandatory });
    expect(held.every((i) => i.status === ResultStatus.OperationPending)).toBe(true);
    const [refused] = await send(c, V2_1, [create], { asynchronousIndicator: AsynchronousIndicator.Mandatory });
    expect(refused!.status).toBe(ResultStatus.OperationFailed);
    expect(refused!.reason).toBe(ResultReason.ServerLimitExceeded);
    const [sync] = await send(c, V2_1, [create], allow(V2_1));
    expect(sync!.status).toBe(ResultStatus.Success);
    expect(pairUids(sync!.payload!).priv).toMatch(/./);
    // Another identity is not affected by bob's held results.
    const alice = await srv.client('alice');
    const [other] = await send(alice, V2_1, [create], { asynchronousIndicator: AsynchronousIndicator.Mandatory });
    expect(other!.status).toBe(ResultStatus.OperationPending);
    await pollDone(alice, V2_1, other!.asynchronousCorrelationValue!);
    for (const i of held) await pollDone(c, V2_1, i.asynchronousCorrelationValue!);
  });

  it('an item not eligible (Get, Query) is answered synchronously under 1.x True; a Poll in a batch after a pending item is answered at once', async () => {
    const c = await srv.client('alice');
    const [q] = await send(c, V1_4, [{ operation: Operation.Query, payload: [] }], allow(V1_4));
    expect(q!.status).toBe(ResultStatus.Success);
    const [p1] = await send(c, V2_1, [{ operation: Operation.CreateKeyPair, payload: pairPayload(V2_1) }], allow(V2_1));
    const both = await send(
      c,
      V2_1,
      [
        { operation: Operation.CreateKeyPair, payload: pairPayload(V2_1) },
        { operation: Operation.Poll, payload: [acv(p1!.asynchronousCorrelationValue!)] },
      ],
      allow(V2_1),
    );
    expect(both[0]!.status).toBe(ResultStatus.OperationPending);
    expect([ResultStatus.OperationPending, ResultStatus.Success]).toContain(both[1]!.status);
    expect(both[1]!.operation).toBe(Operation.Poll);
    await pollDone(c, V2_1, both[0]!.asynchronousCorrelationValue!);
    if (both[1]!.status === ResultStatus.OperationPending) await pollDone(c, V2_1, p1!.asynchronousCorrelationValue!);
  });
});

describe('asynchronous operations: the default threshold answers a fast item synchronously', () => {
  let srv: TestKms;
  beforeAll(async () => {
    srv = await startTestKms({ async: { pendingAfterMs: 60_000 } });
  });
  afterAll(async () => srv.dispose());

  it('1.x Asynchronous Indicator True: a Create Key Pair that finishes within the threshold is answered synchronously', async () => {
    const c = await srv.client('alice');
    const [item] = await send(c, V1_4, [{ operation: Operation.CreateKeyPair, payload: pairPayload(V1_4) }], { asynchronousIndicator: true });
    expect(item!.status).toBe(ResultStatus.Success);
    expect(item!.asynchronousCorrelationValue).toBeUndefined();
    expect(pairUids(item!.payload!).pub).toMatch(/./);
  });
});
