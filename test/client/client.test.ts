/**
 * KmipClient against a small scripted TLS peer (real sockets, dev certificates from
 * globalSetup). The peer is a test double for the *server*; the client is real.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KmipClient, type KmipClientOptions } from '../../src/client/client.js';
import { KmipClientError } from '../../src/client/errors.js';
import { devCertPaths, generateDevCerts } from '../../src/pki/dev-certs.js';
import { decode, encode, t, TtlvError, TtlvFramer, type TtlvNode } from '../../src/ttlv/index.js';

const TAG_A = 0x540001; // vendor-range tags: this test is about transport, not KMIP semantics
const TAG_B = 0x540002;

type Behaviour = (frame: Buffer, sock: tls.TLSSocket, index: number) => void;

interface Peer {
  port: number;
  received: Buffer[];
  /** Highest number of requests received but not yet answered. */
  maxOutstanding: number;
  close(): Promise<void>;
}

let pem: { ca: Buffer; cert: Buffer; key: Buffer; serverCert: Buffer; serverKey: Buffer };
let otherCa: Buffer;
let tmp: string;
const peers: Peer[] = [];
const clients: KmipClient[] = [];

beforeAll(async () => {
  const p = devCertPaths('certs/dev');
  const [ca, cert, key, serverCert, serverKey] = await Promise.all([p.ca.cert, p.client.cert, p.client.key, p.server.cert, p.server.key].map((f) => readFile(f)));
  pem = { ca: ca!, cert: cert!, key: key!, serverCert: serverCert!, serverKey: serverKey! };
  tmp = await mkdtemp(join(tmpdir(), 'kms-client-'));
  otherCa = await readFile((await generateDevCerts(join(tmp, 'other'))).ca.cert);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A TLS peer that frames incoming bytes and hands each whole request to `behaviour`. */
async function startPeer(behaviour: Behaviour): Promise<Peer> {
  const sockets = new Set<tls.TLSSocket>();
  const peer: Peer = { port: 0, received: [], maxOutstanding: 0, close: async () => undefined };
  let outstanding = 0;
  const server = tls.createServer({ ca: pem.ca, cert: pem.serverCert, key: pem.serverKey, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const framer = new TtlvFramer({ maxMessageBytes: 1 << 20 });
    const write = sock.write.bind(sock);
    // Count what is answered: every write is treated as one response.
    (sock as { write: typeof sock.write }).write = ((...args: Parameters<typeof sock.write>) => {
      outstanding = Math.max(0, outstanding - 1);
      return write(...args);
    }) as typeof sock.write;
    sock.on('data', (chunk: Buffer) => {
      for (const frame of framer.push(chunk)) {
        peer.received.push(Buffer.from(frame));
        outstanding++;
        peer.maxOutstanding = Math.max(peer.maxOutstanding, outstanding);
        behaviour(Buffer.from(frame), sock, peer.received.length - 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.port = (server.address() as AddressInfo).port;
  peer.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  peers.push(peer);
  return peer;
}

async function connect(port: number, extra: Partial<KmipClientOptions> = {}): Promise<KmipClient> {
  const c = await KmipClient.connect({ host: '127.0.0.1', port, ca: pem.ca, cert: pem.cert, key: pem.key, ...extra });
  clients.push(c);
  return c;
}

/** Answer each request with a structure that echoes it inside TAG_B. */
const echo: Behaviour = (frame, sock) => {
  sock.write(encode(t.struct(TAG_B, [decode(frame)])));
};

function request(n: number): TtlvNode {
  return t.struct(TAG_A, [t.int(TAG_A, n), t.text(TAG_A, `request ${n}`)]);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('KmipClient', () => {
  it('sends a request and decodes the response', async () => {
    const peer = await startPeer(echo);
    const c = await connect(peer.port);
    expect(c.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    const res = await c.send(request(1));
    expect(res).toEqual(t.struct(TAG_B, [request(1)]));
    expect(peer.received[0]).toEqual(encode(request(1)));
  });

  it('verifies the server by name when connecting through a hostname', async () => {
    const peer = await startPeer(echo);
    const c = await connect(peer.port, { host: 'localhost' });
    expect(await c.send(request(2))).toEqual(t.struct(TAG_B, [request(2)]));
  });

  it('serializes concurrent requests: one in flight, answers matched in order', async () => {
    // The peer answers after a delay that shrinks with the index, so a client that pipelined
    // would see the answers overtake each other.
    const peer = await startPeer((frame, sock, i) => {
      setTimeout(() => echo(frame, sock, i), 40 - i * 10);
    });
    const c = await connect(peer.port);
    const results = await Promise.all([0, 1, 2, 3].map((n) => c.send(request(n))));
    expect(results).toEqual([0, 1, 2, 3].map((n) => t.struct(TAG_B, [request(n)])));
    expect(peer.maxOutstanding).toBe(1);
  });

  it('reassembles a response delivered one byte at a time', async () => {
    const peer = await startPeer((frame, sock) => {
      const bytes = encode(t.struct(TAG_B, [decode(frame)]));
      let i = 0;
      const tick = (): void => {
        if (i < bytes.length) {
          sock.write(bytes.subarray(i, i + 1));
          i++;
          setImmediate(tick);
        }
      };
      tick();
    });
    const c = await connect(peer.port);
    expect(await c.send(request(3))).toEqual(t.struct(TAG_B, [request(3)]));
  });

  it('sendRaw returns the raw response frame', async () => {
    const peer = await startPeer((_frame, sock) => sock.write(encode(t.int(TAG_B, 7))));
    const c = await connect(peer.port);
    const raw = await c.sendRaw(encode(request(4)));
    expect(Buffer.from(raw).toString('hex')).toBe('54000202000000040000000700000000');
  });

  it('times out, then refuses further requests as CLOSED', async () => {
    const peer = await startPeer(() => undefined);
    const c = await connect(peer.port, { timeoutMs: 150 });
    const err = await rejection(c.send(request(5)));
    expect(err).toBeInstanceOf(KmipClientError);
    expect((err as KmipClientError).code).toBe('TIMEOUT');
    expect(c.isOpen).toBe(false);
    const next = await rejection(c.send(request(6)));
    expect((next as KmipClientError).code).toBe('CLOSED');
    expect((next as KmipClientError).cause).toBe(err);
  });

  it('fails queued requests behind a timed-out one', async () => {
    const peer = await startPeer(() => undefined);
    const c = await connect(peer.port, { timeoutMs: 150 });
    const [a, b] = await Promise.all([rejection(c.send(request(1))), rejection(c.send(request(2)))]);
    expect((a as KmipClientError).code).toBe('TIMEOUT');
    expect((b as KmipClientError).code).toBe('CLOSED');
    expect(peer.received).toHaveLength(1);
  });

  it('rejects a response announcing more than maxResponseBytes with TtlvError TOO_LARGE', async () => {
    const peer = await startPeer((_frame, sock) => sock.write(encode(t.bytes(TAG_B, new Uint8Array(1000)))));
    const c = await connect(peer.port, { maxResponseBytes: 512 });
    const err = await rejection(c.send(request(7)));
    expect(err).toBeInstanceOf(TtlvError);
    expect((err as TtlvError).code).toBe('TOO_LARGE');
    expect(c.isOpen).toBe(false);
  });

  it('surfaces a malformed response as TtlvError and stays usable', async () => {
    // A well-framed item whose Boolean value is 2: framing is fine, decoding is not.
    const peer = await startPeer((frame, sock, i) => {
      if (i === 0) sock.write(Buffer.from('5400020600000008' + '0000000000000002', 'hex'));
      else echo(frame, sock, i);
    });
    const c = await connect(peer.port);
    const err = await rejection(c.send(request(8)));
    expect(err).toBeInstanceOf(TtlvError);
    expect((err as TtlvError).code).toBe('BAD_BOOLEAN');
    expect(await c.send(request(9))).toEqual(t.struct(TAG_B, [request(9)]));
  });

  it('treats an unsolicited second response as a PROTOCOL failure', async () => {
    const peer = await startPeer((frame, sock, i) => {
      echo(frame, sock, i);
      setTimeout(() => sock.write(encode(t.int(TAG_B, 1))), 20);
    });
    const c = await connect(peer.port);
    expect(await c.send(request(10))).toEqual(t.struct(TAG_B, [request(10)]));
    await new Promise((r) => setTimeout(r, 80));
    expect(c.isOpen).toBe(false);
    const err = await rejection(c.send(request(11)));
    expect((err as KmipClientError).code).toBe('CLOSED');
    expect(((err as KmipClientError).cause as KmipClientError).code).toBe('PROTOCOL');
  });

  it('reports CLOSED when the server hangs up mid-request', async () => {
    const peer = await startPeer((_frame, sock) => sock.destroy());
    const c = await connect(peer.port);
    const err = await rejection(c.send(request(12)));
    expect(err).toBeInstanceOf(KmipClientError);
    expect(['CLOSED', 'NETWORK']).toContain((err as KmipClientError).code);
  });

  it('close() fails the in-flight request with CLOSED', async () => {
    const peer = await startPeer(() => undefined);
    const c = await connect(peer.port);
    const pending = rejection(c.send(request(13)));
    await new Promise((r) => setTimeout(r, 30));
    await c.close();
    expect(((await pending) as KmipClientError).code).toBe('CLOSED');
  });

  it('refuses a server whose certificate does not chain to the given CA', async () => {
    const peer = await startPeer(echo);
    const err = await rejection(KmipClient.connect({ host: '127.0.0.1', port: peer.port, ca: otherCa, cert: pem.cert, key: pem.key }));
    expect(err).toBeInstanceOf(KmipClientError);
    expect((err as KmipClientError).code).toBe('CONNECT');
  });

  it('refuses a server whose certificate does not match the name', async () => {
    const peer = await startPeer(echo);
    const err = await rejection(KmipClient.connect({ host: '127.0.0.1', port: peer.port, ca: pem.ca, cert: pem.cert, key: pem.key, servername: 'kms.example.com' }));
    expect((err as KmipClientError).code).toBe('CONNECT');
    expect((err as Error).message).toMatch(/kms\.example\.com|altnames/i);
  });

  it('reports CONNECT when nothing listens', async () => {
    const peer = await startPeer(echo);
    const port = peer.port;
    await peer.close();
    peers.splice(peers.indexOf(peer), 1);
    const err = await rejection(KmipClient.connect({ host: '127.0.0.1', port, ca: pem.ca, cert: pem.cert, key: pem.key }));
    expect((err as KmipClientError).code).toBe('CONNECT');
  });

  it('reports TIMEOUT when the TLS handshake never completes', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const sockets: net.Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    try {
      const port = (silent.address() as AddressInfo).port;
      const err = await rejection(KmipClient.connect({ host: '127.0.0.1', port, ca: pem.ca, cert: pem.cert, key: pem.key, timeoutMs: 150 }));
      expect((err as KmipClientError).code).toBe('TIMEOUT');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('surfaces an unencodable request as TtlvError without sending anything', async () => {
    const peer = await startPeer(echo);
    const c = await connect(peer.port);
    const err = await rejection(c.send(t.int(0x1_000_000, 1)));
    expect(err).toBeInstanceOf(TtlvError);
    expect(peer.received).toHaveLength(0);
    expect(await c.send(request(14))).toEqual(t.struct(TAG_B, [request(14)]));
  });
});
