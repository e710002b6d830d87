/**
 * ObjectRecord.serverDefaults in the stored record format (store/record-codec.ts): which
 * attribute values the server filled in by default, so a client's later Add Attribute may
 * replace them (docs/tolerance.md T2). Round trip, absence, and strict decoding.
 */
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/store/object-store.js';
import { decodeRecord, encodeRecord, RecordTag } from '../../src/store/record-codec.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { decode, encode, type StructureNode } from '../../src/ttlv/index.js';

const base: ObjectRecord = {
  v: 1,
  uid: 'u-1',
  objectType: 2,
  owner: 'kms-client',
  state: 1,
  revision: 3,
  attributes: new Map([['CryptographicUsageMask', [{ tag: Tag.CryptographicUsageMask, type: 'Integer', value: 12 }]]]),
};

describe('record codec: serverDefaults', () => {
  it('round-trips the list, in order', () => {
    const rec: ObjectRecord = { ...base, serverDefaults: ['CryptographicUsageMask', 'Fresh'] };
    expect(decodeRecord(encodeRecord(rec)).serverDefaults).toEqual(['CryptographicUsageMask', 'Fresh']);
  });
  it('a record without defaults has no field (and an empty list is not written)', () => {
    expect(decodeRecord(encodeRecord(base)).serverDefaults).toBeUndefined();
    expect(encodeRecord({ ...base, serverDefaults: [] })).toEqual(encodeRecord(base));
  });
  it('an entry that is not a key text is Corrupt', () => {
    const bytes = encodeRecord({ ...base, serverDefaults: ['Fresh'] });
    const root = decode(bytes.subarray(2)) as StructureNode;
    const bad: StructureNode = {
      ...root,
      value: root.value.map((n) =>
        n.tag === RecordTag.ServerDefaults ? { tag: RecordTag.ServerDefaults, type: 'Structure', value: [{ tag: RecordTag.Key, type: 'Integer', value: 1 }] } : n,
      ),
    };
    const out = Buffer.concat([bytes.subarray(0, 2), encode(bad)]);
    expect(() => decodeRecord(out)).toThrow(StoreError);
  });
});
