/**
 * The XML / JSON / binary TTLV triples of KMIP Additional Message Encodings v1.0 §5
 * (MSGENC-JSON-M-1-10/11/12, four messages each), in
 * ../shared/kmip-testcases/vectors/msgenc-v1.0. The hex is the oracle:
 * - XML → binary equals the hex byte for byte;
 * - JSON → binary equals the hex byte for byte;
 * - binary → XML → binary and binary → JSON → binary are identities.
 *
 * Documented defect of the source document (corpus README, "TTLV vectors"): in the 1.1
 * responses (02, 04) the XML TimeStamp 2014-06-10T08:03:34+00:00 does not equal the hex
 * 0x5396bc24 = 2014-06-10T08:04:52+00:00 (the JSON and the hex agree). For those two the
 * test asserts that the XML carries exactly that wrong value, and that the XML encodes to
 * the hex once that one TimeStamp is replaced by the hex's.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode, fromHex } from '../../src/ttlv/index.js';
import type { TtlvNode } from '../../src/ttlv/node.js';
import { parseKmipXml, toKmipXml } from '../../src/kmip/xml.js';
import { parseKmipJson, toKmipJson, toKmipJsonString } from '../../src/kmip/json.js';
import { tagFromName } from '../../src/kmip/registry.js';
import { TESTCASES } from '../support/paths.js';

const DIR = join(TESTCASES, 'vectors/msgenc-v1.0');

interface Defect {
  readonly reason: string;
  readonly xmlTimeStamp: string;
  readonly hexTimeStamp: bigint;
}

const TIMESTAMP_DEFECT: Defect = {
  reason: 'source document defect: the XML TimeStamp (2014-06-10T08:03:34+00:00) disagrees with the hex 0x5396bc24 = 2014-06-10T08:04:52+00:00; the JSON agrees with the hex',
  xmlTimeStamp: '2014-06-10T08:03:34+00:00',
  hexTimeStamp: 0x5396bc24n,
};
const DEFECTS: Readonly<Record<string, Defect>> = {
  'MSGENC-JSON-M-1-11/02-response': TIMESTAMP_DEFECT,
  'MSGENC-JSON-M-1-11/04-response': TIMESTAMP_DEFECT,
};

const TIME_STAMP = tagFromName('TimeStamp') as number;

/** Replaces the value of every TimeStamp DateTime in the tree; returns how many. */
function replaceTimeStamp(node: TtlvNode, value: bigint, seen: bigint[]): TtlvNode {
  if (node.type === 'Structure') return { ...node, value: node.value.map((c) => replaceTimeStamp(c, value, seen)) };
  if (node.tag === TIME_STAMP && node.type === 'DateTime') {
    seen.push(node.value);
    return { ...node, value };
  }
  return node;
}

const cases: { id: string; base: string }[] = [];
for (const dir of readdirSync(DIR).sort()) {
  for (const f of readdirSync(join(DIR, dir)).sort()) {
    const m = /^([0-9]{2}-[a-z]+)\.ttlv\.hex$/.exec(f);
    if (m) cases.push({ id: `${dir}/${m[1] as string}`, base: join(DIR, dir, m[1] as string) });
  }
}

describe('KMIP Additional Message Encodings v1.0 vectors', () => {
  it('has the 3 × 4 triples', () => {
    expect(cases.length).toBe(12);
  });

  describe.each(cases)('$id', ({ id, base }) => {
    const hex = fromHex(readFileSync(`${base}.ttlv.hex`, 'utf8'));
    const xmlText = readFileSync(`${base}.xml`, 'utf8');
    const jsonText = readFileSync(`${base}.json`, 'utf8');
    const defect = DEFECTS[id];

    it(defect ? `XML → binary equals the hex, except the documented TimeStamp defect: ${defect.reason}` : 'XML → binary equals the hex', () => {
      const nodes = parseKmipXml(xmlText);
      expect(nodes.length).toBe(1);
      let node = nodes[0] as TtlvNode;
      if (defect) {
        // The defect is still there (the raw XML does not encode to the hex) …
        expect(Buffer.from(encode(node)).equals(Buffer.from(hex))).toBe(false);
        // … and it is exactly the documented one.
        const seen: bigint[] = [];
        node = replaceTimeStamp(node, defect.hexTimeStamp, seen);
        expect(seen).toEqual([BigInt(Date.parse(defect.xmlTimeStamp) / 1000)]);
      }
      expect(Buffer.from(encode(node)).toString('hex')).toBe(Buffer.from(hex).toString('hex'));
    });

    it('JSON → binary equals the hex', () => {
      expect(Buffer.from(encode(parseKmipJson(jsonText))).toString('hex')).toBe(Buffer.from(hex).toString('hex'));
    });

    it('binary → XML → binary is the identity', () => {
      const xml = toKmipXml(decode(hex));
      const nodes = parseKmipXml(xml);
      expect(nodes.length).toBe(1);
      expect(Buffer.from(encode(nodes[0] as TtlvNode)).equals(Buffer.from(hex))).toBe(true);
    });

    it('binary → JSON → binary is the identity (as a value and as text)', () => {
      const node = decode(hex);
      expect(Buffer.from(encode(parseKmipJson(toKmipJson(node)))).equals(Buffer.from(hex))).toBe(true);
      expect(Buffer.from(encode(parseKmipJson(toKmipJsonString(node)))).equals(Buffer.from(hex))).toBe(true);
    });
  });
});
