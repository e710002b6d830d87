/**
 * The console's Clients page on the client registry (plain HTTPS, a real server over real mTLS):
 * a CSR made by openssl is signed through the console's form, review and confirm POSTs (with
 * the CSRF token), the registry lists it with the admin as issuer and the audit trail has the
 * ClientCertificateSign by the admin; the certificate connects; revoked through the console, its
 * next handshake is refused while the admin's keeps working; refusals (CN mismatch, name in use)
 * show the registry's reason; a POST without CSRF changes nothing; a non-admin gets 403.
 *
 * The data folder gets the test CA (certs/dev ca.pem + ca.key), so the registry signs with the
 * CA the server trusts.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmipClient } from '../../src/client/index.js';
import { CERTS, startTestKms, type TestKms } from '../support/kms.js';
import { createKey, csrfOf, ui } from './support.js';

let kms: TestKms;
let port: number;
let work: string;

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kms-console-clients-'));
  mkdirSync(join(dataDir, 'certs'), { recursive: true });
  copyFileSync(join(CERTS, 'ca.pem'), join(dataDir, 'certs', 'ca.pem'));
  copyFileSync(join(CERTS, 'ca.key'), join(dataDir, 'certs', 'ca.key'));
  work = mkdtempSync(join(tmpdir(), 'kms-console-csr-'));
  kms = await startTestKms(
    { httpsPort: 'ephemeral', access: { administrators: ['admin'], grants: [{ identity: 'array-c1', objectGroup: 'arrays', operations: ['Get'] }] }, console: { pageSize: 1 } },
    { dataDir },
  );
  port = kms.kms.httpsAddress!.port;
});
afterAll(async () => kms?.dispose());

function opensslCsr(cn: string): { csr: string; key: string } {
  const key = join(work, `${cn}.key`);
  const csr = join(work, `${cn}.csr`);
  execFileSync('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha256', '-subj', `/O=Storage Inc/CN=${cn}`, '-keyout', key, '-out', csr], {
    stdio: 'pipe',
  });
  return { csr: readFileSync(csr, 'utf8'), key };
}

/** The hidden fields of the confirmation form in `page`, to post as the browser would. */
function hiddenFields(page: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of page.matchAll(/<input\s+type="hidden"\s+name="([^"]+)"\s+value="([^"]*)"\s*\/?>/g)) {
    out[m[1]!] = m[2]!.replace(/&#(\d+);/g, (_s, n: string) => String.fromCharCode(Number(n)));
  }
  return out;
}

async function connectWith(cert: Buffer, key: Buffer): Promise<string> {
  let c: KmipClient;
  try {
    c = await KmipClient.connect({ host: '127.0.0.1', port: kms.port, servername: 'localhost', ca: readFileSync(join(CERTS, 'ca.pem')), cert, key, timeoutMs: 10_000 });
  } catch (e) {
    return `connect failed: ${(e as Error).message}`;
  }
  try {
    await createKey(c, `probe-${Date.now()}`);
    return 'served';
  } catch (e) {
    return `refused: ${(e as Error).message}`;
  } finally {
    await c.close().catch(() => undefined);
  }
}

describe('console: client registry', () => {
  let fingerprint: string;
  let certPem: string;
  let keyFile: string;

  it('signs an openssl CSR through form → review → confirm; the registry lists it, audited as the admin', async () => {
    const { csr, key } = opensslCsr('array-c1');
    keyFile = key;
    const form = await ui(port, '/ui/clients/sign');
    expect(form.status).toBe(200);
    expect(form.body).toContain('name="material"');
    const review = await ui(port, '/ui/clients/sign', { form: { _csrf: csrfOf(form.body), step: 'review', name: 'array-c1', days: '90', material: csr } });
    expect(review.status).toBe(200);
    expect(review.body).toContain('<td>O&#61;Storage Inc, CN&#61;array-c1</td><td>ec prime256v1</td>');
    expect(kms.kms.clients.find('array-c1')).toEqual([]); // the review signs nothing
    const fields = hiddenFields(review.body);
    expect(fields.step).toBe('confirm');
    expect(fields.material).toBe(csr);
    const done = await ui(port, '/ui/clients/sign', { form: fields });
    expect(done.status).toBe(200);
    const pem = /<textarea id="issued-pem" readonly rows="16" cols="70">([^<]+)<\/textarea>/.exec(done.body)?.[1];
    expect(pem).toBeDefined();
    certPem = pem!.replace(/&#(\d+);/g, (_s, n: string) => String.fromCharCode(Number(n)));
    const x = new X509Certificate(certPem);
    expect(x.subject).toBe('O=Storage Inc\nCN=array-c1');
    expect(x.checkIssued(new X509Certificate(readFileSync(join(CERTS, 'ca.pem'))))).toBe(true);
    expect(done.body).not.toContain('PRIVATE KEY');
    fingerprint = x.fingerprint256;
    const listed = kms.kms.clients.find('array-c1');
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ fingerprint, via: 'sign', issuedBy: 'admin' });
    expect(Math.round((Date.parse(listed[0]!.notAfter) - Date.now()) / 86_400_000)).toBe(90);

    const audit = await ui(port, '/ui/audit?identity=admin&op=ClientCertificateSign');
    expect(audit.body).toMatch(/<td>admin<\/td><td>[^<]*<\/td><td>ClientCertificateSign<\/td>[\s\S]*?<td>Success<\/td>/);

    const page = await ui(port, '/ui/clients?q=array-c1');
    expect(page.body).toMatch(new RegExp(`<td>array-c1</td><td>CN&#61;array-c1,O&#61;Storage Inc</td><td><span class="mono">${fingerprint}</span></td>`));
    expect(page.body).toContain('<span class="ok">valid</span>');
    expect(page.body).toContain('Get on group arrays'); // grants
    expect(page.body).toContain(`id="revoke-${fingerprint.replace(/:/g, '')}"`);

    // The certificate works on the KMIP port.
    expect(await connectWith(Buffer.from(certPem), readFileSync(keyFile))).toBe('served');
  });

  it('refusals show the registry reason: CN mismatch, name in use without Replace; nothing is enrolled', async () => {
    const other = opensslCsr('array-c2');
    const form = await ui(port, '/ui/clients/sign');
    const csrf = csrfOf(form.body);
    const wrongCn = await ui(port, '/ui/clients/sign', { form: { _csrf: csrf, step: 'confirm', name: 'array-c9', material: other.csr } });
    expect(wrongCn.status).toBe(400);
    expect(wrongCn.body).toMatch(/id="refusal">Refused by the client registry \(BAD_REQUEST\): the CSR&#39;s subject CN is &#34;array-c2&#34;, not the client name &#34;array-c9&#34;/);
    const again = await ui(port, '/ui/clients/sign', { form: { _csrf: csrf, step: 'confirm', name: 'array-c1', material: opensslCsr('array-c1').csr } });
    expect(again.status).toBe(409);
    expect(again.body).toContain('Refused by the client registry (EXISTS): client array-c1 has a valid certificate');
    expect(kms.kms.clients.find('array-c9')).toEqual([]);
    expect(kms.kms.clients.find('array-c1')).toHaveLength(1);
    expect((await ui(port, '/ui/audit?identity=admin&op=ClientCertificateSign&result=failure&size=10')).body).toContain('OperationFailed BAD_REQUEST');
  });

  it('issues for a public key (the page never has a private key) and pages the list within console.pageSize', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const form = await ui(port, '/ui/clients/issue');
    const review = await ui(port, '/ui/clients/issue', { form: { _csrf: csrfOf(form.body), step: 'review', name: 'tape-c3', material: spki } });
    expect(review.body).toContain('<td>CN&#61;tape-c3</td><td>ec prime256v1</td>');
    const done = await ui(port, '/ui/clients/issue', { form: hiddenFields(review.body) });
    expect(done.status).toBe(200);
    const pem = /<textarea id="issued-pem"[^>]*>([^<]+)<\/textarea>/.exec(done.body)![1]!.replace(/&#(\d+);/g, (_s, n: string) => String.fromCharCode(Number(n)));
    const x = new X509Certificate(pem);
    expect(x.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(spki).export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(kms.kms.clients.find('tape-c3')[0]).toMatchObject({ via: 'issue', issuedBy: 'admin' });
    // Two certificates, one a page (console.pageSize 1 here); over console.maxPageSize is refused.
    const p1 = await ui(port, '/ui/clients');
    expect(p1.body).toContain('2 certificate(s) in the registry; page 1 of 2');
    expect(p1.body).toContain('<td>array-c1</td>');
    expect(p1.body).not.toContain('<td>tape-c3</td>');
    expect(p1.body).toContain('id="next"');
    const p2 = await ui(port, '/ui/clients?page=2');
    expect(p2.body).toContain('page 2 of 2');
    expect(p2.body).toContain('<td>tape-c3</td>');
    expect(p2.body).not.toContain('<td>array-c1</td>');
    expect((await ui(port, '/ui/clients?size=100000')).status).toBe(400);
  });

  it('a POST without the CSRF token, and a non-administrator, change nothing', async () => {
    const noCsrf = await ui(port, '/ui/clients/revoke', { form: { fingerprint, reason: 'keyCompromise' } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body).toContain('CSRF token');
    for (const path of ['/ui/clients', '/ui/clients/sign', '/ui/clients/revoke?fingerprint=' + encodeURIComponent(fingerprint)]) {
      expect((await ui(port, path, { identity: 'alice' })).status, path).toBe(403);
    }
    const alice = await ui(port, '/ui/clients/revoke', { identity: 'alice', form: { _csrf: 'x', fingerprint, reason: 'keyCompromise' } });
    expect(alice.status).toBe(403);
    expect(kms.kms.clients.find(fingerprint)[0]!.revokedAt).toBeUndefined();
  });

  it('revokes through the confirmation: the next handshake with it is refused, the admin keeps working', async () => {
    const confirm = await ui(port, `/ui/clients/revoke?fingerprint=${encodeURIComponent(fingerprint)}`);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Confirm revoke');
    const r = await ui(port, '/ui/clients/revoke', { form: { _csrf: csrfOf(confirm.body), fingerprint, reason: 'keyCompromise' } });
    expect(r.status).toBe(303);
    expect(r.headers.location).toContain('revoked=');
    const rec = kms.kms.clients.find(fingerprint)[0]!;
    expect(rec).toMatchObject({ reason: 'keyCompromise', revokedBy: 'admin' });
    expect(await connectWith(Buffer.from(certPem), readFileSync(keyFile))).not.toBe('served');
    const page = await ui(port, String(r.headers.location));
    expect(page.status).toBe(200); // the admin's certificate still works
    expect(page.body).toContain('id="result">Revoked array-c1');
    expect(page.body).toMatch(/<span class="bad revoked">revoked [^ ]+ \(keyCompromise, by admin\)<\/span>/);
    expect(page.body).not.toContain(`id="revoke-${fingerprint.replace(/:/g, '')}"`);
    expect(await connectWith(readFileSync(join(CERTS, 'client.pem')), readFileSync(join(CERTS, 'client.key')))).toBe('served');
    expect((await ui(port, '/ui/audit?identity=admin&op=ClientCertificateRevoke')).body).toMatch(/<td>ClientCertificateRevoke<\/td>[\s\S]*?<td>Success<\/td>/);
    // Revoking it again: the registry's NOT_FOUND reason, shown on the confirmation page.
    const twice = await ui(port, '/ui/clients/revoke', { form: { _csrf: csrfOf(confirm.body), fingerprint, reason: 'unspecified' } });
    expect(twice.status).toBe(404);
    expect(twice.body).toContain('Refused by the client registry (NOT_FOUND): every certificate of');
  });
});
