/**
 * The administrators' web console at /ui/ on the HTTPS listener (docs/console.md).
 *
 * Who: an identity in access.administrators, by its browser client certificate (the same
 * identity rules as the KMIP port), or a console token (`kms admin token create`) given as
 * `Authorization: Bearer` or exchanged for a session cookie at /ui/login. Anyone else gets a
 * plain 403 page (a certificate that is not an administrator's) or the login page.
 *
 * Guards (security.ts): a strict Content-Security-Policy without script, no framing, no
 * caching; every POST needs the caller's CSRF token and a same-origin Origin/Sec-Fetch-Site;
 * console.requestsPerMinute per identity; page sizes up to console.maxPageSize; CSV exports up
 * to console.csvMaxRows; audit reads up to console.auditScanMax records per page.
 *
 * Actions on keys (Activate, Revoke, Destroy) are KMIP requests run through the operations
 * dispatcher as the administrator's principal, so access, lifecycle rules and the audit record
 * are exactly those of a KMIP client's request. Pages never show key material: attributes and
 * links only, never the Key Value or the sealed body.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { AuthError, principalFromCertificate } from '../../server/auth.js';
import { consoleSettings, type ConsoleSettings } from '../../config/console.js';
import { CSS, html, page } from './html.js';
import { ConsoleError, type Caller, type ConsoleSources, type PageContext, type VerifyState } from './page-context.js';
export { certificateInfo, ConsoleError, pageSizeOf, type Caller, type ConsoleSources, type PageContext, type VerifyState } from './page-context.js';
import { readBoundedBody } from '../body.js';
import { cookieOf, Csrf, RateLimiter, sameOrigin, SECURITY_HEADERS, SESSION_COOKIE, Sessions } from './security.js';
import { TokenVerifier } from './tokens.js';
import { authFailureEvent } from '../../audit/request-audit.js';
import type { AuditEvent } from '../../audit/record.js';
import { dashboardPage } from './page-dashboard.js';
import { keyActionConfirm, keyActionRun, keyDetailPage, keysPage } from './page-keys.js';
import { auditCsv, auditPage, auditVerify } from './page-audit.js';
import { clientAction, clientsPage } from './page-clients.js';
import { hsmPage } from './page-hsm.js';

export class ConsoleApp {
  readonly settings: ConsoleSettings;
  private readonly csrf = new Csrf();
  private readonly limiter: RateLimiter;
  private readonly sessions: Sessions;
  private readonly tokens: TokenVerifier;
  private readonly verify: VerifyState = { running: false };

  constructor(private readonly src: ConsoleSources) {
    this.settings = consoleSettings(src.config.console);
    this.limiter = new RateLimiter(this.settings.requestsPerMinute);
    this.sessions = new Sessions(this.settings.sessionTtlMs, this.settings.maxSessions);
    this.tokens = new TokenVerifier(src.config.dataDir, (e) => src.services.log.error({ err: e.message }, 'console tokens file unreadable: no token is accepted'));
  }

  /** A console token in `Authorization: Bearer` that names a current administrator (for /metrics). */
  bearerAllows(req: IncomingMessage): boolean {
    const t = this.bearer(req);
    return t !== undefined && this.src.services.access.isAdmin({ id: t.identity });
  }

  private bearer(req: IncomingMessage) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m ? this.tokens.verify(m[1]!) : undefined;
  }

  /** An access event of the console in the audit trail (logins and refusals; actions are audited by the dispatcher). */
  private async audit(e: AuditEvent): Promise<void> {
    await this.src.services.audit?.commitAlone([e]).catch(() => undefined); // AuditTrail logged a failure
  }

  private caller(req: IncomingMessage): Caller | undefined {
    const access = this.src.services.access;
    const session = this.sessions.get(cookieOf(req, SESSION_COOKIE));
    if (session) {
      const tok = this.tokens.current(session.tokenId);
      if (tok) return { id: tok.identity, via: 'token', subject: `session:${session.id}`, sessionId: session.id, isAdmin: access.isAdmin({ id: tok.identity }) };
      this.sessions.close(session.id);
    }
    const bearer = this.bearer(req);
    if (bearer) return { id: bearer.identity, via: 'token', subject: `token:${bearer.id}`, isAdmin: access.isAdmin({ id: bearer.identity }) };
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const peer = socket.getPeerCertificate();
      try {
        const p = principalFromCertificate(peer, this.src.identity);
        return { id: p.id, via: 'certificate', subject: `cert:${p.id}:${peer.fingerprint256}`, isAdmin: access.isAdmin(p) };
      } catch (e) {
        if (!(e instanceof AuthError)) throw e;
      }
    }
    return undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    let status = 500;
    const send = (code: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) => {
      status = code;
      if (res.headersSent || res.destroyed) return;
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      res.writeHead(code, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': String(buf.length), ...headers });
      res.end(req.method === 'HEAD' ? undefined : buf);
    };
    const plain = (code: number, title: string, text: string, headers: Record<string, string> = {}) => send(code, 'text/html; charset=utf-8', page({ title }, html`<p>${text}</p>`), headers);
    try {
      const url = new URL(req.url ?? '/', 'https://console.invalid');
      const path = url.pathname;
      if (path === '/ui') {
        send(308, 'text/plain; charset=utf-8', 'see /ui/\n', { Location: '/ui/' });
        return status;
      }
      if (path === '/ui/static/console.css') {
        send(200, 'text/css; charset=utf-8', CSS);
        return status;
      }
      const method = req.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
        plain(405, 'Method not allowed', 'The console answers GET and POST only.', { Allow: 'GET, HEAD, POST' });
        return status;
      }
      const caller = this.caller(req);
      const rateKey = caller ? `id:${caller.id}` : `addr:${req.socket.remoteAddress ?? ''}`;
      if (!this.limiter.take(rateKey)) {
        plain(429, 'Too many requests', `More than ${this.settings.requestsPerMinute} console requests a minute (console.requestsPerMinute); try again shortly.`, { 'Retry-After': '10' });
        return status;
      }
      let form = new URLSearchParams();
      if (method === 'POST') {
        if (!sameOrigin(req)) {
          this.src.services.log.warn({ origin: req.headers.origin, site: req.headers['sec-fetch-site'], host: req.headers.host, listener: 'https' }, 'console refused a cross-site POST');
          plain(403, 'Forbidden', 'Cross-site request refused (Origin / Sec-Fetch-Site).');
          return status;
        }
        form = await readForm(req, this.settings.maxFormBytes);
      }
      if (path === '/ui/login') {
        if (method === 'POST') await this.login(req, form, send);
        else send(caller?.isAdmin ? 303 : 200, 'text/html; charset=utf-8', caller?.isAdmin ? '' : loginPage(), caller?.isAdmin ? { Location: '/ui/' } : {});
        return status;
      }
      if (!caller) {
        if (method === 'GET' || method === 'HEAD') send(303, 'text/plain; charset=utf-8', 'log in at /ui/login\n', { Location: '/ui/login' });
        else plain(401, 'Not logged in', 'Present an administrator certificate or log in with a console token.');
        return status;
      }
      if (!caller.isAdmin) {
        this.src.services.log.warn({ identity: caller.id, via: caller.via, listener: 'https' }, 'console refused: not an administrator');
        await this.audit({
          kind: 'auth',
          time: new Date(this.src.services.clock()).toISOString(),
          ref: `console-${randomUUID()}`,
          client: caller.id,
          addr: req.socket.remoteAddress,
          op: 'Console',
          status: 'OperationFailed',
          reason: 'PermissionDenied',
          message: 'not a console administrator',
        });
        plain(403, 'Forbidden', `The identity ${caller.id} is not one of the console's administrators (access.administrators).`);
        return status;
      }
      const csrf = this.csrf.token(caller.subject);
      if (method === 'POST' && !this.csrf.check(caller.subject, form.get('_csrf') ?? undefined)) {
        plain(403, 'Forbidden', 'Missing or wrong CSRF token: reload the page and try again.');
        return status;
      }
      if (path === '/ui/logout' && method === 'POST') {
        if (caller.sessionId) this.sessions.close(caller.sessionId);
        send(303, 'text/plain; charset=utf-8', '', { Location: '/ui/login', 'Set-Cookie': `${SESSION_COOKIE}=; Path=/ui/; Secure; HttpOnly; SameSite=Strict; Max-Age=0` });
        return status;
      }
      const ctx: PageContext = {
        src: this.src,
        settings: this.settings,
        caller,
        csrf,
        url,
        req,
        res,
        verify: this.verify,
        form,
        render: (title, nav, body, code = 200) => send(code, 'text/html; charset=utf-8', page({ title, nav, who: `${caller.id} (${caller.via})`, csrf }, body)),
        redirect: (location) => send(303, 'text/plain; charset=utf-8', '', { Location: location }),
      };
      const route = await this.route(method, path, ctx);
      if (route === 'streamed') status = 200;
      else if (!route) plain(404, 'Not found', 'No such console page.');
    } catch (e) {
      if (e instanceof ConsoleError) plain(e.status, e.status === 400 ? 'Bad request' : `Error ${e.status}`, e.message, e.headers);
      else {
        const ref = randomUUID();
        this.src.services.log.error({ err: e, ref, listener: 'https' }, 'console: internal error');
        if (res.headersSent) res.destroy();
        else plain(500, 'Internal error', `internal error, ref ${ref}`);
      }
    }
    return status;
  }

  private async route(method: string, path: string, ctx: PageContext): Promise<boolean | 'streamed'> {
    const get = method === 'GET' || method === 'HEAD';
    if (path === '/ui/' && get) return (await dashboardPage(ctx), true);
    if (path === '/ui/keys' && get) return (await keysPage(ctx), true);
    const key = /^\/ui\/keys\/([^/]{1,256})(\/confirm|\/action)?$/.exec(path);
    if (key) {
      const uid = decodeURIComponent(key[1]!);
      if (!key[2] && get) return (await keyDetailPage(ctx, uid), true);
      if (key[2] === '/confirm' && get) return (await keyActionConfirm(ctx, uid), true);
      if (key[2] === '/action' && method === 'POST') return (await keyActionRun(ctx, uid), true);
      return false;
    }
    if (path === '/ui/clients' && get) return (await clientsPage(ctx), true);
    const client = /^\/ui\/clients\/(sign|issue|revoke)$/.exec(path);
    if (client) return (await clientAction(ctx, client[1] as 'sign' | 'issue' | 'revoke', method === 'POST'), true);
    if (path === '/ui/audit' && get) return (await auditPage(ctx), true);
    if (path === '/ui/audit.csv' && get) return (await auditCsv(ctx), 'streamed');
    if (path === '/ui/audit/verify' && method === 'POST') return (await auditVerify(ctx), true);
    if (path === '/ui/hsm' && get) return (await hsmPage(ctx), true);
    return false;
  }

  private async login(req: IncomingMessage, form: URLSearchParams, send: (code: number, type: string, body: string, headers?: Record<string, string>) => void): Promise<void> {
    const tok = this.tokens.verify(form.get('token') ?? '');
    const time = this.src.services.clock();
    if (!tok || !this.src.services.access.isAdmin({ id: tok.identity })) {
      this.src.services.log.warn({ remote: req.socket.remoteAddress, listener: 'https' }, 'console login refused: unknown, expired or revoked token, or not an administrator');
      await this.audit(authFailureEvent({ connectionId: `console-${randomUUID()}`, addr: req.socket.remoteAddress, message: 'console token refused', time }));
      send(401, 'text/html; charset=utf-8', loginPage("That token is not valid (unknown, expired, revoked, or not an administrator's)."));
      return;
    }
    const s = this.sessions.open(tok.id, tok.identity, Date.parse(tok.expires));
    const maxAge = Math.max(1, Math.floor((s.expires - Date.now()) / 1000));
    this.src.services.log.info({ identity: tok.identity, token: tok.id, listener: 'https' }, 'console login with a token');
    await this.audit({
      kind: 'auth',
      time: new Date(time).toISOString(),
      ref: `console-${randomUUID()}`,
      client: tok.identity,
      addr: req.socket.remoteAddress,
      op: 'ConsoleLogin',
      status: 'Success',
      message: `token ${tok.id}`,
    });
    send(303, 'text/plain; charset=utf-8', '', { Location: '/ui/', 'Set-Cookie': `${SESSION_COOKIE}=${s.id}; Path=/ui/; Secure; HttpOnly; SameSite=Strict; Max-Age=${maxAge}` });
  }
}

function loginPage(error?: string): string {
  return page(
    { title: 'Log in' },
    html`${error ? html`<p class="error">${error}</p>` : ''}
<p>The console is for the server's administrators (<code>access.administrators</code>). Present an administrator's client certificate in the browser, or paste a console token made with <code>kms admin token create</code>.</p>
<form method="post" action="/ui/login" class="filters"><label>Console token <input type="password" name="token" autocomplete="off" size="60" required></label><button type="submit">Log in</button></form>`,
  );
}

async function readForm(req: IncomingMessage, max: number): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const body = await readBoundedBody(req, max, () => new ConsoleError(413, `form over ${max} bytes (console.maxFormBytes)`, { Connection: 'close' }));
  if (body.length > 0 && type !== 'application/x-www-form-urlencoded') throw new ConsoleError(415, 'forms are sent as application/x-www-form-urlencoded');
  return new URLSearchParams(body.toString('utf8'));
}
