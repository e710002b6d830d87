/**
 * local/layers: which folder of src/ may import which. Each file of src/ belongs to one layer
 * (a file path, or a folder `dir/**`; a file entry wins over its folder); an import (static,
 * dynamic, re-export or `import('…')` type) of a file in another layer is allowed when that
 * layer is in the importer's `allow` list, or in a per-file exception. Also refused: an import
 * from src/ that leaves src/, a file of src/ that belongs to no layer, and an exception that no
 * import of its file needs any more (delete it). Paths are matched as written (no file system
 * access): `./x.js` names `x.ts`.
 */
import path from 'node:path';

/** @typedef {{ name: string, files: string[], allow: string[] }} Layer */
/** @typedef {{ file: string, allow: string[], why: string }} Exception */

/** The layer of a root-relative path (posix separators), or undefined. Exact files win over folders; the longest folder wins. */
export function layerOf(layers, rel) {
  const noExt = rel.replace(/\.(c|m)?(t|j)sx?$/, '');
  let best;
  let bestLen = -1;
  for (const layer of layers) {
    for (const pattern of layer.files) {
      if (pattern.endsWith('/**')) {
        const dir = pattern.slice(0, -2);
        if (rel.startsWith(dir) && dir.length > bestLen) {
          best = layer;
          bestLen = dir.length;
        }
      } else if (pattern.replace(/\.(c|m)?(t|j)sx?$/, '') === noExt) {
        return layer;
      }
    }
  }
  return best;
}

function toPosix(p) {
  return p.split(path.sep).join('/');
}

/** @type {import('eslint').Rule.RuleModule} */
export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'enforce the dependency direction between the layers of src/' },
    schema: [
      {
        type: 'object',
        properties: {
          root: { type: 'string' },
          source: { type: 'string' },
          layers: { type: 'array' },
          exceptions: { type: 'array' },
        },
        required: ['root', 'layers'],
        additionalProperties: false,
      },
    ],
    messages: {
      notAllowed: '{{from}} (layer {{fromLayer}}) may not import {{to}} (layer {{toLayer}}): {{fromLayer}} may import {{allowed}}',
      leaves: '{{from}} imports {{to}}, outside {{source}}/: {{source}}/ never imports test/, conformance/, bench/, fuzz/ or scripts/',
      noLayer: '{{file}} belongs to no layer: add it to the layer list in eslint.config.js',
      unknownTarget: '{{from}} imports {{to}}, which belongs to no layer: add it to the layer list in eslint.config.js',
      staleException: 'the layer exception for {{file}} ({{allow}}) is no longer needed: delete it from eslint.config.js',
    },
  },
  create(context) {
    const opts = context.options[0];
    const root = path.resolve(opts.root);
    const source = opts.source ?? 'src';
    /** @type {Layer[]} */
    const layers = opts.layers;
    /** @type {Exception[]} */
    const exceptions = opts.exceptions ?? [];
    const filename = path.resolve(context.filename);
    const rel = toPosix(path.relative(root, filename));
    if (!rel.startsWith(`${source}/`)) return {};
    const own = layerOf(layers, rel);
    const exception = exceptions.find((e) => e.file === rel);
    const usedException = new Set();

    function check(node, spec) {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = toPosix(path.relative(root, path.resolve(path.dirname(filename), spec)));
      if (!target.startsWith(`${source}/`)) {
        context.report({ node, messageId: 'leaves', data: { from: rel, to: target, source } });
        return;
      }
      if (!own) return;
      const theirs = layerOf(layers, target);
      if (!theirs) {
        context.report({ node, messageId: 'unknownTarget', data: { from: rel, to: target } });
        return;
      }
      if (theirs === own || own.allow.includes(theirs.name)) return;
      if (exception?.allow.includes(theirs.name)) {
        usedException.add(theirs.name);
        return;
      }
      context.report({
        node,
        messageId: 'notAllowed',
        data: { from: rel, fromLayer: own.name, to: target, toLayer: theirs.name, allowed: own.allow.length ? own.allow.join(', ') : 'nothing else' },
      });
    }

    const fromSource = (node) => node.source && check(node.source, node.source.value);
    return {
      Program(node) {
        if (!own) context.report({ node, messageId: 'noLayer', data: { file: rel } });
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
      'Program:exit'(node) {
        if (!exception) return;
        const stale = exception.allow.filter((l) => !usedException.has(l));
        if (stale.length) context.report({ node, messageId: 'staleException', data: { file: rel, allow: stale.join(', ') } });
      },
    };
  },
};
