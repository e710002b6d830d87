/**
 * The KMIP XML encoding of TTLV (KMIP Additional Message Encodings v1.0 §5.1), as used by
 * the OASIS test cases.
 *
 * - Each item is an element named after its tag (`<ObjectType type="Enumeration"
 *   value="SymmetricKey"/>`). A tag the registry does not know is written in the general
 *   form `<TTLV tag="0x540001" type="…" value="…"/>` (§5.1.6); on input the general form,
 *   with an optional `name=` attribute, and the `x540001` element name of §5.1.6.5 are
 *   also read.
 * - `type=` is the item type; absent (or `Structure`) means a Structure, whose children are
 *   nested elements. Scalars carry `value=`, spelled as in `text-values.ts`; masks are
 *   space-separated flag names.
 * - A test-case file (root `<KMIP>` or `<KmipTestCase>`) yields the root's children; any
 *   other document yields its root element as the one item. Character data is an error
 *   inside items and ignored directly inside the test-case root (some 1.4 test cases keep
 *   `#` commentary there).
 */
import { isItemTypeName, type ItemTypeName } from '../ttlv/item-type.js';
import type { TtlvNode } from '../ttlv/node.js';
import { KmipEncodingError } from './encoding-errors.js';
import {
  TAG_ATTRIBUTE_NAME,
  attributeNameAmong,
  bytesToHex,
  formatDateTime,
  formatDateTimeExtended,
  formatEnum,
  hexTag,
  makeNode,
  maskComponents,
  parseScalarText,
  registryTagName,
  tagFromWrittenName,
  valueMeaning,
  type ParseOptions,
  type ValueSite,
} from './text-values.js';
import { escapeXmlAttr, readXml, type XmlElement } from './xml-reader.js';

export type { ParseOptions, PlaceholderResolver } from './text-values.js';

/** Root elements that wrap a sequence of messages in the OASIS test-case files. */
const CONTAINER_ROOTS = new Set(['KMIP', 'KmipTestCase']);
const XMLNS = 'urn:oasis:tc:kmip:xmlns';

/**
 * Parse a KMIP XML document. For a test-case file (root `<KMIP>` or `<KmipTestCase>`)
 * returns the root's children (the Request/Response messages); otherwise the root item.
 */
export function parseKmipXml(text: string, opts?: ParseOptions): TtlvNode[] {
  const root = readXml(text);
  if (CONTAINER_ROOTS.has(root.name) && root.attrs.size === 0) {
    return convertChildren(root.children, root.name, opts);
  }
  return [convertElement(root, '', undefined, opts)];
}

/** Parse a single KMIP XML item (a document whose root is one item). */
export function parseKmipXmlItem(text: string, opts?: ParseOptions): TtlvNode {
  return convertElement(readXml(text), '', undefined, opts);
}

interface Resolved {
  readonly el: XmlElement;
  readonly tag: number;
  readonly tagName: string;
  readonly type: ItemTypeName;
}

function resolve(el: XmlElement, parentPath: string): Resolved {
  const path = parentPath ? `${parentPath}/${el.name}` : el.name;
  const where = { path, line: el.line };
  if (el.textLine !== undefined) {
    throw new KmipEncodingError('XML_SYNTAX', `unexpected text inside <${el.name}> (line ${el.textLine}): KMIP XML carries values in attributes`, where);
  }
  let tag: number | undefined;
  let allowed: readonly string[];
  if (el.name === 'TTLV') {
    const t = el.attrs.get('tag');
    if (t === undefined) throw new KmipEncodingError('UNKNOWN_TAG', '<TTLV> element without a tag= attribute', where);
    tag = tagFromWrittenName(t, false);
    if (tag === undefined || !/^0x/i.test(t)) {
      throw new KmipEncodingError('UNKNOWN_TAG', `<TTLV> tag=${JSON.stringify(t)} is not a 0x-prefixed 3-byte hex tag`, where);
    }
    allowed = ['tag', 'name', 'type', 'value', 'xmlns'];
  } else {
    tag = tagFromWrittenName(el.name, true);
    if (tag === undefined) throw new KmipEncodingError('UNKNOWN_TAG', `unknown element <${el.name}>: not a KMIP tag name`, where);
    allowed = ['type', 'value', 'xmlns'];
  }
  if (tag <= 0 || tag > 0xffffff) throw new KmipEncodingError('UNKNOWN_TAG', `tag ${hexTag(tag)} out of range`, where);
  for (const a of el.attrs.keys()) {
    if (!allowed.includes(a)) throw new KmipEncodingError('BAD_VALUE', `unexpected attribute ${a}= on <${el.name}>`, where);
  }
  const ns = el.attrs.get('xmlns');
  if (ns !== undefined && ns !== XMLNS) throw new KmipEncodingError('BAD_VALUE', `unexpected namespace ${JSON.stringify(ns)} (expected ${XMLNS})`, where);
  const typeText = el.attrs.get('type') ?? 'Structure';
  if (!isItemTypeName(typeText)) {
    throw new KmipEncodingError('BAD_TYPE', `unknown type=${JSON.stringify(typeText)} on <${el.name}>`, where);
  }
  return { el, tag, tagName: el.name === 'TTLV' ? (el.attrs.get('tag') as string) : el.name, type: typeText };
}

function convertChildren(children: readonly XmlElement[], path: string, opts: ParseOptions | undefined): TtlvNode[] {
  const resolved = children.map((c) => resolve(c, path));
  let attributeName: string | undefined;
  for (const r of resolved) {
    if (r.tag === TAG_ATTRIBUTE_NAME && r.type === 'TextString') {
      attributeName = r.el.attrs.get('value');
      break;
    }
  }
  return resolved.map((r) => convertResolved(r, path, attributeName, opts));
}

function convertElement(el: XmlElement, parentPath: string, attributeName: string | undefined, opts: ParseOptions | undefined): TtlvNode {
  return convertResolved(resolve(el, parentPath), parentPath, attributeName, opts);
}

function convertResolved(r: Resolved, parentPath: string, attributeName: string | undefined, opts: ParseOptions | undefined): TtlvNode {
  const { el, tag, type } = r;
  const path = parentPath ? `${parentPath}/${el.name}` : el.name;
  const value = el.attrs.get('value');
  if (type === 'Structure') {
    if (value !== undefined) throw new KmipEncodingError('BAD_VALUE', `structure <${el.name}> has a value= attribute`, { path, line: el.line });
    return makeNode(tag, 'Structure', convertChildren(el.children, path, opts));
  }
  if (el.children.length > 0) {
    throw new KmipEncodingError('BAD_TYPE', `<${el.name}> of type ${type} has child elements (only a Structure may)`, { path, line: el.line });
  }
  if (value === undefined) throw new KmipEncodingError('BAD_VALUE', `<${el.name}> of type ${type} has no value= attribute`, { path, line: el.line });
  const site: ValueSite = { path, line: el.line, tagName: r.tagName };
  return makeNode(tag, type, parseScalarText(value, type, valueMeaning(tag, type, attributeName), site, opts));
}

// ------------------------------------------------------------------------------ writer

export interface XmlWriteOptions {
  /** Indentation per level; default two spaces. `''` writes everything on one line. */
  readonly indent?: string;
}

/** Write one item (and its children) as KMIP XML, without an XML declaration. */
export function toKmipXml(node: TtlvNode, opts?: XmlWriteOptions): string {
  const indent = opts?.indent ?? '  ';
  const out: string[] = [];
  writeNode(node, undefined, 0, indent, out);
  return out.join(indent === '' ? '' : '\n');
}

/** The spelling of a scalar value in XML (also used by the test-case comparison tools). */
export function xmlValueText(node: Exclude<TtlvNode, { type: 'Structure' }>, attributeName: string | undefined): string {
  switch (node.type) {
    case 'Integer': {
      const m = valueMeaning(node.tag, 'Integer', attributeName);
      if (m.kind === 'mask' && node.value !== 0) return maskComponents(node.value, m.maskName).join(' ');
      return String(node.value);
    }
    case 'Enumeration':
      return formatEnum(node.value, valueMeaning(node.tag, 'Enumeration', attributeName));
    case 'LongInteger':
    case 'Interval':
      return String(node.value);
    case 'BigInteger':
    case 'ByteString':
      return bytesToHex(node.value);
    case 'Boolean':
      return node.value ? 'true' : 'false';
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

function writeNode(node: TtlvNode, attributeName: string | undefined, depth: number, indent: string, out: string[]): void {
  const pad = indent.repeat(depth);
  const name = registryTagName(node.tag);
  const open = name !== undefined ? name : `TTLV tag="${hexTag(node.tag)}"`;
  const close = name !== undefined ? name : 'TTLV';
  if (node.type === 'Structure') {
    if (node.value.length === 0) {
      out.push(`${pad}<${open}/>`);
      return;
    }
    out.push(`${pad}<${open}>`);
    const an = attributeNameAmong(node.value);
    for (const child of node.value) writeNode(child, an, depth + 1, indent, out);
    out.push(`${pad}</${close}>`);
    return;
  }
  out.push(`${pad}<${open} type="${node.type}" value="${escapeXmlAttr(xmlValueText(node, attributeName))}"/>`);
}
