/**
 * local/no-cycle: no import cycles between the files of src/. The graph is read once per lint
 * run from the files on disk (TypeScript's own import scanner, type-only imports included, so a
 * cycle of types counts too); an import is reported when its target leads back to the importing
 * file, with the way back. `allowEdges` lists known edges that are left out of the graph, each
 * with the work that removes it; an allowed edge the file no longer has is reported (delete it).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

function toPosix(p) {
  return p.split(path.sep).join('/');
}

function listFiles(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) listFiles(p, out);
    else if (/\.(m|c)?ts$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Resolve a relative specifier from `from` to a file of `files`, or undefined. */
export function resolveIn(files, from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const p = path.resolve(path.dirname(from), spec);
  for (const c of [p.replace(/\.(m|c)?js$/, (m) => m.replace('js', 'ts')), `${p}.ts`, path.join(p, 'index.ts'), p]) if (files.has(c)) return c;
  return undefined;
}

/** The import graph of the .ts files under `dirs` (absolute paths): file → files it imports. */
export function importGraph(dirs) {
  const files = new Set(dirs.flatMap((d) => (fs.existsSync(d) ? listFiles(d) : [])));
  const graph = new Map();
  for (const f of files) {
    const info = ts.preProcessFile(fs.readFileSync(f, 'utf8'), true, true);
    const targets = new Set();
    for (const i of info.importedFiles) {
      const t = resolveIn(files, f, i.fileName);
      if (t !== undefined && t !== f) targets.add(t);
    }
    graph.set(f, targets);
  }
  return graph;
}

/** Strongly connected components (Tarjan, iterative): file → component id; only components of 2+ files matter. */
export function components(graph) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const comp = new Map();
  let compId = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work = [[start, [...graph.get(start)]]];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const [v, rest] = work[work.length - 1];
      if (rest.length) {
        const w = rest.shift();
        if (!graph.has(w)) continue;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push([w, [...graph.get(w)]]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(v)));
      }
      if (low.get(v) === index.get(v)) {
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          comp.set(w, compId);
        } while (w !== v);
        compId++;
      }
    }
  }
  return comp;
}

/** A shortest path from `from` to `to` in `graph` (both included), or undefined. */
export function pathBetween(graph, from, to) {
  const prev = new Map([[from, undefined]]);
  const queue = [from];
  while (queue.length) {
    const v = queue.shift();
    if (v === to) {
      const out = [];
      for (let x = to; x !== undefined; x = prev.get(x)) out.unshift(x);
      return out;
    }
    for (const w of graph.get(v) ?? []) {
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return undefined;
}

const cache = new Map();

function analysis(root, include, allowEdges) {
  const key = JSON.stringify([root, include, allowEdges]);
  let a = cache.get(key);
  if (!a) {
    const full = importGraph(include.map((d) => path.resolve(root, d)));
    const graph = new Map([...full].map(([f, ts]) => [f, new Set(ts)]));
    for (const e of allowEdges) graph.get(path.resolve(root, e.from))?.delete(path.resolve(root, e.to));
    a = { full, graph, comp: components(graph) };
    cache.set(key, a);
  }
  return a;
}

/** @type {import('eslint').Rule.RuleModule} */
export const noCycleRule = {
  meta: {
    type: 'problem',
    docs: { description: 'no import cycles between the files of src/' },
    schema: [
      {
        type: 'object',
        properties: { root: { type: 'string' }, include: { type: 'array', items: { type: 'string' } }, allowEdges: { type: 'array' } },
        required: ['root'],
        additionalProperties: false,
      },
    ],
    messages: {
      cycle: 'import cycle: {{cycle}}',
      staleEdge: 'the allowed import {{from}} -> {{to}} is gone: delete it from allowEdges in eslint.config.js',
    },
  },
  create(context) {
    const opts = context.options[0];
    const root = path.resolve(opts.root);
    const include = opts.include ?? ['src'];
    const allowEdges = opts.allowEdges ?? [];
    const filename = path.resolve(context.filename);
    const { full, graph, comp } = analysis(root, include, allowEdges);
    if (!graph.has(filename)) return {};
    const files = new Set(graph.keys());
    const rel = (f) => toPosix(path.relative(root, f));
    const reported = new Set();

    function check(node, spec) {
      if (typeof spec !== 'string') return;
      const target = resolveIn(files, filename, spec);
      if (target === undefined || reported.has(target) || !graph.get(filename).has(target)) return;
      if (comp.get(target) !== comp.get(filename)) return;
      const back = pathBetween(graph, target, filename);
      if (!back) return;
      reported.add(target);
      context.report({ node, messageId: 'cycle', data: { cycle: [filename, ...back].map(rel).join(' -> ') } });
    }
    const fromSource = (node) => node.source && check(node.source, node.source.value);
    return {
      Program(node) {
        for (const e of allowEdges) {
          if (path.resolve(root, e.from) !== filename) continue;
          if (!full.get(filename).has(path.resolve(root, e.to))) context.report({ node, messageId: 'staleEdge', data: { from: e.from, to: e.to } });
        }
      },
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression(node) {
        if (node.source.type === 'Literal') check(node.source, node.source.value);
      },
      TSImportType(node) {
        const arg = node.argument;
        const lit = arg?.type === 'TSLiteralType' ? arg.literal : arg;
        if (lit?.type === 'Literal') check(lit, lit.value);
      },
    };
  },
};
