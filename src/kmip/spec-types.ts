/**
 * Shapes of the spec registry data (src/kmip/spec/*.json → src/kmip/generated/*.gen.ts).
 * Names are the spec's normalized names, as the OASIS XML test cases spell them
 * ("CryptographicAlgorithm", "SymmetricKey", "WrongKeyLifecycleState").
 */
import type { ItemTypeName } from '../ttlv/item-type.js';

/** A KMIP protocol version as written in the spec data: "1.0" … "2.1", "3.0". */
export type SpecVersion = '1.0' | '1.1' | '1.2' | '1.3' | '1.4' | '2.0' | '2.1' | '3.0';

export interface KmipVersion {
  readonly major: number;
  readonly minor: number;
}

export interface TagDef {
  /** Normalized name, e.g. "CryptographicAlgorithm". */
  readonly name: string;
  /** The spec's own name, e.g. "Cryptographic Algorithm". */
  readonly specName: string;
  /** Tag value, e.g. 0x420028. */
  readonly tag: number;
  /**
   * Item type(s) the spec gives this tag. Most tags have one; a few are defined with more
   * than one (e.g. Key Material is a Byte String or a Structure). Attribute Value's type
   * depends on the attribute it carries, so it lists none.
   */
  readonly types: readonly ItemTypeName[];
  /** For Enumeration-typed tags: the enumeration (an EnumDef name) its values come from. */
  readonly enum?: string;
  /** For Integer-typed bit masks: the mask (a MaskDef name) its bits come from. */
  readonly mask?: string;
  /** First version that defines it. */
  readonly added: SpecVersion;
  /** First version that no longer defines it (reserved or removed), if any. */
  readonly removed?: SpecVersion;
  /** Where the spec defines it, e.g. "KMIP 2.1 §11.1 Table 289". */
  readonly ref: string;
}

export interface EnumValueDef {
  readonly name: string;
  readonly specName: string;
  readonly value: number;
  readonly added: SpecVersion;
  readonly removed?: SpecVersion;
}

export interface EnumDef {
  readonly name: string;
  readonly specName: string;
  readonly values: readonly EnumValueDef[];
  readonly added: SpecVersion;
  readonly removed?: SpecVersion;
  readonly ref: string;
}

/** Bit masks (Cryptographic Usage Mask, Storage Status Mask, …): same shape, values are bits. */
export type MaskDef = EnumDef;
