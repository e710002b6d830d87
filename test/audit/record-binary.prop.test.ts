/**
 * The binary audit record (format 2, src/audit/record-binary.ts): every kind and every
 * optional field survives encode → decode, including unicode, empty strings, lone surrogates,
 * UUIDs and hex (kept in their byte form), any number; the decoder reads format 1 (canonical
 * JSON) too and tells them apart by the first byte; bad bytes only ever throw "not an audit
 * record"; and two hand-built vectors pin the layout byte for byte.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, decodeRecord, encodeRecord, sealRecord, type AuditRecord } from '../../src/audit/record.js';

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), loneSurrogate), maxLength: 20 }),
  fc.constant(''),
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.uint8Array({ minLength: 0, maxLength: 40 }).map((b) => Buffer.from(b).toString('hex')),
  fc.string({ unit: 'binary-ascii', maxLength: 300 }),
);
const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const anyNumber = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.integer({ min: -1000, max: -1 }), fc.double(), fc.constant(-0), fc.constant(2 ** 60));
const timeArb = fc.oneof(
  fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z') }).map((d) => d.toISOString()),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  anyText,
);
const base = {
  seq: fc.maxSafeNat(),
  prev: fc.oneof(fc.constant(''), hex32, anyText),
  time: timeArb,
};
const list = fc.array(anyText, { maxLength: 5 });

const peerArb = fc.record({ verifyError: anyText, subject: anyText, issuer: anyText, fingerprint: anyText, validTo: anyText }, { requiredKeys: [] });
const eventArb = fc.record(
  {
    ...base,
    kind: fc.constantFrom('op' as const, 'auth' as const, 'conn' as const),
    ref: anyText,
    client: anyText,
    addr: anyText,
    kmip: anyText,
    op: anyText,
    uids: list,
    found: anyNumber,
    attrs: list,
    status: fc.oneof(fc.constantFrom('Success', 'OperationFailed', 'OperationPending', 'OperationUndone'), anyText),
    reason: anyText,
    message: anyText,
    ms: anyNumber,
    afterCommit: fc.constant(true as const),
    peer: peerArb,
    count: anyNumber,
  },
  { requiredKeys: ['seq', 'prev', 'time', 'kind', 'ref', 'op', 'status'] },
);
const checkpointArb = fc.record(
  {
    ...base,
    kind: fc.constant('checkpoint' as const),
    covers: anyNumber,
    head: fc.oneof(hex32, anyText),
    keyId: anyText,
    mac: fc.oneof(hex32, anyText),
    why: fc.oneof(fc.constantFrom('interval', 'shutdown'), anyText),
    anchor: list,
  },
  { requiredKeys: ['seq', 'prev', 'time', 'kind', 'covers', 'head', 'keyId', 'mac', 'why'] },
);
const restoreArb = fc.record({
  ...base,
  kind: fc.constant('restore' as const),
  covers: anyNumber,
  head: fc.oneof(hex32, anyText),
  keyId: anyText,
  mac: fc.oneof(hex32, anyText),
  backup: anyText,
  importedKeyIds: list,
});
const recordArb = fc.oneof(eventArb, checkpointArb, restoreArb).map((r) => ({ ...r, v: 2 as const }) as AuditRecord);

/** Format 1 cannot carry every number (NaN, -0, Infinity become other values in JSON). */
const jsonSafe = (r: AuditRecord) => JSON.stringify(r).indexOf('null') < 0 && !JSON.stringify(r, (_k, v: unknown) => (Object.is(v, -0) ? 'MINUS_ZERO' : v)).includes('MINUS_ZERO');

describe('binary audit record (format 2)', () => {
  it('decode(encode(r)) deep-equals r, for every kind and optional field', () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const bytes = encodeRecord(r);
        expect(bytes[0]).toBe(0x02);
        const back = decodeRecord(bytes);
        expect(back).toEqual(r);
        // Keys in sorted order, as JSON.parse of a format 1 record gives them: `kms audit tail` prints the same shape.
        expect(JSON.stringify(back)).toBe(canonicalJson(r));
        // One record, one byte string.
        expect(encodeRecord(back).equals(bytes)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('sealRecord: the body with its chain fields, in either format; the link is SHA-256 of the bytes', () => {
    fc.assert(
      fc.property(recordArb, fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 12 })), (r, prevLink) => {
        const { v: _v, seq, prev: _prev, ...body } = r;
        const prev = Buffer.from(prevLink).toString('hex');
        const bin = sealRecord(body as Parameters<typeof sealRecord>[0], seq, prevLink, 'binary');
        expect(bin.bytes.equals(encodeRecord({ ...r, prev } as AuditRecord))).toBe(true);
        expect(bin.link.equals(createHash('sha256').update(bin.bytes).digest())).toBe(true);
        expect(decodeRecord(bin.bytes)).toEqual({ ...r, prev, v: 2 });
        fc.pre(jsonSafe(r));
        const json = sealRecord(body as Parameters<typeof sealRecord>[0], seq, prevLink, 'json');
        expect(json.bytes.toString('utf8')).toBe(canonicalJson({ ...r, prev, v: 1 }));
        expect(json.link.equals(createHash('sha256').update(json.bytes).digest())).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('decodeRecord reads format 1 (canonical JSON) too, told apart by the first byte', () => {
    fc.assert(
      fc.property(
        recordArb.map((r) => ({ ...r, v: 1 as const }) as AuditRecord),
        (r) => {
          fc.pre(jsonSafe(r));
          const bytes = encodeRecord(r);
          expect(bytes[0]).toBe(0x7b);
          expect(bytes.toString('utf8')).toBe(canonicalJson(r));
          expect(decodeRecord(bytes)).toEqual(r);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is smaller than canonical JSON for the records a server writes', () => {
    const prev = Buffer.alloc(32, 0xab);
    const time = '2026-12-06T15:17:48.123Z';
    const get = {
      kind: 'op' as const,
      time,
      ref: '7f3c2a1e-8d4b-4c5a-9e6f-0a1b2c3d4e5f/12',
      client: 'kms-client',
      addr: '127.0.0.1',
      kmip: '2.1',
      op: 'Get',
      uids: ['3f0e9c2a-8d1b-4a57-9b1e-2c6d7f8a9b0c'],
      attrs: [],
      status: 'Success',
      ms: 0,
    };
    const bin = sealRecord(get, 123456, prev, 'binary').bytes;
    const json = sealRecord(get, 123456, prev, 'json').bytes;
    expect(json[0]).toBe(0x7b);
    expect(bin.length).toBeLessThan(json.length / 2);
    expect(decodeRecord(bin)).toEqual({ ...decodeRecord(json), v: 2 });
  });

  it('bad bytes only ever throw "not an audit record" (never a RangeError or TypeError)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (tail) => {
        const bytes = Buffer.concat([Buffer.from([0x02]), tail]);
        try {
          decodeRecord(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          expect((e as Error).constructor).toBe(Error);
          expect((e as Error).message).toMatch(/^not an audit record|^unknown record kind/);
        }
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(recordArb, fc.nat(), (r, cut) => {
        const bytes = encodeRecord(r);
        expect(() => decodeRecord(bytes.subarray(0, 1 + (cut % (bytes.length - 1))))).toThrow(/^not an audit record/);
        expect(() => decodeRecord(Buffer.concat([bytes, Buffer.from([0])]))).toThrow(/^not an audit record: bytes after the record/);
      }),
      { numRuns: 500 },
    );
  });

  it('a field the format does not know is an error, not dropped', () => {
    const r = { v: 2, seq: 1, prev: '', time: '2026-01-01T00:00:00.000Z', kind: 'op', ref: 'r', op: 'Get', status: 'Success' } as const;
    expect(() => encodeRecord({ ...r, extra: 'x' } as unknown as AuditRecord)).toThrow(/field extra has no binary encoding/);
    expect(() => encodeRecord({ ...r, peer: { subject: 's', serial: '1' } } as unknown as AuditRecord)).toThrow(/field peer.serial/);
    expect(() => encodeRecord({ ...r, afterCommit: false } as unknown as AuditRecord)).toThrow(/afterCommit/);
    expect(() => encodeRecord({ ...r, uids: 'u' } as unknown as AuditRecord)).toThrow(/uids \(not a list\)/);
    expect(() => encodeRecord({ ...r, kind: 'other' } as unknown as AuditRecord)).toThrow(/kind other/);
    // Undefined members are absent, as in JSON.
    expect(decodeRecord(encodeRecord({ ...r, client: undefined } as AuditRecord))).toEqual(r);
  });

  // Hand-built: every byte from the layout in record-binary.ts, not from the encoder.
  it('vector: a Get record', () => {
    const r: AuditRecord = {
      v: 2,
      seq: 300,
      prev: '00'.repeat(31) + 'ff',
      time: '1970-01-01T00:00:01.000Z',
      kind: 'op',
      ref: 'c/1',
      client: 'é',
      op: 'Get',
      uids: ['3f0e9c2a-8d1b-4a57-9b1e-2c6d7f8a9b0c'],
      status: 'Success',
      ms: 2,
    };
    const hex = [
      '02', // format 2
      '01', // kind op
      '92 04', // flags 0x212: client (1), uids (4), ms (9)
      'd8 04', // seq: num 2 x 300 = 600
      '83 01', // prev: str header 32 x 4 + 3 (hex bytes)
      '00'.repeat(31) + 'ff',
      'd0 0f', // time: num 2 x 1000 ms
      '0c 63 2f 31', // ref "c/1": header 3 x 4 + 0 (UTF-8)
      '0c 47 65 74', // op "Get"
      '01', // status Success
      '08 c3 a9', // client "é": 2 UTF-8 bytes
      '01 02 3f0e9c2a8d1b4a579b1e2c6d7f8a9b0c', // uids: 1, a UUID (header 2) and its 16 bytes
      '04', // ms: num 2 x 2
    ]
      .join('')
      .replace(/ /g, '');
    expect(encodeRecord(r).toString('hex')).toBe(hex);
    expect(decodeRecord(Buffer.from(hex, 'hex'))).toEqual(r);
  });

  it('vector: a checkpoint with its time as text', () => {
    const r: AuditRecord = { v: 2, seq: 5, prev: '', time: 'x', kind: 'checkpoint', covers: 4, head: 'ab'.repeat(8), keyId: 'sw:1', mac: 'cd'.repeat(8), why: 'shutdown', anchor: ['file'] };
    const hex = [
      '02 04', // format 2, kind checkpoint
      '03', // flags: time as text, anchor
      '0a', // seq 5
      '00', // prev: empty UTF-8
      '04 78', // time "x"
      '08', // covers 4
      '23 abababababababab', // head: 8 hex bytes (8 x 4 + 3)
      '10 73 77 3a 31', // keyId "sw:1"
      '23 cdcdcdcdcdcdcdcd', // mac
      '02', // why shutdown
      '01 10 66 69 6c 65', // anchor: ["file"]
    ]
      .join('')
      .replace(/ /g, '');
    expect(encodeRecord(r).toString('hex')).toBe(hex);
    expect(decodeRecord(Buffer.from(hex, 'hex'))).toEqual(r);
  });
});
