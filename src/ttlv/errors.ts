/**
 * One coded error for the TTLV layer. Callers branch on `code`, never on message text.
 * `offset` is the byte offset of the offending item header (or value) in the input;
 * `path` is the list of tags from the root down to the offending item.
 */
export type TtlvErrorCode =
  | 'TRUNCATED' // input ends inside a header or value
  | 'BAD_TYPE' // unknown item type byte
  | 'BAD_LENGTH' // a fixed-length type with the wrong length, or Big Integer not a multiple of 8
  | 'BAD_PADDING' // non-zero padding bytes
  | 'BAD_BOOLEAN' // Boolean other than 0 or 1
  | 'BAD_UTF8' // text that is not valid UTF-8
  | 'OVERRUN' // a child extends past the end of its parent
  | 'TRAILING' // bytes left over after the top-level item
  | 'TOO_DEEP' // nesting deeper than the limit
  | 'TOO_MANY_ITEMS' // more items than the limit
  | 'TOO_LARGE' // a message longer than the limit
  | 'BAD_TAG' // a tag outside 0x000000..0xFFFFFF, or zero
  | 'BAD_VALUE'; // a value that cannot be encoded (out of range for its type)

export class TtlvError extends Error {
  override readonly name = 'TtlvError';
  constructor(
    readonly code: TtlvErrorCode,
    message: string,
    readonly offset: number = -1,
    readonly path: readonly number[] = [],
  ) {
    super(message);
  }

  /** The path as hex tags, root first, e.g. "420078/42000F/42005C". */
  pathString(nameOf?: (tag: number) => string | undefined): string {
    return this.path.map((t) => nameOf?.(t) ?? t.toString(16).toUpperCase().padStart(6, '0')).join('/');
  }
}
