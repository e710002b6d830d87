/**
 * The KMIP JSON encoding of TTLV (KMIP Additional Message Encodings v1.0 §4.1).
 *
 * Each item is `{"tag": …, "type": …, "value": …}` (plus an optional, ignored `"name"`):
 * - `tag` is the registry name or `"0x42xxxx"` (written as hex when the registry has no name);
 * - `type` defaults to `Structure` and is omitted for structures on output;
 * - a structure's `value` is an array of items (or null, read as empty);
 * - Integer / Interval: a number or full-width `"0x…"` hex; a mask may be `"Encrypt|Decrypt"`;
 * - Long Integer: a number, or `"0x…"` (16 digits) when beyond ±2^53 (a JSON number cannot
 *   carry it exactly); Big Integer: a number or `"0x…"` hex (written as hex, so the exact,
 *   possibly sign-extended bytes survive);
 * - Enumeration: a name, a number or `"0x…"` (written as a name, or 8 hex digits);
 * - Boolean: true / false or hex; Byte String: hex without `0x`;
 * - Date-Time: ISO-8601 (written `2001-01-01T10:00:00+00:00`) or hex.
 */
import { isItemTypeName, type ItemTypeName } from '../ttlv/item-type.js';
import type { TtlvNode } from '../ttlv/node.js';
import { KmipEncodingError } from './encoding-errors.js';
import {
  TAG_ATTRIBUTE_NAME,
  attributeNameAmong,
  bigIntegerFromNumber,
  bytesToHex,
  formatDateTime,
  formatDateTimeExtended,
  formatEnum,
  hex64,
  hexTag,
  isPlaceholder,
  makeNode,
  maskComponents,
  parseScalarText,
  registryTagName,
  resolvePlaceholder,
  tagFromWrittenName,
  valueMeaning,
  type ParseOptions,
  type TtlvValue,
  type ValueMeaning,
  type ValueSite,
} from './text-values.js';

export type { ParseOptions, PlaceholderResolver } from './text-values.js';

/** A JSON TTLV item as written by `toKmipJson`. */
export interface KmipJsonItem {
  tag: string;
  type?: ItemTypeName;
  value: KmipJsonItem[] | string | number | boolean;
}

/** Parse a JSON TTLV item, from text or from an already-parsed JSON value. */
export function parseKmipJson(input: string | unknown, opts?: ParseOptions): TtlvNode {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new KmipEncodingError('JSON_SYNTAX', `not JSON: ${(e as Error).message}`);
    }
  }
  return convertItem(json, '', undefined, opts);
}

interface ResolvedItem {
  readonly obj: Record<string, unknown>;
  readonly tag: number;
  readonly tagName: string;
  readonly type: ItemTypeName;
  readonly path: string;
}

const KEYS = new Set(['tag', 'name', 'type', 'value']);

function resolveItem(json: unknown, parentPath: string): ResolvedItem {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new KmipEncodingError('JSON_SYNTAX', 'expected a JSON object {"tag", "type", "value"}', { path: parentPath });
  }
  const obj = json as Record<string, unknown>;
  const tagText = obj['tag'];
  if (typeof tagText !== 'string') throw new KmipEncodingError('JSON_SYNTAX', 'item without a string "tag"', { path: parentPath });
  const path = parentPath ? `${parentPath}/${tagText}` : tagText;
  for (const k of Object.keys(obj)) {
    if (!KEYS.has(k)) throw new KmipEncodingError('JSON_SYNTAX', `unexpected property ${JSON.stringify(k)}`, { path });
  }
  const tag = tagFromWrittenName(tagText, false);
  if (tag === undefined) throw new KmipEncodingError('UNKNOWN_TAG', `unknown tag ${JSON.stringify(tagText)}`, { path });
  if (tag <= 0 || tag > 0xffffff) throw new KmipEncodingError('UNKNOWN_TAG', `tag ${JSON.stringify(tagText)} out of range`, { path });
  const typeText = obj['type'] ?? 'Structure';
  if (typeof typeText !== 'string' || !isItemTypeName(typeText)) {
    throw new KmipEncodingError('BAD_TYPE', `unknown type ${JSON.stringify(typeText)}`, { path });
  }
  return { obj, tag, tagName: tagText, type: typeText, path };
}

/** Structure nesting limit (KMIP messages nest about ten deep), as for XML. */
export const MAX_JSON_DEPTH = 256;

function convertChildren(items: unknown, path: string, opts: ParseOptions | undefined, depth: number): TtlvNode[] {
  if (items === null || items === undefined) return [];
  if (depth > MAX_JSON_DEPTH) throw new KmipEncodingError('JSON_SYNTAX', `structures nested deeper than ${MAX_JSON_DEPTH}`, { path });
  if (!Array.isArray(items)) throw new KmipEncodingError('JSON_SYNTAX', 'a Structure value must be an array of items', { path });
  const resolved = items.map((i) => resolveItem(i, path));
  let attributeName: string | undefined;
  for (const r of resolved) {
    const v = r.obj['value'];
    if (r.tag === TAG_ATTRIBUTE_NAME && r.type === 'TextString' && typeof v === 'string') {
      attributeName = v;
      break;
    }
  }
  return resolved.map((r) => convertResolved(r, attributeName, opts, depth));
}

function convertItem(json: unknown, parentPath: string, attributeName: string | undefined, opts: ParseOptions | undefined): TtlvNode {
  return convertResolved(resolveItem(json, parentPath), attributeName, opts, 0);
}

function convertResolved(r: ResolvedItem, attributeName: string | undefined, opts: ParseOptions | undefined, depth: number): TtlvNode {
  const { tag, type, path } = r;
  const value = r.obj['value'];
  if (type === 'Structure') return makeNode(tag, 'Structure', convertChildren(value, path, opts, depth + 1));
  const site: ValueSite = { path, tagName: r.tagName };
  return makeNode(tag, type, scalarFromJson(value, type, valueMeaning(tag, type, attributeName), site, opts));
}

function badJson(site: ValueSite, type: ItemTypeName, v: unknown, why: string): never {
  throw new KmipEncodingError('BAD_VALUE', `${site.tagName}: ${JSON.stringify(v)} is not a valid ${type} value (${why})`, site);
}

function scalarFromJson(v: unknown, type: Exclude<ItemTypeName, 'Structure'>, meaning: ValueMeaning, site: ValueSite, opts: ParseOptions | undefined): TtlvValue {
  if (typeof v === 'string') {
    if (isPlaceholder(v, type)) return resolvePlaceholder(v, type, site, opts);
    if (type === 'BigInteger' && !/^0x/i.test(v)) badJson(site, type, v, 'expected a number or 0x hex');
    return parseScalarText(v, type, meaning, site, opts);
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) badJson(site, type, v, 'not an integer');
    switch (type) {
      case 'Integer':
        if (v < -0x80000000 || v > 0x7fffffff) badJson(site, type, v, 'outside the signed 32-bit range');
        return v;
      case 'Interval':
      case 'Enumeration':
        if (v < 0 || v > 0xffffffff) badJson(site, type, v, 'outside the unsigned 32-bit range');
        return v;
      case 'LongInteger':
        if (!Number.isSafeInteger(v)) badJson(site, type, v, 'beyond 2^53: write it as 0x hex');
        return BigInt(v);
      case 'BigInteger':
        if (!Number.isSafeInteger(v)) badJson(site, type, v, 'beyond 2^53: write it as 0x hex');
        return bigIntegerFromNumber(v);
      default:
        return badJson(site, type, v, 'a number is not allowed for this type');
    }
  }
  if (typeof v === 'boolean') {
    if (type === 'Boolean') return v;
    return badJson(site, type, v, 'a boolean is not allowed for this type');
  }
  return badJson(site, type, v, 'missing or not a string, number or boolean');
}

// ------------------------------------------------------------------------------ writer

/** The JSON TTLV form of one item, as a plain JSON value. */
export function toKmipJson(node: TtlvNode): KmipJsonItem {
  return itemToJson(node, undefined);
}

/** The JSON TTLV form as text; `indent` as for JSON.stringify (default 1 space, as the vectors). */
export function toKmipJsonString(node: TtlvNode, indent: string | number = 1): string {
  return JSON.stringify(toKmipJson(node), null, indent);
}

function itemToJson(node: TtlvNode, attributeName: string | undefined): KmipJsonItem {
  const name = registryTagName(node.tag);
  const tag = name ?? hexTag(node.tag);
  if (node.type === 'Structure') {
    const an = attributeNameAmong(node.value);
    return { tag, value: node.value.map((c) => itemToJson(c, an)) };
  }
  return { tag, type: node.type, value: jsonValue(node, attributeName) };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function jsonValue(node: Exclude<TtlvNode, { type: 'Structure' }>, attributeName: string | undefined): string | number | boolean {
  switch (node.type) {
    case 'Integer': {
      const m = valueMeaning(node.tag, 'Integer', attributeName);
      if (m.kind === 'mask' && node.value !== 0) return maskComponents(node.value, m.maskName).join('|');
      return node.value;
    }
    case 'Interval':
      return node.value;
    case 'Enumeration':
      return formatEnum(node.value, valueMeaning(node.tag, 'Enumeration', attributeName));
    case 'LongInteger':
      return node.value <= MAX_SAFE && node.value >= -MAX_SAFE ? Number(node.value) : hex64(node.value);
    case 'BigInteger':
      return '0x' + bytesToHex(node.value);
    case 'ByteString':
      return bytesToHex(node.value);
    case 'Boolean':
      return node.value;
    case 'DateTime':
      return formatDateTime(node.value);
    case 'DateTimeExtended':
      return formatDateTimeExtended(node.value);
    case 'TextString':
    case 'Identifier':
    case 'Reference':
    case 'NameReference':
      return node.value;
  }
}
