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

/** Who may set an attribute (KMIP 1.4 §3 / 2.1 §4 rule tables, row "Initially set by"). */
export type AttributeSetter = 'server' | 'client';

/**
 * One attribute's rule table (KMIP 1.x §3 / 2.x §4, "<Attribute> Attribute Rules"), valid for the
 * protocol versions [added, removed). An attribute whose rules changed between versions has one
 * rule per range (src/kmip/spec/attributes.json). Yes/No cells are booleans; a qualifier the spec
 * adds to a cell is kept verbatim in `notes[field]`.
 */
export interface AttributeRule {
  /** Normalized name = the attribute's tag name ("CryptographicAlgorithm"). */
  readonly name: string;
  /** The spec's name ("Cryptographic Algorithm"). */
  readonly specName: string;
  /** "SHALL always have a value". */
  readonly alwaysHasValue: boolean;
  /** Object Type names the "always has a value" rule exempts ("Yes (Except for Opaque Object)"). */
  readonly alwaysHasValueExcept?: readonly string[];
  /** "Initially set by": server, client or both. */
  readonly initiallySetBy: readonly AttributeSetter[];
  /** "Modifiable by server". */
  readonly modifiableByServer: boolean;
  /** "Modifiable by client". */
  readonly modifiableByClient: boolean;
  /** State names in which the attribute may be modified at all ("Yes, only while in Pre-Active state"). */
  readonly modifiableInStates?: readonly string[];
  /** "Deletable by client". */
  readonly deletableByClient: boolean;
  /** "Multiple instances permitted". */
  readonly multiple: boolean;
  /** "When implicitly set": Operation names. */
  readonly implicitlySetBy: readonly string[];
  /** "Applies to Object Types": "all" or Object Type names. */
  readonly appliesTo: 'all' | readonly string[];
  /** Verbatim qualifiers of cells, keyed by field name. */
  readonly notes?: Readonly<Record<string, string>>;
  /** First version of the range these rules hold for. */
  readonly added: SpecVersion;
  /** First version after the range, if any. */
  readonly removed?: SpecVersion;
  /** The rules table, e.g. "KMIP 2.1 §4.32 Table 94". */
  readonly ref: string;
}
