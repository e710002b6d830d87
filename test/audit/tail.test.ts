/**
 * `kms audit tail --follow` on a running server (its database is locked, so tail reads a
 * copy each poll): new records appear as JSON lines as requests are served; SIGTERM ends it.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSymmetricKeyPayload, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, KMS } from './helpers.js';

let srv: TestKms;
beforeAll(async () => {
  ensureBuilt();
  srv = await startTestKms();
});
afterAll(async () => srv?.dispose());

it('follows new records while the server runs', async () => {
  const s = new Session(await srv.client('alice'), V2_1);
  const create = async () => uniqueIdentifierOf(await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 4 })));
  const before = await create();
  const child = spawn(process.execPath, [KMS, 'audit', 'tail', '--follow', '--interval', '100', '-n', '1', '--data-dir', srv.dataDir]);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (needle: string) => {
    for (let i = 0; i < 100 && !out.includes(needle); i++) await new Promise((r) => setTimeout(r, 100));
    return out.includes(needle);
  };
  try {
    expect(await waitFor(before)).toBe(true);
    const after = await create();
    expect(await waitFor(after)).toBe(true);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; op?: string; uids?: string[] });
    expect(lines.map((l) => l.seq)).toEqual([...lines.map((l) => l.seq)].sort((a, b) => a - b));
    expect(new Set(lines.map((l) => l.seq)).size).toBe(lines.length); // nothing printed twice
    expect(lines.find((l) => l.uids?.includes(after))?.op).toBe('Create');
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
});
