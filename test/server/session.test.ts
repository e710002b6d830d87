/**
 * Session fixes (issue #14): every `drained()` waiter is resolved (a second one used to replace
 * the first), and a failure of a connection's request loop closes that connection with a log
 * line while the server serves the next one. On a second real listener over the services of a
 * running server, as test/server/budgets.test.ts does for encode failures.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmipClient, parseResponse, requestMessage } from '../../src/client/index.js';
import { KmsMetrics } from '../../src/http/metrics.js';
import { Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { HANDLERS } from '../../src/operations/index.js';
import type { ServerServices } from '../../src/operations/context.js';
import { DEFAULT_SERVER_LIMITS } from '../../src/server/limits.js';
import { KmipServer } from '../../src/server/server.js';
import { t } from '../../src/ttlv/index.js';
import { CERTS, startTestKms, tlsFiles, type TestKms } from '../support/kms.js';
import { V2_1 } from '../operations/object-kit.js';

let srv: TestKms;
beforeAll(async () => {
  srv = await startTestKms();
});
afterAll(() => srv?.dispose());

const TLS = { cert: readFileSync(join(CERTS, 'server.pem')), key: readFileSync(join(CERTS, 'server.key')), ca: readFileSync(join(CERTS, 'ca.pem')) };
const rng = { operation: Operation.RNGRetrieve, payload: t.struct(Tag.RequestPayload, [t.int(Tag.DataLength, 8)]) };
const connect = (port: number) => KmipClient.connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(), timeoutMs: 5000 });
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);

describe('Session.drained', () => {
  it('resolves every waiter: two closes during a request in flight both finish, and the request is answered', async () => {
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const handlers = new Map(HANDLERS);
    const rngHandler = HANDLERS.get(Operation.RNGRetrieve)!;
    handlers.set(Operation.RNGRetrieve, {
      ...rngHandler,
      handle: async (ctx, payload) => {
        entered();
        await released;
        return rngHandler.handle(ctx, payload);
      },
    });
    const server = new KmipServer({ host: '127.0.0.1', port: 0, tls: TLS, identity: 'cn', limits: DEFAULT_SERVER_LIMITS, services: srv.kms.services, handlers });
    const { port } = await server.listen();
    const client = await connect(port);
    const answer = client.send(requestMessage({ version: V2_1, batch: [rng] }));
    await inHandler;
    // Each close waits for the session to drain: two waiters on one session.
    const first = server.close();
    const second = server.close();
    release();
    expect(await within(Promise.all([first, second]), 5000)).not.toBe('timeout');
    expect(parseResponse(await answer).items[0]!.status).toBe(ResultStatus.Success);
    await client.close().catch(() => undefined);
  });
});

describe('a failure of the request loop', () => {
  it('closes that connection with a log line; the server serves the next connection', async () => {
    // Anything that escapes the dispatcher stands in here: the exchange metric throws, once.
    let failures = 1;
    class FailingOnceMetrics extends KmsMetrics {
      override observeExchange(...args: Parameters<KmsMetrics['observeExchange']>): void {
        if (failures-- > 0) throw new Error('metrics sink failed');
        super.observeExchange(...args);
      }
    }
    const lines: string[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const services: ServerServices = { ...srv.kms.services, log, metrics: new FailingOnceMetrics({}, { processMetrics: false }) };
    const server = new KmipServer({ host: '127.0.0.1', port: 0, tls: TLS, identity: 'cn', limits: DEFAULT_SERVER_LIMITS, services, handlers: HANDLERS });
    const { port } = await server.listen();
    try {
      const victim = await connect(port);
      await expect(victim.send(requestMessage({ version: V2_1, batch: [rng] }))).rejects.toThrow(/closed/i);
      expect(victim.isOpen).toBe(false);
      const failed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message?: string } }).filter((l) => l.msg === 'request handling failed; closing the connection');
      expect(failed).toHaveLength(1);
      expect(failed[0]!.level).toBe(50);
      expect(failed[0]!.err?.message).toBe('metrics sink failed');
      await victim.close().catch(() => undefined);

      const next = await connect(port);
      expect(parseResponse(await next.send(requestMessage({ version: V2_1, batch: [rng] }))).items[0]!.status).toBe(ResultStatus.Success);
      await next.close();
    } finally {
      await server.close();
    }
  });
});
