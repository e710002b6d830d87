/**
 * GET /metrics after a known sequence of requests: the Prometheus text format is parsed
 * (every sample line into name, labels, value) and the values are checked against what the
 * sequence must have produced. Then the three access rules (loopback, bearer token, mTLS
 * identity) are exercised.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gauge } from 'prom-client';
import { KmipHttpsClient } from '../../src/client/index.js';
import { KmsMetrics } from '../../src/http/metrics.js';
import { createSymmetricKeyPayload, discoverVersionsPayload, expectSuccess, getPayload, parseResponse, requestMessage, uniqueIdentifierOf } from '../../src/client/requests.js';
import { CryptographicAlgorithm, Operation, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { CERTS, startTestKms, tlsFiles, type TestKms } from '../support/kms.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parse the Prometheus text exposition format (version 0.0.4): comments skipped, every sample read. */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    let consumed = 0;
    for (let l = re.exec(body); l; l = re.exec(body)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      consumed += l[0].length;
    }
    if (consumed !== body.length) throw new Error(`bad label set: ${body}`);
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`bad value: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}

function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  return s?.value;
}

function get(port: number, path: string, opts: { identity?: string; token?: string } = {}): Promise<{ status: number; body: string; type: string }> {
  const id = opts.identity;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        servername: 'localhost',
        ca: tlsFiles().ca,
        agent: false,
        ...(id !== undefined && { cert: tlsFiles(id).cert, key: tlsFiles(id).key }),
        headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
      },
      (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, type: String(res.headers['content-type']) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const V21 = { major: 2, minor: 1 };
const V14 = { major: 1, minor: 4 };

describe('/metrics after a known sequence', () => {
  let kms: TestKms;
  beforeAll(async () => {
    kms = await startTestKms({ httpsPort: 'ephemeral' });
  });
  afterAll(async () => {
    await kms.dispose();
  });

  it('counts requests, latencies, batches, connections, protector calls, cache, objects, store and audit writes', async () => {
    const port = kms.kms.httpsAddress!.port;
    const c = await kms.client();
    const create = () =>
      c.send(
        requestMessage({
          version: V21,
          batch: [
            { operation: Operation.Create, payload: createSymmetricKeyPayload(V21, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt }) },
          ],
        }),
      );
    const uids = [uniqueIdentifierOf(expectSuccess(parseResponse(await create()).items[0]!)), uniqueIdentifierOf(expectSuccess(parseResponse(await create()).items[0]!))];
    const getReq = (uid: string) => requestMessage({ version: V21, batch: [{ operation: Operation.Get, payload: getPayload(uid) }] });
    expectSuccess(parseResponse(await c.send(getReq(uids[0]!))).items[0]!); // cache miss: the protector opens it
    expectSuccess(parseResponse(await c.send(getReq(uids[0]!))).items[0]!); // cache hit
    const missing = parseResponse(await c.send(getReq('no-such-object'))).items[0]!;
    expect(missing.reason).toBe(ResultReason.ObjectNotFound); // 2.x's reason for an unknown Unique Identifier
    // One two-item batch over the KMIP port and one Discover Versions over HTTPS (1.4).
    await c.send(
      requestMessage({
        version: V21,
        batch: [
          { operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) },
          { operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) },
        ],
      }),
    );
    const h = new KmipHttpsClient({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(), timeoutMs: 10_000, encoding: 'json' });
    await h.send(requestMessage({ version: V14, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] }));
    await h.close();

    const r = await get(port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parsePrometheus(r.body);

    expect(types.get('kms_requests_total')).toBe('counter');
    expect(value(samples, 'kms_requests_total', { operation: 'Create', version: '2.1', result: 'Success' })).toBe(2);
    expect(value(samples, 'kms_requests_total', { operation: 'Get', version: '2.1', result: 'Success' })).toBe(2);
    expect(value(samples, 'kms_requests_total', { operation: 'Get', version: '2.1', result: 'ObjectNotFound' })).toBe(1);
    expect(value(samples, 'kms_requests_total', { operation: 'DiscoverVersions', version: '2.1', result: 'Success' })).toBe(2);
    expect(value(samples, 'kms_requests_total', { operation: 'DiscoverVersions', version: '1.4', result: 'Success' })).toBe(1);
    expect(samples.filter((s) => s.name === 'kms_requests_total').reduce((a, s) => a + s.value, 0)).toBe(8);

    expect(types.get('kms_request_duration_seconds')).toBe('histogram');
    expect(value(samples, 'kms_request_duration_seconds_count', { operation: 'Create' })).toBe(2);
    expect(value(samples, 'kms_request_duration_seconds_count', { operation: 'Get' })).toBe(3);
    expect(value(samples, 'kms_request_duration_seconds_bucket', { operation: 'Get', le: '+Inf' })).toBe(3);
    expect(value(samples, 'kms_request_duration_seconds_sum', { operation: 'Create' })).toBeGreaterThan(0);
    // Seven messages: six of one item, one of two.
    expect(value(samples, 'kms_request_batch_items_count')).toBe(7);
    expect(value(samples, 'kms_request_batch_items_sum')).toBe(8);
    expect(value(samples, 'kms_request_batch_items_bucket', { le: '1' })).toBe(6);

    // Our KMIP connection is open; the HTTPS client's is closed; one handshake each.
    expect(value(samples, 'kms_open_connections', { transport: 'kmip' })).toBe(1);
    expect(value(samples, 'kms_tls_handshakes_total', { transport: 'kmip' })).toBe(1);
    expect(value(samples, 'kms_tls_handshakes_total', { transport: 'https' })).toBeGreaterThanOrEqual(2); // the client's and this scrape's

    // Two keys sealed, one opened (the second Get came from the cache).
    expect(value(samples, 'kms_key_protector_calls_total', { function: 'seal' })).toBe(2);
    expect(value(samples, 'kms_key_protector_calls_total', { function: 'open' })).toBe(1);
    expect(value(samples, 'kms_key_protector_errors_total', { function: 'open' }) ?? 0).toBe(0);
    expect(value(samples, 'kms_key_cache_hits_total')).toBe(1);
    expect(value(samples, 'kms_key_cache_misses_total')).toBe(1);

    expect(value(samples, 'kms_objects', { type: 'SymmetricKey' })).toBe(2);
    expect(value(samples, 'kms_objects_by_state', { state: 'PreActive' })).toBe(2);
    expect(value(samples, 'kms_objects_by_state', { state: 'Active' })).toBe(0);

    // Every message's audit records were made durable once; every commit went through a group write.
    expect(value(samples, 'kms_audit_append_duration_seconds_count')).toBe(7);
    const commits = value(samples, 'kms_store_commit_group_size_sum')!;
    const groups = value(samples, 'kms_store_commit_group_size_count')!;
    expect(commits).toBeGreaterThanOrEqual(7);
    expect(groups).toBeGreaterThanOrEqual(1);
    expect(groups).toBeLessThanOrEqual(commits);
    expect(value(samples, 'kms_store_commit_duration_seconds_count')).toBe(groups);

    const notAfter = Math.floor(new Date(new X509Certificate(readFileSync(join(CERTS, 'server.pem'))).validTo).getTime() / 1000);
    expect(value(samples, 'kms_certificate_expiry_timestamp_seconds', { cert: 'server' })).toBe(notAfter);
    expect(value(samples, 'kms_certificate_expiry_timestamp_seconds', { cert: 'ca' })).toBeGreaterThanOrEqual(notAfter);

    expect(value(samples, 'kms_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(samples, 'kms_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);

    // No client-supplied string or identifier as a label value.
    for (const s of samples) {
      for (const v of Object.values(s.labels)) {
        expect(uids).not.toContain(v);
        expect(v).not.toBe('no-such-object');
        expect(v).not.toBe('kms-client');
      }
    }
  });
});

describe('/metrics access rules', () => {
  it('token: 401 without a bearer token, 403 with a wrong one, 200 with the right one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-metrics-token-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'a-long-enough-secret-token-123\n', { mode: 0o600 });
    const kms = await startTestKms({ httpsPort: 'ephemeral', metrics: { access: 'token', tokenFile } });
    try {
      const port = kms.kms.httpsAddress!.port;
      expect((await get(port, '/metrics')).status).toBe(401);
      expect((await get(port, '/metrics', { token: 'a-long-enough-secret-token-124' })).status).toBe(403);
      const ok = await get(port, '/metrics', { token: 'a-long-enough-secret-token-123' });
      expect(ok.status).toBe(200);
      expect(parsePrometheus(ok.body).types.get('kms_requests_total')).toBe('counter');
    } finally {
      await kms.dispose();
    }
  });

  it('mtls: only the listed client identities (no certificate 401, another identity 403)', async () => {
    const kms = await startTestKms({ httpsPort: 'ephemeral', metrics: { access: 'mtls', identities: ['admin'] } });
    try {
      const port = kms.kms.httpsAddress!.port;
      expect((await get(port, '/metrics')).status).toBe(401);
      expect((await get(port, '/metrics', { identity: 'alice' })).status).toBe(403);
      expect((await get(port, '/metrics', { identity: 'admin' })).status).toBe(200);
    } finally {
      await kms.dispose();
    }
  });
});

describe('exposition of values without observations', () => {
  it('writes NaN as the format spells it (prom-client writes "Nan"), so a strict parser reads every line', async () => {
    const m = new KmsMetrics({}, { processMetrics: false });
    new Gauge({ name: 'kms_test_not_a_number', help: 'a gauge set to NaN', registers: [m.registry] }).set(Number.NaN);
    const text = await m.text();
    expect(text).toMatch(/^kms_test_not_a_number NaN$/m);
    expect(text).not.toMatch(/ Nan$/m);
    const { samples } = parsePrometheus(text);
    expect(Number.isNaN(value(samples, 'kms_test_not_a_number'))).toBe(true);
  });
});
