/**
 * Clients: the client-certificate registry (src/clients/registry.ts: name, subject, SHA-256
 * fingerprint, not-after with a warning clients.expiryWarningDays ahead, revoked at/why/by),
 * each name's grants and profile and the last time it was seen in the audit trail (the newest
 * console.auditScanMax records), paged (console.pageSize, ?size= up to console.maxPageSize).
 * Below: identities known only from the access config, the client profiles or the audit trail,
 * and certificate files in DATA/certs that the registry does not know (made before it existed).
 *
 * Actions, each a form, then a confirmation page, then the change (every POST CSRF-checked by
 * console.ts): sign a CSR, issue for a public key (SPKI PEM; the private key stays with the
 * client), revoke one certificate. They call the registry with the administrator as the actor,
 * so they are committed and audited exactly as `kms certs` is (ClientCertificateSign/Issue/
 * Revoke, client = the admin); a refusal shows the registry's code and message. The page shows
 * an issued certificate's PEM (public) once, to copy; it never sees a private key.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { folderLayout } from '../../folder/layout.js';
import { csrDer, CLIENT_NAME_RE } from '../../clients/certificates.js';
import { ClientsError, type ClientsErrorCode } from '../../clients/errors.js';
import { isRevocationReason, REVOCATION_REASONS } from '../../clients/crl.js';
import type { ClientCertificate, ClientRegistry, Issued } from '../../clients/registry.js';
import { html, qs, table, type Html } from './html.js';
import { certificateInfo, ConsoleError, pageSizeOf, type PageContext } from './page-context.js';
import { newestFirst } from './audit-scan.js';

interface IssuedCert {
  readonly file: string;
  readonly identity?: string;
  readonly info: NonNullable<ReturnType<typeof certificateInfo>>;
}

/** Client certificates in the data folder's certs/ (readable PEM files only; keys are never read). */
function issuedCertificates(dataDir: string): IssuedCert[] {
  const dir = folderLayout(dataDir).certs;
  const files: string[] = [];
  if (existsSync(join(dir, 'client.pem'))) files.push(join(dir, 'client.pem'));
  const clients = join(dir, 'clients');
  if (existsSync(clients)) for (const f of readdirSync(clients).sort()) if (f.endsWith('.pem')) files.push(join(clients, f));
  return files.flatMap((file) => {
    let info;
    try {
      info = certificateInfo(readFileSync(file));
    } catch {
      info = undefined;
    }
    if (!info) return [];
    const cn = /(?:^|, )CN=([^,]+)/.exec(info.subject)?.[1];
    return [{ file: relative(dataDir, file), ...(cn !== undefined && { identity: cn }), info }];
  });
}

/** HTTP status of a registry refusal shown on a console page. */
const REFUSAL_STATUS: Readonly<Record<ClientsErrorCode, number>> = { BAD_REQUEST: 400, NOT_FOUND: 404, EXISTS: 409, LIMIT: 409, CONFLICT: 409, NO_CA: 409 };

function refusal(e: ClientsError): Html {
  const hint = e.code === 'EXISTS' ? ' (in the console: tick "Replace" to revoke it as superseded and enrol the new one)' : '';
  return html`<p class="error" id="refusal">Refused by the client registry (${e.code}): ${e.message}${hint}</p>`;
}

function registryOf(ctx: PageContext): ClientRegistry {
  const r = ctx.src.clients;
  if (!r) throw new ConsoleError(404, 'This server has no client registry.');
  return r;
}

function statusOf(c: ClientCertificate, now: number, warnDays: number): Html {
  if (c.revokedAt !== undefined) return html`<span class="bad revoked">revoked ${c.revokedAt} (${c.reason ?? 'unspecified'}${c.revokedBy ? `, by ${c.revokedBy}` : ''})</span>`;
  const left = Date.parse(c.notAfter) - now;
  if (left <= 0) return html`<span class="bad">expired</span>`;
  const days = Math.floor(left / 86_400_000);
  return days < warnDays ? html`<span class="bad">expires in ${days} day(s)</span>` : html`<span class="ok">valid</span>`;
}

export async function clientsPage(ctx: PageContext): Promise<void> {
  const { config, services } = ctx.src;
  const registry = ctx.src.clients;
  if (registry) await registry.reload();
  const now = services.clock();
  const size = pageSizeOf(ctx);
  const pageRaw = ctx.url.searchParams.get('page') ?? '1';
  if (!/^\d{1,9}$/.test(pageRaw) || Number(pageRaw) < 1) throw new ConsoleError(400, 'page must be a positive whole number');
  const pageNo = Number(pageRaw);
  const q = (ctx.url.searchParams.get('q') ?? '').slice(0, 128);
  const ql = q.toLowerCase();
  const all = registry ? registry.list() : [];
  const matching = ql ? all.filter((c) => c.name.toLowerCase().includes(ql) || c.subject.toLowerCase().includes(ql) || c.fingerprint.toLowerCase().includes(ql)) : all;
  const shown = matching.slice((pageNo - 1) * size, pageNo * size);

  const grants = new Map<string, string[]>();
  for (const g of config.access.grants) grants.set(g.identity, [...(grants.get(g.identity) ?? []), `${g.operations.join(', ')} on group ${g.objectGroup}`]);
  const admins = new Set(config.access.administrators);
  const profiles = services.clientProfiles;
  const profileOf = (id: string) => (profiles ? profiles.forIdentity(id).name : 'default');

  const lastSeen = new Map<string, { time: string; count: number }>();
  let scanned = 0;
  for await (const r of newestFirst(services.store.audit)) {
    if (scanned++ >= ctx.settings.auditScanMax) break;
    if (!r.client) continue;
    const s = lastSeen.get(r.client);
    if (s) s.count++;
    else lastSeen.set(r.client, { time: r.time, count: 1 });
  }
  const seenText = (id: string) => {
    const s = lastSeen.get(id);
    return s ? `${s.time} (${s.count} record(s))` : 'not in the last records read';
  };
  const warnDays = registry?.settings.expiryWarningDays ?? ctx.settings.certWarnDays;

  const rows = shown.map((c) => [
    c.name,
    c.subject,
    html`<span class="mono">${c.fingerprint}</span>`,
    c.notAfter,
    statusOf(c, now, warnDays),
    `${c.via === 'sign' ? 'CSR signed' : 'issued'} ${c.issuedAt} by ${c.issuedBy}`,
    seenText(c.name),
    (grants.get(c.name) ?? []).join('; ') + (admins.has(c.name) ? `${grants.has(c.name) ? '; ' : ''}administrator` : ''),
    profileOf(c.name),
    c.revokedAt === undefined ? html`<a href="/ui/clients/revoke${qs({ fingerprint: c.fingerprint })}" class="action" id="revoke-${c.fingerprint.replace(/:/g, '')}">Revoke…</a>` : '',
  ]);

  // Identities without a registry certificate, and certificate files the registry does not know.
  const inRegistry = new Set(all.map((c) => c.name));
  const known = new Set(all.map((c) => c.fingerprint));
  const files = issuedCertificates(config.dataDir).filter((f) => !known.has(f.info.fingerprint));
  const others = new Map<string, Set<string>>();
  const other = (id: string, role: string) => {
    if (inRegistry.has(id)) return;
    const s = others.get(id) ?? new Set<string>();
    s.add(role);
    others.set(id, s);
  };
  for (const a of config.access.administrators) other(a, 'administrator');
  for (const g of config.access.grants) other(g.identity, 'grants');
  for (const p of config.clientProfiles?.profiles ?? []) for (const id of p.identities) other(id, `profile ${p.name}`);
  for (const f of files) if (f.identity) other(f.identity, 'certificate issued');
  for (const id of lastSeen.keys()) other(id, 'seen');
  const otherRows = [...others]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .slice(0, ctx.settings.maxPageSize)
    .map(([id, roles]) => [id, [...roles].join(', '), profileOf(id), (grants.get(id) ?? []).join('; '), seenText(id)]);

  const revokedFp = ctx.url.searchParams.get('revoked');
  const revoked = revokedFp && registry ? registry.find(revokedFp).find((c) => c.revokedAt !== undefined) : undefined;
  const last = Math.max(1, Math.ceil(matching.length / size));
  ctx.render(
    'Clients',
    'clients',
    html`${revoked ? html`<p class="notice" id="result">Revoked ${revoked.name}'s certificate <span class="mono">${revoked.fingerprint}</span> (${revoked.reason ?? 'unspecified'}); its next handshake is refused.</p>` : ''}
      ${
        registry
          ? html`<p><a href="/ui/clients/sign" class="action" id="sign-csr">Sign a CSR…</a> <a href="/ui/clients/issue" class="action" id="issue-key">Issue for a public key…</a></p>
              <form method="get" action="/ui/clients" class="filters">
                <label>Name, subject or fingerprint <input name="q" value="${q}" maxlength="128" /></label><button type="submit">Search</button>
              </form>
              <p id="client-count">
                ${matching.length} certificate(s) in the registry${ql ? ' matching' : ''}; page ${pageNo} of ${last} (${size} a page). Expiry warning ${warnDays} day(s) ahead
                (clients.expiryWarningDays). Last seen: the newest ${ctx.settings.auditScanMax} audit records (console.auditScanMax; ${scanned} read).
              </p>
              ${table(['Name', 'Subject', 'SHA-256 fingerprint', 'Not after', 'Status', 'Enrolled', 'Last seen', 'Grants', 'Profile', ''], rows, 'clients')}
              <p class="pager">
                ${pageNo > 1 ? html`<a href="/ui/clients${qs({ q, size: ctx.url.searchParams.get('size') ?? undefined, page: pageNo - 1 })}" id="prev">← previous</a>` : ''}${
                  pageNo < last ? html`<a href="/ui/clients${qs({ q, size: ctx.url.searchParams.get('size') ?? undefined, page: pageNo + 1 })}" id="next">next →</a>` : ''
                }
              </p>`
          : html`<p class="warn">This server has no client registry: certificates can be listed from the data folder only.</p>`
      }
      <h2>Other identities</h2>
      <p>
        Known from the access configuration, the client profiles, certificate files or the audit trail, without a certificate in the
        registry${others.size > ctx.settings.maxPageSize ? ` (the first ${ctx.settings.maxPageSize} of ${others.size}, console.maxPageSize)` : ''}.
      </p>
      ${table(['Identity', 'Known as', 'Profile', 'Grants', 'Last seen'], otherRows, 'identities')}
      <h2>Certificate files not in the registry</h2>
      <p>PEM files in the data folder's certs/ (made before the registry, or by the development setup); the registry cannot revoke them.</p>
      ${table(
        ['File', 'Subject', 'SHA-256 fingerprint', 'Not after', 'clientAuth'],
        files.map((c) => [
          c.file,
          c.info.subject,
          html`<span class="mono">${c.info.fingerprint}</span>`,
          c.info.days < ctx.settings.certWarnDays ? html`<span class="bad">expires ${c.info.notAfter}</span>` : c.info.notAfter,
          c.info.clientAuth ? 'yes' : 'NO',
        ]),
        'certs',
      )}`,
  );
}

/** Sign/issue/revoke: GET the form (or, for revoke, the confirmation), POST step=review then step=confirm. */
export async function clientAction(ctx: PageContext, what: 'sign' | 'issue' | 'revoke', post: boolean): Promise<void> {
  const registry = registryOf(ctx);
  if (what === 'revoke') return post ? revokeRun(ctx, registry) : revokeConfirm(ctx, registry);
  if (!post) return enrolForm(ctx, what, {});
  const f = enrolFields(ctx);
  if (ctx.form.get('step') !== 'confirm') return enrolReview(ctx, what, f);
  return enrolRun(ctx, registry, what, f);
}

interface EnrolFields {
  readonly name?: string;
  readonly days?: string;
  readonly material?: string;
  readonly force?: boolean;
  readonly overrideCn?: boolean;
}

function enrolFields(ctx: PageContext): EnrolFields {
  const f = ctx.form;
  return {
    name: (f.get('name') ?? '').trim(),
    days: (f.get('days') ?? '').trim(),
    material: f.get('material') ?? '',
    force: f.get('force') === 'yes',
    overrideCn: f.get('overrideCn') === 'yes',
  };
}

const TITLE = { sign: 'Sign a certificate request', issue: 'Issue a certificate for a public key' } as const;

function enrolForm(ctx: PageContext, what: 'sign' | 'issue', f: EnrolFields, error?: Html, status = 200): void {
  const material =
    what === 'sign'
      ? html`<label
          >Certificate request (PKCS#10 PEM, <code>-----BEGIN CERTIFICATE REQUEST-----</code>) <textarea name="material" rows="12" cols="70" required>${f.material ?? ''}</textarea>
        </label>`
      : html`<label>The client's public key (PEM, <code>-----BEGIN PUBLIC KEY-----</code>) <textarea name="material" rows="8" cols="70" required>${f.material ?? ''}</textarea></label>`;
  ctx.render(
    TITLE[what],
    'clients',
    html`${error ?? ''}
      <p>
        ${
          what === 'sign'
            ? 'The client keeps its private key and sends a certificate signing request (vCenter\'s "Make KMS trust vCenter", most arrays). Its subject\'s CN must be the client name unless you replace the subject.'
            : 'For a client that made its own key pair and gives its public key only. The certificate is CN=NAME. The console never makes or shows a private key: for a key made for the client, use kms certs issue where the key is to stay.'
        }
        The data folder's CA signs it; the next page asks you to confirm.
      </p>
      <form method="post" action="/ui/clients/${what}" class="enrol">
        <input type="hidden" name="_csrf" value="${ctx.csrf}" /><input type="hidden" name="step" value="review" />
        <p>
          <label>Client name <input name="name" value="${f.name ?? ''}" required maxlength="64" /></label>
          <label>Days <input name="days" value="${f.days ?? ''}" inputmode="numeric" size="5" placeholder="${ctx.src.clients?.settings.defaultDays ?? ''}" /></label>
        </p>
        <p>${material}</p>
        <p>
          <label><input type="checkbox" name="force" value="yes" ${f.force ? html` checked` : ''} /> Replace: if the name has a valid certificate, revoke it (superseded)</label>${
            what === 'sign'
              ? html`<br /><label><input type="checkbox" name="overrideCn" value="yes" ${f.overrideCn ? html` checked` : ''} /> Replace the request's subject by CN=NAME</label>`
              : ''
          }
        </p>
        <button type="submit" id="review">Review…</button> <a href="/ui/clients">Cancel</a>
      </form>`,
    status,
  );
}

const SHORT: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '2.5.4.5': 'serialNumber',
};

function keyText(k: KeyObject): string {
  const d = k.asymmetricKeyDetails ?? {};
  return `${k.asymmetricKeyType ?? 'unknown'}${d.modulusLength ? ` ${d.modulusLength} bits` : ''}${d.namedCurve ? ` ${d.namedCurve}` : ''}`;
}

/** What the confirmation page shows of a request (the registry checks it again when signing). */
function csrPreview(pem: string): { subject: string; key: string } {
  const der = csrDer(pem);
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) throw new ClientsError('BAD_REQUEST', 'the CSR is not DER');
  const csr = new pkijs.CertificationRequest({ schema: parsed.result });
  const subject = csr.subject.typesAndValues.map((a) => `${SHORT[a.type] ?? a.type}=${String((a.value.valueBlock as { value?: unknown }).value ?? '?')}`).join(', ');
  const spki = new Uint8Array(csr.subjectPublicKeyInfo.toSchema().toBER(false));
  return { subject, key: keyText(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })) };
}

/** An SPKI public key in PEM (whitespace inside the block is ignored). */
function publicKeyOfPem(text: string): KeyObject {
  const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(text);
  if (!m) throw new ClientsError('BAD_REQUEST', 'no PUBLIC KEY PEM block (an SPKI public key: openssl pkey -pubout)');
  try {
    return createPublicKey({ key: Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new ClientsError('BAD_REQUEST', 'the PUBLIC KEY block is not a public key');
  }
}

function daysOf(raw: string | undefined): number | undefined {
  if (!raw) return undefined;
  if (!/^\d{1,4}$/.test(raw)) throw new ClientsError('BAD_REQUEST', 'days must be a whole number from 1 to 3650');
  return Number(raw);
}

function enrolReview(ctx: PageContext, what: 'sign' | 'issue', f: EnrolFields): void {
  let facts: { subject: string; key: string };
  try {
    daysOf(f.days);
    if (!f.name || !CLIENT_NAME_RE.test(f.name)) throw new ClientsError('BAD_REQUEST', `invalid client name ${JSON.stringify(f.name ?? '')}`);
    if (what === 'sign') {
      try {
        facts = csrPreview(f.material ?? '');
      } catch (e) {
        if (e instanceof ClientsError) throw e;
        throw new ClientsError('BAD_REQUEST', `the CSR cannot be read: ${(e as Error).message}`);
      }
      if (f.overrideCn) facts = { ...facts, subject: `CN=${f.name} (replacing ${facts.subject})` };
    } else facts = { subject: `CN=${f.name}`, key: keyText(publicKeyOfPem(f.material ?? '')) };
  } catch (e) {
    if (!(e instanceof ClientsError)) throw e;
    return enrolForm(ctx, what, f, refusal(e), REFUSAL_STATUS[e.code]);
  }
  const days = f.days || String(ctx.src.clients?.settings.defaultDays ?? '');
  ctx.render(
    `${what === 'sign' ? 'Sign' : 'Issue'} a certificate for ${f.name}?`,
    'clients',
    html`<p class="warn">
        The data folder's CA will sign a clientAuth certificate for client <strong>${f.name}</strong>, valid ${days}
        day(s).${f.force ? ' If the name has a valid certificate, it is revoked (superseded).' : ''} This runs as ${ctx.caller.id} and is audited.
      </p>
      ${table(['Subject', 'Key'], [[facts.subject, facts.key]], 'review')}
      <form method="post" action="/ui/clients/${what}" class="filters">
        <input type="hidden" name="_csrf" value="${ctx.csrf}" /><input type="hidden" name="step" value="confirm" /> <input type="hidden" name="name" value="${f.name}" /><input
          type="hidden"
          name="days"
          value="${f.days ?? ''}"
        /><input type="hidden" name="material" value="${f.material ?? ''}" />
        ${f.force ? html`<input type="hidden" name="force" value="yes" />` : ''}${f.overrideCn ? html`<input type="hidden" name="overrideCn" value="yes" />` : ''}
        <button type="submit" class="danger" id="confirm">Confirm: ${what === 'sign' ? 'sign' : 'issue'}</button> <a href="/ui/clients">Cancel</a>
      </form>`,
  );
}

async function enrolRun(ctx: PageContext, registry: ClientRegistry, what: 'sign' | 'issue', f: EnrolFields): Promise<void> {
  let r: Issued;
  try {
    const days = daysOf(f.days);
    const base = { name: f.name ?? '', ...(days !== undefined && { days }), force: f.force === true, actor: ctx.caller.id };
    r =
      what === 'sign'
        ? await registry.sign({ ...base, csr: f.material ?? '', overrideCn: f.overrideCn === true })
        : await registry.issue({ ...base, publicKey: publicKeyOfPem(f.material ?? '') });
  } catch (e) {
    if (!(e instanceof ClientsError)) throw e;
    ctx.src.services.log.info({ identity: ctx.caller.id, via: ctx.caller.via, client: f.name, action: what, code: e.code }, 'console client action refused');
    return enrolForm(ctx, what, f, refusal(e), REFUSAL_STATUS[e.code]);
  }
  ctx.src.services.log.info({ identity: ctx.caller.id, via: ctx.caller.via, client: r.record.name, fingerprint: r.record.fingerprint, action: what }, 'console client action');
  ctx.render(
    `Certificate for ${r.record.name}`,
    'clients',
    html`<p class="notice" id="result">
        ${what === 'sign' ? 'Signed' : 'Issued'}: ${r.record.subject}, serial ${r.record.serial}, until
        ${r.record.notAfter}.${r.superseded.length ? ` Superseded (revoked): ${r.superseded.map((s) => s.fingerprint).join(', ')}.` : ''}
      </p>
      ${table(['SHA-256 fingerprint'], [[html`<span class="mono" id="issued-fingerprint">${r.record.fingerprint}</span>`]])}
      <p>Copy the certificate (it is public) to the client, with the CA certificate <code>certs/ca.pem</code>. It is shown once here; the registry keeps its record, not the PEM.</p>
      <p><textarea id="issued-pem" readonly rows="16" cols="70">${r.certificate.pem}</textarea></p>
      <p><a href="/ui/clients">Back to the clients</a></p>`,
  );
}

const REASONS = Object.keys(REVOCATION_REASONS);

function fingerprintOf(ctx: PageContext, registry: ClientRegistry, raw: string | null): ClientCertificate {
  const c = raw ? registry.find(raw)[0] : undefined;
  if (!c || !raw || !/^[0-9A-Fa-f:]{64,95}$/.test(raw)) throw new ConsoleError(404, 'No client certificate with that fingerprint.');
  return c;
}

async function revokeConfirm(ctx: PageContext, registry: ClientRegistry, error?: Html, status = 200): Promise<void> {
  await registry.reload();
  const c = fingerprintOf(ctx, registry, ctx.url.searchParams.get('fingerprint') ?? ctx.form.get('fingerprint'));
  ctx.render(
    `Revoke ${c.name}'s certificate?`,
    'clients',
    html`${error ?? ''}
      <p class="warn">
        Revoke the certificate of <strong>${c.name}</strong> (${c.subject}, <span class="mono">${c.fingerprint}</span>, until ${c.notAfter})? Its next TLS handshake is refused on every
        listener and node, and the CRL at /crl lists it. This cannot be undone; enrol the client again for a new certificate. This runs as ${ctx.caller.id} and is audited.
      </p>
      <form method="post" action="/ui/clients/revoke" class="filters">
        <input type="hidden" name="_csrf" value="${ctx.csrf}" /><input type="hidden" name="fingerprint" value="${c.fingerprint}" />
        <label
          >Reason
          <select name="reason">
            ${REASONS.map((r) => html`<option value="${r}" ${r === 'cessationOfOperation' ? html` selected` : ''}>${r}</option>`)}
          </select></label
        >
        <button type="submit" class="danger" id="confirm">Confirm revoke</button> <a href="/ui/clients">Cancel</a>
      </form>`,
    status,
  );
}

async function revokeRun(ctx: PageContext, registry: ClientRegistry): Promise<void> {
  const fingerprint = ctx.form.get('fingerprint') ?? '';
  const reason = ctx.form.get('reason') ?? 'unspecified';
  if (!isRevocationReason(reason)) throw new ConsoleError(400, `unknown revocation reason (one of ${REASONS.join(', ')})`);
  await registry.reload();
  const c = fingerprintOf(ctx, registry, fingerprint);
  try {
    await registry.revoke({ target: c.fingerprint, reason, actor: ctx.caller.id });
  } catch (e) {
    if (!(e instanceof ClientsError)) throw e;
    ctx.src.services.log.info({ identity: ctx.caller.id, via: ctx.caller.via, fingerprint: c.fingerprint, action: 'revoke', code: e.code }, 'console client action refused');
    return revokeConfirm(ctx, registry, refusal(e), REFUSAL_STATUS[e.code]);
  }
  ctx.src.services.log.info({ identity: ctx.caller.id, via: ctx.caller.via, client: c.name, fingerprint: c.fingerprint, action: 'revoke', reason }, 'console client action');
  ctx.redirect(`/ui/clients${qs({ q: c.name, revoked: c.fingerprint })}`);
}
