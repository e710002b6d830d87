/**
 * local/layers (eslint-rules/layers.js): the dependency direction of src/ as the linter checks
 * it, on file names alone (the rule reads no files).
 */
import { RuleTester } from 'eslint';
import { describe, expect, it } from 'vitest';
import { layerOf, layersRule } from '../../eslint-rules/layers.js';
import config from '../../eslint.config.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const root = '/repo';
const layers = [
  { name: 'ttlv', files: ['src/ttlv/**'], allow: [] },
  { name: 'kmip', files: ['src/kmip/**'], allow: ['ttlv'] },
  { name: 'metrics', files: ['src/http/metrics.ts'], allow: ['kmip'] },
  { name: 'hsm', files: ['src/hsm/**'], allow: [] },
  { name: 'store', files: ['src/store/**'], allow: ['kmip'] },
  { name: 'http', files: ['src/http/**'], allow: ['kmip', 'metrics'] },
];
const options = [{ root, layers, exceptions: [{ file: 'src/hsm/rotation.ts', allow: ['store'], why: 'work in flight' }] }];
const at = (file: string) => `${root}/${file}`;

describe('layerOf', () => {
  it('a file entry wins over its folder; the longest folder wins; outside every layer is undefined', () => {
    expect(layerOf(layers, 'src/http/metrics.ts')?.name).toBe('metrics');
    expect(layerOf(layers, 'src/http/metrics.js')?.name).toBe('metrics');
    expect(layerOf(layers, 'src/http/status.ts')?.name).toBe('http');
    expect(layerOf(layers, 'src/kmip/generated/tags.gen.ts')?.name).toBe('kmip');
    expect(layerOf(layers, 'src/kmipx/a.ts')).toBeUndefined();
    expect(layerOf(layers, 'src/nowhere/a.ts')).toBeUndefined();
  });
});

new RuleTester({ languageOptions: { ecmaVersion: 2022, sourceType: 'module' } }).run('local/layers', layersRule, {
  valid: [
    { filename: at('src/kmip/registry.ts'), code: "import { x } from '../ttlv/node.js';", options },
    { filename: at('src/kmip/registry.ts'), code: "import { y } from './generated/tags.gen.js'; import 'node:fs';", options },
    { filename: at('src/http/status.ts'), code: "import { m } from './metrics.js'; export * from '../kmip/registry.js';", options },
    // a per-file exception
    { filename: at('src/hsm/rotation.ts'), code: "import { s } from '../store/object-store.js';", options },
    // test/ may import anything in src/
    { filename: at('test/hsm/x.test.ts'), code: "import { s } from '../../src/store/object-store.js';", options },
  ],
  invalid: [
    {
      filename: at('src/ttlv/decode.ts'),
      code: "import { x } from '../kmip/registry.js';",
      options,
      errors: [{ message: 'src/ttlv/decode.ts (layer ttlv) may not import src/kmip/registry.js (layer kmip): ttlv may import nothing else' }],
    },
    {
      filename: at('src/metrics.ts'.replace('src/', 'src/http/')),
      code: "import { h } from './status.js';",
      options,
      errors: [{ messageId: 'notAllowed' }],
    },
    // re-exports, dynamic imports and import() types count too
    { filename: at('src/store/a.ts'), code: "export { h } from '../http/status.js';", options, errors: [{ messageId: 'notAllowed' }] },
    { filename: at('src/store/a.ts'), code: "export * from '../http/status.js';", options, errors: [{ messageId: 'notAllowed' }] },
    { filename: at('src/store/a.ts'), code: "const m = await import('../http/status.js');", options, errors: [{ messageId: 'notAllowed' }] },
    { filename: at('src/hsm/other.ts'), code: "import { s } from '../store/object-store.js';", options, errors: [{ messageId: 'notAllowed' }] },
    { filename: at('src/kmip/a.ts'), code: "import { k } from '../../test/support/kms.js';", options, errors: [{ messageId: 'leaves' }] },
    { filename: at('src/kmip/a.ts'), code: "import { k } from '../../conformance/command.js';", options, errors: [{ messageId: 'leaves' }] },
    { filename: at('src/newfolder/a.ts'), code: "import { k } from '../kmip/registry.js';", options, errors: [{ messageId: 'noLayer' }] },
    { filename: at('src/kmip/a.ts'), code: "import { k } from '../newfolder/b.js';", options, errors: [{ messageId: 'unknownTarget' }] },
    // an exception no import needs any more
    { filename: at('src/hsm/rotation.ts'), code: "import { c } from './crypto.js';", options, errors: [{ messageId: 'staleException' }] },
  ],
});

describe('the project config', () => {
  it('names a layer for every folder of src/ and only layers it lists in allow lists and exceptions', async () => {
    const { readdirSync } = await import('node:fs');
    const blocks = (config as { rules?: Record<string, unknown> }[]).filter((b) => b.rules?.['local/layers']);
    expect(blocks).toHaveLength(1);
    const [, opts] = blocks[0]!.rules!['local/layers'] as [
      string,
      { layers: { name: string; files: string[]; allow: string[] }[]; exceptions: { file: string; allow: string[]; why: string }[] },
    ];
    const names = new Set(opts.layers.map((l) => l.name));
    for (const l of opts.layers) for (const a of l.allow) expect(names, `${l.name} allows ${a}`).toContain(a);
    for (const e of opts.exceptions) {
      for (const a of e.allow) expect(names).toContain(a);
      expect(e.why).toMatch(/^wt-\w+[^:]*: ./);
    }
    const src = new URL('../../src/', import.meta.url).pathname;
    for (const d of readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      expect(layerOf(opts.layers, `src/${d.name}/any.ts`), `src/${d.name}`).toBeDefined();
    }
  });
});
