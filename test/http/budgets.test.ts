/**
 * #17: the HTTPS listener keeps the KMIP port's connection budgets, over real sockets on
 * loopback: connections still in the TLS handshake (limits.maxHandshakes, and
 * limits.maxHandshakesPerAddress from one address) and established ones
 * (limits.maxConnections) are counted; a connection over one is closed at once, the refusal
 * is counted in kms_connection_refusals_total by reason (the Prometheus text parsed) and
 * audited as ConnectionDropped; a handshake past limits.handshakeTimeoutMs is cut. Clients
 * that finish their handshake keep getting in past peers that never start one.
 */
import { request } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../../src/server/limits.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { startTestKms, tlsFiles, type TestKms } from '../support/kms.js';
import { readLog } from '../audit/helpers.js';

let srv: TestKms | undefined;
afterEach(async () => {
  await srv?.dispose();
  srv = undefined;
});

async function serverWith(limits: Partial<ServerLimits>): Promise<{ s: TestKms; port: number }> {
  srv = await startTestKms({ httpsPort: 'ephemeral', limits: { ...DEFAULT_SERVER_LIMITS, ...limits } });
  return { s: srv, port: srv.kms.httpsAddress!.port };
}

function tcp(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.on('error', reject);
  });
}

function closedWithin(sock: Socket | TLSSocket, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    if (sock.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

/** A finished mutual-TLS handshake, held open (no request sent). */
function mtls(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles() }, () => resolve(s));
    s.on('error', reject);
  });
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', servername: 'localhost', agent: false, ...tlsFiles() }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** kms_connection_refusals_total by transport and reason, from the parsed exposition text. */
async function refusals(port: number): Promise<Map<string, number>> {
  const r = await get(port, '/metrics');
  expect(r.status).toBe(200);
  const out = new Map<string, number>();
  for (const line of r.body.split('\n')) {
    const m = /^kms_connection_refusals_total\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    out.set(`${labels.transport}/${labels.reason}`, Number(m[2]));
  }
  return out;
}

/** Wait until the server has seen `socks` close (they leave its handshake budget). */
async function released(socks: readonly Socket[]): Promise<void> {
  for (const x of socks) x.destroy();
  await new Promise((r) => setTimeout(r, 100));
}

async function dropsAfterStop(s: TestKms): Promise<(AuditRecord & { reason?: string; message?: string; addr?: string })[]> {
  await s.stop();
  const { records } = await readLog(s.dataDir);
  return records.filter((r) => r.kind === 'conn' && (r as { op?: string }).op === 'ConnectionDropped') as never;
}

describe("the HTTPS listener has the KMIP port's connection budgets", () => {
  it('limits.maxHandshakesPerAddress: silent peers from one address lock out nobody else; one more from it is closed at once', async () => {
    const { s, port } = await serverWith({ maxHandshakes: 16, maxHandshakesPerAddress: 2 });
    const silent = [await tcp(port, '127.0.0.2'), await tcp(port, '127.0.0.2')];
    for (const x of silent) x.on('error', () => undefined);
    expect((await get(port, '/livez')).status).toBe(200);
    const third = await tcp(port, '127.0.0.2');
    third.on('error', () => undefined);
    expect(await closedWithin(third, 2000)).toBeLessThan(2000);
    expect(silent.every((x) => !x.destroyed)).toBe(true);
    expect(s.kms.https!.handshaking).toBe(2);
    await released(silent);
    expect(s.kms.https!.handshaking).toBe(0);
    const counted = await refusals(port);
    expect(counted.get('https/address_handshake_limit')).toBe(1);
    expect(counted.get('kmip/address_handshake_limit')).toBeUndefined();
    const drop = (await dropsAfterStop(s)).find((r) => r.reason === 'AddressHandshakeLimit');
    expect(drop?.addr).toBe('127.0.0.2');
    expect(drop?.message).toMatch(/HTTPS .*limits\.maxHandshakesPerAddress/);
  });

  it('limits.maxHandshakes: over the budget a new TCP connection is closed at once; once they go, clients get in again', async () => {
    const { s, port } = await serverWith({ maxHandshakes: 3, maxHandshakesPerAddress: 10 });
    const held = [await tcp(port, '127.0.0.2'), await tcp(port, '127.0.0.3'), await tcp(port, '127.0.0.4')];
    for (const x of held) x.on('error', () => undefined);
    const over = await tcp(port, '127.0.0.5');
    over.on('error', () => undefined);
    expect(await closedWithin(over, 2000)).toBeLessThan(2000);
    // A real client too: its connection is refused before its handshake.
    await expect(get(port, '/livez')).rejects.toThrow();
    await released(held);
    expect((await get(port, '/livez')).status).toBe(200);
    const counted = await refusals(port);
    expect(counted.get('https/handshake_budget')).toBe(2);
    expect(counted.get('kmip/handshake_budget')).toBeUndefined();
    const drops = (await dropsAfterStop(s)).filter((r) => r.reason === 'HandshakeBudget');
    expect(drops.length).toBeGreaterThan(0);
    expect(drops[0]!.message).toMatch(/3 HTTPS connections in the TLS handshake, the limit \(limits\.maxHandshakes\) is 3/);
  });

  it('limits.maxConnections: with the established connections all taken, a new one is closed at once', async () => {
    const { s, port } = await serverWith({ maxConnections: 2 });
    const open = [await mtls(port), await mtls(port)];
    await new Promise((r) => setTimeout(r, 50));
    expect(s.kms.https!.connections).toBe(2);
    const third = await tcp(port, '127.0.0.2');
    third.on('error', () => undefined);
    expect(await closedWithin(third, 2000)).toBeLessThan(2000);
    expect(open.every((x) => !x.destroyed)).toBe(true);
    for (const x of open) x.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await refusals(port)).get('https/connection_limit')).toBe(1);
    const drop = (await dropsAfterStop(s)).find((r) => r.reason === 'ConnectionLimit');
    expect(drop?.message).toMatch(/2 HTTPS connections open, the limit \(limits\.maxConnections\) is 2/);
  });

  it('limits.handshakeTimeoutMs: a peer that never finishes its handshake is cut at the deadline and counted', async () => {
    const { s, port } = await serverWith({ handshakeTimeoutMs: 300 });
    const silent = await tcp(port, '127.0.0.2');
    silent.on('error', () => undefined);
    const ms = await closedWithin(silent, 3000);
    expect(ms).toBeGreaterThan(200);
    expect(s.kms.https!.handshaking).toBe(0);
    const counted = await refusals(port);
    expect(counted.get('https/handshake_timeout')).toBe(1);
    expect(counted.get('https/tls')).toBeUndefined();
    expect((await dropsAfterStop(s)).some((r) => r.reason === 'HandshakeTimeout')).toBe(true);
  });

  it('the KMIP port counts its budget refusals in the same family (transport kmip)', async () => {
    const { s, port } = await serverWith({ maxHandshakes: 64, maxHandshakesPerAddress: 1 });
    const held = await tcp(s.port, '127.0.0.2');
    held.on('error', () => undefined);
    const over = await tcp(s.port, '127.0.0.2');
    over.on('error', () => undefined);
    expect(await closedWithin(over, 2000)).toBeLessThan(2000);
    await released([held]);
    const counted = await refusals(port);
    expect(counted.get('kmip/address_handshake_limit')).toBe(1);
    expect(counted.get('https/address_handshake_limit')).toBeUndefined();
  });
});
