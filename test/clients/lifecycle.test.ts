/**
 * #18 item 3, end to end: a real server (development CA in its data folder, KMIP and HTTPS
 * listeners, real mTLS) and the `kms certs` command as an operator runs it (a child process,
 * through the server's admin socket). A CSR made by openssl is signed, its certificate connects,
 * `list` shows it, `revoke` makes the next handshake fail on both listeners while other clients
 * keep working, GET /crl (no client certificate) parses with pkijs and lists the serial, `issue`
 * refuses an existing name without --force, `expiring` finds a short-lived certificate, and a
 * stopped folder answers the same commands.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { Agent, get as httpsGet } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, KmipClient, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { decodeRecord } from '../../src/audit/record.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { runKms } from '../support/kms-process.js';

let srv: TestKms;
let certsDir: string;
let ca: Buffer;
/** The KMIP port connections go to (the restarted server's in the last test). */
let kmipPort: number;

function tlsOf(name: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  const base = name === 'kms-client' ? join(certsDir, 'client') : join(certsDir, 'clients', name);
  return { ca, cert: readFileSync(`${base}.pem`), key: readFileSync(`${base}.key`) };
}

async function connectAs(files: { cert: Buffer; key: Buffer }): Promise<KmipClient> {
  return KmipClient.connect({ host: '127.0.0.1', port: kmipPort, servername: 'localhost', ca, cert: files.cert, key: files.key, timeoutMs: 10_000 });
}

async function createKey(c: KmipClient): Promise<string> {
  return uniqueIdentifierOf(await new Session(c, V2_1).ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 })));
}

/** A whole connection attempt with `files`: 'served' when a Create succeeds, else how it ended. */
async function attempt(files: { cert: Buffer; key: Buffer }): Promise<string> {
  let c: KmipClient;
  try {
    c = await connectAs(files);
  } catch (e) {
    return `connect failed: ${(e as Error).message}`;
  }
  try {
    await createKey(c);
    return 'served';
  } catch (e) {
    return `refused: ${(e as Error).message}`;
  } finally {
    await c.close().catch(() => undefined);
  }
}

/** HTTPS GET on the server's HTTPS port, with an optional client certificate. */
function get(path: string, files?: { cert: Buffer; key: Buffer }): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet({ host: '127.0.0.1', port: srv.kms.httpsAddress!.port, path, servername: 'localhost', ca, ...(files && { cert: files.cert, key: files.key }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

function opensslCsr(dir: string, cn: string): { csr: string; key: string } {
  const key = join(dir, `${cn}.openssl.key`);
  const csr = join(dir, `${cn}.csr`);
  execFileSync('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha256', '-subj', `/O=Storage Inc/CN=${cn}`, '-keyout', key, '-out', csr], {
    stdio: 'pipe',
  });
  return { csr, key };
}

const certs = (args: string[]) => runKms(['certs', ...args, '--data-dir', srv.dataDir]);

beforeAll(async () => {
  // No --cert/--key/--ca: the server makes (and trusts) the data folder's development CA.
  srv = await startTestKms({ cert: undefined, key: undefined, ca: undefined, httpsPort: 'ephemeral', clients: { expiryWarningDays: 10 } });
  certsDir = join(srv.dataDir, 'certs');
  ca = readFileSync(join(certsDir, 'ca.pem'));
  kmipPort = srv.port;
});
afterAll(async () => srv?.dispose());

describe('kms certs on a running server', () => {
  let arrayFingerprint: string;
  let arraySerial: string;
  let arrayFiles: { cert: Buffer; key: Buffer };

  it('sign: an openssl CSR is signed, the certificate connects and the server knows the client by its name', async () => {
    const { csr, key } = opensslCsr(srv.dataDir, 'array-1');
    const r = await certs(['sign', '--csr', csr, '--client', 'array-1', '--days', '90']);
    expect(r.code, r.stderr).toBe(0);
    const pemFile = join(certsDir, 'clients', 'array-1.pem');
    expect(r.stdout).toBe(readFileSync(pemFile, 'utf8'));
    const x = new X509Certificate(r.stdout);
    expect(x.subject).toBe('O=Storage Inc\nCN=array-1');
    expect(x.checkIssued(new X509Certificate(ca))).toBe(true);
    arrayFingerprint = x.fingerprint256;
    arraySerial = x.serialNumber;
    expect(r.stderr).toContain(arrayFingerprint);
    arrayFiles = { cert: readFileSync(pemFile), key: readFileSync(key) };
    const c = await connectAs(arrayFiles);
    const uid = await createKey(c);
    expect((await srv.kms.services.store.get(uid))?.owner).toBe('array-1');
    await c.close();
    // A CSR whose CN is another name is refused (exit 1) unless overridden.
    const wrong = await certs(['sign', '--csr', csr, '--client', 'array-9']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('not the client name "array-9"');
  });

  it('list shows it (table and --json), with the name, subject, fingerprint and not-after', async () => {
    const t = await certs(['list']);
    expect(t.code, t.stderr).toBe(0);
    const line = t.stdout.split('\n').find((l) => l.startsWith('array-1 '));
    expect(line).toContain(arrayFingerprint);
    expect(line).toContain('CN=array-1');
    expect(line?.trimEnd().endsWith('-')).toBe(true); // not revoked
    const j = await certs(['list', '--json']);
    const list = JSON.parse(j.stdout) as { name: string; fingerprint: string; serial: string; notAfter: string; via: string; issuedBy: string }[];
    const mine = list.find((c) => c.name === 'array-1')!;
    expect(mine).toMatchObject({ fingerprint: arrayFingerprint, serial: arraySerial, via: 'sign', issuedBy: 'local-operator' });
    expect(Math.round((Date.parse(mine.notAfter) - Date.now()) / 86_400_000)).toBe(90);
  });

  it('revoke: connections already open with it are closed, the next handshake fails on both listeners, other clients keep working, the refusal is logged and audited', async () => {
    const other = await connectAs(tlsOf('kms-client'));
    await createKey(other);
    const stillOpen = await connectAs(arrayFiles);
    await createKey(stillOpen);
    // An HTTPS keep-alive connection with the certificate, open across the revocation.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let httpsSocket: Socket | undefined;
    const live = await new Promise<number>((resolve, reject) => {
      const req = httpsGet({ host: '127.0.0.1', port: srv.kms.httpsAddress!.port, path: '/livez', servername: 'localhost', ca, ...arrayFiles, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('socket', (sk) => (httpsSocket = sk));
      req.on('error', reject);
    });
    expect(live).toBe(200);
    const httpsClosed = new Promise<void>((resolve) => httpsSocket!.once('close', () => resolve()));
    const headBefore = srv.kms.services.store.audit.head().seq;
    const r = await certs(['revoke', 'array-1', '--reason', 'keyCompromise']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`revoked array-1: ${arrayFingerprint}`);
    // The connections open before: closed by the server once the deny list reloads (no idle timeout to wait for).
    await expect
      .poll(
        async () =>
          (await createKey(stillOpen).then(
            () => 'served',
            (e: Error) => e.message,
          )) !== 'served',
        { timeout: 10_000 },
      )
      .toBe(true);
    await Promise.race([httpsClosed, new Promise((_, reject) => setTimeout(() => reject(new Error('the HTTPS keep-alive connection was not closed')), 10_000))]);
    agent.destroy();
    // The revoked certificate: the server closes right after the handshake, nothing is served.
    expect(await attempt(arrayFiles)).toMatch(/^(refused|connect failed)/);
    // Everyone else: served, on the connection already open and on a new one.
    await createKey(other);
    expect(await attempt(tlsOf('kms-client'))).toBe('served');
    await other.close();
    await stillOpen.close();
    // HTTPS: the revoked certificate gets no answer; without a client certificate /livez answers.
    await expect(get('/livez', arrayFiles)).rejects.toThrow();
    expect((await get('/livez')).status).toBe(200);
    // Audited: the revocation (who, which certificate) and the refused handshake.
    const entries = await srv.kms.services.store.audit.read(headBefore + 1, 1000);
    const records = entries.map(
      (e) => decodeRecord(e.bytes) as { kind: string; op: string; client?: string; status: string; message?: string; peer?: { verifyError?: string; fingerprint?: string } },
    );
    const revoke = records.find((x) => x.op === 'ClientCertificateRevoke');
    expect(revoke).toMatchObject({ client: 'local-operator', status: 'Success' });
    expect(revoke?.message).toContain(arrayFingerprint);
    const refused = records.filter((x) => x.kind === 'auth' && x.peer?.verifyError === 'CERT_REVOKED');
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused[0]!.peer!.fingerprint).toBe(arrayFingerprint);
    // The two open connections closed, each audited as such.
    expect(refused.filter((x) => x.message?.startsWith('open connection closed: client certificate revoked')).length).toBe(2);
    const metrics = (await get('/metrics')).body.toString();
    expect(metrics).toMatch(/kms_connection_refusals_total\{transport="kmip",reason="revoked"\} [1-9]/);
    expect(metrics).toMatch(/kms_connection_refusals_total\{transport="https",reason="revoked"\} [1-9]/);
    const list = JSON.parse((await certs(['list', '--json'])).stdout) as { name: string; revokedAt?: string; reason?: string }[];
    expect(list.find((c) => c.name === 'array-1')).toMatchObject({ reason: 'keyCompromise' });
  });

  it('GET /crl without a client certificate: DER, signed by the CA, lists the serial; the number increases at the next revocation', async () => {
    const res = await get('/crl');
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/pkix-crl');
    const crl = pkijs.CertificateRevocationList.fromBER(new Uint8Array(res.body));
    const serials = (crl.revokedCertificates ?? []).map((x) =>
      Buffer.from(x.userCertificate.valueBlock.valueHexView)
        .toString('hex')
        .toUpperCase()
        .replace(/^(00)+/, ''),
    );
    expect(serials).toContain(arraySerial);
    const caCert = pkijs.Certificate.fromBER(new X509Certificate(ca).raw);
    expect(await crl.verify({ issuerCertificate: caCert })).toBe(true);
    expect(crl.nextUpdate!.value.getTime() - crl.thisUpdate.value.getTime()).toBe(24 * 3_600_000);
    const number = (c: pkijs.CertificateRevocationList) =>
      Number(
        `0x${Buffer.from((c.crlExtensions!.extensions.find((e) => e.extnID === '2.5.29.20')!.parsedValue as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView).toString('hex')}`,
      );
    const before = number(crl);
    // openssl reads it too.
    const file = join(srv.dataDir, 'crl.der');
    writeFileSync(file, res.body);
    expect(execFileSync('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text'], { encoding: 'utf8' })).toContain(`Serial Number: ${arraySerial}`);
    const issued = await certs(['issue', '--client', 'to-revoke']);
    expect(issued.code, issued.stderr).toBe(0);
    expect((await certs(['revoke', 'to-revoke'])).code).toBe(0);
    const after = pkijs.CertificateRevocationList.fromBER(new Uint8Array((await get('/crl')).body));
    expect(number(after)).toBeGreaterThan(before);
    expect(after.revokedCertificates).toHaveLength(2);
  });

  it('issue refuses an existing name without --force (exit 4), replaces it with --force (the old one revoked)', async () => {
    const first = await certs(['issue', '--client', 'tape-lib-7']);
    expect(first.code, first.stderr).toBe(0);
    const key = join(certsDir, 'clients', 'tape-lib-7.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const oldFiles = tlsOf('tape-lib-7');
    expect(await attempt(oldFiles)).toBe('served');
    const again = await certs(['issue', '--client', 'tape-lib-7']);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('--force');
    expect(readFileSync(key)).toEqual(oldFiles.key); // nothing overwritten
    // Files gone but the registry still has a valid certificate: still refused.
    const elsewhere = await certs(['issue', '--client', 'tape-lib-7', '--out', join(srv.dataDir, 'elsewhere')]);
    expect(elsewhere.code).toBe(4);
    expect(elsewhere.stderr).toContain('has a valid certificate');
    expect(existsSync(join(srv.dataDir, 'elsewhere', 'tape-lib-7.key'))).toBe(false);
    const forced = await certs(['issue', '--client', 'tape-lib-7', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('superseded:');
    expect(await attempt(tlsOf('tape-lib-7'))).toBe('served');
    expect(await attempt(oldFiles)).toMatch(/^(refused|connect failed)/);
  });

  it('expiring finds a short-lived certificate; the metric counts it; list --json is parseable', async () => {
    expect((await certs(['issue', '--client', 'short-lived', '--days', '3'])).code).toBe(0);
    const r = await certs(['expiring', '--days', '7']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 client certificate\(s\) expire within 7 days/);
    expect(r.stdout).toMatch(/short-lived\s+\S+\s+\S+\s+[23]\n/);
    const j = JSON.parse((await certs(['expiring', '--json'])).stdout) as { name: string }[]; // clients.expiryWarningDays 10
    expect(j.map((c) => c.name)).toEqual(['short-lived']);
    const metrics = (await get('/metrics')).body.toString();
    expect(metrics).toContain('kms_client_certificates_expiring{within="7d"} 1');
    expect(metrics).toContain('kms_client_certificates_expiring{within="expired"} 0');
  });

  it('usage errors exit 2; an unknown name or fingerprint exits 5', async () => {
    expect((await certs(['revoke'])).code).toBe(2);
    expect((await certs(['revoke', 'x', '--reason', 'because'])).code).toBe(2);
    expect((await certs(['sign', '--client', 'x'])).code).toBe(2);
    expect((await certs(['revoke', 'nobody'])).code).toBe(5);
    expect((await certs(['revoke', 'AA'.repeat(32)])).code).toBe(5);
  });
});

describe('kms certs on the stopped folder', () => {
  it('list, revoke and issue work without the server; started again, the server refuses what was revoked meanwhile', async () => {
    await srv.stop();
    const list = await certs(['list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const names = (JSON.parse(list.stdout) as { name: string }[]).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['array-1', 'tape-lib-7', 'short-lived']));
    const r = await certs(['revoke', 'short-lived', '--reason', 'cessationOfOperation']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`by ${srv.dataDir}`);
    expect((await certs(['issue', '--client', 'offline-agent'])).code).toBe(0);
    expect((await certs(['reload'])).code).toBe(3); // needs a running server
    // Started again, the server reads the deny list from the store.
    const again = await startTestKms({ cert: undefined, key: undefined, ca: undefined }, { dataDir: srv.dataDir });
    try {
      kmipPort = again.port;
      expect(await attempt(tlsOf('short-lived'))).toMatch(/^(refused|connect failed)/);
      expect(await attempt(tlsOf('offline-agent'))).toBe('served');
    } finally {
      await again.stop();
    }
  });
});
