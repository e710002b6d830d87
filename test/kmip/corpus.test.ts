/**
 * The whole OASIS KMIP XML corpus (../shared/kmip-testcases, 1.0–3.0 plus vectors) goes
 * through both text encodings and the binary codec:
 *
 *   (a) XML → node → binary (encode) → decode → XML
 *   (b) XML → node → JSON text → node → binary → decode → XML
 *
 * and every regenerated message must "equal" the original message element.
 *
 * Equality (`compareElements`) is defined on the XML element trees, read by the XML
 * reader (whose element count is checked against a plain `<Name` scan of the text, so it
 * cannot silently drop elements), item by item in document order:
 * - element names are equal (`<TTLV tag=…>`: tags equal, hex case-insensitive);
 * - types are equal (no `type=` ≡ `type="Structure"`);
 * - structures have the same number of children, compared pairwise;
 * - values, by type:
 *   - TextString / Identifier / Reference / NameReference, Boolean: the exact string;
 *   - Enumeration: the exact name; `0x` hex compared case-insensitively;
 *   - Integer: decimal compared as numbers; a mask as the *set* of its space-separated
 *     names (the corpus itself reorders them, e.g. "Encrypt Decrypt" ↔ "Decrypt Encrypt");
 *   - in both, a name the registry lists as an accepted alias (ENUM_VALUE_ALIASES,
 *     MASK_BIT_ALIASES: older or variant spellings such as "NotAuthorized" for
 *     "NotAuthorised", "ContentCommitment" for "ContentCommitmentNonRepudiation") counts as
 *     the canonical name of the same value, which is what the writer emits;
 *   - LongInteger, Interval: as integers;
 *   - ByteString, BigInteger: hex, case-insensitive;
 *   - DateTime: the same instant (`Date.parse`, so any UTC offset; the writer emits
 *     `+00:00`).
 * - Registry gaps (`REGISTRY_GAPS`): enumeration values the corpus names but the registry
 *   cannot resolve, each with its reason. A file using one must fail to parse as written
 *   (UNKNOWN_NAME naming it); it is then parsed with that value written as the stand-in hex
 *   given, and the original's name compares equal to that hex. Every message still runs.
 * - Placeholders in non-text items are bound deterministically before parsing (below) and
 *   the original is compared as if it had carried the bound value. Text items keep the
 *   placeholder text, so compare exactly.
 * The binary forms must also agree exactly: decode(encode(n)) deep-equals n, and the JSON
 * route produces the same bytes as the direct route.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/ttlv/index.js';
import { nodesEqual, type TtlvNode } from '../../src/ttlv/node.js';
import type { ItemTypeName } from '../../src/ttlv/item-type.js';
import { KmipEncodingError } from '../../src/kmip/encoding-errors.js';
import { parseKmipXml, toKmipXml } from '../../src/kmip/xml.js';
import { parseKmipJson, toKmipJsonString } from '../../src/kmip/json.js';
import { readXml, type XmlElement } from '../../src/kmip/xml-reader.js';
import { enumValueName, maskToNames } from '../../src/kmip/registry.js';
import { ENUM_VALUE_ALIASES } from '../../src/kmip/generated/enums.gen.js';
import { MASK_BIT_ALIASES } from '../../src/kmip/generated/masks.gen.js';
import { TESTCASES } from '../support/paths.js';

const CORPUS = TESTCASES;
/** Not well-formed: ends with `</KMIP>` twice (documented in the corpus README). */
const MALFORMED = '1.4/testcases/TC-ECDSA-SIGN-1-14.xml';

function xmlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...xmlFiles(p));
    else if (e.endsWith('.xml')) out.push(relative(CORPUS, p));
  }
  return out;
}

// ------------------------------------------------------------------- placeholder binding

/** A fixed "now": 2023-11-14T22:13:20Z. */
const NOW = 1_700_000_000n;
const NOW_RE = /^\$NOW(?:([+-])([0-9]+))?$/;

/** Deterministic bytes for a byte-string placeholder: the UTF-8 of its name. */
function placeholderBytes(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(name, 'utf8'));
}

function nowValue(name: string): bigint | undefined {
  const m = NOW_RE.exec(name);
  if (!m) return undefined;
  const off = m[2] === undefined ? 0n : BigInt(m[2]);
  return m[1] === '-' ? NOW - off : NOW + off;
}

/** Bound value per placeholder name; undefined (→ parse error) for anything unexpected. */
function bind(name: string, type: ItemTypeName): TtlvNode['value'] | undefined {
  if (type === 'DateTime') return nowValue(name);
  if (type === 'ByteString') return placeholderBytes(name);
  return undefined;
}

const placeholderCounts = new Map<string, number>();
const placeholders = (name: string, type: ItemTypeName): TtlvNode['value'] | undefined => {
  const key = `${type} ${name.replace(/_[0-9]+$/, '_n').replace(/^(\$NOW[+-])[0-9]+$/, '$1N')}`;
  placeholderCounts.set(key, (placeholderCounts.get(key) ?? 0) + 1);
  return bind(name, type);
};

// ------------------------------------------------------------------------- registry gaps

/**
 * Values the registry leaves unresolved on purpose (see test/kmip/registry.test.ts): KMIP 2.0
 * §11.38/§11.39 define PKCS#11 Function / Return Code values by reference to PKCS#11 and
 * list no names. Stand-ins: the 1-based position in CK_FUNCTION_LIST_3_0 (C_Initialize,
 * C_Finalize, C_GetInfo, …) and CKR_OK = 0.
 */
const REGISTRY_GAPS: readonly { element: string; name: string; hex: string; reason: string }[] = [
  { element: 'PKCS_11Function', name: 'C_Initialize', hex: '0x00000001', reason: 'KMIP 2.0 §11.38 lists no PKCS#11 Function values' },
  { element: 'PKCS_11Function', name: 'C_Finalize', hex: '0x00000002', reason: 'KMIP 2.0 §11.38 lists no PKCS#11 Function values' },
  { element: 'PKCS_11Function', name: 'C_GetInfo', hex: '0x00000003', reason: 'KMIP 2.0 §11.38 lists no PKCS#11 Function values' },
  { element: 'PKCS_11ReturnCode', name: 'OK', hex: '0x00000000', reason: 'KMIP 2.0 §11.39 lists no PKCS#11 Return Code values' },
];
const GAP_HEX = new Map(REGISTRY_GAPS.map((g) => [`${g.element}=${g.name}`, g.hex]));
const gapUses = new Map<string, number>();

/** The text with every registry-gap value written as its stand-in hex; counts the uses. */
function withGapStandIns(text: string): string {
  let out = text;
  for (const g of REGISTRY_GAPS) {
    const re = new RegExp(`(<${g.element} type="Enumeration" value=")${g.name}(")`, 'g');
    out = out.replace(re, (_m, a: string, b: string) => {
      gapUses.set(`${g.element} ${g.name}`, (gapUses.get(`${g.element} ${g.name}`) ?? 0) + 1);
      return a + g.hex + b;
    });
  }
  return out;
}

// --------------------------------------------------------------------------- comparison

const TEXT_TYPES = new Set(['TextString', 'Identifier', 'Reference', 'NameReference']);

/** Registry alias → canonical name (an alias meaning different names in different enumerations would be ambiguous). */
const CANONICAL = new Map<string, string>();
function addAliases(table: Readonly<Record<string, Readonly<Record<string, number>>>>, nameOf: (set: string, v: number) => string | undefined): void {
  for (const [set, aliases] of Object.entries(table)) {
    for (const [alias, value] of Object.entries(aliases)) {
      const canonical = nameOf(set, value);
      if (canonical === undefined) throw new Error(`alias ${alias} of ${set} has no canonical name`);
      const prev = CANONICAL.get(alias);
      if (prev !== undefined && prev !== canonical) throw new Error(`ambiguous alias ${alias}: ${prev} / ${canonical}`);
      CANONICAL.set(alias, canonical);
    }
  }
}
addAliases(ENUM_VALUE_ALIASES, enumValueName);
addAliases(MASK_BIT_ALIASES, (set, v) => maskToNames(set, v)?.[0]);
const canonical = (name: string): string => CANONICAL.get(name) ?? name;

function normalizedValue(element: string, type: string, v: string, original: boolean): string {
  if (original && type === 'Enumeration') v = GAP_HEX.get(`${element}=${v}`) ?? v;
  if (original && v.startsWith('$') && !TEXT_TYPES.has(type)) {
    // The regenerated side shows the bound value; compare the original as if it had it.
    if (type === 'DateTime') return `instant:${String(nowValue(v))}`;
    if (type === 'ByteString') return Buffer.from(placeholderBytes(v)).toString('hex');
    throw new Error(`unbound placeholder ${v} of type ${type}`);
  }
  switch (type) {
    case 'DateTime': {
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) throw new Error(`not a date: ${v}`);
      return `instant:${ms / 1000}`;
    }
    case 'ByteString':
    case 'BigInteger':
      return v.toLowerCase();
    case 'Enumeration':
      return /^0x/i.test(v) ? v.toLowerCase() : canonical(v);
    case 'Integer':
      if (/^-?[0-9]+$/.test(v)) return String(Number(v));
      return [
        ...new Set(
          v
            .split(/\s+/)
            .filter((s) => s !== '')
            .map(canonical),
        ),
      ]
        .sort()
        .join(' ');
    case 'LongInteger':
    case 'Interval':
      return String(BigInt(v));
    default:
      return v;
  }
}

function describeEl(el: XmlElement): string {
  return el.name === 'TTLV' ? `TTLV[${el.attrs.get('tag') ?? '?'}]` : el.name;
}

/** Returns the first difference as text, or undefined when equal. */
function compareElements(a: XmlElement, b: XmlElement, path = ''): string | undefined {
  const here = `${path}/${describeEl(a)}(line ${a.line})`;
  if (describeEl(a).toLowerCase() !== describeEl(b).toLowerCase()) return `${here}: element ${describeEl(b)} instead`;
  const ta = a.attrs.get('type') ?? 'Structure';
  const tb = b.attrs.get('type') ?? 'Structure';
  if (ta !== tb) return `${here}: type ${tb} instead of ${ta}`;
  if (ta === 'Structure') {
    if (a.children.length !== b.children.length) return `${here}: ${b.children.length} children instead of ${a.children.length}`;
    for (let i = 0; i < a.children.length; i++) {
      const d = compareElements(a.children[i] as XmlElement, b.children[i] as XmlElement, here);
      if (d) return d;
    }
    return undefined;
  }
  const va = normalizedValue(a.name, ta, a.attrs.get('value') ?? '', true);
  const vb = normalizedValue(b.name, tb, b.attrs.get('value') ?? '', false);
  return va === vb ? undefined : `${here}: value ${JSON.stringify(b.attrs.get('value'))} (${vb}) instead of ${JSON.stringify(a.attrs.get('value'))} (${va})`;
}

function countElements(el: XmlElement): number {
  let n = 1;
  for (const c of el.children) n += countElements(c);
  return n;
}

// -------------------------------------------------------------------------------- tests

const files = xmlFiles(CORPUS);
const wellFormed = files.filter((f) => f !== MALFORMED);
/**
 * The independent message count: a plain text scan for `<RequestMessage` / `<ResponseMessage`.
 * Occurrences inside XML comments are not messages (1.4 and 2.0 CS-BC-M-GCM-3 each carry a
 * commented-out pair of exchanges), so they are counted apart and subtracted.
 */
const MESSAGE_SCAN = /<(RequestMessage|ResponseMessage)[\s/>]/g;
const COMMENT = /<!--[\s\S]*?-->/g;
let scannedRaw = 0;
let scannedInComments = 0;
for (const f of wellFormed) {
  const text = readFileSync(join(CORPUS, f), 'utf8');
  scannedRaw += text.match(MESSAGE_SCAN)?.length ?? 0;
  for (const c of text.match(COMMENT) ?? []) scannedInComments += c.match(MESSAGE_SCAN)?.length ?? 0;
}
const scanned = scannedRaw - scannedInComments;

const covered = { files: 0, messages: 0, requests: 0, responses: 0, items: 0, bytes: 0 };
const byVersion = new Map<string, number>();

describe('OASIS KMIP XML corpus', () => {
  it('finds the corpus, including the one malformed file', () => {
    expect(files.length).toBeGreaterThan(700);
    expect(files).toContain(MALFORMED);
  });

  it(`rejects ${MALFORMED} (not well-formed: a second </KMIP>)`, () => {
    const text = readFileSync(join(CORPUS, MALFORMED), 'utf8');
    let err: unknown;
    try {
      parseKmipXml(text, { placeholders });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KmipEncodingError);
    expect((err as KmipEncodingError).code).toBe('XML_SYNTAX');
    expect((err as KmipEncodingError).line).toBe(493);
  });

  it.each(wellFormed)('%s: XML → binary → XML and XML → JSON → binary → XML', (file) => {
    const text = readFileSync(join(CORPUS, file), 'utf8');
    const tree = readXml(text);
    // The reader must not lose elements: one per `<Name` in the text outside comments.
    const opened = text.replace(/<!--[\s\S]*?-->/g, '').match(/<[A-Za-z]/g)?.length ?? 0;
    expect(countElements(tree)).toBe(opened);

    const originals = tree.name === 'KMIP' || tree.name === 'KmipTestCase' ? tree.children : [tree];
    const patched = withGapStandIns(text);
    if (patched !== text) {
      // The gap is real: as written, the file does not parse, for that reason only.
      let err: unknown;
      try {
        parseKmipXml(text, { placeholders });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KmipEncodingError);
      expect((err as KmipEncodingError).code).toBe('UNKNOWN_NAME');
      expect(REGISTRY_GAPS.some((g) => (err as Error).message.includes(`"${g.name}" is not a value of enumeration ${g.element}`))).toBe(true);
    }
    const nodes = parseKmipXml(patched, { placeholders });
    expect(nodes.length).toBe(originals.length);

    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i] as TtlvNode;
      const original = originals[i] as XmlElement;
      const where = `${file} message ${i} (line ${original.line})`;

      // (a) XML → node → binary → node → XML
      const bytes = encode(node);
      const back = decode(bytes);
      expect(nodesEqual(back, node), where).toBe(true);
      const diffA = compareElements(original, readXml(toKmipXml(back)));
      expect(diffA, `${where} via binary`).toBeUndefined();

      // (b) XML → node → JSON → node → binary → node → XML
      const viaJson = parseKmipJson(toKmipJsonString(node));
      const bytesJ = encode(viaJson);
      expect(Buffer.compare(bytesJ, bytes), `${where} JSON bytes`).toBe(0);
      const diffB = compareElements(original, readXml(toKmipXml(decode(bytesJ))));
      expect(diffB, `${where} via JSON`).toBeUndefined();

      if (original.name === 'RequestMessage') covered.requests++;
      else if (original.name === 'ResponseMessage') covered.responses++;
      covered.items += countElements(original);
      covered.bytes += bytes.length;
    }
    const messages = originals.filter((o) => o.name === 'RequestMessage' || o.name === 'ResponseMessage').length;
    covered.messages += messages;
    covered.files++;
    const version = file.split('/')[0] as string;
    byVersion.set(version, (byVersion.get(version) ?? 0) + messages);
  });

  it('covered every message of every well-formed file', () => {
    console.log(
      `corpus: ${covered.files} files, ${covered.messages} messages (${covered.requests} requests, ${covered.responses} responses), ` +
        `${covered.items} items, ${covered.bytes} TTLV bytes; by folder: ${[...byVersion].map(([v, n]) => `${v} ${n}`).join(', ')}; ` +
        `text scan found ${scannedRaw} (${scannedInComments} of them inside comments); placeholders bound: ${[...placeholderCounts].map(([k, n]) => `${k}×${n}`).join(', ')}; ` +
        `registry-gap stand-ins: ${[...gapUses].map(([k, n]) => `${k}×${n}`).join(', ')}`,
    );
    expect(covered.files).toBe(wellFormed.length);
    expect(covered.requests + covered.responses).toBe(covered.messages);
    expect(covered.messages).toBe(scanned);
    expect(scannedInComments).toBe(8);
    expect(covered.messages).toBeGreaterThan(2300);
  });
});
