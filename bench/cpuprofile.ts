/**
 * Summarise a V8 .cpuprofile (from `node --cpu-prof`, e.g. `kms bench --cpu-prof DIR`) by
 * self time: the top functions, and the total per module (our src/ folders one by one,
 * node_modules packages by name, node: internals, and V8's own (GC), (program), (idle)).
 *
 *   npm run build && node dist/bench/cpuprofile.js FILE.cpuprofile [--top 25] [--ops N] [--skip SEC]
 *
 * With `--ops N` (the operations the profile covered) each line also shows µs per op;
 * `--skip SEC` leaves out the first SEC seconds (the server's start and the bench's warm-up).
 * Percentages are of the busy time (everything but (idle)). Numbers depend on the machine's
 * load; they are for before/after comparisons, never for tests.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a frame's code lives, coarse enough to add up. */
function moduleOf(f: CallFrame): string {
  const url = f.url;
  if (url === '') return f.functionName.startsWith('(') ? f.functionName : '(native)';
  if (url.startsWith('node:')) return url.split('/')[0] ?? url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `npm:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.lastIndexOf('/src/');
  if (src >= 0) {
    const parts = url.slice(src + 1).split('/');
    return parts.length > 2 ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  return url;
}

function fileOf(url: string): string {
  const src = url.lastIndexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  return url.replace(/^file:\/\//, '');
}

interface Summary {
  /** Sampled time in µs: all, and all but (idle). */
  readonly totalUs: number;
  readonly busyUs: number;
  readonly functions: { readonly name: string; readonly us: number }[];
  readonly modules: { readonly name: string; readonly us: number }[];
}

function summarise(p: Profile, skipUs = 0): Summary {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  // Sample i lasted until the next one: timeDeltas[i + 1] (the last one gets no time).
  let at = 0;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (at < skipUs) continue;
    const id = p.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const f = (byId.get(id) as ProfileNode).callFrame;
    total += us;
    if (f.functionName === '(idle)') idle += us;
    const name = f.url === '' ? f.functionName || '(anonymous)' : `${f.functionName || '(anonymous)'} ${fileOf(f.url)}:${f.lineNumber + 1}`;
    fns.set(name, (fns.get(name) ?? 0) + us);
    const m = moduleOf(f);
    mods.set(m, (mods.get(m) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m]
      .filter(([name]) => name !== '(idle)')
      .map(([name, us]) => ({ name, us }))
      .sort((a, b) => b.us - a.us);
  return { totalUs: total, busyUs: total - idle, functions: sorted(fns), modules: sorted(mods) };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, ops: { type: 'string' }, skip: { type: 'string' } } });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: node dist/bench/cpuprofile.js FILE.cpuprofile [--top 25] [--ops N] [--skip SEC]\n');
    process.exit(2);
  }
  const top = Number(values.top ?? 25);
  const ops = values.ops === undefined ? undefined : Number(values.ops);
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.skip ?? 0) * 1e6);
  const line = (us: number, name: string) => {
    const pct = ((100 * us) / s.busyUs).toFixed(1).padStart(5);
    const per = ops ? `${(us / ops).toFixed(1).padStart(8)} µs/op  ` : '';
    return `${pct}%  ${per}${name}`;
  };
  const out: string[] = [];
  out.push(
    `${file}: ${(s.totalUs / 1e6).toFixed(1)} s sampled, ${(s.busyUs / 1e6).toFixed(1)} s busy (${((100 * s.busyUs) / s.totalUs).toFixed(0)}%)${ops ? `, ${((s.busyUs / ops) | 0).toString()} µs busy per op` : ''}`,
  );
  out.push('', `by module (self time, % of busy):`);
  for (const m of s.modules.slice(0, top)) out.push(line(m.us, m.name));
  out.push('', `top ${top} functions (self time, % of busy):`);
  for (const f of s.functions.slice(0, top)) out.push(line(f.us, f.name));
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
