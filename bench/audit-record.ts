/**
 * The audit record's two stored formats side by side (src/audit/record.ts): canonical JSON
 * (format 1, `audit.recordFormat: "json"`) and binary (format 2, record-binary.ts, the
 * default), for the records a server writes most: a Get and a Create, and a checkpoint.
 *
 *   npm run build && node dist/bench/audit-record.js [--n 200000] [--rounds 5]
 *
 * Per record and format: stored size in bytes, and ns per call of encode (the record object to
 * bytes), seal (what the trail does per record: chain fields added, encode, SHA-256) and decode
 * (bytes to the record object, what verify, report and tail do). Median of --rounds rounds of
 * --n calls each, after a warm-up. For before/after comparisons only; never in unit tests.
 */
import { parseArgs } from 'node:util';
import { decodeRecord, encodeRecord, sealRecord, type AuditEvent, type AuditRecord, type RecordFormat } from '../src/audit/record.js';

const { values } = parseArgs({ options: { n: { type: 'string' }, rounds: { type: 'string' } } });
const N = Number(values.n ?? 200_000);
const ROUNDS = Number(values.rounds ?? 5);

const prev = Buffer.alloc(32, 0x5a);
const time = new Date().toISOString();
// As src/audit/request-audit.ts makes them: a Get (a read, no change) and a Create (its attribute names).
const get: AuditEvent = {
  kind: 'op',
  time,
  ref: '9b2f6c1e-3a4d-4e5f-8a7b-1c2d3e4f5a6b/1234',
  client: 'kms-client',
  addr: '127.0.0.1',
  kmip: '2.1',
  op: 'Get',
  uids: ['3f0e9c2a-8d1b-4a57-9b1e-2c6d7f8a9b0c'],
  attrs: [],
  status: 'Success',
  ms: 0,
};
const create: AuditEvent = {
  ...get,
  op: 'Create',
  attrs: ['CryptographicAlgorithm', 'CryptographicLength', 'CryptographicUsageMask', 'Digest', 'Fresh', 'InitialDate', 'LastChangeDate', 'Name', 'ObjectType', 'State', 'UniqueIdentifier'],
  ms: 1,
};
const checkpoint = {
  kind: 'checkpoint' as const,
  time,
  covers: 123455,
  head: prev.toString('hex'),
  keyId: 'sw:0123456789abcdef',
  mac: prev.toString('hex'),
  why: 'interval',
  anchor: ['file'],
};

let sink = 0;
function ns(f: () => unknown): number {
  for (let i = 0; i < Math.min(N, 20_000); i++) f();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) if (f() === undefined) sink++;
    rounds.push(Number(process.hrtime.bigint() - t0) / N);
  }
  return rounds.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

const rows: string[][] = [['record', 'format', 'bytes', 'encode ns', 'seal ns', 'decode ns']];
for (const [name, body] of [
  ['Get', get],
  ['Create', create],
  ['checkpoint', checkpoint],
] as const) {
  for (const format of ['json', 'binary'] as RecordFormat[]) {
    const sealed = sealRecord(body, 123456, prev, format);
    const record: AuditRecord = decodeRecord(sealed.bytes);
    rows.push([
      name,
      format,
      String(sealed.bytes.length),
      ns(() => encodeRecord(record)).toFixed(0),
      ns(() => sealRecord(body, 123456, prev, format)).toFixed(0),
      ns(() => decodeRecord(sealed.bytes)).toFixed(0),
    ]);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) process.stdout.write(r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ') + '\n');
if (sink < 0) process.stdout.write('');
