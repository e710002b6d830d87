/**
 * The decoded form of one TTLV item. A discriminated union on `type`.
 *
 * Value representations are chosen to be lossless against the wire:
 * - Integer: a signed 32-bit number.
 * - Enumeration, Interval: an unsigned 32-bit number (0 .. 2^32-1).
 * - LongInteger: a signed 64-bit bigint.
 * - BigInteger: the raw two's-complement big-endian bytes (length a multiple of 8), so a
 *   sign-extended encoding survives a round trip. Use `bigIntFromBytes`/`bigIntToBytes`.
 * - DateTime: signed 64-bit seconds since the epoch, as a bigint.
 * - DateTimeExtended: signed 64-bit microseconds since the epoch, as a bigint.
 * - Boolean: a boolean (the wire must hold 0 or 1).
 * - TextString / Identifier / Reference / NameReference: a string (valid UTF-8 on the wire).
 * - ByteString: a Uint8Array. The decoders produce Buffers (a Uint8Array subclass); compare
 *   trees with `nodesEqual` when one side may hold a plain Uint8Array.
 * - Structure: the children in order.
 */
export type TtlvNode =
  | { readonly tag: number; readonly type: 'Structure'; readonly value: readonly TtlvNode[] }
  | { readonly tag: number; readonly type: 'Integer'; readonly value: number }
  | { readonly tag: number; readonly type: 'LongInteger'; readonly value: bigint }
  | { readonly tag: number; readonly type: 'BigInteger'; readonly value: Uint8Array }
  | { readonly tag: number; readonly type: 'Enumeration'; readonly value: number }
  | { readonly tag: number; readonly type: 'Boolean'; readonly value: boolean }
  | { readonly tag: number; readonly type: 'TextString'; readonly value: string }
  | { readonly tag: number; readonly type: 'ByteString'; readonly value: Uint8Array }
  | { readonly tag: number; readonly type: 'DateTime'; readonly value: bigint }
  | { readonly tag: number; readonly type: 'Interval'; readonly value: number }
  | { readonly tag: number; readonly type: 'DateTimeExtended'; readonly value: bigint }
  | { readonly tag: number; readonly type: 'Identifier'; readonly value: string }
  | { readonly tag: number; readonly type: 'Reference'; readonly value: string }
  | { readonly tag: number; readonly type: 'NameReference'; readonly value: string };

export type TtlvType = TtlvNode['type'];
export type NodeOf<T extends TtlvType> = Extract<TtlvNode, { type: T }>;
export type StructureNode = NodeOf<'Structure'>;

/** Builders: small, allocation-light constructors used by encoders, tests and the client. */
export const t = {
  struct: (tag: number, value: readonly TtlvNode[]): StructureNode => ({ tag, type: 'Structure', value }),
  int: (tag: number, value: number): NodeOf<'Integer'> => ({ tag, type: 'Integer', value }),
  long: (tag: number, value: bigint): NodeOf<'LongInteger'> => ({ tag, type: 'LongInteger', value }),
  bigint: (tag: number, value: Uint8Array): NodeOf<'BigInteger'> => ({ tag, type: 'BigInteger', value }),
  enum: (tag: number, value: number): NodeOf<'Enumeration'> => ({ tag, type: 'Enumeration', value }),
  bool: (tag: number, value: boolean): NodeOf<'Boolean'> => ({ tag, type: 'Boolean', value }),
  text: (tag: number, value: string): NodeOf<'TextString'> => ({ tag, type: 'TextString', value }),
  bytes: (tag: number, value: Uint8Array): NodeOf<'ByteString'> => ({ tag, type: 'ByteString', value }),
  date: (tag: number, value: bigint): NodeOf<'DateTime'> => ({ tag, type: 'DateTime', value }),
  interval: (tag: number, value: number): NodeOf<'Interval'> => ({ tag, type: 'Interval', value }),
  dateExt: (tag: number, value: bigint): NodeOf<'DateTimeExtended'> => ({ tag, type: 'DateTimeExtended', value }),
} as const;

/** Two's-complement big-endian bytes → bigint. */
export function bigIntFromBytes(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  if ((bytes[0] as number) & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return v;
}

/** bigint → minimal two's-complement big-endian bytes, sign-extended to a multiple of 8 bytes. */
export function bigIntToBytes(value: bigint): Uint8Array {
  let len = 8;
  while (value >= 1n << BigInt(len * 8 - 1) || value < -(1n << BigInt(len * 8 - 1))) len += 8;
  const out = new Uint8Array(len);
  let v = value < 0n ? (1n << BigInt(len * 8)) + value : value;
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Deep structural equality of two nodes (byte arrays compared by content). */
export function nodesEqual(a: TtlvNode, b: TtlvNode): boolean {
  if (a.tag !== b.tag || a.type !== b.type) return false;
  switch (a.type) {
    case 'Structure': {
      const bv = (b as StructureNode).value;
      if (a.value.length !== bv.length) return false;
      for (let i = 0; i < a.value.length; i++) if (!nodesEqual(a.value[i] as TtlvNode, bv[i] as TtlvNode)) return false;
      return true;
    }
    case 'ByteString':
    case 'BigInteger': {
      const bv = b.value as Uint8Array;
      return a.value.length === bv.length && Buffer.compare(a.value, bv) === 0;
    }
    default:
      return a.value === b.value;
  }
}
