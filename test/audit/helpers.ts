/** Shared by the audit tests: read a stopped data folder's audit log, run the built CLI. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRecord, type AuditRecord } from '../../src/audit/record.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { REPO_ROOT } from '../support/paths.js';

export const KMS = join(REPO_ROOT, 'dist/src/cli/main.js');

export function ensureBuilt(): void {
  if (!existsSync(KMS)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

export function kms(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [KMS, ...args], { timeout: 60_000, env: { ...process.env, KMS_CONFIG: '' } });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Every entry of the audit log of a stopped data folder: raw bytes and parsed. */
export async function readLog(dataDir: string): Promise<{ raw: Buffer[]; records: AuditRecord[] }> {
  const store = new LevelStore({ path: join(dataDir, 'db') });
  await store.open();
  try {
    const entries = await store.audit.read(1, 1_000_000);
    return { raw: entries.map((e) => Buffer.from(e.bytes)), records: entries.map((e) => decodeRecord(e.bytes)) };
  } finally {
    await store.close();
  }
}
