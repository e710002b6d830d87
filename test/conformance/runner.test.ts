/**
 * The runner's robustness: a server that accepts the connection but never answers makes the
 * case fail with a clear timeout message, quickly, instead of hanging the run.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverCases, prerequisiteOf, selectCases } from '../../conformance/cases.js';
import { runCases } from '../../conformance/runner.js';
import { CERTS } from '../support/kms.js';
import { TESTCASES } from '../support/paths.js';

describe('conformance runner', () => {
  let silent: tls.Server;
  let port: number;
  beforeAll(async () => {
    silent = tls.createServer({
      cert: readFileSync(join(CERTS, 'server.pem')),
      key: readFileSync(join(CERTS, 'server.key')),
      ca: readFileSync(join(CERTS, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    });
    silent.on('secureConnection', (s) => s.on('data', () => undefined)); // reads, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => silent.close(() => r())));

  it('a hung step fails its case with a timeout message and the run goes on', async () => {
    const cases = selectCases(discoverCases(TESTCASES), { versions: ['2.1'], cases: ['SKLC-M-1-21', 'OMOS-M-1-21'] });
    expect(cases).toHaveLength(2);
    const t0 = Date.now();
    const results = await runCases(cases, {
      target: { kind: 'remote', host: '127.0.0.1', port, certsDir: CERTS, servername: 'localhost' },
      served: [{ major: 2, minor: 1 }],
      stepTimeoutMs: 300,
      caseTimeoutMs: 5_000,
    });
    expect(Date.now() - t0).toBeLessThan(5_000);
    for (const r of results) {
      expect(r.status).toBe('fail');
      expect(r.failures[0]?.step).toBe(0);
      expect(r.failures[0]?.error).toMatch(/no response: TIMEOUT: no response within 300 ms/);
    }
  });

  it('a case for a protocol version the server does not serve is not applicable, not failed', async () => {
    const cases = selectCases(discoverCases(TESTCASES), { versions: ['3.0'], cases: ['SKLC-M-1-30'] });
    const [r] = await runCases(cases, { target: { kind: 'embedded', certsDir: CERTS }, served: [{ major: 2, minor: 1 }] });
    expect(r?.status).toBe('na');
    expect(r?.note).toMatch(/does not serve KMIP 3\.0/);
  });

  it('a case that continues from another (SASED-M-3 from SASED-M-2) replays its prerequisite first, on the same server', async () => {
    const cases = selectCases(discoverCases(TESTCASES), { versions: ['2.1'], cases: ['SASED-M-3-21', 'SASED-M-1-21'] });
    expect(cases.map((c) => prerequisiteOf(c)?.id)).toEqual([undefined, 'SASED-M-2-21']);
    const results = await runCases(cases, { target: { kind: 'embedded', certsDir: CERTS }, served: [{ major: 2, minor: 1 }] });
    const r = results[1];
    expect(r?.prerequisite).toBe('SASED-M-2-21');
    expect(r?.failures).toEqual([]);
    expect(r?.status).toBe('pass');
  });

  it('a prerequisite that does not pass fails the dependent case, naming it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kms-corpus-'));
    try {
      const dir = join(root, '2.1', 'mandatory');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(root, 'MANIFEST.tsv'), '');
      copyFileSync(join(TESTCASES, '2.1', 'mandatory', 'SASED-M-3-21.xml'), join(dir, 'SASED-M-3-21.xml'));
      // A copy of SASED-M-2 whose Register goes to another group: SASED-M-3's Locate would find nothing.
      const pre = readFileSync(join(TESTCASES, '2.1', 'mandatory', 'SASED-M-2-21.xml'), 'utf8');
      expect(pre).toContain('"SASED-M-2-21-group"');
      writeFileSync(join(dir, 'SASED-M-2-21.xml'), pre.replace('<ResultStatus type="Enumeration" value="Success"/>', '<ResultStatus type="Enumeration" value="OperationFailed"/>'));
      const [r] = await runCases(
        discoverCases(root).filter((c) => c.id === 'SASED-M-3-21'),
        { target: { kind: 'embedded', certsDir: CERTS }, served: [{ major: 2, minor: 1 }] },
      );
      expect(r?.status).toBe('fail');
      expect(r?.failures[0]?.operation).toBe('(prerequisite)');
      expect(r?.failures[0]?.error).toMatch(/prerequisite case SASED-M-2-21 failed at its step 0/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
