/**
 * An upgraded server's trail: a server writing canonical JSON records (`audit.recordFormat:
 * "json"`, what every server wrote before format 2) is stopped, the same data folder is served
 * again with the default (binary), and the one trail then holds JSON records followed by binary
 * ones. The built CLI verifies it, tails it as the same JSON lines, reports over both parts;
 * an edited byte in either part is caught. Also the setting itself: file, KMS_ variable, flag,
 * help text.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, getPayload, locatePayload, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { canonicalJson, decodeRecord, sha256, type AuditRecord } from '../../src/audit/record.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, kms, readLog } from './helpers.js';

let first: TestKms;
let dataDir: string;
let raw: Buffer[];
let records: AuditRecord[];
/** Entries written by the JSON-writing server. */
let jsonPart = 0;
const uid = { a: '', b: '' };
const scratch: string[] = [];

async function createKey(s: Session, name: string): Promise<string> {
  return uniqueIdentifierOf(
    await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt, name })),
  );
}

beforeAll(async () => {
  ensureBuilt();
  first = await startTestKms({ audit: { checkpointEvery: 4, recordFormat: 'json' } });
  dataDir = first.dataDir;
  const s1 = new Session(await first.client(), V2_1);
  uid.a = await createKey(s1, `fmt-a-${Date.now()}`);
  await s1.ok(Operation.Get, getPayload(uid.a));
  await s1.ok(Operation.Get, getPayload(uid.a));
  await first.stop();
  jsonPart = (await readLog(dataDir)).raw.length;

  const second = await startTestKms({ audit: { checkpointEvery: 4 } }, { dataDir });
  const s2 = new Session(await second.client(), V2_1);
  await s2.ok(Operation.Get, getPayload(uid.a));
  uid.b = await createKey(s2, `fmt-b-${Date.now()}`);
  await s2.ok(Operation.Get, getPayload(uid.b));
  await s2.ok(Operation.Locate, locatePayload(V2_1, []));
  await second.stop();
  ({ raw, records } = await readLog(dataDir));
});
afterAll(async () => {
  await first?.dispose();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A copy of the folder with entry `seq`'s stored bytes changed by `edit`. */
async function edited(seq: number, edit: (b: Buffer) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kms-fmt-'));
  scratch.push(dir);
  cpSync(dataDir, dir, { recursive: true });
  const db = new ClassicLevel<string, string>(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  try {
    const audit = db.sublevel<string, Buffer>('a', { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const key = seq.toString(16).padStart(16, '0');
    const bytes = Buffer.from((await audit.get(key))!);
    edit(bytes);
    await audit.put(key, bytes);
  } finally {
    await db.close();
  }
  return dir;
}

describe('a trail of JSON records followed by binary ones (an upgraded server)', () => {
  it('holds both formats, one chain across the boundary', () => {
    expect(jsonPart).toBeGreaterThanOrEqual(4);
    expect(raw.length).toBeGreaterThan(jsonPart + 4);
    raw.forEach((b, i) => expect(b[0], `entry ${i + 1}`).toBe(i < jsonPart ? 0x7b : 0x02));
    expect(records.map((r) => r.v)).toEqual(raw.map((_, i) => (i < jsonPart ? 1 : 2)));
    // The first binary entry links to the last JSON one: SHA-256 of its stored bytes.
    expect(records[jsonPart]!.prev).toBe(sha256(raw[jsonPart - 1]!).toString('hex'));
    // Each server sealed its part with a checkpoint in its own format (the shutdown one, or an
    // interval one that already covered everything).
    expect(records[jsonPart - 1]).toMatchObject({ kind: 'checkpoint', covers: jsonPart - 1, v: 1 });
    expect(records.slice(jsonPart).filter((r) => r.kind === 'checkpoint').length).toBeGreaterThanOrEqual(1);
    expect(records[records.length - 1]).toMatchObject({ kind: 'checkpoint', covers: records.length - 1, v: 2 });
    // The binary records are the smaller ones: a Get of the same key, before and after.
    const getA = raw.filter((_, i) => records[i]!.kind === 'op' && (records[i] as { op: string }).op === 'Get' && (records[i] as { uids?: string[] }).uids?.[0] === uid.a);
    expect(getA.length).toBe(3);
    expect(getA[2]!.length).toBeLessThan(getA[0]!.length / 2);
  });

  it('kms audit verify: OK over both parts', () => {
    const r = kms('audit', 'verify', '--data-dir', dataDir);
    expect(r.stdout, r.stderr).toMatch(new RegExp(`^OK: ${raw.length} entries, \\d+ checkpoints`));
    expect(r.code).toBe(0);
  });

  it('kms audit tail: the same JSON lines for both parts (a JSON record prints as it is stored)', () => {
    const out = kms('audit', 'tail', '--data-dir', dataDir, '-n', String(raw.length));
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines).toHaveLength(raw.length);
    lines.forEach((l, i) => {
      if (i < jsonPart) expect(l).toBe(raw[i]!.toString('utf8'));
      else expect(l).toBe(canonicalJson(records[i]));
    });
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(raw.map((_, i) => i + 1));
  });

  it('kms audit report counts the operations of both parts', () => {
    const csv = kms('audit', 'report', '--data-dir', dataDir, '--format', 'csv', '--key', uid.a).stdout.trim().split('\n');
    const header = csv[0]!.split(',');
    const rows = csv.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
    expect(rows.find((r) => r.operation === 'Get')?.count).toBe('3');
    expect(rows.find((r) => r.operation === 'Create')?.count).toBe('1');
  });

  it('an edited byte in the JSON part is caught', async () => {
    const seq = records.findIndex((r) => r.kind === 'op' && r.op === 'Get') + 1;
    expect(seq).toBeGreaterThan(0);
    expect(seq).toBeLessThan(jsonPart);
    const dir = await edited(seq, (b) => {
      const at = b.indexOf(uid.a);
      b[at] = b[at] === 0x30 ? 0x31 : 0x30; // one hex digit of the uid
    });
    expect(decodeRecord((await readLog(dir)).raw[seq - 1]!)).toMatchObject({ op: 'Get', v: 1 });
    const r = kms('audit', 'verify', '--data-dir', dir);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN at position ${seq + 1} \\(entry ${seq + 1}\\): hash chain broken: prev does not match entry ${seq}`));
  });

  it('an edited byte in the binary part is caught', async () => {
    const seq = records.findIndex((r, i) => i >= jsonPart && r.kind === 'op' && r.op === 'Get' && r.uids?.[0] === uid.b) + 1;
    expect(seq).toBeGreaterThan(jsonPart);
    expect(seq).toBeLessThan(raw.length);
    const dir = await edited(seq, (b) => {
      const at = b.indexOf(Buffer.from(uid.b.replace(/-/g, ''), 'hex')); // the uid's 16 bytes
      expect(at).toBeGreaterThan(0);
      b[at + 15]! ^= 0x01;
    });
    // Still a well-formed record (another uid): only the chain tells.
    expect(decodeRecord((await readLog(dir)).raw[seq - 1]!)).toMatchObject({ op: 'Get', v: 2 });
    const r = kms('audit', 'verify', '--data-dir', dir);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^BROKEN at position ${seq + 1} \\(entry ${seq + 1}\\): hash chain broken: prev does not match entry ${seq}`));

    // A byte that makes the entry unreadable: named as such, at its own position.
    const bad = await edited(seq, (b) => (b[1] = 0x7f));
    const u = kms('audit', 'verify', '--data-dir', bad);
    expect(u.code).toBe(1);
    expect(u.stdout).toMatch(new RegExp(`^BROKEN at position ${seq} \\(entry ${seq}\\): entry does not parse: not an audit record: unknown record kind 127`));
  });
});

describe('audit.recordFormat', () => {
  it('binary by default; json from the file key, KMS_AUDIT_RECORD_FORMAT or --audit-record-format; anything else refused', () => {
    expect(loadConfig({ env: {} }).audit?.recordFormat).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'kms-fmt-cfg-'));
    scratch.push(dir);
    writeFileSync(join(dir, 'kms.json'), JSON.stringify({ audit: { recordFormat: 'json' } }));
    expect(loadConfig({ env: {}, file: join(dir, 'kms.json') }).audit?.recordFormat).toBe('json');
    expect(loadConfig({ env: { KMS_AUDIT_RECORD_FORMAT: 'json' } }).audit?.recordFormat).toBe('json');
    expect(loadConfig({ env: { KMS_AUDIT_RECORD_FORMAT: 'json' }, flags: { auditRecordFormat: 'binary' } }).audit?.recordFormat).toBe('binary');
    expect(() => loadConfig({ env: { KMS_AUDIT_RECORD_FORMAT: 'cbor' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, flags: { auditRecordFormat: 'JSON' } })).toThrow(/audit.recordFormat must be binary or json/);
  });

  it('kms serve --help names the flag, the variable and the key', () => {
    const help = kms('serve', '--help').stdout;
    expect(help).toMatch(/--audit-record-format FMT/);
    expect(help).toMatch(/KMS_AUDIT_RECORD_FORMAT; audit\.recordFormat/);
    expect(help).toMatch(/recordFormat\}/);
  });
});
