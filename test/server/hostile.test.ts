/**
 * Hostile input over a real mutual-TLS socket. Each case gets the answer the message layer
 * promises within a second, and a healthy client on another connection keeps being served
 * throughout.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import { discoverVersionsPayload, parseResponse, requestMessage } from '../../src/client/requests.js';
import { AsynchronousIndicator, Operation, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { generateDevCerts } from '../../src/pki/dev-certs.js';
import { decode, encode, fromHex, t, TtlvFramer, type TtlvNode } from '../../src/ttlv/index.js';
import { CERTS, startTestKms, tlsFiles, type TestKms } from '../support/kms.js';

let srv: TestKms;
let healthy: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  healthy = await srv.client();
});
afterAll(async () => srv.dispose());

interface RawResult {
  frames: TtlvNode[];
  closed: boolean;
  ms: number;
  error?: string;
}

/** Send raw bytes on a fresh TLS connection; collect response frames until close or timeout. */
function raw(bytes: Uint8Array | undefined, tlsOpts: { ca?: Buffer; cert?: Buffer; key?: Buffer } = tlsFiles(), waitMs = 1000): Promise<RawResult> {
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
    const sock: TLSSocket = connect({ host: '127.0.0.1', port: srv.port, servername: 'localhost', ...tlsOpts }, () => {
      if (bytes) sock.write(bytes);
    });
    sock.on('data', (c: Buffer) => {
      for (const f of framer.push(c)) frames.push(decode(f));
    });
    sock.on('close', () => finish(true));
    sock.on('error', (e) => finish(true, e.message));
    const timer = setTimeout(() => finish(false), waitMs);
  });
}

function only(r: RawResult) {
  expect(r.frames).toHaveLength(1);
  return parseResponse(r.frames[0]!);
}

const v12 = { major: 1, minor: 2 };
const goodRequest = () => encode(requestMessage({ version: v12, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] }));

async function stillServing(): Promise<void> {
  const r = parseResponse(await healthy.send(requestMessage({ version: v12, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] })));
  expect(r.items[0]!.status).toBe(ResultStatus.Success);
}

function expectInvalidMessageThenClose(r: RawResult): void {
  const resp = only(r);
  expect(resp.items[0]!.status).toBe(ResultStatus.OperationFailed);
  expect(resp.items[0]!.reason).toBe(ResultReason.InvalidMessage);
  expect(r.closed).toBe(true);
  expect(r.ms).toBeLessThan(1000);
}

describe('hostile input over the socket', () => {
  it('a well-formed request is answered and the connection stays open', async () => {
    const r = await raw(goodRequest(), tlsFiles(), 300);
    expect(only(r).items[0]!.status).toBe(ResultStatus.Success);
    expect(r.closed).toBe(false);
  });

  it('garbage (an HTTP request) gets Invalid Message, then a clean close', async () => {
    expectInvalidMessageThenClose(await raw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')));
    await stillServing();
  });

  it('a huge declared length is refused from the header alone', async () => {
    expectInvalidMessageThenClose(await raw(fromHex('42 00 78 | 01 | 7F FF FF F8')));
    await stillServing();
  });

  it('a truncated header followed by end of stream: the server closes, nothing is left hanging', async () => {
    const r = await new Promise<RawResult>((resolve) => {
      const started = Date.now();
      const sock = connect({ host: '127.0.0.1', port: srv.port, servername: 'localhost', ...tlsFiles() }, () => sock.end(fromHex('42 00 78 01')));
      sock.on('close', () => resolve({ frames: [], closed: true, ms: Date.now() - started }));
      sock.on('error', () => undefined);
      sock.resume();
    });
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(1000);
    await stillServing();
  });

  it('an inner length overrunning its parent gets Invalid Message, then close', async () => {
    const bad = fromHex(`42 00 78 | 01 | 00 00 00 18
      42 00 77 | 01 | 00 00 00 10
        42 00 0D | 07 | 00 00 00 20 | 00 00 00 00 00 00 00 00`);
    expectInvalidMessageThenClose(await raw(bad));
    await stillServing();
  });

  it('a wrong item type in the header (Batch Count as a Text String) gets Invalid Message', async () => {
    const msg = t.struct(Tag.RequestMessage, [
      t.struct(Tag.RequestHeader, [t.struct(Tag.ProtocolVersion, [t.int(Tag.ProtocolVersionMajor, 1), t.int(Tag.ProtocolVersionMinor, 4)]), t.text(Tag.BatchCount, 'one')]),
      t.struct(Tag.BatchItem, [t.enum(Tag.Operation, Operation.DiscoverVersions), t.struct(Tag.RequestPayload, [])]),
    ]);
    const r = await raw(encode(msg));
    expectInvalidMessageThenClose(r);
    // Answered in the client's version, read from the header.
    expect(only(r).header.version).toEqual({ major: 1, minor: 4 });
  });

  it('a Response Message sent as a request gets Invalid Message', async () => {
    const resp = t.struct(Tag.ResponseMessage, [
      t.struct(Tag.ResponseHeader, [
        t.struct(Tag.ProtocolVersion, [t.int(Tag.ProtocolVersionMajor, 1), t.int(Tag.ProtocolVersionMinor, 2)]),
        t.date(Tag.TimeStamp, 0n),
        t.int(Tag.BatchCount, 0),
      ]),
    ]);
    expectInvalidMessageThenClose(await raw(encode(resp)));
  });

  it('a batch count that does not match the items gets Invalid Message', async () => {
    const msg = t.struct(Tag.RequestMessage, [
      t.struct(Tag.RequestHeader, [t.struct(Tag.ProtocolVersion, [t.int(Tag.ProtocolVersionMajor, 2), t.int(Tag.ProtocolVersionMinor, 1)]), t.int(Tag.BatchCount, 3)]),
      t.struct(Tag.BatchItem, [t.enum(Tag.Operation, Operation.DiscoverVersions)]),
    ]);
    const r = await raw(encode(msg));
    expectInvalidMessageThenClose(r);
    expect(only(r).header.version).toEqual({ major: 2, minor: 1 });
  });

  it('an unknown operation gets Operation Not Supported and the connection stays open', async () => {
    const msg = requestMessage({ version: v12, batch: [{ operation: 0x7777, payload: t.struct(Tag.RequestPayload, []) }] });
    const r = await raw(encode(msg), tlsFiles(), 300);
    const item = only(r).items[0]!;
    expect(item.status).toBe(ResultStatus.OperationFailed);
    expect(item.reason).toBe(ResultReason.OperationNotSupported);
    expect(item.operation).toBe(0x7777);
    expect(r.closed).toBe(false);
  });

  it('an operation from a later version is not served to an earlier one (Ping is 2.1)', async () => {
    const ping = (v: { major: number; minor: number }) => requestMessage({ version: v, batch: [{ operation: Operation.Ping, payload: t.struct(Tag.RequestPayload, []) }] });
    expect(parseResponse(await healthy.send(ping({ major: 1, minor: 4 }))).items[0]!.reason).toBe(ResultReason.OperationNotSupported);
    expect(parseResponse(await healthy.send(ping({ major: 2, minor: 1 }))).items[0]!.status).toBe(ResultStatus.Success);
  });

  it('an unsupported protocol version gets Invalid Message in a version the server speaks', async () => {
    const msg = requestMessage({ version: { major: 9, minor: 9 }, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] });
    const r = await raw(encode(msg), tlsFiles(), 300);
    const resp = only(r);
    expect(resp.items[0]!.reason).toBe(ResultReason.InvalidMessage);
    expect(resp.header.version).toEqual({ major: 2, minor: 1 });
  });

  it('a mandatory asynchronous answer (2.x Mandatory) in an Undo batch is refused with Feature Not Supported; a 1.x True is answered synchronously (Undo is served: test/operations/batch-undo.test.ts; asynchronous answers: test/operations/async.test.ts)', async () => {
    const batch = [
      { operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) },
      { operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) },
    ];
    const undo = parseResponse(await healthy.send(requestMessage({ version: v12, batch, batchErrorContinuationOption: 3 })));
    expect(undo.items.map((i) => i.status)).toEqual([ResultStatus.Success, ResultStatus.Success]);
    const able = parseResponse(await healthy.send(requestMessage({ version: v12, batch, asynchronousIndicator: true })));
    expect(able.items.map((i) => i.status)).toEqual([ResultStatus.Success, ResultStatus.Success]);
    const mandatory = parseResponse(
      await healthy.send(requestMessage({ version: { major: 2, minor: 0 }, batch, asynchronousIndicator: AsynchronousIndicator.Mandatory, batchErrorContinuationOption: 3 })),
    );
    expect(mandatory.items[0]!.reason).toBe(ResultReason.FeatureNotSupported);
  });

  it('Maximum Response Size: an oversized reply becomes Response Too Large', async () => {
    const msg = requestMessage({ version: v12, maximumResponseSize: 64, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] });
    const item = parseResponse(await healthy.send(msg)).items[0]!;
    expect(item.status).toBe(ResultStatus.OperationFailed);
    expect(item.reason).toBe(ResultReason.ResponseTooLarge);
  });

  it('a client without a certificate is refused at the handshake', async () => {
    const { ca } = tlsFiles();
    const r = await raw(goodRequest(), { ca });
    expect(r.frames).toHaveLength(0);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(1000);
    await stillServing();
  });

  it('a certificate from another CA is refused at the handshake', async () => {
    const other = await generateDevCerts(mkdtempSync(join(tmpdir(), 'kms-foreign-')));
    const r = await raw(goodRequest(), { ca: tlsFiles().ca, cert: readFileSync(other.client.cert), key: readFileSync(other.client.key) });
    expect(r.frames).toHaveLength(0);
    expect(r.closed).toBe(true);
    await stillServing();
  });

  it('a certificate without the clientAuth extended key usage is refused', async () => {
    // The server's own certificate: same CA, but only serverAuth.
    const r = await raw(goodRequest(), { ca: tlsFiles().ca, cert: readFileSync(join(CERTS, 'server.pem')), key: readFileSync(join(CERTS, 'server.key')) });
    expect(r.closed).toBe(true);
    if (r.frames.length > 0) expect(only(r).items[0]!.reason).toBe(ResultReason.AuthenticationNotSuccessful);
    expect(r.ms).toBeLessThan(1000);
    await stillServing();
  });
});
