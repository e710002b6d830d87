/**
 * The three KMIP message encodings carried over HTTPS (KMIP Additional Message Encodings
 * v1.0; KMIP Profiles "HTTPS", "XML" and "JSON" message encoding profiles): binary TTLV
 * (`application/octet-stream`), KMIP XML (`text/xml` or `application/xml`) and KMIP JSON
 * (`application/json`). A request is answered in the encoding it came in.
 *
 * Every request, whatever its encoding, passes the same limits as on the KMIP port: a
 * text request is turned into a tree, encoded to TTLV and decoded again with the
 * configured maxMessageBytes / maxDepth / maxItems, so nesting and item counts are
 * bounded identically (the text form's own size is bounded by the body limit).
 */
import { decode } from '../ttlv/decode.js';
import { encode } from '../ttlv/encode.js';
import type { TtlvNode } from '../ttlv/node.js';
import type { TtlvLimits } from '../ttlv/limits.js';
import { parseKmipXmlItem, toKmipXml } from '../kmip/xml.js';
import { parseKmipJson, toKmipJsonString } from '../kmip/json.js';

export type KmipEncoding = 'ttlv' | 'xml' | 'json';

export const ENCODINGS: readonly KmipEncoding[] = ['ttlv', 'xml', 'json'];

/** The media type a reply in `enc` is sent with. */
export const MEDIA_TYPE: Readonly<Record<KmipEncoding, string>> = {
  ttlv: 'application/octet-stream',
  xml: 'text/xml; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

const BY_MEDIA: Readonly<Record<string, KmipEncoding>> = {
  'application/octet-stream': 'ttlv',
  'text/xml': 'xml',
  'application/xml': 'xml',
  'application/json': 'json',
};

/** The encoding of a Content-Type header value (parameters ignored), or undefined. */
export function encodingOfContentType(value: string | undefined): KmipEncoding | undefined {
  if (!value) return undefined;
  const media = value.split(';')[0]!.trim().toLowerCase();
  return BY_MEDIA[media];
}

/** The bare media types that would name `enc` (for Accept matching). */
function mediaTypesOf(enc: KmipEncoding): string[] {
  return Object.entries(BY_MEDIA)
    .filter(([, e]) => e === enc)
    .map(([m]) => m);
}

/**
 * Whether an Accept header allows a reply in `enc`. No header (or an empty one) accepts
 * anything; `*\/*`, `type/*` and exact types are honoured, `q=0` excludes.
 */
export function acceptAllows(accept: string | undefined, enc: KmipEncoding): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  const mine = mediaTypesOf(enc);
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    if (range === '*/*') return true;
    if (range.endsWith('/*') && mine.some((m) => m.startsWith(range.slice(0, -1)))) return true;
    if (mine.includes(range)) return true;
  }
  return false;
}

/**
 * Read a request body in `enc` into a TTLV tree, with the TTLV limits applied. Throws the
 * codec's errors (TtlvError, KmipEncodingError); the caller turns them into an Invalid
 * Message reply.
 */
export function decodeBody(body: Buffer, enc: KmipEncoding, limits: TtlvLimits): TtlvNode {
  if (enc === 'ttlv') return decode(body, limits);
  const text = body.toString('utf8');
  const node = enc === 'xml' ? parseKmipXmlItem(text) : parseKmipJson(text);
  return decode(encode(node), limits);
}

/** A reply tree in `enc`. */
export function encodeBody(node: TtlvNode, enc: KmipEncoding): Buffer {
  if (enc === 'ttlv') return Buffer.from(encode(node));
  return Buffer.from(enc === 'xml' ? toKmipXml(node) : toKmipJsonString(node), 'utf8');
}
