/**
 * Audit: the trail filtered by key, identity, operation, result and time (newest first, paged
 * by sequence number, at most console.auditScanMax records read per page), the verify status
 * (the running server's verify: src/audit/verify-run.ts, as `kms audit verify` on a running
 * server does it), and a CSV export streamed up to console.csvMaxRows rows.
 */
import { anchorFileOf } from '../../audit/anchor-config.js';
import { gatherAnchors, liveSnapshot, readAnchorFiles, runVerify } from '../../audit/verify-run.js';
import type { OpRecord } from '../../audit/record.js';
import { html, qs, table } from './html.js';
import { SECURITY_HEADERS } from './security.js';
import { ConsoleError, pageSizeOf, type PageContext, type VerifyState } from './page-context.js';
import { matchesFilter, newestFirst, parseTime, scanAudit, type AuditFilter } from './audit-scan.js';

const FIELDS = ['key', 'identity', 'op', 'result', 'since', 'until'] as const;

function filterOf(ctx: PageContext): AuditFilter {
  const q = ctx.url.searchParams;
  const f: Record<string, string> = {};
  for (const k of FIELDS) {
    const v = (q.get(k) ?? '').trim();
    if (v.length > 256) throw new ConsoleError(400, `${k} is too long`);
    if (v) f[k] = v;
  }
  for (const k of ['since', 'until'] as const) if (f[k] && parseTime(f[k]) === undefined) throw new ConsoleError(400, `${k} is not a date (ISO 8601, e.g. 2026-12-06T09:00:00Z)`);
  return f;
}

function result(r: OpRecord): string {
  return r.status === 'Success' ? 'Success' : `${r.status}${r.reason ? ` ${r.reason}` : ''}`;
}

function verifyLine(v: VerifyState): ReturnType<typeof html> {
  if (v.running) return html`<p class="warn" id="verify-status">A verify is running…</p>`;
  const last = v.last;
  if (!last) return html`<p id="verify-status">Not verified since the server started.</p>`;
  if (last.error) return html`<p class="error" id="verify-status">Verify at ${last.at} (by ${last.by}) failed to run: ${last.error}</p>`;
  const r = last.outcome!.result;
  return r.ok
    ? html`<p class="notice" id="verify-status">
        <span class="ok">Verified</span> at ${last.at} by ${last.by}: ${r.entries} entries, ${r.checkpoints} checkpoints, sealed through
        ${r.sealedThrough}${last.outcome!.liveThrough !== undefined ? ` (live, through ${last.outcome!.liveThrough})` : ''}; anchored to
        ${r.anchoredTo.join(', ') || 'nothing outside the folder'}.
      </p>`
    : html`<p class="error" id="verify-status"><span class="bad">BROKEN</span> at ${last.at}: entry ${r.failure?.seq ?? '?'}: ${r.failure?.message ?? 'unknown'}.</p>`;
}

export async function auditPage(ctx: PageContext): Promise<void> {
  const f = filterOf(ctx);
  const size = pageSizeOf(ctx);
  const beforeRaw = ctx.url.searchParams.get('before');
  const before = beforeRaw ? Number(beforeRaw) : undefined;
  if (before !== undefined && (!Number.isSafeInteger(before) || before < 1)) throw new ConsoleError(400, 'before must be a sequence number');
  const scan = await scanAudit(ctx.src.services.store.audit, f, { before, limit: size, scanMax: ctx.settings.auditScanMax });
  const params = { ...f, size: ctx.url.searchParams.get('size') ?? undefined };
  ctx.render(
    'Audit trail',
    'audit',
    html`${verifyLine(ctx.verify)}
      <form method="post" action="/ui/audit/verify" class="inline">
        <input type="hidden" name="_csrf" value="${ctx.csrf}" /><button type="submit" id="verify">Verify the trail now</button>
      </form>
      <form method="get" action="/ui/audit" class="filters">
        <label>Key (unique identifier) <input name="key" value="${f.key}" /></label>
        <label>Identity <input name="identity" value="${f.identity}" /></label>
        <label>Operation <input name="op" value="${f.op}" placeholder="Revoke" /></label>
        <label>Result <input name="result" value="${f.result}" placeholder="success, failure, ItemNotFound" /></label>
        <label>Since <input name="since" value="${f.since}" placeholder="2026-12-01T00:00:00Z" /></label>
        <label>Until <input name="until" value="${f.until}" /></label>
        <button type="submit">Filter</button> <a href="/ui/audit.csv${qs(f as Record<string, string>)}" id="csv">Export CSV</a>
      </form>
      <p>
        ${scan.rows.length} record(s) shown, ${scan.scanned}
        read${scan.bounded ? ` (stopped at console.auditScanMax = ${ctx.settings.auditScanMax}: narrow the filter or continue below)` : ''}.
      </p>
      ${table(
        ['#', 'Time', 'Identity', 'Address', 'Operation', 'Objects', 'Result', 'Reference'],
        scan.rows.map((r) => [
          String(r.seq),
          r.time,
          r.client ?? '',
          r.addr ?? '',
          r.op,
          html`<span class="mono">${(r.uids ?? []).join(' ')}</span>`,
          result(r),
          html`<span class="mono">${r.ref}</span>`,
        ]),
        'audit',
      )}
      <p class="pager">${scan.next !== undefined ? html`<a href="/ui/audit${qs({ ...params, before: scan.next })}" rel="next">Older</a>` : ''}</p>`,
  );
}

export async function auditVerify(ctx: PageContext): Promise<void> {
  const v = ctx.verify;
  if (v.running) return ctx.redirect('/ui/audit');
  v.running = true;
  const at = new Date().toISOString();
  const { src } = ctx;
  try {
    const store = src.services.store;
    const through = await liveSnapshot(src.trail, store.audit);
    const anchors = await gatherAnchors(readAnchorFiles([{ file: anchorFileOf(src.config).file, explicit: false }]), src.auditKey);
    const outcome = await runVerify({ reader: store.audit, key: src.auditKey, every: 10_000, anchors, live: { through } });
    v.last = { at, by: ctx.caller.id, outcome };
  } catch (e) {
    src.services.log.error({ err: e }, 'console: audit verify failed');
    v.last = { at, by: ctx.caller.id, error: (e as Error).message };
  } finally {
    v.running = false;
  }
  ctx.redirect('/ui/audit');
}

const CSV_COLUMNS = ['seq', 'time', 'kind', 'identity', 'address', 'kmip', 'operation', 'objects', 'status', 'reason', 'message', 'ms', 'ref'] as const;

/** A CSV field, quoted; a leading = + - @ is defused for spreadsheets. */
export function csvField(v: unknown): string {
  let s = String(v ?? '');
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export async function auditCsv(ctx: PageContext): Promise<void> {
  const f = filterOf(ctx);
  const since = parseTime(f.since);
  const until = parseTime(f.until);
  const { res, req } = ctx;
  const max = ctx.settings.csvMaxRows;
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': 'attachment; filename="kms-audit.csv"',
  });
  if (req.method === 'HEAD') return void res.end();
  const write = (line: string) => (res.write(line) ? Promise.resolve() : new Promise<void>((resolve) => res.once('drain', resolve)));
  await write(CSV_COLUMNS.join(',') + '\r\n');
  let rows = 0;
  for await (const r of newestFirst(ctx.src.services.store.audit)) {
    if (res.destroyed) return;
    if ((r as { skip?: boolean }).skip || !matchesFilter(r, f, since, until)) continue;
    if (rows >= max) {
      await write(`# truncated at ${max} rows (console.csvMaxRows)\r\n`);
      break;
    }
    rows++;
    await write([r.seq, r.time, r.kind, r.client, r.addr, r.kmip, r.op, (r.uids ?? []).join(' '), r.status, r.reason, r.message, r.ms, r.ref].map(csvField).join(',') + '\r\n');
  }
  res.end();
}
