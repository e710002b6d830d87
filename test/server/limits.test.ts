/**
 * The named server limits, exercised over real sockets: idle timeout, handshake timeout,
 * connection cap, and pipelined requests (more than maxPipelined in one write) answered
 * in order.
 */
import { connect as netConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverVersionsPayload, parseResponse, requestMessage } from '../../src/client/requests.js';
import { Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../../src/server/limits.js';
import { decode, encode, TtlvFramer, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, tlsFiles, type TestKms } from '../support/kms.js';

let srv: TestKms | undefined;
afterEach(async () => {
  await srv?.dispose();
  srv = undefined;
});

async function serverWith(limits: Partial<ServerLimits>): Promise<TestKms> {
  srv = await startTestKms({ limits: { ...DEFAULT_SERVER_LIMITS, ...limits } });
  return srv;
}

function tlsSocket(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles() }, () => resolve(s));
    s.on('error', reject);
  });
}

function closedWithin(sock: { once(e: 'close', f: () => void): unknown }, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

const v = { major: 2, minor: 1 };

describe('server limits', () => {
  it('idleTimeoutMs: a connection with no traffic is closed', async () => {
    const s = await serverWith({ idleTimeoutMs: 300 });
    const sock = await tlsSocket(s.port);
    sock.on('error', () => undefined);
    const ms = await closedWithin(sock, 3000);
    expect(ms).toBeGreaterThanOrEqual(250);
  });

  it('handshakeTimeoutMs: a TCP peer that never starts TLS is dropped', async () => {
    const s = await serverWith({ handshakeTimeoutMs: 300 });
    const sock = netConnect({ host: '127.0.0.1', port: s.port });
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const ms = await closedWithin(sock, 3000);
    expect(ms).toBeGreaterThanOrEqual(250);
  });

  it('maxConnections: the connection over the cap is refused; those within it keep working', async () => {
    const s = await serverWith({ maxConnections: 2 });
    const a = await s.client();
    const b = await s.client();
    const third = await new Promise<'refused' | 'served'>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port: s.port, servername: 'localhost', ...tlsFiles() }, () => {
        sock.write(encode(requestMessage({ version: v, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] })));
      });
      sock.on('data', () => resolve('served'));
      sock.on('error', () => resolve('refused'));
      sock.on('close', () => resolve('refused'));
    });
    expect(third).toBe('refused');
    for (const c of [a, b]) {
      const r = parseResponse(await c.send(requestMessage({ version: v, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] })));
      expect(r.items[0]!.status).toBe(ResultStatus.Success);
    }
  });

  it('maxPipelined: 40 requests in one write are all answered, in order', async () => {
    const s = await serverWith({ maxPipelined: 4 });
    const sock = await tlsSocket(s.port);
    const n = 40;
    const batch = Buffer.concat(
      Array.from({ length: n }, (_, i) =>
        encode(requestMessage({ version: v, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]), uniqueBatchItemId: Buffer.from([i]) }] })),
      ),
    );
    const framer = new TtlvFramer();
    const got: TtlvNode[] = [];
    const done = new Promise<void>((resolve) =>
      sock.on('data', (c: Buffer) => {
        for (const f of framer.push(c)) got.push(decode(f));
        if (got.length === n) resolve();
      }),
    );
    sock.write(batch);
    await done;
    sock.destroy();
    expect(got.map((m) => Buffer.from(parseResponse(m).items[0]!.uniqueBatchItemId!)[0])).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});
