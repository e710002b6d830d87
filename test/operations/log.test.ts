/**
 * Log (KMIP 2.1 §6.1.29; test case BL-M-1-21) over a real mTLS server: the message reaches the
 * server log with the client's identity, cut to LOG_MESSAGE_MAX; the response payload is empty;
 * no Log Message is Invalid Field; KMIP 1.x has no Log operation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import { Operation, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { LOG_MESSAGE_MAX } from '../../src/operations/query-and-session/log.js';
import { t } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { fails, ok, V1_4, V2_1 } from './object-kit.js';

const lines: string[] = [];
let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms({}, { captureLog: lines });
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const logged = (): Array<Record<string, unknown>> => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'client Log message');

describe('Log', () => {
  it('writes the message to the server log with the client identity; empty response payload', async () => {
    const p = await ok(c, V2_1, Operation.Log, [t.text(Tag.LogMessage, 'BL-M-1-21 hello')]);
    expect(p.value).toEqual([]);
    const rec = logged().find((r) => r.logMessage === 'BL-M-1-21 hello');
    expect(rec?.client).toBe('kms-client');
  });

  it('a long message is cut to LOG_MESSAGE_MAX characters and says how long it was', async () => {
    await ok(c, V2_1, Operation.Log, [t.text(Tag.LogMessage, 'x'.repeat(LOG_MESSAGE_MAX + 500))]);
    const rec = logged().find((r) => r.truncatedFrom === LOG_MESSAGE_MAX + 500);
    expect((rec?.logMessage as string).length).toBe(LOG_MESSAGE_MAX);
  });

  it('no Log Message: Invalid Field; KMIP 1.4: Operation Not Supported', async () => {
    expect((await fails(c, V2_1, Operation.Log, [])).reason).toBe(ResultReason.InvalidField);
    expect((await fails(c, V1_4, Operation.Log, [t.text(Tag.LogMessage, 'x')])).reason).toBe(ResultReason.OperationNotSupported);
  });
});
