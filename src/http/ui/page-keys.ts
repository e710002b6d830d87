/**
 * Keys: search (Locate's index path, src/operations/attributes/locate.ts `locateRecords`, as the
 * administrator), a detail page (attributes, links, the lifecycle timeline from the audit
 * trail; never key material), and the Activate / Revoke / Destroy actions, each behind a
 * confirmation page and run through the operations dispatcher as the administrator.
 */
import { randomUUID } from 'node:crypto';
import { Operation, ResultStatus, RevocationReasonCode, State } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { enumDef, enumValueName, tagName } from '../../kmip/registry.js';
import { parseResponse, requestMessage } from '../../client/requests.js';
import { effectiveState } from '../../objects/lifecycle.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import { dispatch } from '../../operations/dispatcher.js';
import { locateRecords, type LocateRequest } from '../../operations/attributes/locate.js';
import type { LocateFilter } from '../../operations/attributes/locate-filters.js';
import type { OperationContext } from '../../operations/context.js';
import { MessageWork } from '../../operations/unit-of-work.js';
import { objectGroups } from '../../operations/service/object-service.js';
import { allAttributes } from '../../objects/served-attributes.js';
import { toKmipJson } from '../../kmip/json.js';
import { t, type TtlvNode } from '../../ttlv/node.js';
import { html, qs, table, type Html } from './html.js';
import { ConsoleError, pageSizeOf, type PageContext } from './page-context.js';
import { scanAudit } from './audit-scan.js';

const V21 = { major: 2, minor: 1 };
const DESTROYED: readonly number[] = [State.Destroyed, State.DestroyedCompromised];

const norm = (s: string) => s.replace(/[^a-z0-9]/gi, '').toLowerCase();

function enumFromText(name: 'State' | 'ObjectType', text: string): number | undefined {
  return enumDef(name)?.values.find((v) => norm(v.name) === norm(text))?.value;
}

function enumOptions(name: 'State' | 'ObjectType', selected: string): Html[] {
  return [html`<option value="">any</option>`, ...(enumDef(name)?.values ?? []).map((v) => html`<option value="${v.name}" ${selected === v.name ? html` selected` : ''}>${v.name}</option>`)];
}

function nowSeconds(ctx: PageContext): bigint {
  return BigInt(Math.floor(ctx.src.services.clock() / 1000));
}

/**
 * An operation context for the administrator, for the read-only Locate path (not a KMIP
 * request: nothing is staged on its unit of work, which is never committed, and nothing audited).
 */
function adminContext(ctx: PageContext): OperationContext {
  const services = ctx.src.services;
  const batch = {};
  const message = new MessageWork(
    { store: services.store, protector: services.protector, clock: services.clock, log: () => services.log },
    { connectionId: 'console', requestNo: 0, client: ctx.caller.id },
  );
  return {
    services,
    principal: { id: ctx.caller.id },
    version: V21,
    header: { version: V21, asynchronousRequired: false, batchCount: 1 },
    now: nowSeconds(ctx),
    batch,
    log: services.log,
    work: message.open(0, Operation.Locate, undefined, batch),
  };
}

export interface KeyRow {
  readonly uid: string;
  readonly type: string;
  readonly algorithm: string;
  readonly length: string;
  readonly state: string;
  readonly names: string[];
  readonly owner: string;
  readonly groups: string[];
}

function textValues(nodes: readonly TtlvNode[] | undefined, tag?: number): string[] {
  return (nodes ?? []).flatMap((n) => {
    const v = tag !== undefined && n.type === 'Structure' ? n.value.find((c) => c.tag === tag) : n;
    return v?.type === 'TextString' ? [v.value] : [];
  });
}

function rowOf(r: ObjectRecord, now: bigint): KeyRow {
  const one = (k: string) => r.attributes.get(k)?.[0];
  const alg = one('CryptographicAlgorithm');
  const len = one('CryptographicLength');
  return {
    uid: r.uid,
    type: enumValueName('ObjectType', r.objectType) ?? String(r.objectType),
    algorithm: alg?.type === 'Enumeration' ? (enumValueName('CryptographicAlgorithm', alg.value) ?? '') : '',
    length: len?.type === 'Integer' ? String(len.value) : '',
    state: enumValueName('State', effectiveState(r.state, r.attributes, now)) ?? '',
    names: textValues(r.attributes.get('Name'), Tag.NameValue),
    owner: r.owner,
    groups: objectGroups(r.attributes),
  };
}

export interface KeySearch {
  readonly name?: string;
  readonly state?: string;
  readonly type?: string;
  readonly owner?: string;
  readonly group?: string;
}

/**
 * Search as the administrator; the matches, most recently created first, then paged by the
 * caller. With `atMost` (a search naming nothing), Locate walks the creation-order index and
 * stops there, so an unfiltered page costs the objects up to it, not the whole store.
 */
export async function searchKeys(ctx: PageContext, s: KeySearch, atMost?: number): Promise<ObjectRecord[]> {
  const filters: LocateFilter[] = [];
  if (s.name) filters.push({ key: 'Name', nodes: [t.struct(Tag.Name, [t.text(Tag.NameValue, s.name)])] });
  let state: number | undefined;
  if (s.state) {
    state = enumFromText('State', s.state);
    if (state === undefined) throw new ConsoleError(400, `unknown state ${s.state}`);
    filters.push({ key: 'State', nodes: [t.enum(Tag.State, state)] });
  }
  if (s.type) {
    const type = enumFromText('ObjectType', s.type);
    if (type === undefined) throw new ConsoleError(400, `unknown object type ${s.type}`);
    filters.push({ key: 'ObjectType', nodes: [t.enum(Tag.ObjectType, type)] });
  }
  if (s.group) filters.push({ key: 'ObjectGroup', nodes: [t.text(Tag.ObjectGroup, s.group)] });
  const destroyed = state !== undefined && DESTROYED.includes(state);
  const req: LocateRequest = {
    filters,
    storage: { online: !destroyed, archived: !destroyed, destroyed },
    storedStates: destroyed ? [...DESTROYED] : [State.PreActive, State.Active, State.Deactivated, State.Compromised],
    ...(atMost !== undefined && filters.length === 0 && !s.owner && { maximumItems: atMost }),
  };
  const found = await locateRecords(adminContext(ctx), req);
  // KMIP has no owner attribute: the owner filter is applied to the Locate matches.
  return s.owner ? found.filter((r) => r.owner === s.owner) : found;
}

export async function keysPage(ctx: PageContext): Promise<void> {
  const q = ctx.url.searchParams;
  const s: KeySearch = { name: q.get('name') ?? '', state: q.get('state') ?? '', type: q.get('type') ?? '', owner: q.get('owner') ?? '', group: q.get('group') ?? '' };
  const size = pageSizeOf(ctx);
  const pageNo = Math.max(1, Number(q.get('page') ?? '1') | 0);
  const unfiltered = !s.name && !s.state && !s.type && !s.owner && !s.group;
  // Unfiltered: one more than this page needs, to know whether there is a next page.
  const all = await searchKeys(ctx, s, unfiltered ? pageNo * size + 1 : undefined);
  const now = nowSeconds(ctx);
  const rows = all.slice((pageNo - 1) * size, pageNo * size).map((r) => rowOf(r, now));
  const open = unfiltered && all.length > pageNo * size; // the walk stopped: the total is not counted
  const pages = open ? pageNo + 1 : Math.max(1, Math.ceil(all.length / size));
  const link = (p: number) => `/ui/keys${qs({ ...s, page: p, size: q.get('size') ?? undefined })}`;
  ctx.render(
    'Keys',
    'keys',
    html`<form method="get" action="/ui/keys" class="filters">
        <label>Name <input name="name" value="${s.name}" /></label>
        <label
          >State
          <select name="state">
            ${enumOptions('State', s.state ?? '')}
          </select></label
        >
        <label
          >Type
          <select name="type">
            ${enumOptions('ObjectType', s.type ?? '')}
          </select></label
        >
        <label>Owner <input name="owner" value="${s.owner}" /></label>
        <label>Object group <input name="group" value="${s.group}" /></label>
        <button type="submit">Search</button>
      </form>
      <p id="key-count">${open ? `Page ${pageNo}; more on the next page (newest first).` : `${all.length} object(s); page ${pageNo} of ${pages}.`}</p>
      ${table(
        ['Unique identifier', 'Name', 'Type', 'Algorithm', 'Length', 'State', 'Owner', 'Object groups'],
        rows.map((r) => [
          html`<a class="mono" href="/ui/keys/${encodeURIComponent(r.uid)}">${r.uid}</a>`,
          r.names.join(', '),
          r.type,
          r.algorithm,
          r.length,
          r.state,
          r.owner,
          r.groups.join(', '),
        ]),
        'keys',
      )}
      <p class="pager">${pageNo > 1 ? html`<a href="${link(pageNo - 1)}" rel="prev">Previous</a>` : ''}${pageNo < pages ? html`<a href="${link(pageNo + 1)}" rel="next">Next</a>` : ''}</p>`,
  );
}

async function recordOr404(ctx: PageContext, uid: string): Promise<ObjectRecord> {
  const r = await ctx.src.services.store.get(uid);
  if (!r) throw new ConsoleError(404, `no object ${uid}`);
  return r;
}

/** A TTLV value as plain JSON: structures as objects of their children (repeated ones as arrays). */
function plainValue(node: TtlvNode): unknown {
  if (node.type !== 'Structure') return toKmipJson(node).value;
  const children = new Map<string, unknown[]>();
  for (const c of node.value) children.set(tagName(c.tag), [...(children.get(tagName(c.tag)) ?? []), plainValue(c)]);
  return Object.fromEntries([...children].map(([k, vs]) => [k, vs.length === 1 ? vs[0] : vs]));
}

function showValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

/** Attributes as a client would read them (no key material: the sealed content is never opened). */
function attributesOf(r: ObjectRecord, now: bigint): [string, string[]][] {
  const attrs = allAttributes(r, effectiveState(r.state, r.attributes, now), { derived: true });
  return [...attrs]
    .filter(([k]) => !k.startsWith('$'))
    .map(([k, nodes]): [string, string[]] => [k, nodes.map((n) => showValue(plainValue(n)))])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

function linksOf(r: ObjectRecord): { type: string; uid: string }[] {
  return (r.attributes.get('Link') ?? []).flatMap((n) => {
    if (n.type !== 'Structure') return [];
    const lt = n.value.find((c) => c.tag === Tag.LinkType);
    const id = n.value.find((c) => c.tag === Tag.LinkedObjectIdentifier);
    return lt?.type === 'Enumeration' && id?.type === 'TextString' ? [{ type: enumValueName('LinkType', lt.value) ?? String(lt.value), uid: id.value }] : [];
  });
}

function content(r: ObjectRecord): string {
  if (!r.sealedBody) return 'none (destroyed)';
  if (r.hsmKey !== undefined) return `in the HSM (non-extractable); metadata sealed under ${r.kekId ?? 'unknown KEK'}`;
  return `sealed under ${r.kekId ?? 'unknown KEK'} (never shown)`;
}

/** Which actions the object's current state allows (the dispatcher still decides). */
function actionsFor(state: number): ('activate' | 'revoke' | 'destroy')[] {
  const out: ('activate' | 'revoke' | 'destroy')[] = [];
  if (state === State.PreActive) out.push('activate');
  if (!DESTROYED.includes(state)) out.push('revoke', 'destroy');
  return out;
}

const ACTION_LABEL = { activate: 'Activate', revoke: 'Revoke', destroy: 'Destroy' } as const;

export async function keyDetailPage(ctx: PageContext, uid: string): Promise<void> {
  const r = await recordOr404(ctx, uid);
  const now = nowSeconds(ctx);
  const row = rowOf(r, now);
  const timeline = await scanAudit(ctx.src.services.store.audit, { key: uid }, { limit: ctx.settings.maxPageSize, scanMax: ctx.settings.auditScanMax });
  const done = ctx.url.searchParams.get('done');
  const failed = ctx.url.searchParams.get('failed');
  const state = effectiveState(r.state, r.attributes, now);
  ctx.render(
    `Key ${row.names[0] ?? uid}`,
    'keys',
    html`${done ? html`<p class="notice" id="result">${done} succeeded.</p>` : ''}${failed ? html`<p class="error" id="result">${failed}</p>` : ''}
      ${table(['Unique identifier', 'Type', 'State', 'Owner', 'Content'], [[html`<span class="mono">${uid}</span>`, row.type, html`<span id="state">${row.state}</span>`, row.owner, content(r)]])}
      <h2>Actions</h2>
      <p>${actionsFor(state).map((a) => html`<a href="/ui/keys/${encodeURIComponent(uid)}/confirm?action=${a}" class="action" id="action-${a}">${ACTION_LABEL[a]}…</a> `)}</p>
      <h2>Attributes</h2>
      ${table(
        ['Attribute', 'Value(s)'],
        attributesOf(r, now).map(([k, vs]) => [k, html`<span class="mono">${vs.join('\n')}</span>`]),
        'attributes',
      )}
      <h2>Links</h2>
      ${
        linksOf(r).length === 0
          ? html`<p>None.</p>`
          : table(
              ['Link type', 'Object'],
              linksOf(r).map((l) => [l.type, html`<a class="mono" href="/ui/keys/${encodeURIComponent(l.uid)}">${l.uid}</a>`]),
            )
      }
      <h2>Lifecycle timeline</h2>
      <p>From the audit trail, newest first (${timeline.scanned} record(s) read${timeline.bounded ? `, stopped at console.auditScanMax = ${ctx.settings.auditScanMax}` : ''}).</p>
      ${table(
        ['#', 'Time', 'Operation', 'Identity', 'Result'],
        timeline.rows.map((e) => [String(e.seq), e.time, e.op, e.client ?? '', e.status === 'Success' ? 'Success' : `${e.status} ${e.reason ?? ''}`]),
        'timeline',
      )}`,
  );
}

function actionOf(ctx: PageContext, raw: string | null): 'activate' | 'revoke' | 'destroy' {
  if (raw === 'activate' || raw === 'revoke' || raw === 'destroy') return raw;
  throw new ConsoleError(400, 'action must be activate, revoke or destroy');
}

const REASONS = Object.entries(RevocationReasonCode);

export async function keyActionConfirm(ctx: PageContext, uid: string): Promise<void> {
  const action = actionOf(ctx, ctx.url.searchParams.get('action'));
  const r = await recordOr404(ctx, uid);
  const row = rowOf(r, nowSeconds(ctx));
  const label = ACTION_LABEL[action];
  ctx.render(
    `${label} ${row.names[0] ?? uid}?`,
    'keys',
    html`<p class="warn">
        ${label} <span class="mono">${uid}</span> (${row.type}${row.names.length ? `, name ${row.names.join(', ')}` : ''}, now ${row.state})?
        ${
          action === 'destroy'
            ? 'Destroy removes the key material for good.'
            : action === 'revoke'
              ? 'A revoked key is no longer used to protect data.'
              : 'An active key can be used at once.'
        }
        This runs as ${ctx.caller.id} and is audited.
      </p>
      <form method="post" action="/ui/keys/${encodeURIComponent(uid)}/action" class="filters">
        <input type="hidden" name="_csrf" value="${ctx.csrf}" /><input type="hidden" name="action" value="${action}" />
        ${
          action === 'revoke'
            ? html`<label
                  >Reason
                  <select name="reason">
                    ${REASONS.map(([n, v]) => html`<option value="${v}" ${n === 'CessationOfOperation' ? html` selected` : ''}>${n}</option>`)}
                  </select></label
                >
                <label>Message <input name="message" maxlength="200" /></label>`
            : ''
        }
        <button type="submit" class="danger" id="confirm">Confirm ${label.toLowerCase()}</button> <a href="/ui/keys/${encodeURIComponent(uid)}">Cancel</a>
      </form>`,
  );
}

export async function keyActionRun(ctx: PageContext, uid: string): Promise<void> {
  const action = actionOf(ctx, ctx.form.get('action'));
  const uidNode = t.text(Tag.UniqueIdentifier, uid);
  let operation: number;
  let payload: TtlvNode[];
  if (action === 'activate') {
    operation = Operation.Activate;
    payload = [uidNode];
  } else if (action === 'destroy') {
    operation = Operation.Destroy;
    payload = [uidNode];
  } else {
    const code = Number(ctx.form.get('reason') ?? RevocationReasonCode.Unspecified);
    if (!REASONS.some(([, v]) => v === code)) throw new ConsoleError(400, 'unknown revocation reason');
    const message = (ctx.form.get('message') ?? '').slice(0, 200);
    const reason = t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, code), ...(message ? [t.text(Tag.RevocationMessage, message)] : [])]);
    operation = Operation.Revoke;
    // Compromise reasons need a Compromise Occurrence Date; now is the administrator's best knowledge.
    const compromise = code === RevocationReasonCode.KeyCompromise || code === RevocationReasonCode.CACompromise;
    payload = [uidNode, reason, ...(compromise ? [t.date(Tag.CompromiseOccurrenceDate, nowSeconds(ctx))] : [])];
  }
  const request = requestMessage({ version: V21, batch: [{ operation, payload }] });
  const { src } = ctx;
  const result = await dispatch(src.services, src.handlers, { id: ctx.caller.id }, request, {
    connectionId: `console-${randomUUID()}`,
    requestNo: 1,
    remote: ctx.req.socket.remoteAddress,
  });
  const item = parseResponse(result.response).items[0];
  const label = ACTION_LABEL[action];
  src.services.log.info({ identity: ctx.caller.id, via: ctx.caller.via, uid, action: label, status: item?.status }, 'console action');
  if (item?.status === ResultStatus.Success) {
    ctx.redirect(`/ui/keys/${encodeURIComponent(uid)}${qs({ done: label })}`);
    return;
  }
  const reason = item?.reason !== undefined ? (enumValueName('ResultReason', item.reason) ?? String(item.reason)) : 'failed';
  ctx.redirect(`/ui/keys/${encodeURIComponent(uid)}${qs({ failed: `${label} refused: ${reason}${item?.message ? ` (${item.message})` : ''}` })}`);
}
