/**
 * Value spelling shared by the KMIP XML and JSON encodings (KMIP Additional Message
 * Encodings v1.0 §4.1 JSON, §5.1 XML). Both encodings spell names and values the same way
 * except where noted (mask separator, JSON numbers); this module holds that logic once.
 *
 * Tags, enumerations and masks come only from the spec registry (`registry.ts`).
 */
import type { ItemTypeName } from '../ttlv/item-type.js';
import { bigIntToBytes, type TtlvNode } from '../ttlv/node.js';
import { KmipEncodingError } from './encoding-errors.js';
import { TAG_ENUM, enumValueFromName, enumValueName, maskFromNames, maskToNames, tagDef, tagDefByName, tagFromName } from './registry.js';
import type { TagDef } from './spec-types.js';

export type TtlvValue = TtlvNode['value'];

/**
 * Supplies the value of a `$NAME` placeholder found in a non-text item (text items keep the
 * placeholder as their text). Return `undefined` to reject it. `tagName` is the element /
 * tag name as written.
 */
export type PlaceholderResolver = (name: string, type: ItemTypeName, tagName: string) => TtlvValue | undefined;

export interface ParseOptions {
  readonly placeholders?: PlaceholderResolver;
}

/** Where a value is, for error messages. */
export interface ValueSite {
  readonly path: string;
  readonly line?: number;
  readonly tagName: string;
}

// ---------------------------------------------------------------------------------- tags

const ATTRIBUTE_NAME = requireTag('AttributeName');
const ATTRIBUTE_VALUE = requireTag('AttributeValue');

function requireTag(name: string): number {
  const tag = tagFromName(name);
  if (tag === undefined) throw new Error(`registry has no tag ${name}`);
  return tag;
}

export const TAG_ATTRIBUTE_NAME = ATTRIBUTE_NAME;

const HEX_TAG = /^0x([0-9A-Fa-f]{6})$/;

/**
 * A tag from its written name: a registry name, or `0x` + 6 hex digits. XML also allows
 * the `x540001` element-name form the spec shows for extension tags (§5.1.6.5).
 */
export function tagFromWrittenName(name: string, allowXForm: boolean): number | undefined {
  const hex = HEX_TAG.exec(name);
  if (hex) return parseInt(hex[1] as string, 16);
  // Hex tags are written full width (§4.1.1): no shorter forms.
  if (/^0x/i.test(name)) return undefined;
  if (allowXForm && /^x[0-9A-Fa-f]{6}$/.test(name)) return parseInt(name.slice(1), 16);
  return tagFromName(name);
}

/** The registry name of a tag, or undefined when it has none (write it as hex). */
export function registryTagName(tag: number): string | undefined {
  return tagDef(tag)?.name;
}

export function hexTag(tag: number): string {
  return '0x' + tag.toString(16).toUpperCase().padStart(6, '0');
}

// ------------------------------------------------------------------------ value meaning

/**
 * What an Enumeration or Integer value means, which decides how it is spelled:
 * - `enum`: values are names of that enumeration;
 * - `mask`: an Integer bit mask, spelled as flag names;
 * - `tag`: an Enumeration whose values are tags (KMIP 2.x Attribute Reference), spelled as
 *   tag names;
 * - `plain`: numbers (hex for enumerations).
 */
export type ValueMeaning =
  { readonly kind: 'plain' } | { readonly kind: 'enum'; readonly enumName: string } | { readonly kind: 'mask'; readonly maskName: string } | { readonly kind: 'tag' };

const PLAIN: ValueMeaning = { kind: 'plain' };
const TAG_VALUED: ValueMeaning = { kind: 'tag' };

/**
 * KMIP 2.x enumerations whose values are tags (KMIP 2.1 §11.56; Attribute Reference is the
 * one the corpus uses). The registry marks them with the enumeration name "Tag".
 */
function isTagValued(def: TagDef): boolean {
  return def.enum === TAG_ENUM;
}

/**
 * The meaning of the value of an item with `tag` and `type`. `attributeName` is the text of
 * an Attribute Name sibling in the same structure: a 1.x Attribute Value's meaning is that
 * of the attribute it carries ("Object Type" → the Object Type enumeration). Custom
 * attributes ("x-…", "y-…") and names the registry does not know mean plain numbers.
 */
export function valueMeaning(tag: number, type: ItemTypeName, attributeName: string | undefined): ValueMeaning {
  if (type !== 'Enumeration' && type !== 'Integer') return PLAIN;
  let def: TagDef | undefined;
  if (tag === ATTRIBUTE_VALUE) {
    if (attributeName === undefined) return PLAIN;
    def = attributeDef(attributeName);
  } else {
    def = tagDef(tag);
  }
  if (def === undefined) return PLAIN;
  if (type === 'Enumeration') {
    if (isTagValued(def)) return TAG_VALUED;
    return def.enum !== undefined ? { kind: 'enum', enumName: def.enum } : PLAIN;
  }
  return def.mask !== undefined ? { kind: 'mask', maskName: def.mask } : PLAIN;
}

const attributeDefCache = new Map<string, TagDef | undefined>();

/** The tag definition of a 1.x attribute, from its Attribute Name text ("Object Type"). */
function attributeDef(attributeName: string): TagDef | undefined {
  if (attributeDefCache.has(attributeName)) return attributeDefCache.get(attributeName);
  const def = /^[xy]-/i.test(attributeName) ? undefined : tagDefByName(normalizeName(attributeName));
  attributeDefCache.set(attributeName, def);
  return def;
}

/**
 * The spec's name normalization (KMIP Additional Message Encodings v1.0 §4.1.3 / §5.1.3):
 * "Cryptographic Usage Mask" → "CryptographicUsageMask", "X.509 Certificate Identifier" →
 * "X_509CertificateIdentifier", "3DES" → "DES3".
 */
export function normalizeName(text: string): string {
  const noBrackets = text.replace(/[()]/g, ' ');
  const spaced = noBrackets.replace(/[^A-Za-z0-9_\s]([A-Za-z][a-z])/g, ' $1');
  const words = spaced
    .split(/\s+/)
    .filter((w) => w !== '')
    .map((w) => w.replace(/[^A-Za-z0-9_]/g, '_'));
  if (words.length === 0) return '';
  words[0] = (words[0] as string).replace(/^(\d+)(.*)$/, '$2$1');
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

// ------------------------------------------------------------------------- numbers

const DEC = /^[+-]?[0-9]+$/;
const HEX = /^0x([0-9A-Fa-f]+)$/;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;

function bad(site: ValueSite, type: ItemTypeName, text: string, why: string): never {
  throw new KmipEncodingError('BAD_VALUE', `${site.tagName}: ${JSON.stringify(text)} is not a valid ${type} value (${why})`, site);
}

/** `0x…` hex of at most `bytes` bytes as an unsigned bigint, or undefined if not hex. */
function hexValue(text: string, bytes: number, site: ValueSite, type: ItemTypeName): bigint | undefined {
  const m = HEX.exec(text);
  if (!m) return undefined;
  const digits = m[1] as string;
  if (digits.length > bytes * 2) bad(site, type, text, `more than ${bytes * 2} hex digits`);
  return BigInt('0x' + digits);
}

export function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

export function hex64(v: bigint): string {
  return '0x' + BigInt.asUintN(64, v).toString(16).padStart(16, '0');
}

/** Integer (signed 32-bit): decimal, or `0x` hex of up to 8 digits (two's complement). */
export function parseIntegerText(text: string, site: ValueSite): number {
  const h = hexValue(text, 4, site, 'Integer');
  if (h !== undefined) return Number(BigInt.asIntN(32, h));
  if (!DEC.test(text)) bad(site, 'Integer', text, 'expected a decimal or 0x hex number');
  const n = Number(text);
  if (n < INT32_MIN || n > INT32_MAX) bad(site, 'Integer', text, 'outside the signed 32-bit range');
  return n;
}

/** Interval (unsigned 32-bit): decimal or `0x` hex. */
export function parseIntervalText(text: string, site: ValueSite): number {
  const h = hexValue(text, 4, site, 'Interval');
  if (h !== undefined) return Number(h);
  if (!DEC.test(text)) bad(site, 'Interval', text, 'expected a decimal or 0x hex number');
  const n = Number(text);
  if (n < 0 || n > UINT32_MAX) bad(site, 'Interval', text, 'outside the unsigned 32-bit range');
  return n;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Long Integer (signed 64-bit): decimal or `0x` hex of up to 16 digits. */
export function parseLongIntegerText(text: string, site: ValueSite): bigint {
  const h = hexValue(text, 8, site, 'LongInteger');
  if (h !== undefined) return BigInt.asIntN(64, h);
  if (!DEC.test(text)) bad(site, 'LongInteger', text, 'expected a decimal or 0x hex number');
  const n = BigInt(text);
  if (n < INT64_MIN || n > INT64_MAX) bad(site, 'LongInteger', text, 'outside the signed 64-bit range');
  return n;
}

/** Big Integer: hex two's-complement bytes, with or without `0x`; kept exactly when a multiple of 8 bytes, else sign-extended. */
export function parseBigIntegerText(text: string, site: ValueSite): Uint8Array {
  const digits = text.startsWith('0x') || text.startsWith('0X') ? text.slice(2) : text;
  if (!/^[0-9A-Fa-f]*$/.test(digits)) {
    bad(site, 'BigInteger', text, 'expected hex digits');
  }
  const even = digits.length % 2 === 1 ? (/^[0-7]/.test(digits) ? '0' : 'f') + digits : digits;
  const raw = Buffer.from(even, 'hex');
  if (raw.length % 8 === 0) return new Uint8Array(raw);
  const out = new Uint8Array(raw.length + 8 - (raw.length % 8));
  if (raw.length > 0 && ((raw[0] as number) & 0x80) !== 0) out.fill(0xff, 0, out.length - raw.length);
  out.set(raw, out.length - raw.length);
  return out;
}

/** Big Integer from a (safe) JSON number. */
export function bigIntegerFromNumber(n: number): Uint8Array {
  return bigIntToBytes(BigInt(n));
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Byte String: hex without `0x`, any even length. */
export function parseByteStringText(text: string, site: ValueSite): Uint8Array {
  if (!/^(?:[0-9A-Fa-f]{2})*$/.test(text)) bad(site, 'ByteString', text, 'expected an even number of hex digits without 0x');
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** Boolean: `true` / `false` (xsd:boolean also allows 1 / 0), or `0x` hex 0 or 1. */
export function parseBooleanText(text: string, site: ValueSite): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  const h = hexValue(text, 8, site, 'Boolean');
  if (h === 0n) return false;
  if (h === 1n) return true;
  return bad(site, 'Boolean', text, 'expected true or false');
}

// ------------------------------------------------------------------ enumerations, masks

/** Enumeration: a name (per `meaning`) or `0x` hex (8 digits written; 1..8 accepted). */
export function parseEnumText(text: string, meaning: ValueMeaning, site: ValueSite): number {
  const h = hexValue(text, 4, site, 'Enumeration');
  if (h !== undefined) return Number(h);
  if (meaning.kind === 'enum') {
    const v = enumValueFromName(meaning.enumName, text);
    if (v !== undefined) return v >>> 0;
    throw new KmipEncodingError('UNKNOWN_NAME', `${site.tagName}: ${JSON.stringify(text)} is not a value of enumeration ${meaning.enumName}`, site);
  }
  if (meaning.kind === 'tag') {
    const v = tagFromName(text);
    if (v !== undefined) return v;
    throw new KmipEncodingError('UNKNOWN_NAME', `${site.tagName}: ${JSON.stringify(text)} is not a tag name`, site);
  }
  throw new KmipEncodingError('UNKNOWN_NAME', `${site.tagName}: enumeration value ${JSON.stringify(text)} cannot be resolved (no enumeration is known for this item; write 0x hex)`, site);
}

export function formatEnum(value: number, meaning: ValueMeaning): string {
  if (meaning.kind === 'enum') {
    const name = enumValueName(meaning.enumName, value);
    if (name !== undefined) return name;
  } else if (meaning.kind === 'tag') {
    const name = tagDef(value)?.name;
    if (name !== undefined) return name;
  }
  return hex32(value);
}

/**
 * An Integer that is a mask: components separated by whitespace (XML) or `|` (JSON), each a
 * flag name or `0x` hex; a lone decimal number is also accepted.
 */
export function parseMaskText(text: string, maskName: string, site: ValueSite): number {
  const trimmed = text.trim();
  if (DEC.test(trimmed)) return parseIntegerText(trimmed, site);
  const parts = trimmed.split(/[\s|]+/).filter((p) => p !== '');
  if (parts.length === 0) return 0;
  let bits = 0;
  const names: string[] = [];
  for (const p of parts) {
    const h = hexValue(p, 4, site, 'Integer');
    if (h !== undefined) bits = (bits | Number(h)) >>> 0;
    else names.push(p);
  }
  if (names.length > 0) {
    let v: number | undefined;
    try {
      v = maskFromNames(maskName, names);
    } catch {
      v = undefined;
    }
    if (v === undefined) {
      const unknown = names.filter((n) => {
        try {
          return maskFromNames(maskName, [n]) === undefined;
        } catch {
          return true;
        }
      });
      throw new KmipEncodingError('UNKNOWN_NAME', `${site.tagName}: ${unknown.map((n) => JSON.stringify(n)).join(', ')} not in mask ${maskName}`, site);
    }
    bits = (bits | v) >>> 0;
  }
  return bits | 0;
}

/** Flag names of a mask value; bits without a name become one `0x` hex component. */
export function maskComponents(value: number, maskName: string): string[] {
  const u = value >>> 0;
  if (u === 0) return [];
  const names: string[] = [];
  let rest = 0;
  for (let bit = 0; bit < 32; bit++) {
    const b = (1 << bit) >>> 0;
    if ((u & b) === 0) continue;
    const n = bitName(maskName, b);
    if (n === undefined) rest = (rest | b) >>> 0;
    else names.push(n);
  }
  if (rest !== 0) names.push(hex32(rest));
  return names;
}

function bitName(maskName: string, bit: number): string | undefined {
  let names: readonly string[] | undefined;
  try {
    names = maskToNames(maskName, bit);
  } catch {
    return undefined;
  }
  if (names === undefined || names.length !== 1) return undefined;
  const n = names[0] as string;
  return n.startsWith('0x') ? undefined : n;
}

// ---------------------------------------------------------------------------- dates

const ISO = /^(-?)([0-9]{4,})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?$/;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * ISO-8601 / xsd:dateTime → [seconds since the epoch, microseconds within the second].
 * Any UTC offset; no offset means UTC. Digits past microseconds are truncated.
 */
function parseIso(text: string, type: ItemTypeName, site: ValueSite): [bigint, number] {
  const m = ISO.exec(text);
  if (!m) bad(site, type, text, 'expected ISO-8601 like 2001-01-01T10:00:00+00:00, or 0x hex');
  const [, sign, ys, mos, ds, hs, mis, ss, frac, zone] = m;
  const y = Number(ys) * (sign === '-' ? -1 : 1);
  const mo = Number(mos);
  const d = Number(ds);
  const h = Number(hs);
  const mi = Number(mis);
  const s = Number(ss);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) {
    bad(site, type, text, 'no such date or time');
  }
  let offset = 0;
  if (zone !== undefined && zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 14 || om > 59) bad(site, type, text, 'bad UTC offset');
    offset = (zone[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const secs = BigInt(daysFromCivil(y, mo, d)) * 86400n + BigInt(h * 3600 + mi * 60 + s - offset);
  const micros = frac === undefined ? 0 : Number(frac.slice(0, 6).padEnd(6, '0'));
  return [secs, micros];
}

const FORMAT_MIN = BigInt(daysFromCivil(1, 1, 1)) * 86400n;
const FORMAT_MAX = BigInt(daysFromCivil(10000, 1, 1)) * 86400n;

/** `yyyy-mm-ddThh:mm:ss` of epoch seconds within years 1..9999, else undefined. */
function formatIsoBase(secs: bigint): string | undefined {
  if (secs < FORMAT_MIN || secs >= FORMAT_MAX) return undefined;
  const s = Number(secs);
  const days = Math.floor(s / 86400);
  const sod = s - days * 86400;
  const [y, mo, d] = civilFromDays(days);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${String(y).padStart(4, '0')}-${p2(mo)}-${p2(d)}T${p2(Math.floor(sod / 3600))}:${p2(Math.floor(sod / 60) % 60)}:${p2(sod % 60)}`;
}

/** Date-Time (seconds): ISO-8601 with any offset (fractions truncated), or `0x` hex. */
export function parseDateTimeText(text: string, site: ValueSite): bigint {
  const h = hexValue(text, 8, site, 'DateTime');
  if (h !== undefined) return BigInt.asIntN(64, h);
  return parseIso(text, 'DateTime', site)[0];
}

/** `2001-01-01T10:00:00+00:00` (the corpus's form); `0x` hex outside years 1..9999. */
export function formatDateTime(secs: bigint): string {
  const base = formatIsoBase(secs);
  return base === undefined ? hex64(secs) : base + '+00:00';
}

/** Date-Time Extended (microseconds): ISO-8601 with up to 6 fraction digits, or `0x` hex. */
export function parseDateTimeExtendedText(text: string, site: ValueSite): bigint {
  const h = hexValue(text, 8, site, 'DateTimeExtended');
  if (h !== undefined) return BigInt.asIntN(64, h);
  const [secs, micros] = parseIso(text, 'DateTimeExtended', site);
  const v = secs * 1_000_000n + BigInt(micros);
  if (v < INT64_MIN || v > INT64_MAX) bad(site, 'DateTimeExtended', text, 'outside the 64-bit range');
  return v;
}

export function formatDateTimeExtended(micros: bigint): string {
  let secs = micros / 1_000_000n;
  let frac = micros % 1_000_000n;
  if (frac < 0n) {
    frac += 1_000_000n;
    secs -= 1n;
  }
  const base = formatIsoBase(secs);
  return base === undefined ? hex64(micros) : `${base}.${String(frac).padStart(6, '0')}+00:00`;
}

// ----------------------------------------------------------------------- placeholders

/** Whether a value of `type` written as `text` is a placeholder (text types never are). */
export function isPlaceholder(text: string, type: ItemTypeName): boolean {
  return text.startsWith('$') && !isTextLike(type);
}

export function isTextLike(t: ItemTypeName): boolean {
  return t === 'TextString' || t === 'Identifier' || t === 'Reference' || t === 'NameReference';
}

/** The value of a placeholder from the resolver, checked against the item type. */
export function resolvePlaceholder(name: string, type: ItemTypeName, site: ValueSite, opts: ParseOptions | undefined): TtlvValue {
  const v = opts?.placeholders?.(name, type, site.tagName);
  if (v === undefined) {
    throw new KmipEncodingError('PLACEHOLDER', `${site.tagName}: placeholder ${name} (${type}) has no value`, site);
  }
  if (!valueFitsType(type, v)) {
    throw new KmipEncodingError('BAD_TYPE', `${site.tagName}: the value given for placeholder ${name} is not a ${type} value`, site);
  }
  return v;
}

/** Whether `v` is a valid node value for `type` (see `TtlvNode`). */
export function valueFitsType(type: ItemTypeName, v: unknown): boolean {
  switch (type) {
    case 'Structure':
      return Array.isArray(v);
    case 'Integer':
      return typeof v === 'number' && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX;
    case 'Enumeration':
    case 'Interval':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= UINT32_MAX;
    case 'LongInteger':
    case 'DateTime':
    case 'DateTimeExtended':
      return typeof v === 'bigint' && v >= INT64_MIN && v <= INT64_MAX;
    case 'BigInteger':
      return v instanceof Uint8Array && v.length % 8 === 0;
    case 'ByteString':
      return v instanceof Uint8Array;
    case 'Boolean':
      return typeof v === 'boolean';
    case 'TextString':
    case 'Identifier':
    case 'Reference':
    case 'NameReference':
      return typeof v === 'string';
  }
}

/** Build a node; `value` must already fit `type`. */
export function makeNode(tag: number, type: ItemTypeName, value: TtlvValue): TtlvNode {
  return { tag, type, value } as TtlvNode;
}

/**
 * The text of the Attribute Name sibling among `siblings`, if any: the context of a 1.x
 * Attribute Value (and of a 2.x vendor attribute's value).
 */
export function attributeNameAmong(siblings: readonly TtlvNode[]): string | undefined {
  for (const s of siblings) if (s.tag === ATTRIBUTE_NAME && s.type === 'TextString') return s.value;
  return undefined;
}

/**
 * Parse the text spelling of a scalar value (the XML `value` attribute, or a JSON string).
 * Mask components may be separated by whitespace (XML) or `|` (JSON) in either encoding.
 */
export function parseScalarText(text: string, type: Exclude<ItemTypeName, 'Structure'>, meaning: ValueMeaning, site: ValueSite, opts: ParseOptions | undefined): TtlvValue {
  if (isPlaceholder(text, type)) return resolvePlaceholder(text, type, site, opts);
  switch (type) {
    case 'Integer':
      return meaning.kind === 'mask' ? parseMaskText(text, meaning.maskName, site) : parseIntegerText(text, site);
    case 'LongInteger':
      return parseLongIntegerText(text, site);
    case 'BigInteger':
      return parseBigIntegerText(text, site);
    case 'Enumeration':
      return parseEnumText(text, meaning, site);
    case 'Boolean':
      return parseBooleanText(text, site);
    case 'TextString':
    case 'Identifier':
    case 'Reference':
    case 'NameReference':
      return text;
    case 'ByteString':
      return parseByteStringText(text, site);
    case 'DateTime':
      return parseDateTimeText(text, site);
    case 'Interval':
      return parseIntervalText(text, site);
    case 'DateTimeExtended':
      return parseDateTimeExtendedText(text, site);
  }
}
