/**
 * local/no-cycle (eslint-rules/no-cycle.js): import cycles between files, found on a small tree
 * written for the test, type-only imports included; allowed edges and stale ones.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, describe, expect, it } from 'vitest';
import { components, importGraph, noCycleRule, pathBetween } from '../../eslint-rules/no-cycle.js';

const root = mkdtempSync(join(tmpdir(), 'no-cycle-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TREE: Record<string, string> = {
  'src/a/one.ts': "import { two } from './two.js';\nexport const one = two + 1;\n",
  'src/a/two.ts': "import type { Three } from '../b/three.js';\nexport const two = 2;\nexport type Two = Three;\n",
  'src/b/three.ts': "import { one } from '../a/one.js';\nexport type Three = typeof one;\n",
  'src/b/four.ts': "import { one } from '../a/one.js';\nexport const four = one;\n",
  'src/c/index.ts': "export { five } from './five.js';\n",
  'src/c/five.ts': 'export const five = 5;\n',
  'src/c/six.ts': "import { five } from './index.js';\nexport const six = five;\n",
};
for (const [f, text] of Object.entries(TREE)) {
  mkdirSync(dirname(join(root, f)), { recursive: true });
  writeFileSync(join(root, f), text);
}

function lint(file: string, allowEdges: { from: string; to: string }[] = []) {
  const linter = new Linter({ configType: 'flat', cwd: root });
  return linter.verify(
    TREE[file]!,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser as Linter.Parser },
        plugins: { local: { rules: { 'no-cycle': noCycleRule } } },
        rules: { 'local/no-cycle': ['error', { root, include: ['src'], allowEdges }] },
      },
    ],
    join(root, file),
  );
}

describe('the graph', () => {
  it('resolves .js specifiers to .ts files and folders to index.ts; finds the one component', () => {
    const g = importGraph([join(root, 'src')]);
    expect([...g.get(join(root, 'src/c/six.ts'))!]).toEqual([join(root, 'src/c/index.ts')]);
    const comp = components(g);
    const cyc = ['src/a/one.ts', 'src/a/two.ts', 'src/b/three.ts'].map((f) => comp.get(join(root, f)));
    expect(new Set(cyc).size).toBe(1);
    expect(comp.get(join(root, 'src/b/four.ts'))).not.toBe(cyc[0]);
    expect(pathBetween(g, join(root, 'src/a/two.ts'), join(root, 'src/a/one.ts'))).toEqual(['src/a/two.ts', 'src/b/three.ts', 'src/a/one.ts'].map((f) => join(root, f)));
  });
});

describe('local/no-cycle', () => {
  it('reports each import that leads back, with the way round (type-only imports count)', () => {
    const one = lint('src/a/one.ts');
    expect(one.map((m) => m.message)).toEqual(['import cycle: src/a/one.ts -> src/a/two.ts -> src/b/three.ts -> src/a/one.ts']);
    expect(one[0]!.line).toBe(1);
    expect(lint('src/a/two.ts').map((m) => m.message)).toEqual(['import cycle: src/a/two.ts -> src/b/three.ts -> src/a/one.ts -> src/a/two.ts']);
  });

  it('leaves files outside a cycle alone', () => {
    expect(lint('src/b/four.ts')).toEqual([]);
    expect(lint('src/c/six.ts')).toEqual([]);
  });

  it('an allowed edge breaks the cycle; one the file no longer has is reported', () => {
    const allow = [{ from: 'src/b/three.ts', to: 'src/a/one.ts' }];
    expect(lint('src/a/one.ts', allow)).toEqual([]);
    expect(lint('src/b/three.ts', allow)).toEqual([]);
    const stale = lint('src/b/four.ts', [{ from: 'src/b/four.ts', to: 'src/c/five.ts' }]);
    expect(stale.map((m) => m.message)).toEqual(['the allowed import src/b/four.ts -> src/c/five.ts is gone: delete it from allowEdges in eslint.config.js']);
  });
});
