/**
 * What a record-cache hit costs with each way of keeping callers from changing the cached
 * record (src/store/record-cache.ts): decode the stored bytes again (what a store read does
 * after LevelDB), deep-copy the decoded record (copy-on-read, what the cache does), or hand
 * out one deep-frozen object (free per read, but Object.freeze cannot protect the attribute
 * Map nor byte arrays, so it is not a real option; measured for comparison).
 *
 *   npm run build && node dist/bench/record-cache.js [--n 200000]
 *
 * Prints ns per read for a typical AES-256 key record. For before/after comparisons only.
 */
import { parseArgs } from 'node:util';
import { t, type TtlvNode } from '../src/ttlv/index.js';
import { Tag } from '../src/kmip/generated/tags.gen.js';
import type { ObjectRecord } from '../src/objects/managed-object.js';
import { decodeRecord, encodeRecord } from '../src/store/record-codec.js';
import { copyRecord } from '../src/store/record-cache.js';

const { values } = parseArgs({ options: { n: { type: 'string' } } });
const N = Number(values.n ?? 200_000);
const now = BigInt(Math.floor(Date.now() / 1000));

const attrs: [string, TtlvNode[]][] = [
  ['Name', [t.struct(Tag.Name, [t.text(Tag.NameValue, 'bench-key-000123'), t.enum(Tag.NameType, 1)])]],
  ['CryptographicAlgorithm', [t.enum(Tag.CryptographicAlgorithm, 3)]],
  ['CryptographicLength', [t.int(Tag.CryptographicLength, 256)]],
  ['CryptographicUsageMask', [t.int(Tag.CryptographicUsageMask, 12)]],
  ['InitialDate', [t.date(Tag.InitialDate, now)]],
  ['LastChangeDate', [t.date(Tag.LastChangeDate, now)]],
  ['ActivationDate', [t.date(Tag.ActivationDate, now)]],
  ['OriginalCreationDate', [t.date(Tag.OriginalCreationDate, now)]],
  ['Fresh', [t.bool(Tag.Fresh, false)]],
  ['Sensitive', [t.bool(Tag.Sensitive, false)]],
  ['Extractable', [t.bool(Tag.Extractable, true)]],
  ['Digest', [t.struct(Tag.Digest, [t.enum(Tag.HashingAlgorithm, 6), t.bytes(Tag.DigestValue, new Uint8Array(32).fill(7)), t.enum(Tag.KeyFormatType, 1)])]],
];
const record: ObjectRecord = {
  v: 1,
  uid: '3f0e9c2a-8d1b-4a57-9b1e-2c6d7f8a9b0c',
  objectType: 2,
  owner: 'kms-client',
  state: 2,
  attributes: new Map(attrs),
  sealedBody: Buffer.alloc(92, 1),
  kekId: 'master-1',
  revision: 3,
};
const bytes = encodeRecord(record);

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !ArrayBuffer.isView(o) && !(o instanceof Map)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  if (o instanceof Map) for (const v of o.values()) deepFreeze(v);
  return o;
}
const frozen = deepFreeze(decodeRecord(bytes, record.uid));

let sink = 0;
function time(label: string, f: () => ObjectRecord): void {
  for (let i = 0; i < N / 10; i++) sink += f().revision; // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += f().revision;
  const ns = Number(process.hrtime.bigint() - t0) / N;
  process.stdout.write(`${label.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/read\n`);
}

process.stdout.write(`record: ${bytes.length} bytes encoded, ${record.attributes.size} attributes; ${N} reads each\n`);
time('decode the stored bytes', () => decodeRecord(bytes, record.uid));
time('copy-on-read (copyRecord)', () => copyRecord(frozen));
time('frozen object (no protection of', () => frozen);
process.stdout.write(`  … the Map and the bytes)\n`);
if (sink === 0) process.stdout.write('\n');
