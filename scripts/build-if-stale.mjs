#!/usr/bin/env node
// `npm start` (and friends): compile with tsconfig.build.json only when dist/ is missing or
// older than a source it is built from, so starting a current build does not recompile.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', 'src', 'cli', 'main.js');

function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return path.endsWith('.ts') || path.endsWith('.json') ? st.mtimeMs : 0;
  let m = 0;
  for (const e of readdirSync(path)) if (e !== 'node_modules') m = Math.max(m, newest(join(path, e)));
  return m;
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const sources = Math.max(...['src', 'scripts', 'bench', 'conformance', 'tsconfig.json', 'tsconfig.build.json', 'package.json'].map((p) => newest(join(root, p))));
if (built === 0 || sources > built) {
  process.stderr.write('build-if-stale: compiling (dist/ is missing or older than the sources)\n');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
}
