/**
 * The one coded error of the KMIP text encodings (XML and JSON, KMIP Additional Message
 * Encodings v1.0 §4/§5). Callers branch on `code`, never on message text.
 */
export type KmipEncodingErrorCode =
  | 'XML_SYNTAX' // not well-formed (or unsupported) XML
  | 'JSON_SYNTAX' // not JSON, or not the shape of a JSON TTLV item
  | 'UNKNOWN_TAG' // an element name / tag name the registry does not know
  | 'BAD_TYPE' // an unknown item type name, or a value that does not fit the item's type
  | 'BAD_VALUE' // a value that cannot be read as its type (bad number, hex, date, out of range)
  | 'UNKNOWN_NAME' // an enumeration or mask name that cannot be resolved
  | 'PLACEHOLDER'; // a `$NAME` placeholder nobody supplied a value for

export class KmipEncodingError extends Error {
  override readonly name = 'KmipEncodingError';
  /** Element / tag path from the root, e.g. "RequestMessage/BatchItem/Operation". */
  readonly path: string;
  /** 1-based source line (XML only). */
  readonly line: number | undefined;

  constructor(
    readonly code: KmipEncodingErrorCode,
    message: string,
    where: { path?: string; line?: number } = {},
  ) {
    const loc = [where.path ? `at ${where.path}` : '', where.line !== undefined && !message.includes('(line ') ? `line ${where.line}` : ''].filter(Boolean).join(', ');
    super(loc ? `${message} (${loc})` : message);
    this.path = where.path ?? '';
    this.line = where.line;
  }
}
