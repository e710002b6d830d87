/**
 * The dashboard's "Key rotation" card (src/http/ui/page-dashboard.ts): the scheduler, the keys due
 * soon or past due (with why) and the last run, from the same status as `kms keys rotation`.
 * Uids and reasons are escaped by the html template; no key material is ever in the status.
 */
import { html, table, type Html } from './html.js';
import type { RotationStatus } from '../../rotation/scheduler.js';

/** Due keys shown on the card (the rest are counted). */
export const CARD_DUE_ROWS = 10;

export function rotationCard(s: RotationStatus): Html {
  const last = s.runs[0];
  const policies = s.policies.map((p) => `${p.label} (${p.everyDays === null ? 'Rotate Interval' : `${p.everyDays} d`}, overlap ${p.overlapDays} d)`).join(', ');
  return html`<div class="card" id="rotation">
    <h2>Key rotation</h2>
    <p>${s.enabled ? `Checked every ${s.checkIntervalSeconds} s.` : 'Scheduler off (rotation.enabled false).'} Policies: ${policies}.</p>
    <p>${s.dueCount} key(s) due within ${s.warnDays} days or past due.</p>
    ${table(
      ['Key', 'Status', 'Due', 'Policy', 'Why'],
      s.due
        .slice(0, CARD_DUE_ROWS)
        .map((d) => [
          html`<a href="/ui/keys/${encodeURIComponent(d.uid)}">${d.uid}</a>`,
          html`<span class="${d.status === 'due-soon' ? 'warn' : 'bad'}">${d.status}</span>`,
          d.dueAt,
          d.policy,
          d.reason ?? '',
        ]),
      'rotation-due',
    )}
    <p>
      ${last ? `Last run ${last.started} on ${last.holder}: ${last.skipped ? `skipped (${last.skipped})` : `${last.rotated.length} rotated, ${last.completed.length} completed, ${last.failed.length} failed of ${last.scanned} keys`}.` : 'No run yet.'}
    </p>
  </div>`;
}
