/**
 * Fuzz seeds: every message of every OASIS test case (../shared/kmip-testcases, read only), as
 * binary TTLV, plus the hex vectors beside them and the inputs of test/fuzz/regressions.
 *
 * Placeholders (`$UNIQUE_IDENTIFIER_0`, `$NOW`, …) get a neutral value of their type, as the
 * conformance runner first loads them (conformance/bind.ts). A file that does not parse as a
 * whole (the one malformed file, and the files naming PKCS#11 enumeration values the registry
 * leaves unresolved) is skipped and counted.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { neutralValue } from '../conformance/bind.js';
import { defaultTestcasesRoot, repoRoot } from '../conformance/cases.js';
import { Tag } from '../src/kmip/generated/tags.gen.js';
import { parseKmipXml } from '../src/kmip/xml.js';
import { encode } from '../src/ttlv/encode.js';

export interface Seeds {
  readonly requests: Uint8Array[];
  readonly responses: Uint8Array[];
  /** Hex vectors and regression inputs (any bytes). */
  readonly other: Uint8Array[];
  readonly files: number;
  readonly skippedFiles: string[];
}

function walk(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Hex text (whitespace, `|` separators and `#` comments allowed) → bytes. */
export function hexFileBytes(text: string): Uint8Array {
  const hex = text
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join('')
    .replace(/[\s|]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error('not hex');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export const REGRESSIONS_DIR = (): string => join(repoRoot(), 'test', 'fuzz', 'regressions');

export function regressionInputs(): { name: string; bytes: Uint8Array }[] {
  const dir = REGRESSIONS_DIR();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .map((f) => ({ name: f, bytes: hexFileBytes(readFileSync(join(dir, f), 'utf8')) }));
}

export function loadSeeds(root = defaultTestcasesRoot()): Seeds {
  const requests: Uint8Array[] = [];
  const responses: Uint8Array[] = [];
  const other: Uint8Array[] = [];
  const skippedFiles: string[] = [];
  let files = 0;
  for (const p of walk(root)) {
    if (p.endsWith('.xml') && !p.includes('/vectors/')) {
      files++;
      let nodes;
      try {
        nodes = parseKmipXml(readFileSync(p, 'utf8'), { placeholders: (_name, type) => neutralValue(type) });
      } catch {
        skippedFiles.push(p.slice(root.length + 1));
        continue;
      }
      for (const n of nodes) {
        const bytes = encode(n);
        if (n.tag === Tag.RequestMessage) requests.push(bytes);
        else responses.push(bytes);
      }
    } else if (p.endsWith('.ttlv.hex')) {
      try {
        other.push(hexFileBytes(readFileSync(p, 'utf8')));
      } catch {
        skippedFiles.push(p.slice(root.length + 1));
      }
    }
  }
  for (const r of regressionInputs()) other.push(r.bytes);
  // The same message appears in several files (versions, profiles): run each once.
  const unique = (xs: Uint8Array[]): Uint8Array[] => [...new Map(xs.map((x) => [Buffer.from(x).toString('base64'), x])).values()];
  return { requests: unique(requests), responses: unique(responses), other, files, skippedFiles };
}
