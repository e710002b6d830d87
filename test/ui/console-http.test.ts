/**
 * The web console over plain HTTPS (no browser): security headers, escaping, who gets in (an
 * administrator's certificate or console token; 403 for other identities), CSRF on every POST,
 * page-size, CSV and rate limits, and key actions run through the dispatcher and audited as
 * the administrator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { effectiveState } from '../../src/objects/lifecycle.js';
import { Operation, ResultReason, State } from '../../src/kmip/generated/enums.gen.js';
import { getPayload, parseResponse, requestMessage } from '../../src/client/requests.js';
import { createToken, revokeToken } from '../../src/http/ui/tokens.js';
import { runCli } from '../../src/cli/main.js';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueClientCert } from '../../src/pki/dev-certs.js';
import { CERTS, startTestKms, type TestKms } from '../support/kms.js';
import { createKey, csrfOf, ui } from './support.js';

let kms: TestKms;
let port: number;
const EVIL = '<script>alert("x")</script>&';

beforeAll(async () => {
  kms = await startTestKms({
    httpsPort: 'ephemeral',
    access: { administrators: ['admin'], grants: [] },
    console: { maxPageSize: 50, csvMaxRows: 3 },
  });
  port = kms.kms.httpsAddress!.port;
});
afterAll(async () => {
  await kms.dispose();
});

async function stateOf(uid: string): Promise<number> {
  const r = await kms.kms.services.store.get(uid);
  return r ? effectiveState(r.state, r.attributes, BigInt(Math.floor(Date.now() / 1000))) : -1;
}

describe('console: headers and access', () => {
  it('an administrator gets the dashboard with a strict CSP, no framing and no caching', async () => {
    const r = await ui(port, '/ui/');
    expect(r.status).toBe(200);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.body).toContain('Dashboard');
    expect(r.body).toMatch(/<span class="ok">Ready<\/span>/);
    expect(r.body).not.toMatch(/<script/i);
    expect(r.body).not.toMatch(/ style=/); // no inline styles either
  });

  it('a non-administrator certificate gets a plain 403 page on every page and POST', async () => {
    for (const path of ['/ui/', '/ui/keys', '/ui/audit', '/ui/clients', '/ui/hsm', '/ui/audit.csv']) {
      const r = await ui(port, path, { identity: 'alice' });
      expect(r.status, path).toBe(403);
      expect(r.body).toContain('alice is not one of');
      expect(r.body).not.toContain('<nav>');
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    }
    const post = await ui(port, '/ui/audit/verify', { identity: 'alice', form: { _csrf: 'x' } });
    expect(post.status).toBe(403);
    // Each refusal is in the audit trail under alice's identity.
    const audit = await ui(port, '/ui/audit?identity=alice&op=Console');
    expect(audit.body).toMatch(/<td>alice<\/td><td>[^<]*<\/td><td>Console<\/td><td><span class="mono"><\/span><\/td><td>OperationFailed PermissionDenied<\/td>/);
  });

  it('without a certificate: pages send to the login page, POSTs are 401', async () => {
    const r = await ui(port, '/ui/keys', { identity: null });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/ui/login');
    const login = await ui(port, '/ui/login', { identity: null });
    expect(login.status).toBe(200);
    expect(login.body).toContain('name="token"');
    expect((await ui(port, '/ui/audit/verify', { identity: null, form: {} })).status).toBe(401);
  });

  it('other paths stay as they were: /livez, and /ui is redirected to /ui/', async () => {
    expect((await ui(port, '/livez', { identity: null })).status).toBe(200);
    const r = await ui(port, '/ui', { identity: null });
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('/ui/');
  });
});

describe('console: dashboard', () => {
  it('request totals, errors by reason and the rate since the last view come from the metrics registry', async () => {
    const figures = (body: string) => {
      const m = /(\d+) batch item\(s\) answered since start, (\d+) failed/.exec(body);
      if (!m) throw new Error('no request figures on the dashboard');
      return { total: Number(m[1]), failed: Number(m[2]) };
    };
    const before = figures((await ui(port, '/ui/')).body);
    const c = await kms.client('kms-client');
    await createKey(c, 'dashboard-key');
    const res = parseResponse(await c.send(requestMessage({ version: { major: 2, minor: 1 }, batch: [{ operation: Operation.Get, payload: getPayload('no-such-object') }] })));
    expect(res.items[0]!.reason).toBe(ResultReason.ObjectNotFound); // 2.x
    const after = await ui(port, '/ui/');
    expect(figures(after.body)).toEqual({ total: before.total + 2, failed: before.failed + 1 });
    expect(after.body).toMatch(/<td>ObjectNotFound<\/td><td>\d+<\/td>/);
    expect(after.body).toMatch(/: [\d.]+\/s, 1 error\(s\)\./);
    expect(after.body).toMatch(/<td>server<\/td><td>[^<]*CN&#61;localhost<\/td><td>\d{4}-/);
  });
});

describe('console: keys', () => {
  let evil: string;
  beforeAll(async () => {
    const c = await kms.client('kms-client');
    evil = await createKey(c, EVIL, 'grp-a');
    for (let i = 0; i < 5; i++) await createKey(c, `page-key-${i}`, 'grp-page');
  });

  it('a Name holding <script> is shown escaped in the list and on the detail page', async () => {
    const list = await ui(port, `/ui/keys?name=${encodeURIComponent(EVIL)}`);
    expect(list.status).toBe(200);
    expect(list.body).toContain(evil);
    expect(list.body).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;');
    expect(list.body).not.toContain('<script>');
    const detail = await ui(port, `/ui/keys/${evil}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toContain('&#60;script&#62;');
    expect(detail.body).not.toContain('<script>');
    // The search input echoes the query escaped too.
    expect(list.body).toContain('value="&#60;script&#62;');
  });

  it('search by group, type, owner and state; pages of the requested size; a size over console.maxPageSize is 400', async () => {
    const all = await ui(port, '/ui/keys?group=grp-page&type=SymmetricKey&owner=kms-client&state=PreActive');
    expect(all.body).toContain('5 object(s)');
    const p1 = await ui(port, '/ui/keys?group=grp-page&size=2');
    expect(p1.body.match(/<a class="mono" href="\/ui\/keys\//g)).toHaveLength(2);
    expect(p1.body).toContain('page 1 of 3');
    expect(p1.body).toContain('rel="next"');
    const p3 = await ui(port, '/ui/keys?group=grp-page&size=2&page=3');
    expect(p3.body.match(/<a class="mono" href="\/ui\/keys\//g)).toHaveLength(1);
    expect(p3.body).not.toContain('rel="next"');
    expect((await ui(port, '/ui/keys?owner=nobody')).body).toContain('0 object(s)');
    const big = await ui(port, '/ui/keys?size=51');
    expect(big.status).toBe(400);
    expect(big.body).toContain('console.maxPageSize');
    expect((await ui(port, '/ui/keys?size=50')).status).toBe(200);
    // Unfiltered: the newest objects first, walked only as far as the page, with a next page.
    const newest = await ui(port, '/ui/keys?size=2');
    expect(newest.body).toContain('Page 1; more on the next page');
    expect(newest.body.match(/<a class="mono" href="\/ui\/keys\//g)).toHaveLength(2);
    expect(newest.body).toContain('rel="next"');
    const newestTwo = [...newest.body.matchAll(/<a class="mono" href="\/ui\/keys\/([^"]+)"/g)].map((m) => m[1]);
    const second = await ui(port, '/ui/keys?size=2&page=2');
    const secondTwo = [...second.body.matchAll(/<a class="mono" href="\/ui\/keys\/([^"]+)"/g)].map((m) => m[1]);
    expect(secondTwo).toHaveLength(2);
    expect(secondTwo.some((u) => newestTwo.includes(u))).toBe(false);
  });

  it('a form body over console.maxFormBytes is 413 and runs nothing', async () => {
    const c = await kms.client('kms-client');
    const uid = await createKey(c, 'big-form');
    const csrf = csrfOf((await ui(port, `/ui/keys/${uid}/confirm?action=activate`)).body);
    const r = await ui(port, `/ui/keys/${uid}/action`, { form: { action: 'activate', _csrf: csrf, pad: 'x'.repeat(16 * 1024) } });
    expect(r.status).toBe(413);
    expect(r.body).toContain('console.maxFormBytes');
    expect(await stateOf(uid)).toBe(State.PreActive);
  });

  it('the detail page shows attributes but never key material', async () => {
    const c = await kms.client('kms-client');
    const uid = await createKey(c, 'material-check');
    const detail = await ui(port, `/ui/keys/${uid}`);
    expect(detail.body).toContain('CryptographicAlgorithm');
    expect(detail.body).not.toMatch(/KeyValue|KeyMaterial/);
    expect(detail.body).toContain('never shown');
  });

  it('CSRF: a POST without the token, with a wrong one, or from another origin is refused and changes nothing', async () => {
    const c = await kms.client('kms-client');
    const uid = await createKey(c, 'csrf-target');
    const confirm = await ui(port, `/ui/keys/${uid}/confirm?action=revoke`);
    const csrf = csrfOf(confirm.body);
    const path = `/ui/keys/${uid}/action`;
    expect((await ui(port, path, { form: { action: 'revoke', reason: '6' } })).status).toBe(403);
    expect((await ui(port, path, { form: { action: 'revoke', reason: '6', _csrf: csrf.slice(0, -2) + 'AA' } })).status).toBe(403);
    expect((await ui(port, path, { form: { action: 'revoke', reason: '6', _csrf: csrf }, headers: { Origin: 'https://evil.example' } })).status).toBe(403);
    expect((await ui(port, path, { form: { action: 'revoke', reason: '6', _csrf: csrf }, headers: { 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(403);
    // A CSRF token is bound to its caller: the one a token login's page carries is refused for the certificate.
    const { token } = createToken(kms.dataDir, { identity: 'admin', name: 'csrf', ttlMs: 3_600_000 });
    const other = csrfOf((await ui(port, '/ui/hsm', { identity: null, headers: { Authorization: `Bearer ${token}` } })).body);
    expect(other).not.toBe(csrf);
    expect((await ui(port, path, { form: { action: 'activate', _csrf: other } })).status).toBe(403);
    expect(await stateOf(uid)).toBe(State.PreActive);
    const ok = await ui(port, path, {
      form: { action: 'activate', _csrf: csrf },
      headers: { Host: `localhost:${port}`, Origin: `https://localhost:${port}`, 'Sec-Fetch-Site': 'same-origin' },
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe(`/ui/keys/${uid}?done=Activate`);
    expect(await stateOf(uid)).toBe(State.Active);
  });

  it('Revoke runs through the dispatcher as the administrator and is audited as the admin', async () => {
    const c = await kms.client('kms-client');
    const uid = await createKey(c, 'revoke-target');
    const csrf = csrfOf((await ui(port, `/ui/keys/${uid}/confirm?action=activate`)).body);
    await ui(port, `/ui/keys/${uid}/action`, { form: { action: 'activate', _csrf: csrf } });
    const r = await ui(port, `/ui/keys/${uid}/action`, { form: { action: 'revoke', reason: '6', message: 'retired', _csrf: csrf } });
    expect(r.status).toBe(303);
    expect(await stateOf(uid)).toBe(State.Deactivated);
    const audit = await ui(port, `/ui/audit?key=${uid}&op=Revoke`);
    expect(audit.body).toMatch(new RegExp(`<td>admin</td><td>[^<]*</td><td>Revoke</td><td><span class="mono">${uid}</span></td><td>Success</td>`));
    // The timeline on the detail page shows it too.
    const detail = await ui(port, `/ui/keys/${uid}`);
    expect(detail.body).toMatch(/<td>Revoke<\/td><td>admin<\/td><td>Success<\/td>/);
    // A refused action reports the Result Reason: Activate of a deactivated key.
    const bad = await ui(port, `/ui/keys/${uid}/action`, { form: { action: 'activate', _csrf: csrf } });
    expect(bad.headers.location).toContain('failed=Activate+refused');
  });
});

describe('console: audit', () => {
  it('filters by identity and result; a bad date is 400', async () => {
    const r = await ui(port, '/ui/audit?identity=kms-client&op=Create&result=success');
    expect(r.status).toBe(200);
    const rows = r.body.match(/<td>kms-client<\/td>/g) ?? [];
    expect(rows.length).toBeGreaterThan(0);
    expect(r.body).not.toMatch(/<td>admin<\/td>/);
    expect((await ui(port, '/ui/audit?since=yesterday-ish')).status).toBe(400);
    const none = await ui(port, `/ui/audit?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`);
    expect(none.body).toContain('0 record(s) shown');
  });

  it('the CSV export streams at most console.csvMaxRows rows', async () => {
    const r = await ui(port, '/ui/audit.csv');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('text/csv');
    const lines = r.body.trim().split('\r\n');
    expect(lines[0]).toBe('seq,time,kind,identity,address,kmip,operation,objects,status,reason,message,ms,ref');
    expect(lines).toHaveLength(1 + 3 + 1);
    expect(lines[4]).toContain('console.csvMaxRows');
  });

  it('a client-supplied value that looks like a spreadsheet formula is defused in the CSV', async () => {
    const c = await kms.client('kms-client');
    await c.send(requestMessage({ version: { major: 2, minor: 1 }, batch: [{ operation: Operation.Get, payload: getPayload('=1+2') }] }));
    const r = await ui(port, `/ui/audit.csv?op=Get&key=${encodeURIComponent('=1+2')}`);
    const lines = r.body.trim().split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`"'=1+2"`);
    expect(lines[1]).not.toMatch(/(^|,)"=1\+2"/);
  });

  it("verify runs the running server's verify and shows the result", async () => {
    const page = await ui(port, '/ui/audit');
    const r = await ui(port, '/ui/audit/verify', { form: { _csrf: csrfOf(page.body) } });
    expect(r.status).toBe(303);
    const after = await ui(port, '/ui/audit');
    expect(after.body).toMatch(/id="verify-status">\s*<span class="ok">Verified<\/span> at [^ ]+ by admin: \d+ entries/);
  });
});

describe('console: clients and HSM pages', () => {
  it('clients lists identities from the access config, the audit trail and the certificates issued into the data folder; the HSM page names the protector', async () => {
    const issued = await issueClientCert(CERTS, 'tape-lib-7', join(kms.dataDir, 'certs', 'clients'), { days: 10 });
    const fingerprint = new X509Certificate(readFileSync(issued.cert)).fingerprint256;
    const r = await ui(port, '/ui/clients');
    expect(r.body).toMatch(/<td>tape-lib-7<\/td><td>certificate issued<\/td>/);
    expect(r.body).toContain(fingerprint);
    expect(r.body).toMatch(/<span class="bad">expires /); // 10 days left: under console.certWarnDays
    expect(r.body).not.toContain('PRIVATE KEY');
    expect(r.body).toMatch(/<td>admin<\/td><td>administrator/);
    expect(r.body).toMatch(/<td>kms-client<\/td>/);
    const h = await ui(port, '/ui/hsm');
    expect(h.status).toBe(200);
    expect(h.body).toContain('software master key');
  });
});

describe('console tokens', () => {
  it('a token logs in (cookie session), works as a bearer, reads /metrics; a wrong or revoked token is refused; never KMIP', async () => {
    const { token, stored } = createToken(kms.dataDir, { identity: 'admin', name: 'test', ttlMs: 3_600_000 });
    const wrong = token.slice(0, -3) + (token.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await ui(port, '/ui/keys', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await ui(port, '/ui/keys', { identity: null, headers: { Authorization: `Bearer ${wrong}` } })).status).toBe(303);
    const badLogin = await ui(port, '/ui/login', { identity: null, form: { token: wrong } });
    expect(badLogin.status).toBe(401);
    expect(badLogin.headers['set-cookie']).toBeUndefined();
    expect((await ui(port, '/ui/audit?op=Authenticate&result=AuthenticationNotSuccessful')).body).toContain('<td>Authenticate</td>');
    const login = await ui(port, '/ui/login', { identity: null, form: { token } });
    expect(login.status).toBe(303);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(String(login.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    const dash = await ui(port, '/ui/', { identity: null, headers: { Cookie: cookie } });
    expect(dash.status).toBe(200);
    expect(dash.body).toContain('admin (token)');
    expect((await ui(port, '/ui/audit?identity=admin&op=ConsoleLogin')).body).toMatch(/<td>ConsoleLogin<\/td><td><span class="mono"><\/span><\/td><td>Success<\/td>/);
    // /metrics (loopback rule here, but the token is accepted as well) and never /kmip.
    expect((await ui(port, '/metrics', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(
      (await ui(port, '/kmip', { identity: null, method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', 'Content-Length': '0' } })).status,
    ).toBe(401);
    // Revoked: the session and the bearer stop at the next request.
    expect(revokeToken(kms.dataDir, stored.id)).toBe(true);
    expect((await ui(port, '/ui/', { identity: null, headers: { Cookie: cookie } })).status).toBe(303);
    expect((await ui(port, '/ui/', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(303);
  });

  it('a token for an identity that is not an administrator is refused', async () => {
    const { token } = createToken(kms.dataDir, { identity: 'alice', name: 'x', ttlMs: 3_600_000 });
    expect((await ui(port, '/ui/', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(403);
    expect((await ui(port, '/ui/login', { identity: null, form: { token } })).status).toBe(401);
  });

  it('a damaged token file lets no token in and the console keeps serving certificates', async () => {
    const { token } = createToken(kms.dataDir, { identity: 'admin', name: 'before-damage', ttlMs: 3_600_000 });
    const file = join(kms.dataDir, 'console-tokens.json');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.slice(0, 20));
    try {
      expect((await ui(port, '/ui/', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(303);
      expect((await ui(port, '/ui/')).status).toBe(200);
    } finally {
      writeFileSync(file, good);
    }
    expect((await ui(port, '/ui/', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('an expired token is refused', async () => {
    const { token } = createToken(kms.dataDir, { identity: 'admin', name: 'old', ttlMs: 1000, now: Date.now() - 10_000 });
    expect((await ui(port, '/ui/', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(303);
  });

  it('kms admin token create / list / revoke', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdin: process.stdin,
      stdout: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }),
      stderr: new Writable({ write: (c, _e, cb) => (err.push(String(c)), cb()) }),
    };
    expect(await runCli(['admin', 'token', 'create', '--identity', 'admin', '--ttl', '2h', '--name', 'cli', '--data-dir', kms.dataDir], io)).toBe(0);
    const token = out.join('').trim();
    expect(token).toMatch(/^kmsc_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect((await ui(port, '/ui/', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    out.length = 0;
    expect(await runCli(['admin', 'token', 'list', '--json', '--data-dir', kms.dataDir], io)).toBe(0);
    const listed = JSON.parse(out.join('')) as { id: string; name: string; sha256?: string }[];
    const mine = listed.find((t) => t.name === 'cli')!;
    expect(mine).toBeDefined();
    // The secret is everything after the id (base64url may itself contain '_'): never listed.
    expect(JSON.stringify(listed)).not.toContain(token.split('_').slice(2).join('_'));
    expect(mine.sha256).toBeUndefined();
    out.length = 0;
    expect(await runCli(['admin', 'token', 'revoke', mine.id, '--data-dir', kms.dataDir], io)).toBe(0);
    expect((await ui(port, '/ui/', { identity: null, headers: { Authorization: `Bearer ${token}` } })).status).toBe(303);
    expect(await runCli(['admin', 'token', 'revoke', mine.id, '--data-dir', kms.dataDir], io)).toBe(5);
    expect(await runCli(['admin', 'token', 'create', '--identity', 'admin', '--ttl', '100d', '--data-dir', kms.dataDir], io)).toBe(2);
  });
});

describe('console rate limit', () => {
  it('more than console.requestsPerMinute requests from one identity get 429; others are still served', async () => {
    const small = await startTestKms({ httpsPort: 'ephemeral', access: { administrators: ['admin', 'bob'], grants: [] }, console: { requestsPerMinute: 3 } });
    try {
      const p = small.kms.httpsAddress!.port;
      for (let i = 0; i < 3; i++) expect((await ui(p, '/ui/hsm')).status).toBe(200);
      const r = await ui(p, '/ui/hsm');
      expect(r.status).toBe(429);
      expect(r.body).toContain('console.requestsPerMinute');
      expect((await ui(p, '/ui/hsm', { identity: 'bob' })).status).toBe(200);
      expect((await ui(p, '/livez')).status).toBe(200);
    } finally {
      await small.dispose();
    }
  });

  it('console.enabled false: /ui/ is 404', async () => {
    const off = await startTestKms({ httpsPort: 'ephemeral', access: { administrators: ['admin'], grants: [] }, console: { enabled: false } });
    try {
      expect((await ui(off.kms.httpsAddress!.port, '/ui/')).status).toBe(404);
    } finally {
      await off.dispose();
    }
  });
});
