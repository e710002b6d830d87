/**
 * The TTLV item types (KMIP 1.4 §9.1.1.2, KMIP 2.1 §9.1.1.2, KMIP 3.0 adds 0x0C-0x0E).
 * This layer knows nothing else about KMIP: tags are plain numbers here.
 */
export const ItemType = {
  Structure: 0x01,
  Integer: 0x02,
  LongInteger: 0x03,
  BigInteger: 0x04,
  Enumeration: 0x05,
  Boolean: 0x06,
  TextString: 0x07,
  ByteString: 0x08,
  DateTime: 0x09,
  Interval: 0x0a,
  DateTimeExtended: 0x0b,
  // KMIP 3.0: encoded like Text String (UTF-8, variable length)
  Identifier: 0x0c,
  Reference: 0x0d,
  NameReference: 0x0e,
} as const;

export type ItemTypeName = keyof typeof ItemType;
export type ItemTypeCode = (typeof ItemType)[ItemTypeName];

export const ITEM_TYPE_NAMES: readonly ItemTypeName[] = Object.keys(ItemType) as ItemTypeName[];

const NAME_BY_CODE: (ItemTypeName | undefined)[] = [];
for (const name of ITEM_TYPE_NAMES) NAME_BY_CODE[ItemType[name]] = name;

/** The item type name for a wire code, or undefined for an unknown code. */
export function itemTypeName(code: number): ItemTypeName | undefined {
  return NAME_BY_CODE[code];
}

export function isItemTypeName(name: string): name is ItemTypeName {
  return Object.prototype.hasOwnProperty.call(ItemType, name);
}

/**
 * Fixed value lengths in bytes, by type; a type not listed has a variable length (Big Integer's
 * must be a multiple of 8). The one source of these lengths: the decoder checks and the encoder
 * writes them from here.
 */
export const FIXED_LENGTH = {
  Integer: 4,
  LongInteger: 8,
  Enumeration: 4,
  Boolean: 8,
  DateTime: 8,
  Interval: 4,
  DateTimeExtended: 8,
} as const satisfies Partial<Record<ItemTypeName, number>>;

/** FIXED_LENGTH by wire code (undefined for variable-length and unknown codes). */
export const FIXED_LENGTH_BY_CODE: readonly (number | undefined)[] = ITEM_TYPE_NAMES.reduce<(number | undefined)[]>((byCode, name) => {
  byCode[ItemType[name]] = (FIXED_LENGTH as Partial<Record<ItemTypeName, number>>)[name];
  return byCode;
}, []);

/** Round up to a multiple of 8 with plain arithmetic (safe for lengths up to 2^32-1). */
export function pad8(n: number): number {
  const r = n % 8;
  return r === 0 ? n : n + 8 - r;
}
