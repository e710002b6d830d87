/**
 * HSM and key protector: what `kms hsm status` shows on a running server (src/folder/hsm-status.ts):
 * the protector, the current KEK, the token and audit key, every KEK the custody record names
 * with the objects it seals, and whether a KEK rotation has left objects under older KEKs.
 */
import { readCustody } from '../../folder/custody.js';
import { hsmStatusOf } from '../../folder/hsm-status.js';
import { html, table } from './html.js';
import type { PageContext } from './page-context.js';

export async function hsmPage(ctx: PageContext): Promise<void> {
  const { protector, services, config } = ctx.src;
  const s = await hsmStatusOf(readCustody(config.dataDir), protector.kekId, protector.description, services.store);
  if (s.kind === 'software') {
    ctx.render(
      'HSM & protector',
      'hsm',
      html`<p class="warn">Key material is sealed under a <strong>software master key</strong>, not an HSM: ${s.description}.</p>
        ${table(['Current key', 'Protector'], [[html`<span class="mono">${protector.kekId}</span>`, protector.description]])}`,
    );
    return;
  }
  const usage = new Map(s.usage);
  const older = s.usage.filter(([id, n]) => id !== s.currentKek && n > 0);
  const rotation =
    older.length === 0
      ? html`<p class="notice" id="rotation">Every object is sealed under the current KEK.</p>`
      : html`<p class="warn" id="rotation">
          ${older.reduce((n, [, k]) => n + k, 0)} object(s) are still sealed under older KEKs: a rotation is unfinished (run <code>kms hsm rotate-kek</code> again to finish it).
        </p>`;
  const listed = new Set(s.keks.map((k) => k.id));
  ctx.render(
    'HSM & protector',
    'hsm',
    html`${table(['Protector', 'Token', 'Serial', 'Audit key'], [[protector.description, s.token.label, s.token.serial, `hsm:${s.auditKeyLabel}`]])} ${rotation}
    ${table(
      ['KEK', 'Current', 'Objects sealed', 'State'],
      [
        ...s.keks.map((k) => [html`<span class="mono">${k.id}</span>`, k.id === s.currentKek ? 'yes' : '', String(usage.get(k.id) ?? 0), k.state]),
        ...s.usage.filter(([id]) => !listed.has(id)).map(([id, n]) => [html`<span class="mono">${id}</span>`, '', String(n), 'NOT RECORDED by this folder']),
      ],
      'keks',
    )}`,
  );
}
