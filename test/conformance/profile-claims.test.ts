/**
 * Query Profiles claims only what the conformance results show: every server profile the server
 * names for a protocol version has mandatory OASIS cases at that version, and all of them pass
 * in the committed results (conformance/results.json, regenerated with --write-results; the
 * guard keeps it honest). A profile that starts failing must be dropped from the claim.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProfileName } from '../../src/kmip/generated/enums.gen.js';
import { SERVER_PROFILES } from '../../src/operations/query-and-session/query-info.js';
import { repoRoot } from '../../conformance/cases.js';

/** The OASIS case prefix of each server profile, by the start of its ProfileName. */
const CODE_OF: readonly [string, string][] = [
  ['TapeLibraryServer', 'TL'],
  ['SymmetricKeyLifecycleServer', 'SKLC'],
  ['AsymmetricKeyLifecycleServer', 'AKLC'],
  ['BasicCryptographicServer', 'CS-BC'],
  ['AdvancedCryptographicServer', 'CS-AC'],
  ['RNGCryptographicServer', 'CS-RNG'],
  ['SymmetricKeyFoundryServer', 'SKFF'],
  ['OpaqueManagedObjectStoreServer', 'OMOS'],
  ['StorageArrayWithSelfEncryptingDriveServer', 'SASED'],
  ['AESXTSServer', 'AX'],
  ['QuantumSafeServer', 'QS'],
  ['BaselineServer', 'BL'],
];

interface CaseRow {
  readonly version: string;
  readonly set: string;
  readonly profile: string;
  readonly status: string;
}

describe('Query Profiles claims', () => {
  const results = JSON.parse(readFileSync(join(repoRoot(), 'conformance', 'results.json'), 'utf8')) as { cases: CaseRow[] };
  const nameOf = new Map(Object.entries(ProfileName).map(([k, v]) => [v as number, k]));

  it.each(Object.entries(SERVER_PROFILES))('KMIP %s: each claimed profile has mandatory cases there, all passing', (version, profiles) => {
    expect(profiles.length).toBeGreaterThan(0);
    for (const p of profiles) {
      const name = nameOf.get(p) ?? '';
      const code = CODE_OF.find(([prefix]) => name.startsWith(prefix))?.[1];
      expect(code, `${name} is a server profile with OASIS cases`).toBeDefined();
      const cases = results.cases.filter((c) => c.version === version && c.set === 'mandatory' && c.profile === code);
      expect(cases.length, `${version} ${code} has mandatory cases`).toBeGreaterThan(0);
      expect(
        cases.filter((c) => c.status !== 'pass').map((c) => c.status),
        `${version} ${code} passes`,
      ).toEqual([]);
    }
  });
});
