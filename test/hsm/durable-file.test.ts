/**
 * Master key files are made whole or not at all (src/hsm/software/durable-file.ts): a kill
 * while the file was being written used to leave an empty master.key that stopped every
 * later start ("must hold 32 bytes, it holds 0"), and the folder entry was not fsynced, so a
 * power loss could drop the key while keys sealed under it were already durable. The window
 * is too narrow to hit with a kill in a test; these check the mechanism instead.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileDurably } from '../../src/hsm/software/durable-file.js';
import { SoftwareProtector } from '../../src/hsm/software/software-protector.js';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'kms-durable-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('createFileDurably', () => {
  it('creates the file whole, mode 0600, and leaves no temporary file', () => {
    const d = fresh();
    const path = join(d, 'sub', 'master.key');
    expect(createFileDurably(path, Buffer.alloc(32, 7))).toBe(true);
    expect(readFileSync(path)).toEqual(Buffer.alloc(32, 7));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(d, 'sub'))).toEqual(['master.key']);
  });

  it('never replaces an existing file (a key another process just made)', () => {
    const path = join(fresh(), 'master.key');
    writeFileSync(path, Buffer.alloc(32, 1));
    expect(createFileDurably(path, Buffer.alloc(32, 2))).toBe(false);
    expect(readFileSync(path)).toEqual(Buffer.alloc(32, 1));
    expect(readdirSync(fresh())).toEqual([]);
  });

  it('a temporary file left by a killed creation does not stop the next start', () => {
    const d = fresh();
    writeFileSync(join(d, 'master.key.tmp-4242-deadbeef'), Buffer.alloc(5));
    const { protector, created } = SoftwareProtector.openOrCreate(join(d, 'master.key'));
    expect(created).toBe(true);
    expect(readFileSync(join(d, 'master.key'))).toHaveLength(32);
    void protector.close();
  });
});
