/**
 * Discovery and selection of the OASIS KMIP test cases (`../shared/kmip-testcases`, see its
 * README). One XML file is one case. A case is identified by its file name without `.xml`
 * (`SKLC-M-1-21`); the folder gives the KMIP version and the set:
 *
 *   <version>/mandatory/  -M- profile cases     <version>/optional/  -O- profile cases
 *   <version>/testcases/  TC-* cases of the "KMIP Test Cases" notes (illustrative only)
 *
 * The profile is the name before `-M-` / `-O-` (`CS-BC-M-GCM-1-21` → `CS-BC`); the TC-*
 * files all count under the pseudo-profile `TC`. `vectors/` holds no cases.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CASE_SETS = ['mandatory', 'optional', 'testcases'] as const;
export type CaseSet = (typeof CASE_SETS)[number];

export interface CaseFile {
  /** File name without `.xml`, e.g. `SKLC-M-1-21`. */
  readonly id: string;
  /** KMIP version folder, e.g. `2.1`. */
  readonly version: string;
  readonly set: CaseSet;
  /** Profile prefix (`SKLC`, `CS-BC`, `MSGENC-HTTPS`), or `TC` for the Test Cases notes. */
  readonly profile: string;
  /** Absolute path of the XML file. */
  readonly path: string;
  /** Path relative to the corpus root, e.g. `2.1/mandatory/SKLC-M-1-21.xml`. */
  readonly rel: string;
}

export interface Selection {
  /** Keep these versions only (`2.1`, `1.4`). */
  readonly versions?: readonly string[];
  /** Keep these profiles only (`SKLC`, `CS-BC`, `TC`), case-insensitive. */
  readonly profiles?: readonly string[];
  /** Keep these case ids only (with or without `.xml`), case-insensitive. */
  readonly cases?: readonly string[];
  /** Keep these sets only. */
  readonly sets?: readonly CaseSet[];
  /** Same as `sets: ['mandatory']`. */
  readonly mandatoryOnly?: boolean;
}

/** The repository root: the nearest folder above this module holding package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('conformance: cannot find the repository root (package.json)');
    dir = up;
  }
}

/** The corpus: KMS_TESTCASES, else `../shared/kmip-testcases` beside the repository. */
export function defaultTestcasesRoot(): string {
  return process.env.KMS_TESTCASES || resolve(repoRoot(), '../shared/kmip-testcases');
}

export function profileOf(id: string, set: CaseSet): string {
  if (set === 'testcases') return 'TC';
  const m = /^(.+?)-[MO]-/.exec(id);
  return m?.[1] ?? id;
}

/** Compare KMIP version strings as {major, minor} pairs (never as floats). */
export function compareVersionStrings(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** Every case file under `root`, ordered by version, set, then id. Throws when the corpus is missing. */
export function discoverCases(root: string): CaseFile[] {
  if (!existsSync(join(root, 'MANIFEST.tsv'))) {
    throw new Error(`conformance: the OASIS test cases are not at ${root} (expected ../shared/kmip-testcases beside the repository, or set KMS_TESTCASES)`);
  }
  const out: CaseFile[] = [];
  for (const version of readdirSync(root)) {
    if (!/^\d+\.\d+$/.test(version) || !statSync(join(root, version)).isDirectory()) continue;
    for (const set of CASE_SETS) {
      const dir = join(root, version, set);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) {
        if (!f.endsWith('.xml')) continue;
        const id = f.slice(0, -4);
        out.push({ id, version, set, profile: profileOf(id, set), path: join(dir, f), rel: `${version}/${set}/${f}` });
      }
    }
  }
  const setOrder = (s: CaseSet) => CASE_SETS.indexOf(s);
  return out.sort((a, b) => compareVersionStrings(a.version, b.version) || setOrder(a.set) - setOrder(b.set) || a.id.localeCompare(b.id, 'en'));
}

export function selectCases(all: readonly CaseFile[], sel: Selection): CaseFile[] {
  const lower = (xs: readonly string[] | undefined) => (xs && xs.length > 0 ? new Set(xs.map((x) => x.toLowerCase().replace(/\.xml$/, ''))) : undefined);
  const versions = sel.versions && sel.versions.length > 0 ? new Set(sel.versions) : undefined;
  const profiles = lower(sel.profiles);
  const cases = lower(sel.cases);
  let sets = sel.sets && sel.sets.length > 0 ? new Set<CaseSet>(sel.sets) : undefined;
  if (sel.mandatoryOnly) sets = new Set<CaseSet>(['mandatory']);
  return all.filter(
    (c) => (!versions || versions.has(c.version)) && (!profiles || profiles.has(c.profile.toLowerCase())) && (!cases || cases.has(c.id.toLowerCase())) && (!sets || sets.has(c.set)),
  );
}

export function isCaseSet(s: string): s is CaseSet {
  return (CASE_SETS as readonly string[]).includes(s);
}

/**
 * Cases that continue from the state another case leaves, as their files show: SASED-M-3
 * locates the Secret Data that SASED-M-2 registered (by its Object Group "SASED-M-2-…-group"),
 * TL-M-3 locates the key TL-M-2 created (by its Application Specific Information). Keyed by
 * the id without its version suffix; the prerequisite is the same-version file beside it.
 */
export const PREREQUISITES: Readonly<Record<string, string>> = {
  'SASED-M-3': 'SASED-M-2',
  'TL-M-3': 'TL-M-2',
};

/** The case `file` continues from, if any (and if its file is there). */
export function prerequisiteOf(file: CaseFile): CaseFile | undefined {
  const m = /^(.*)-(\d+)$/.exec(file.id);
  const pre = m ? PREREQUISITES[m[1] as string] : undefined;
  if (!m || !pre) return undefined;
  const id = `${pre}-${m[2] as string}`;
  const path = join(dirname(file.path), `${id}.xml`);
  if (!existsSync(path)) return undefined;
  return { ...file, id, profile: profileOf(id, file.set), path, rel: `${file.version}/${file.set}/${id}.xml` };
}
