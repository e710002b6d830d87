/**
 * KMIP over HTTPS, end to end on a real server: curl with client certificates (a client
 * independent of ours) and our KmipHttpsClient, every content type, the transport status
 * codes, the same identities and access rules as the KMIP port, and the health endpoints.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { get as httpsGet } from 'node:https';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmipClientError, KmipHttpsClient, type KmipEncoding } from '../../src/client/index.js';
import {
  createSymmetricKeyPayload,
  discoverVersionsPayload,
  expectSuccess,
  getPayload,
  keyMaterialOf,
  parseResponse,
  requestMessage,
  uniqueIdentifierOf,
} from '../../src/client/requests.js';
import { CryptographicAlgorithm, Operation, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { parseKmipJson, toKmipJsonString } from '../../src/kmip/json.js';
import { parseKmipXmlItem, toKmipXml } from '../../src/kmip/xml.js';
import { decode, encode } from '../../src/ttlv/index.js';
import { DEFAULT_SERVER_LIMITS } from '../../src/server/limits.js';
import { CERTS, startTestKms, tlsFiles, type TestKms } from '../support/kms.js';

const V21 = { major: 2, minor: 1 };
const V14 = { major: 1, minor: 4 };
const MAX_BODY = 64 * 1024;

let kms: TestKms;
let port: number;
let tmp: string;

beforeAll(async () => {
  kms = await startTestKms({ httpsPort: 'ephemeral', limits: { ...DEFAULT_SERVER_LIMITS, maxMessageBytes: MAX_BODY } });
  port = kms.kms.httpsAddress!.port;
  tmp = mkdtempSync(join(tmpdir(), 'kms-https-test-'));
});
afterAll(async () => {
  await kms.dispose();
});

interface CurlReply {
  status: number;
  contentType: string;
  body: Buffer;
}

let n = 0;
/** curl against the HTTPS listener; `identity` undefined: no client certificate. */
async function curl(path: string, opts: { identity?: string | null; method?: string; body?: Buffer | string; headers?: string[] } = {}): Promise<CurlReply> {
  const out = join(tmp, `reply-${++n}`);
  const args = ['-sS', '--http1.1', '--resolve', `localhost:${port}:127.0.0.1`, '--cacert', join(CERTS, 'ca.pem'), '-o', out, '-w', '%{http_code} %{content_type}'];
  const identity = opts.identity === undefined ? 'kms-client' : opts.identity;
  if (identity !== null) {
    const base = identity === 'kms-client' ? 'client' : identity;
    args.push('--cert', join(CERTS, `${base}.pem`), '--key', join(CERTS, `${base}.key`));
  }
  if (opts.method) args.push('-X', opts.method);
  for (const h of opts.headers ?? []) args.push('-H', h);
  if (opts.body !== undefined) {
    const file = join(tmp, `body-${n}`);
    writeFileSync(file, opts.body);
    args.push('--data-binary', `@${file}`);
  }
  args.push(`https://localhost:${port}${path}`);
  // Asynchronous: the server runs in this process.
  const r = await promisify(execFile)('curl', args, { encoding: 'utf8' });
  const [code = '0', ...ct] = r.stdout.trim().split(' ');
  let body: Buffer;
  try {
    body = readFileSync(out);
  } catch {
    body = Buffer.alloc(0);
  }
  return { status: Number(code), contentType: ct.join(' '), body };
}

const createRequest = (version = V21) =>
  requestMessage({
    version,
    batch: [
      {
        operation: Operation.Create,
        payload: createSymmetricKeyPayload(version, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt }),
      },
    ],
  });

const getRequest = (uid: string, version = V21) => requestMessage({ version, batch: [{ operation: Operation.Get, payload: getPayload(uid) }] });

describe('KMIP over HTTPS with curl', () => {
  it('TTLV (application/octet-stream): Discover Versions answers in TTLV', async () => {
    const req = encode(requestMessage({ version: V14, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] }));
    const r = await curl('/kmip', { body: Buffer.from(req), headers: ['Content-Type: application/octet-stream'] });
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/octet-stream');
    const res = parseResponse(decode(r.body));
    expect(res.items[0]!.status).toBe(ResultStatus.Success);
    expect(res.header.version).toEqual(V14);
  });

  it('XML (text/xml and application/xml) and JSON (application/json): Create, then Get of the same key in another encoding', async () => {
    const xml = await curl('/kmip', { body: toKmipXml(createRequest()), headers: ['Content-Type: text/xml'] });
    expect(xml.status).toBe(200);
    expect(xml.contentType).toMatch(/^text\/xml/);
    expect(xml.body.toString('utf8')).toMatch(/^<ResponseMessage>/);
    const created = parseResponse(parseKmipXmlItem(xml.body.toString('utf8')));
    const uid = uniqueIdentifierOf(expectSuccess(created.items[0]!));

    const json = await curl('/kmip', { body: toKmipJsonString(getRequest(uid)), headers: ['Content-Type: application/json', 'Accept: application/json'] });
    expect(json.status).toBe(200);
    expect(json.contentType).toMatch(/^application\/json/);
    const got = parseResponse(parseKmipJson(json.body.toString('utf8')));
    expect(keyMaterialOf(expectSuccess(got.items[0]!))).toHaveLength(32);

    const appXml = await curl('/kmip', { body: toKmipXml(getRequest(uid)), headers: ['Content-Type: application/xml; charset=utf-8'] });
    expect(appXml.status).toBe(200);
    expect(Buffer.from(keyMaterialOf(expectSuccess(parseResponse(parseKmipXmlItem(appXml.body.toString('utf8'))).items[0]!)))).toEqual(
      Buffer.from(keyMaterialOf(expectSuccess(got.items[0]!))),
    );
  });

  it('transport errors are HTTP statuses: 415, 406, 411, 413, 405, 404, 401', async () => {
    const body = Buffer.from(encode(createRequest()));
    expect((await curl('/kmip', { body, headers: ['Content-Type: text/plain'] })).status).toBe(415);
    expect((await curl('/kmip', { body, headers: [] })).status).toBe(415); // curl's default form type
    expect((await curl('/kmip', { body, headers: ['Content-Type: application/octet-stream', 'Accept: application/json'] })).status).toBe(406);
    expect((await curl('/kmip', { body, headers: ['Content-Type: application/octet-stream', 'Accept: application/*'] })).status).toBe(200);
    expect((await curl('/kmip', { body, headers: ['Content-Type: application/octet-stream', 'Transfer-Encoding: chunked'] })).status).toBe(411);
    const big = Buffer.alloc(MAX_BODY + 1, 0x20);
    expect((await curl('/kmip', { body: big, headers: ['Content-Type: text/xml'] })).status).toBe(413);
    expect((await curl('/kmip', { method: 'GET' })).status).toBe(405);
    expect((await curl('/nothing-here')).status).toBe(404);
    const anon = await curl('/kmip', { identity: null, body, headers: ['Content-Type: application/octet-stream'] });
    expect(anon.status).toBe(401);
  });

  it('a message that does not decode is a KMIP Invalid Message in the request encoding, and the server keeps serving', async () => {
    const r = await curl('/kmip', { body: '<RequestMessage><Nonsense type="Integer" value="1"/></RequestMessage>', headers: ['Content-Type: text/xml'] });
    expect(r.status).toBe(200);
    const res = parseResponse(parseKmipXmlItem(r.body.toString('utf8')));
    expect(res.items[0]!.status).toBe(ResultStatus.OperationFailed);
    expect(res.items[0]!.reason).toBe(ResultReason.InvalidMessage);
    const j = await curl('/kmip', { body: '{"tag":"RequestMessage","value":[', headers: ['Content-Type: application/json'] });
    expect(j.status).toBe(200);
    expect(parseResponse(parseKmipJson(j.body.toString('utf8'))).items[0]!.reason).toBe(ResultReason.InvalidMessage);
    const ok = await curl('/kmip', { body: Buffer.from(encode(createRequest())), headers: ['Content-Type: application/octet-stream'] });
    expect(parseResponse(decode(ok.body)).items[0]!.status).toBe(ResultStatus.Success);
  });

  it('health: /livez, /readyz with each check, /version', async () => {
    const live = await curl('/livez', { identity: null });
    expect(live.status).toBe(200);
    const ready = await curl('/readyz', { identity: null });
    expect(ready.status).toBe(200);
    const body = JSON.parse(ready.body.toString('utf8')) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(body.ready).toBe(true);
    expect(Object.keys(body.checks).sort()).toEqual(['audit', 'protector', 'store']);
    expect(Object.values(body.checks).every((c) => c.ok)).toBe(true);
    const v = JSON.parse((await curl('/version', { identity: null })).body.toString('utf8')) as { version: string; kmip: string[] };
    expect(v.version).toBe((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    expect(v.kmip).toContain('2.1');
    expect(v.kmip).toContain('1.0');
    expect((await curl('/livez', { method: 'POST', body: 'x' })).status).toBe(405);
  });
});

describe('KMIP over HTTPS with our client', () => {
  const client = (encoding: KmipEncoding, identity = 'kms-client') =>
    new KmipHttpsClient({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(identity), timeoutMs: 10_000, encoding });

  it.each(['ttlv', 'xml', 'json'] as const)('%s: Create then Get over one keep-alive connection', async (encoding) => {
    const c = client(encoding);
    try {
      const uid = uniqueIdentifierOf(expectSuccess(parseResponse(await c.send(createRequest())).items[0]!));
      const got = parseResponse(await c.send(getRequest(uid)));
      expect(keyMaterialOf(expectSuccess(got.items[0]!))).toHaveLength(32);
      expect(kms.kms.https!.connections).toBeGreaterThanOrEqual(1);
    } finally {
      await c.close();
    }
  });

  it("the same identities and access rules as the KMIP port: an object made over HTTPS is the owner's on both ports", async () => {
    const alice = client('json', 'alice');
    const bob = client('xml', 'bob');
    try {
      const uid = uniqueIdentifierOf(expectSuccess(parseResponse(await alice.send(createRequest())).items[0]!));
      const bobGet = parseResponse(await bob.send(getRequest(uid))).items[0]!;
      expect(bobGet.status).toBe(ResultStatus.OperationFailed);
      // Over the KMIP port: alice reads it, bob gets the same refusal as over HTTPS.
      const aliceTls = await kms.client('alice');
      expect(keyMaterialOf(expectSuccess(parseResponse(await aliceTls.send(getRequest(uid))).items[0]!))).toHaveLength(32);
      const bobTls = await kms.client('bob');
      const bobTlsGet = parseResponse(await bobTls.send(getRequest(uid))).items[0]!;
      expect(bobTlsGet.reason).toBe(bobGet.reason);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('a non-200 status surfaces as KmipClientError HTTP with the status', async () => {
    const c = new KmipHttpsClient({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(), timeoutMs: 10_000, path: '/nope' });
    try {
      const e = await c.send(createRequest()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(KmipClientError);
      expect((e as KmipClientError).code).toBe('HTTP');
      expect((e as KmipClientError).status).toBe(404);
    } finally {
      await c.close();
    }
  });
});

describe('readiness fails when a check fails', () => {
  it('/readyz answers 503 with the failing check once the store is closed; /livez stays 200', async () => {
    const k = await startTestKms({ httpsPort: 'ephemeral' });
    try {
      const p = k.kms.httpsAddress!.port;
      const get = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsGet({ host: '127.0.0.1', port: p, path, servername: 'localhost', ca: tlsFiles().ca }, (res) => {
            let b = '';
            res.on('data', (d: Buffer) => (b += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
          });
          req.on('error', reject);
        });
      expect((await get('/readyz')).status).toBe(200);
      // The store check wrote something durable (an empty commit proves nothing): this host's
      // probe entry, rewritten by the next probe.
      const probes = await k.kms.services.store.meta.list('health/ready/', { limit: 10 });
      expect(probes).toHaveLength(1);
      expect((await get('/readyz')).status).toBe(200);
      const again = await k.kms.services.store.meta.list('health/ready/', { limit: 10 });
      expect(again).toHaveLength(1);
      expect(again[0]!.revision).toBeGreaterThan(probes[0]!.revision);
      expect(Buffer.from(again[0]!.value).equals(Buffer.from(probes[0]!.value))).toBe(false);
      await k.kms.services.store.close();
      const r = await get('/readyz');
      expect(r.status).toBe(503);
      const body = JSON.parse(r.body) as { ready: boolean; checks: { store: { ok: boolean; error?: string }; protector: { ok: boolean } } };
      expect(body.ready).toBe(false);
      expect(body.checks.store.ok).toBe(false);
      expect(body.checks.store.error).toMatch(/closed/);
      expect(body.checks.protector.ok).toBe(true);
      expect((await get('/livez')).status).toBe(200);
    } finally {
      await k.dispose().catch(() => undefined);
    }
  });
});
