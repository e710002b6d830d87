/**
 * Server-rendered HTML for the console: every interpolated value goes through `esc` (the
 * `html` tag does it for each ${…} unless the value is already `Html`). No script at all;
 * the Content-Security-Policy forbids inline script and styles anyway.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Part = Html | string | number | boolean | undefined | null | readonly Part[];

function render(v: Part): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  return esc(v);
}

/** Tagged template: escapes every substitution that is not Html (arrays are joined). */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return new Html(out);
}

export function raw(text: string): Html {
  return new Html(text);
}

/** A query string from params (undefined and '' dropped). */
export function qs(params: Record<string, string | number | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

export interface LayoutOptions {
  readonly title: string;
  readonly who?: string;
  /** Which navigation entry is current. */
  readonly nav?: 'dashboard' | 'keys' | 'clients' | 'audit' | 'hsm';
  readonly csrf?: string;
}

const NAV: readonly [NonNullable<LayoutOptions['nav']>, string, string][] = [
  ['dashboard', '/ui/', 'Dashboard'],
  ['keys', '/ui/keys', 'Keys'],
  ['clients', '/ui/clients', 'Clients'],
  ['audit', '/ui/audit', 'Audit'],
  ['hsm', '/ui/hsm', 'HSM & protector'],
];

export function page(o: LayoutOptions, body: Html): string {
  const nav = o.who
    ? html`<nav>
        ${NAV.map(([k, href, label]) => html`<a href="${href}" ${raw(k === o.nav ? ' aria-current="page"' : '')}>${label}</a>`)}<span class="who">${o.who}</span>${
          o.csrf
            ? html`<form method="post" action="/ui/logout" class="inline"><input type="hidden" name="_csrf" value="${o.csrf}" /><button type="submit" class="link">Log out</button></form>`
            : ''
        }
      </nav>`
    : '';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${o.title} · kms console</title>
        <link rel="stylesheet" href="/ui/static/console.css" />
      </head>
      <body>
        <header><strong>kms</strong> console</header>
        ${nav}
        <main>
          <h1>${o.title}</h1>
          ${body}
        </main>
      </body>
    </html> `.text;
}

/** A small table: headers and rows of cells (strings escaped; Html kept). */
export function table(headers: readonly string[], rows: readonly (readonly Part[])[], cls = ''): Html {
  return html`<table class="${cls}">
    <thead>
      <tr>
        ${headers.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            ${r.map((c) => html`<td>${c}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export const CSS = `
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
body { margin: 0; }
header { background: #1d2330; color: #fff; padding: .6rem 1rem; }
nav { background: #2c3446; padding: .4rem 1rem; display: flex; gap: 1rem; align-items: center; }
nav a { color: #d8def0; text-decoration: none; }
nav a[aria-current] { color: #fff; font-weight: 600; border-bottom: 2px solid #7fb2ff; }
nav .who { margin-left: auto; color: #aab4cc; }
main { padding: 1rem 1.5rem; max-width: 72rem; }
h1 { font-size: 1.4rem; margin-top: 0; } h2 { font-size: 1.1rem; }
table { border-collapse: collapse; background: #fff; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d5d9e2; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #e9ecf2; }
code, .mono { font-family: ui-monospace, monospace; font-size: .85rem; word-break: break-all; }
.ok { color: #17733a; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
.warn { background: #fff4d6; border: 1px solid #e2c46a; padding: .5rem .8rem; margin: .5rem 0; }
.error { background: #fde7e7; border: 1px solid #e29a9a; padding: .5rem .8rem; margin: .5rem 0; }
.notice { background: #e6f2e8; border: 1px solid #8cc39a; padding: .5rem .8rem; margin: .5rem 0; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; }
.card { background: #fff; border: 1px solid #d5d9e2; padding: .6rem 1rem; min-width: 14rem; }
form.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; background: #fff; padding: .6rem; border: 1px solid #d5d9e2; }
form.filters label { display: flex; flex-direction: column; font-size: .8rem; }
input, select, button { font: inherit; padding: .2rem .4rem; }
button { cursor: pointer; } button.danger { background: #b3261e; color: #fff; border: 1px solid #8a1c16; }
button.link { background: none; border: none; color: #d8def0; padding: 0; }
form.inline { display: inline; }
.pager { display: flex; gap: 1rem; }
`;
