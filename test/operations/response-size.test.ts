/**
 * The response budget (the client's Maximum Response Size, limits.maxResponseBytes) is counted
 * per batch item as the items run: the dispatcher adds each item's encoded node to the length of
 * a response without items, instead of building and measuring whole messages. These tests pin
 * that the sum is the real encoded length, to the byte: in the message builder for every kind
 * of item, and at a real server where a response of exactly the Maximum Response Size is served
 * and one byte less is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResponse, requestMessage, type KmipClient } from '../../src/client/index.js';
import { buildResponseMessage, responseBatchItem, type ResponseItem } from '../../src/kmip/messages.js';
import { Operation, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { decode, encode, encodedLength, t } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { V1_4, V2_1 } from './object-kit.js';

const ITEMS: ResponseItem[] = [
  { operation: Operation.Get, uniqueBatchItemId: new Uint8Array([1, 2, 3]), status: ResultStatus.Success, payload: t.struct(Tag.ResponsePayload, [t.text(Tag.UniqueIdentifier, 'a-uid')]) },
  // A 2.x reason a 1.x client gets mapped, and a message the builder rewrites to ASCII ("§" → "section ").
  { operation: Operation.Activate, status: ResultStatus.OperationFailed, reason: ResultReason.WrongKeyLifecycleState, message: 'not Pre-Active (§ 4.1, “quoted”)' },
  { operation: Operation.Locate, status: ResultStatus.OperationPending, asynchronousCorrelationValue: new Uint8Array(16).fill(9) },
  { status: ResultStatus.OperationFailed, reason: ResultReason.InvalidMessage, message: 'no operation' },
];

describe('a response item sized alone', () => {
  for (const version of [V1_4, V2_1]) {
    it(`KMIP ${version.major}.${version.minor}: the empty response plus each item's node is the encoded length of the whole response`, () => {
      const h = { version, timeStamp: 1_700_000_000n };
      const empty = encodedLength(buildResponseMessage(h, []));
      for (let n = 1; n <= ITEMS.length; n++) {
        const items = ITEMS.slice(0, n);
        const summed = items.reduce((sum, it) => sum + encodedLength(responseBatchItem(it, version)), empty);
        expect(summed).toBe(encode(buildResponseMessage(h, items)).length);
      }
    });
  }
});

describe('Maximum Response Size at the byte', () => {
  let srv: TestKms;
  let c: KmipClient;
  beforeAll(async () => {
    srv = await startTestKms();
    c = await srv.client();
  });
  afterAll(() => srv?.dispose());

  const rng = (n: number) => ({ operation: Operation.RNGRetrieve, payload: t.struct(Tag.RequestPayload, [t.int(Tag.DataLength, n)]) });
  const ask = async (maximumResponseSize?: number) => {
    const bytes = await c.sendRaw(encode(requestMessage({ version: V2_1, ...(maximumResponseSize !== undefined && { maximumResponseSize }), batch: [rng(1000), rng(1000)] })));
    return { length: bytes.length, items: parseResponse(decode(bytes)).items };
  };

  it('a response of exactly the size is served whole; one byte less ends the batch with Response Too Large', async () => {
    const free = await ask();
    expect(free.items.map((i) => i.status)).toEqual([ResultStatus.Success, ResultStatus.Success]);
    const exact = await ask(free.length);
    expect(exact.items.map((i) => i.status)).toEqual([ResultStatus.Success, ResultStatus.Success]);
    expect(exact.length).toBe(free.length);
    const under = await ask(free.length - 1);
    expect(under.items).toHaveLength(2);
    for (const item of under.items) expect(item.reason).toBe(ResultReason.ResponseTooLarge);
  });
});
