/**
 * Dashboard: readiness as /readyz sees it, object counts by type and state, KMIP request
 * totals, rate and errors from the metrics registry, and certificate expiry warnings for the
 * server and CA certificates (console.certWarnDays).
 */
import { ObjectType, State } from '../../kmip/generated/enums.gen.js';
import { indexEnum, RecordField } from '../../store/index-encoding.js';
import { checkReadiness } from '../health.js';
import { html, table } from './html.js';
import { certificateInfo, type PageContext } from './page-context.js';
import { rotationCard } from './rotation-card.js';

/** Object counts are re-read at most this often (each is an index scan per type and state). */
export const COUNT_TTL_MS = 30_000;

interface Counts {
  readonly at: number;
  readonly byType: [string, number][];
  readonly byState: [string, number][];
  readonly total: number;
}
/** Per server (keyed by its store): the last counts, and request totals seen at earlier views. */
const perServer = new WeakMap<object, { counts?: Counts; samples: { at: number; total: number; failed: number }[] }>();

function stateOf(ctx: PageContext) {
  const key = ctx.src.services.store;
  let s = perServer.get(key);
  if (!s) perServer.set(key, (s = { samples: [] }));
  return s;
}

async function objectCounts(ctx: PageContext) {
  const store = ctx.src.services.store;
  const now = Date.now();
  const mine = stateOf(ctx);
  if (mine.counts && now - mine.counts.at < COUNT_TTL_MS) return mine.counts;
  const byType: [string, number][] = [];
  for (const [name, v] of Object.entries(ObjectType)) {
    const n = (await store.find({ field: RecordField.ObjectType, equals: indexEnum(v) })).length;
    if (n > 0) byType.push([name, n]);
  }
  const byState: [string, number][] = [];
  for (const [name, v] of Object.entries(State)) byState.push([name, (await store.find({ field: RecordField.State, equals: indexEnum(v) })).length]);
  mine.counts = { at: now, byType, byState, total: await store.count() };
  return mine.counts;
}

/** The request rate is taken against the oldest earlier view within this window. */
const RATE_WINDOW_MS = 5 * 60_000;

async function requestFigures(ctx: PageContext) {
  const m = ctx.src.metrics?.registry.getSingleMetric('kms_requests_total');
  if (!m) return undefined;
  const got = await m.get();
  let total = 0;
  let failed = 0;
  const reasons = new Map<string, number>();
  for (const v of got.values) {
    total += v.value;
    const result = String(v.labels.result ?? '');
    if (result !== 'Success') {
      failed += v.value;
      reasons.set(result, (reasons.get(result) ?? 0) + v.value);
    }
  }
  const now = Date.now();
  const samples = stateOf(ctx).samples;
  while (samples.length > 0 && now - samples[0]!.at > RATE_WINDOW_MS) samples.shift();
  const base = samples[0];
  samples.push({ at: now, total, failed });
  if (samples.length > 1000) samples.splice(0, samples.length - 1000);
  const uptime = (now - ctx.src.startedAt) / 1000;
  const rate = base && now > base.at ? { perSecond: (total - base.total) / ((now - base.at) / 1000), errors: failed - base.failed, since: new Date(base.at).toISOString() } : undefined;
  return { total, failed, reasons: [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 10), average: uptime > 0 ? total / uptime : 0, rate };
}

export async function dashboardPage(ctx: PageContext): Promise<void> {
  const [ready, c, req, rotation] = await Promise.all([checkReadiness(ctx.src.health), objectCounts(ctx), requestFigures(ctx), ctx.src.rotation?.status()]);
  const warnDays = ctx.settings.certWarnDays;
  const certs = (['server', 'ca'] as const).map((k) => [k, certificateInfo(ctx.src.certificates[k])] as const);
  const warnings = certs.filter(([, i]) => i && i.days < warnDays);
  ctx.render(
    'Dashboard',
    'dashboard',
    html`${warnings.map(([k, i]) => html`<p class="warn cert-warning">The ${k} certificate ${i!.days < 0 ? 'has expired' : `expires in ${i!.days} day(s)`} (${i!.notAfter}).</p>`)}
      <div class="cards">
        <div class="card">
          <h2>Health</h2>
          <p id="ready">${ready.ready ? html`<span class="ok">Ready</span>` : html`<span class="bad">NOT READY</span>`}</p>
          ${table(
            ['Check', 'Result', 'ms'],
            Object.entries(ready.checks).map(([k, r]) => [k, r.ok ? html`<span class="ok">ok</span>` : html`<span class="bad">failed: ${r.error ?? ''}</span>`, String(r.ms)]),
          )}
        </div>
        <div class="card">
          <h2>Objects</h2>
          <p>${c.total} in total (counted at most every ${COUNT_TTL_MS / 1000} s).</p>
          ${table(
            ['Object type', 'Count'],
            c.byType.map(([k, n]) => [k, String(n)]),
            'by-type',
          )}
          ${table(
            ['Stored state', 'Count'],
            c.byState.map(([k, n]) => [k, String(n)]),
            'by-state',
          )}
        </div>
        <div class="card">
          <h2>KMIP requests</h2>
          ${
            req
              ? html`<p>${req.total} batch item(s) answered since start, ${req.failed} failed; ${req.average.toFixed(2)}/s on average.</p>
                  <p>${req.rate ? `Since ${req.rate.since}: ${req.rate.perSecond.toFixed(2)}/s, ${req.rate.errors} error(s).` : 'Reload for the rate since this view.'}</p>
                  ${table(
                    ['Result', 'Count'],
                    req.reasons.map(([k, n]) => [k, String(n)]),
                    'errors',
                  )}`
              : html`<p>Metrics are not collected on this server.</p>`
          }
        </div>
        <div class="card">
          <h2>Certificates</h2>
          ${table(
            ['Certificate', 'Subject', 'Not after', 'Days left'],
            certs.map(([k, i]) => [k, i?.subject ?? 'unreadable', i?.notAfter ?? '', i ? html`<span class="${i.days < warnDays ? 'bad' : 'ok'}">${i.days}</span>` : '']),
          )}
        </div>
        ${rotation ? rotationCard(rotation) : ''}
      </div>`,
  );
}
