/**
 * The console in a real browser: playwright-core driving Debian's chromium (/usr/bin/chromium,
 * installed by scripts/setup-debian.sh; no browser download), headless. Client certificates
 * through playwright's `clientCertificates` context option. An administrator logs in with a
 * certificate, finds a key by name, revokes it through the confirmation step and sees the
 * Revoke in the audit trail under their identity; a non-administrator's certificate is refused;
 * a console token logs in and a wrong one is refused; a POST whose CSRF token was removed is
 * refused. A screenshot of each page goes to test-artifacts/console/ (git-ignored).
 *
 * Written for a loaded 2-core machine: no sleeps, every step waits on a selector or a URL,
 * with generous timeouts.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createToken } from '../../src/http/ui/tokens.js';
import { issueClientCert } from '../../src/pki/dev-certs.js';
import { CERTS, startTestKms, type TestKms } from '../support/kms.js';
import { createKey } from './support.js';

const CHROMIUM = process.env.KMS_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve(new URL('../../test-artifacts/console', import.meta.url).pathname);
const STEP_MS = Number(process.env.KMS_TEST_STEP_MS ?? 60_000);
/** A whole test: many steps, each bounded by STEP_MS. */
const TEST_MS = 10 * STEP_MS;

let kms: TestKms;
let origin: string;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup-debian.sh (it installs chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  // The data folder gets the test CA, so the client registry signs with the CA the server trusts.
  const dataDir = mkdtempSync(join(tmpdir(), 'kms-browser-'));
  mkdirSync(join(dataDir, 'certs'), { recursive: true });
  for (const f of ['ca.pem', 'ca.key']) copyFileSync(join(CERTS, f), join(dataDir, 'certs', f));
  kms = await startTestKms(
    { httpsPort: 'ephemeral', access: { administrators: ['admin'], grants: [{ identity: 'bob', objectGroup: 'backups', operations: ['Get', 'Locate'] }] } },
    { dataDir },
  );
  origin = `https://localhost:${kms.kms.httpsAddress!.port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: STEP_MS, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await kms?.dispose();
});

/** A browser context presenting `identity`'s client certificate (none: null). */
async function contextFor(identity: string | null): Promise<Page> {
  const ctx = await browser.newContext({
    // The server's certificate chains to the test CA, which chromium does not know.
    ignoreHTTPSErrors: true,
    viewport: { width: 1100, height: 720 },
    ...(identity !== null && { clientCertificates: [{ origin, certPath: join(CERTS, `${identity}.pem`), keyPath: join(CERTS, `${identity}.key`) }] }),
  });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.setDefaultNavigationTimeout(STEP_MS);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

describe('the console in chromium', () => {
  it(
    'an administrator finds a key by name, revokes it after confirming, and sees the Revoke audited as them',
    async () => {
      const client = await kms.client('kms-client');
      await issueClientCert(CERTS, 'tape-lib-7', join(kms.dataDir, 'certs', 'clients'));
      for (let i = 0; i < 3; i++) await createKey(client, `tape-key-${i}`, 'backups');
      const uid = await createKey(client, 'payroll-db-key', 'databases');

      const page = await contextFor('admin');
      const res = await page.goto(`${origin}/ui/`);
      expect(res?.status()).toBe(200);
      await page.locator('#ready .ok').waitFor();
      expect(await page.locator('nav .who').innerText()).toBe('admin (certificate)');
      await shot(page, 'dashboard');

      await page.getByRole('link', { name: 'Keys' }).click();
      await page.waitForURL(/\/ui\/keys$/);
      await page.locator('input[name="name"]').fill('payroll-db-key');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL(/name=payroll-db-key/);
      await page.locator('#key-count', { hasText: '1 object(s);' }).waitFor();
      await shot(page, 'keys');

      await page.getByRole('link', { name: uid }).click();
      await page.waitForURL(new RegExp(`/ui/keys/${uid}$`));
      expect(await page.locator('#state').innerText()).toBe('PreActive');
      await page.locator('#action-activate').click();
      await page.locator('#confirm').click();
      await page.locator('#result.notice').waitFor();
      expect(await page.locator('#state').innerText()).toBe('Active');
      await shot(page, 'key-detail');

      await page.locator('#action-revoke').click();
      await page.waitForURL(/confirm\?action=revoke/);
      await page.locator('select[name="reason"]').selectOption({ label: 'Superseded' });
      await page.locator('input[name="message"]').fill('replaced by payroll-db-key-2');
      await shot(page, 'revoke-confirm');
      await page.locator('#confirm').click();
      await page.waitForURL(/done=Revoke/);
      expect(await page.locator('#result').innerText()).toBe('Revoke succeeded.');
      expect(await page.locator('#state').innerText()).toBe('Deactivated');
      await page.locator('table.timeline td', { hasText: 'Revoke' }).first().waitFor();

      await page.getByRole('link', { name: 'Audit' }).click();
      await page.locator('#verify').click();
      await page.locator('#verify-status .ok').waitFor();
      await page.locator('input[name="key"]').fill(uid);
      await page.locator('input[name="op"]').fill('Revoke');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/op=Revoke/);
      const row = page.locator('table.audit tbody tr').first();
      await row.waitFor();
      const cells = await row.locator('td').allInnerTexts();
      expect(cells[2]).toBe('admin');
      expect(cells[4]).toBe('Revoke');
      expect(cells[5]).toBe(uid);
      expect(cells[6]).toBe('Success');
      expect(await page.locator('table.audit tbody tr').count()).toBe(1);
      await shot(page, 'audit');

      await page.getByRole('link', { name: 'Clients' }).click();
      await page.locator('table.identities td', { hasText: 'bob' }).first().waitFor();
      await page.locator('table.certs td', { hasText: 'tape-lib-7' }).first().waitFor();

      await page.getByRole('link', { name: 'HSM & protector' }).click();
      await page.locator('main h1', { hasText: 'HSM & protector' }).waitFor();
      await shot(page, 'hsm');
    },
    TEST_MS,
  );

  it(
    'an administrator signs a CSR in the Clients page, copies the certificate, then revokes it after confirming and sees it marked revoked',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kms-browser-csr-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-new',
          '-nodes',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-sha256',
          '-subj',
          '/O=Storage Inc/CN=array-7',
          '-keyout',
          join(dir, 'a.key'),
          '-out',
          join(dir, 'a.csr'),
        ],
        { stdio: 'pipe' },
      );
      const csr = readFileSync(join(dir, 'a.csr'), 'utf8');
      // A second client, enrolled from the command line's side, so the list has a valid one beside the revoked one.
      const other = execFileSync(
        'openssl',
        ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha256', '-subj', '/CN=vcenter-prod', '-keyout', join(dir, 'v.key')],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ).toString();
      await kms.kms.clients.sign({ name: 'vcenter-prod', csr: other, days: 20, actor: 'local-operator' });

      const page = await contextFor('admin');
      await page.goto(`${origin}/ui/clients`);
      await page.locator('#sign-csr').click();
      await page.waitForURL(/\/ui\/clients\/sign$/);
      await page.locator('input[name="name"]').fill('array-7');
      await page.locator('input[name="days"]').fill('365');
      await page.locator('textarea[name="material"]').fill(csr);
      await shot(page, 'clients-sign');
      await page.locator('#review').click();
      await page.locator('table.review td', { hasText: 'CN=array-7' }).waitFor();
      await page.locator('#confirm').click();
      await page.locator('#result.notice').waitFor();
      const pem = await page.locator('#issued-pem').inputValue();
      expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
      const fingerprint = await page.locator('#issued-fingerprint').innerText();
      expect(kms.kms.clients.find(fingerprint)[0]).toMatchObject({ name: 'array-7', issuedBy: 'admin', via: 'sign' });

      await page.getByRole('link', { name: 'Clients', exact: true }).click();
      await page.waitForURL(/\/ui\/clients$/);
      await page.locator(`#revoke-${fingerprint.replace(/:/g, '')}`).click();
      await page.waitForURL(/\/ui\/clients\/revoke\?fingerprint=/);
      await page.locator('select[name="reason"]').selectOption('keyCompromise');
      await page.locator('#confirm').click();
      await page.waitForURL(/revoked=/);
      expect(await page.locator('#result').innerText()).toContain('Revoked array-7');
      const row = page.locator('table.clients tbody tr', { hasText: 'array-7' });
      expect(await row.locator('.revoked').innerText()).toMatch(/^revoked \S+ \(keyCompromise, by admin\)$/);
      expect(kms.kms.clients.find(fingerprint)[0]!.revokedBy).toBe('admin');
      await page.goto(`${origin}/ui/clients`);
      await page.locator('table.clients .revoked').first().waitFor();
      await shot(page, 'clients');
    },
    TEST_MS,
  );

  it(
    "a certificate that is not an administrator's gets the plain 403 page",
    async () => {
      const page = await contextFor('alice');
      const res = await page.goto(`${origin}/ui/keys`);
      expect(res?.status()).toBe(403);
      expect(await page.locator('main').innerText()).toContain('alice is not one of');
      expect(await page.locator('nav').count()).toBe(0);
      await shot(page, 'forbidden');
    },
    TEST_MS,
  );

  it(
    'a console token logs in; a wrong token is refused',
    async () => {
      const { token } = createToken(kms.dataDir, { identity: 'admin', name: 'browser', ttlMs: 3_600_000 });
      const page = await contextFor(null);
      await page.goto(`${origin}/ui/keys`);
      await page.waitForURL(/\/ui\/login$/);
      await page.locator('input[name="token"]').fill(`${token.slice(0, -4)}AAAA` === token ? `${token.slice(0, -4)}BBBB` : `${token.slice(0, -4)}AAAA`);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('p.error').waitFor();
      expect(await page.locator('p.error').innerText()).toContain('not valid');
      await shot(page, 'login');
      await page.locator('input[name="token"]').fill(token);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(/\/ui\/$/);
      expect(await page.locator('nav .who').innerText()).toBe('admin (token)');
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(/\/ui\/login$/);
    },
    TEST_MS,
  );

  it(
    'CSRF: a POST whose token was taken out of the form is refused and changes nothing',
    async () => {
      const client = await kms.client('kms-client');
      const uid = await createKey(client, 'csrf-browser-key');
      const page = await contextFor('admin');
      await page.goto(`${origin}/ui/keys/${uid}/confirm?action=destroy`);
      await page.locator('main input[name="_csrf"]').evaluate((e) => e.remove());
      const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/ui/keys/${uid}/action`)), page.locator('#confirm').click()]);
      expect(response.status()).toBe(403);
      await page.locator('main', { hasText: 'CSRF token' }).waitFor();
      const r = await kms.kms.services.store.get(uid);
      expect(r?.sealedBody).toBeDefined(); // not destroyed
    },
    TEST_MS,
  );
});
