/**
 * Clients: every identity the server knows of, from the access config (administrators, grants),
 * the client profiles, and the certificates issued into the data folder (DATA/certs/client.pem,
 * DATA/certs/clients/*.pem, by `kms certs issue`), with subject, fingerprint and expiry; the
 * last time each was seen in the audit trail (the newest console.auditScanMax records); its
 * profile and grants. Issuing, CSR signing and revocation are command-line tasks for now
 * (`kms certs issue --client NAME`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { folderLayout } from '../../folder/layout.js';
import { html, table } from './html.js';
import { certificateInfo, type PageContext } from './page-context.js';
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

export async function clientsPage(ctx: PageContext): Promise<void> {
  const { config, services } = ctx.src;
  const ids = new Map<string, { roles: Set<string>; grants: string[] }>();
  const entry = (id: string) => ids.get(id) ?? (ids.set(id, { roles: new Set(), grants: [] }), ids.get(id)!);
  for (const a of config.access.administrators) entry(a).roles.add('administrator');
  for (const g of config.access.grants) entry(g.identity).grants.push(`${g.operations.join(', ')} on group ${g.objectGroup}`);
  for (const p of config.clientProfiles?.profiles ?? []) for (const id of p.identities) entry(id).roles.add(`profile ${p.name}`);
  const certs = issuedCertificates(config.dataDir);
  for (const c of certs) if (c.identity) entry(c.identity).roles.add('certificate issued');

  const lastSeen = new Map<string, { time: string; count: number }>();
  let scanned = 0;
  for await (const r of newestFirst(services.store.audit)) {
    if (scanned++ >= ctx.settings.auditScanMax) break;
    if (!r.client) continue;
    const s = lastSeen.get(r.client);
    if (s) s.count++;
    else lastSeen.set(r.client, { time: r.time, count: 1 });
  }
  for (const id of lastSeen.keys()) entry(id).roles.add('seen');

  const profiles = services.clientProfiles;
  const rows = [...ids]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([id, e]) => {
      const seen = lastSeen.get(id);
      const mine = certs.filter((c) => c.identity === id);
      return [
        id,
        [...e.roles].join(', '),
        profiles ? profiles.forIdentity(id).name : 'default',
        e.grants.join('; '),
        html`${mine.map((c) => html`<div>${c.info.subject}<br><span class="mono">${c.info.fingerprint}</span><br>${c.info.days < ctx.settings.certWarnDays ? html`<span class="bad">expires ${c.info.notAfter}</span>` : `expires ${c.info.notAfter}`}</div>`)}`,
        seen ? `${seen.time} (${seen.count} record(s))` : 'not in the last records read',
      ];
    });
  ctx.render(
    'Clients',
    'clients',
    html`<p>Identities from the access configuration, the client profiles, the certificates issued into this data folder and the audit trail (the newest ${ctx.settings.auditScanMax} records, console.auditScanMax; ${scanned} read).</p>
${table(['Identity', 'Known as', 'Profile', 'Grants', 'Certificates', 'Last seen'], rows, 'clients')}
<h2>Certificates in the data folder</h2>
${table(
  ['File', 'Subject', 'SHA-256 fingerprint', 'Not after', 'clientAuth'],
  certs.map((c) => [c.file, c.info.subject, html`<span class="mono">${c.info.fingerprint}</span>`, c.info.notAfter, c.info.clientAuth ? 'yes' : 'NO']),
  'certs',
)}
<p>Enrol a new client with <code>kms certs issue --client NAME</code> (a client certificate from the folder's CA). Signing a CSR and revoking certificates are not on this server yet.</p>`,
  );
}
