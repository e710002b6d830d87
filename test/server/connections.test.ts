/**
 * #13 item 3 (connections) and #16 item 4 (new connections in milliseconds), over real
 * sockets and real mutual TLS on loopback: the handshake budget and its per-address limit,
 * the whole-handshake and whole-request deadlines, renegotiation, the outer header checked
 * before the body, AEAD-only TLS 1.2 suites, refused certificates logged and audited with
 * their reason, connection-level events in the audit trail (which `kms audit verify` still
 * accepts), and TLS session resumption.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, createServer, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KmipClient } from '../../src/client/index.js';
import { discoverVersionsPayload, parseResponse, requestMessage } from '../../src/client/requests.js';
import { loadConfig } from '../../src/config/config.js';
import { Operation, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { generateDevCerts, issueClientCert } from '../../src/pki/dev-certs.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../../src/server/limits.js';
import type { AuditRecord, OpRecord } from '../../src/audit/record.js';
import { decode, encode, fromHex, t, TtlvFramer, type TtlvNode } from '../../src/ttlv/index.js';
import { CERTS, startTestKms, tlsFiles, type TestKms } from '../support/kms.js';
import { ensureBuilt, kms, readLog } from '../audit/helpers.js';

let srv: TestKms | undefined;
let log: string[] = [];
afterEach(async () => {
  await srv?.dispose();
  srv = undefined;
});

beforeAll(() => ensureBuilt());

async function serverWith(limits: Partial<ServerLimits>): Promise<TestKms> {
  log = [];
  srv = await startTestKms({ limits: { ...DEFAULT_SERVER_LIMITS, ...limits } }, { captureLog: log });
  return srv;
}

const v21 = { major: 2, minor: 1 };
const discover = () => encode(requestMessage({ version: v21, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] }));

/** Stop the server and read its audit log (then `kms audit verify` must still pass). */
async function auditAfterStop(s: TestKms): Promise<AuditRecord[]> {
  await s.stop();
  const { records } = await readLog(s.dataDir);
  const verified = kms('audit', 'verify', '--data-dir', s.dataDir);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  return records;
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

function tcp(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.on('error', reject);
  });
}

/** One DiscoverVersions on a fresh mutual-TLS connection from 127.0.0.1. */
async function servedFresh(port: number): Promise<number> {
  const c = await KmipClient.connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(), timeoutMs: 3000 });
  try {
    return parseResponse(await c.send(requestMessage({ version: v21, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] }))).items[0]!.status;
  } finally {
    await c.close();
  }
}

interface Exchange {
  frames: TtlvNode[];
  closed: boolean;
  ms: number;
  error?: string;
}

/** Open a TLS connection, run `act` once connected, collect response frames until close or `waitMs`. */
function exchange(port: number, act: (s: TLSSocket) => void, waitMs: number, tlsOpts: object = tlsFiles()): Promise<Exchange> {
  const started = Date.now();
  return new Promise((resolve) => {
    const frames: TtlvNode[] = [];
    const framer = new TtlvFramer({ maxMessageBytes: 1 << 20 });
    let done = false;
    const finish = (closed: boolean, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ frames, closed, ms: Date.now() - started, error });
    };
    const sock: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsOpts }, () => act(sock));
    sock.on('data', (c: Buffer) => {
      for (const f of framer.push(c)) frames.push(decode(f));
    });
    sock.on('close', () => finish(true));
    sock.on('error', (e) => finish(true, e.message));
    const timer = setTimeout(() => finish(false), waitMs);
  });
}

const connRecords = (records: AuditRecord[]) => records.filter((r) => r.kind === 'conn') as (OpRecord & { reason: string })[];

describe('the TLS handshake has a budget of its own', () => {
  it('20 silent TCP sockets lock out nobody: an mTLS client still gets in, the overflow is audited', async () => {
    const s = await serverWith({ maxConnections: 20, maxHandshakes: 64, maxHandshakesPerAddress: 4, handshakeTimeoutMs: 10_000 });
    // 20 peers that never speak TLS, from five other loopback addresses (4 each: the per-address limit).
    const silent: Socket[] = [];
    for (let i = 0; i < 20; i++) silent.push(await tcp(s.port, `127.0.0.${2 + (i % 5)}`));
    for (const x of silent) x.on('error', () => undefined);
    expect(await servedFresh(s.port)).toBe(ResultStatus.Success);
    // A fifth from one address is over maxHandshakesPerAddress: closed at once.
    const fifth = await tcp(s.port, '127.0.0.2');
    fifth.on('error', () => undefined);
    expect(await closedWithin(fifth, 2000)).toBeLessThan(2000);
    expect(silent.every((x) => !x.destroyed)).toBe(true);
    for (const x of silent) x.destroy();
    const records = connRecords(await auditAfterStop(s));
    const drop = records.find((r) => r.reason === 'AddressHandshakeLimit');
    expect(drop?.op).toBe('ConnectionDropped');
    expect(drop?.addr).toBe('127.0.0.2');
    expect(drop?.message).toMatch(/limits\.maxHandshakesPerAddress/);
  });

  it('maxHandshakes: over the global budget a new TCP connection is closed at once', async () => {
    const s = await serverWith({ maxHandshakes: 3, maxHandshakesPerAddress: 10 });
    const held: Socket[] = [];
    for (let i = 0; i < 3; i++) held.push(await tcp(s.port, '127.0.0.7'));
    const over = await tcp(s.port, '127.0.0.8');
    over.on('error', () => undefined);
    expect(await closedWithin(over, 2000)).toBeLessThan(2000);
    for (const x of held) x.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await servedFresh(s.port)).toBe(ResultStatus.Success);
    const records = connRecords(await auditAfterStop(s));
    expect(records.some((r) => r.reason === 'HandshakeBudget' && r.addr === '127.0.0.8')).toBe(true);
  });

  it('handshakeTimeoutMs bounds the whole handshake: a peer trickling one byte every 200 ms is cut off', async () => {
    const s = await serverWith({ handshakeTimeoutMs: 1000 });
    const sock = await tcp(s.port, '127.0.0.1');
    sock.on('error', () => undefined);
    // The start of a TLS record carrying a ClientHello, one byte at a time.
    const hello = fromHex('16 03 01 02 00 01 00 01 fc 03 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
    let i = 0;
    const drip = setInterval(() => {
      if (!sock.destroyed) sock.write(hello.subarray(i % hello.length, (i % hello.length) + 1));
      i++;
    }, 200);
    try {
      const ms = await closedWithin(sock, 4000);
      expect(ms).toBeGreaterThanOrEqual(900);
    } finally {
      clearInterval(drip);
    }
    const records = connRecords(await auditAfterStop(s));
    expect(records.some((r) => r.reason === 'HandshakeTimeout')).toBe(true);
  });

  it('a finished handshake leaves the handshake budget: an established connection outlives handshakeTimeoutMs', async () => {
    const s = await serverWith({ handshakeTimeoutMs: 400, maxHandshakes: 1 });
    const a = await s.client();
    // TLS 1.3: the client is done before the server has read its Finished; an answer means the server is too.
    await a.send(requestMessage({ version: v21, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] }));
    expect(s.kms.server.handshaking).toBe(0);
    await new Promise((r) => setTimeout(r, 900));
    const b = await s.client(); // the budget of 1 is free again
    for (const c of [a, b]) {
      const r = parseResponse(await c.send(requestMessage({ version: v21, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] })));
      expect(r.items[0]!.status).toBe(ResultStatus.Success);
    }
  });

  it('a connection over maxConnections is dropped and audited with its reason', async () => {
    const s = await serverWith({ maxConnections: 1 });
    const a = await s.client();
    const second = await exchange(s.port, (x) => x.write(discover()), 2000);
    expect(second.frames).toHaveLength(0);
    expect(second.closed).toBe(true);
    expect(parseResponse(await a.send(requestMessage({ version: v21, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] }))).items[0]!.status).toBe(
      ResultStatus.Success,
    );
    const records = connRecords(await auditAfterStop(s));
    const drop = records.find((r) => r.reason === 'ConnectionLimit');
    expect(drop?.message).toMatch(/limits\.maxConnections/);
  });
});

describe('requests', () => {
  it('requestTimeoutMs: a request trickled one byte every 200 ms is cut off, though the idle timeout never fires', async () => {
    const s = await serverWith({ requestTimeoutMs: 1000, idleTimeoutMs: 60_000 });
    const bytes = discover();
    let drip: NodeJS.Timeout | undefined;
    const r = await exchange(
      s.port,
      (sock) => {
        let i = 0;
        drip = setInterval(() => {
          if (i < bytes.length - 1 && !sock.destroyed) sock.write(bytes.subarray(i, i + 1));
          i++;
        }, 200);
      },
      5000,
    );
    clearInterval(drip);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    expect(r.ms).toBeLessThan(4000);
    const records = connRecords(await auditAfterStop(s));
    const timeout = records.find((x) => x.op === 'RequestTimeout');
    expect(timeout?.client).toBe('kms-client');
    expect(timeout?.message).toMatch(/limits\.requestTimeoutMs/);
  });

  it('requestTimeoutMs does not cut a client that sends whole requests slowly', async () => {
    const s = await serverWith({ requestTimeoutMs: 500 });
    const c = await s.client();
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 400));
      const resp = parseResponse(await c.send(requestMessage({ version: v21, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] })));
      expect(resp.items[0]!.status).toBe(ResultStatus.Success);
    }
  });

  for (const [what, header] of [
    ['a Response Message header announcing a body that never comes', '42 00 7B | 01 | 00 00 01 00'],
    ['a Request Message tag with a primitive type (Integer)', '42 00 78 | 02 | 00 00 00 04'],
    ['a Request Message structure with a length that is not a multiple of 8', '42 00 78 | 01 | 00 00 01 03'],
  ] as const) {
    it(`an outer header that is not a Request Message structure is answered at once: ${what}`, async () => {
      const s = await serverWith({});
      const r = await exchange(s.port, (sock) => sock.write(fromHex(header)), 1500);
      expect(r.frames).toHaveLength(1);
      const item = parseResponse(r.frames[0]!).items[0]!;
      expect(item.status).toBe(ResultStatus.OperationFailed);
      expect(item.reason).toBe(ResultReason.InvalidMessage);
      expect(r.closed).toBe(true);
      expect(r.ms).toBeLessThan(1500);
    });
  }

  it('undecodable, oversized and over-deep messages of an authenticated client are audited with their reason', async () => {
    const s = await serverWith({ maxMessageBytes: 4096, maxDepth: 4 });
    // Oversized: announced from the header.
    const big = await exchange(s.port, (sock) => sock.write(fromHex('42 00 78 | 01 | 00 01 00 00')), 1500);
    expect(parseResponse(big.frames[0]!).items[0]!.reason).toBe(ResultReason.InvalidMessage);
    // Over-deep: a Request Message nesting structures 6 deep.
    let deep: TtlvNode = t.struct(Tag.Attribute, []);
    for (let i = 0; i < 5; i++) deep = t.struct(Tag.Attribute, [deep]);
    const tooDeep = await exchange(s.port, (sock) => sock.write(encode(t.struct(Tag.RequestMessage, [deep]))), 1500);
    expect(parseResponse(tooDeep.frames[0]!).items[0]!.reason).toBe(ResultReason.InvalidMessage);
    // Undecodable: a Boolean that is neither 0 nor 1 inside a Request Message.
    const bad = await exchange(s.port, (sock) => sock.write(fromHex('42 00 78 | 01 | 00 00 00 10 | 42 00 08 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 07')), 1500);
    expect(parseResponse(bad.frames[0]!).items[0]!.reason).toBe(ResultReason.InvalidMessage);
    const records = connRecords(await auditAfterStop(s)).filter((r) => r.op === 'InvalidMessage');
    expect(records.map((r) => r.reason).sort()).toEqual(['BAD_BOOLEAN', 'TOO_DEEP', 'TOO_LARGE']);
    for (const r of records) expect(r.client).toBe('kms-client');
  });
});

describe('TLS', () => {
  it('TLS 1.2 renegotiation is refused and the connection closed', async () => {
    const s = await serverWith({});
    const outcome = await new Promise<string>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port: s.port, servername: 'localhost', ...tlsFiles(), maxVersion: 'TLSv1.2' }, () => {
        sock.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ? 'refused' : 'renegotiated'));
      });
      sock.on('error', () => resolve('refused'));
      sock.on('close', () => resolve('closed'));
      setTimeout(() => resolve('no answer'), 3000);
    });
    expect(['refused', 'closed']).toContain(outcome);
    expect(await servedFresh(s.port)).toBe(ResultStatus.Success);
  });

  it('TLS 1.2 offers only ECDHE with AES-GCM or ChaCha20-Poly1305 (a permissive server shows the client could use each refused suite)', async () => {
    const s = await serverWith({});
    const files = tlsFiles();
    const server = readFileSync(join(CERTS, 'server.pem'));
    const key = readFileSync(join(CERTS, 'server.key'));
    const isEc = new X509Certificate(server).publicKey.asymmetricKeyType === 'ec';
    const sig = isEc ? 'ECDSA' : 'RSA';
    const control = createServer({ cert: server, key, ciphers: 'ALL:@SECLEVEL=0', minVersion: 'TLSv1.2' }, (x) => x.end());
    await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
    const controlPort = (control.address() as { port: number }).port;
    const handshake = (port: number, ciphers: string) =>
      new Promise<string>((resolve) => {
        const sock = connect({ host: '127.0.0.1', port, servername: 'localhost', ...files, ciphers: `${ciphers}:@SECLEVEL=0`, maxVersion: 'TLSv1.2' }, () => {
          const c = sock.getCipher().standardName;
          sock.destroy();
          resolve(c);
        });
        sock.on('error', () => resolve('refused'));
      });
    try {
      const refused = [`ECDHE-${sig}-AES128-SHA`, `ECDHE-${sig}-AES256-SHA`, `ECDHE-${sig}-AES128-SHA256`, ...(isEc ? ['ECDHE-ECDSA-AES128-CCM8'] : ['AES128-GCM-SHA256', 'AES128-SHA'])];
      for (const suite of refused) {
        expect(await handshake(controlPort, suite), `control server refused ${suite}`).not.toBe('refused');
        expect(await handshake(s.port, suite), suite).toBe('refused');
      }
      for (const suite of [`ECDHE-${sig}-AES256-GCM-SHA384`, `ECDHE-${sig}-AES128-GCM-SHA256`, `ECDHE-${sig}-CHACHA20-POLY1305`]) {
        expect(await handshake(s.port, suite), suite).not.toBe('refused');
      }
    } finally {
      control.close();
    }
  });

  it('a refused client certificate (foreign CA, expired, no clientAuth) is closed with a TLS close_notify, logged and audited with the reason, subject, issuer and fingerprint', async () => {
    const s = await serverWith({});
    const foreign = await generateDevCerts(mkdtempSync(join(tmpdir(), 'kms-foreign-')));
    const expiredDir = mkdtempSync(join(tmpdir(), 'kms-expired-'));
    const expired = await issueClientCert(CERTS, 'expired-client', expiredDir, { days: -1 });
    const cases = [
      { name: 'foreign CA', cert: readFileSync(foreign.client.cert), key: readFileSync(foreign.client.key), error: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/ },
      { name: 'expired', cert: readFileSync(expired.cert), key: readFileSync(expired.key), error: /CERT_HAS_EXPIRED/ },
      { name: 'serverAuth only', cert: readFileSync(join(CERTS, 'server.pem')), key: readFileSync(join(CERTS, 'server.key')), error: /INVALID_PURPOSE|clientAuth/ },
    ];
    for (const c of cases) {
      const ended = await new Promise<{ end: boolean; error?: string; frames: number }>((resolve) => {
        let end = false;
        let frames = 0;
        const sock = connect({ host: '127.0.0.1', port: s.port, servername: 'localhost', ca: tlsFiles().ca, cert: c.cert, key: c.key }, () => sock.write(discover()));
        sock.on('data', () => frames++);
        sock.on('end', () => (end = true)); // the peer's close_notify (or FIN) read cleanly
        sock.on('error', (e) => resolve({ end, error: e.message, frames }));
        sock.on('close', () => resolve({ end, frames }));
        setTimeout(() => resolve({ end, error: 'no close', frames }), 3000);
      });
      expect(ended.error, c.name).toBeUndefined();
      expect(ended.end, c.name).toBe(true);
      const fingerprint = new X509Certificate(c.cert).fingerprint256;
      const line = log
        .map((l) => JSON.parse(l) as { msg: string; peer?: { fingerprint?: string; verifyError?: string; subject?: string; issuer?: string }; err?: string })
        .find((l) => l.msg === 'client certificate refused' && l.peer?.fingerprint === fingerprint);
      expect(line, c.name).toBeDefined();
      expect(`${line!.peer!.verifyError ?? ''} ${line!.err}`, c.name).toMatch(c.error);
      expect(line!.peer!.subject, c.name).toMatch(/CN=/);
      expect(line!.peer!.issuer, c.name).toMatch(/CN=/);
    }
    // An independent client (OpenSSL's s_client) reads a close_notify alert, not a bare EOF.
    for (const version of ['-tls1_2', '-tls1_3']) {
      // Asynchronously: the server runs in this process.
      const out = await new Promise<string>((resolve) => {
        const p = spawn(
          'openssl',
          [
            's_client',
            '-connect',
            `127.0.0.1:${s.port}`,
            version,
            '-ign_eof',
            '-servername',
            'localhost',
            '-CAfile',
            join(CERTS, 'ca.pem'),
            '-cert',
            foreign.client.cert,
            '-key',
            foreign.client.key,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let text = '';
        p.stdout.on('data', (d: Buffer) => (text += d.toString()));
        p.stderr.on('data', (d: Buffer) => (text += d.toString()));
        const timer = setTimeout(() => p.kill(), 10_000);
        p.on('close', () => {
          clearTimeout(timer);
          resolve(text);
        });
      });
      expect(out, version).toMatch(/^closed$/m);
      expect(out, version).not.toMatch(/unexpected eof/i);
    }
    expect(await servedFresh(s.port)).toBe(ResultStatus.Success);
    const refusals = (await auditAfterStop(s)).filter((r) => r.kind === 'auth') as (AuditRecord & { peer?: { fingerprint?: string; verifyError?: string } })[];
    for (const c of cases) {
      const fp = new X509Certificate(c.cert).fingerprint256;
      expect(
        refusals.some((r) => r.peer?.fingerprint === fp),
        c.name,
      ).toBe(true);
    }
    expect(refusals.find((r) => r.peer?.fingerprint === new X509Certificate(cases[1]!.cert).fingerprint256)?.peer?.verifyError).toBe('CERT_HAS_EXPIRED');
  });

  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`a reconnecting client resumes its TLS session (${maxVersion}); with tlsTicketKeyRotationMs 0 it does not`, async () => {
      for (const rotation of [DEFAULT_SERVER_LIMITS.tlsTicketKeyRotationMs, 0]) {
        const s = await serverWith({ tlsTicketKeyRotationMs: rotation });
        const opts = { host: '127.0.0.1', port: s.port, servername: 'localhost', ...tlsFiles(), secureContext: createSecureContext({ ...tlsFiles(), maxVersion }) };
        const first = await KmipClient.connect(opts);
        await first.send(requestMessage({ version: v21, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] }));
        const session = first.tlsSession;
        await first.close();
        const second = await KmipClient.connect({ ...opts, ...(session ? { session } : {}) });
        const served = parseResponse(await second.send(requestMessage({ version: v21, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] })));
        expect(served.items[0]!.status).toBe(ResultStatus.Success);
        expect(second.tlsProtocol).toBe(maxVersion);
        expect(second.sessionReused, `rotation ${rotation}`).toBe(rotation > 0);
        await second.close();
        await s.dispose();
        srv = undefined;
      }
    });
  }
});

describe('configuration', () => {
  it('the new limits are config keys and environment variables', () => {
    const c = loadConfig({ env: { KMS_MAX_HANDSHAKES: '7', KMS_MAX_HANDSHAKES_PER_ADDRESS: '3', KMS_REQUEST_TIMEOUT_MS: '1234', KMS_TLS_TICKET_KEY_ROTATION_MS: '0' } });
    expect(c.limits).toMatchObject({ maxHandshakes: 7, maxHandshakesPerAddress: 3, requestTimeoutMs: 1234, tlsTicketKeyRotationMs: 0 });
    const help = kms('serve', '--help').stdout;
    for (const k of ['maxHandshakes', 'maxHandshakesPerAddress', 'requestTimeoutMs', 'tlsTicketKeyRotationMs', 'KMS_MAX_HANDSHAKES_PER_ADDRESS']) expect(help).toContain(k);
  });
});
