/**
 * The stored form of a managed object. This is the contract between the operations, the
 * store and the key protection layer.
 *
 * Attributes are kept in the KMIP 2.x form: each instance is a TTLV node whose tag is the
 * attribute's own tag (a Cryptographic Algorithm instance is an Enumeration node tagged
 * 0x420028; a Name instance is a Name structure). Custom attributes (1.x "x-…"/"y-…",
 * 2.x Vendor Attribute) are keyed by `customKey(vendor, name)` and hold their value node
 * tagged Attribute Value. Instances keep their order: the position is the 1.x Attribute
 * Index.
 *
 * The object's content (Key Block, certificate bytes, secret data, opaque data, …) is the
 * `body`: a TTLV structure that never reaches the store in the clear. The store only sees
 * `sealedBody`, produced by the key protector with the object's uid bound in.
 */
import type { TtlvNode } from '../ttlv/node.js';

/** Attribute key: the normalized name of a standard attribute ("CryptographicAlgorithm"), or a custom key. */
export type AttributeKey = string;

export type AttributeMap = ReadonlyMap<AttributeKey, readonly TtlvNode[]>;

/** Custom attribute key. 1.x "x-Foo" is vendor "x", name "Foo"; 2.x Vendor Attribute gives both. */
export function customKey(vendor: string, name: string): AttributeKey {
  return `custom:${vendor}:${name}`;
}

export function parseCustomKey(key: AttributeKey): { vendor: string; name: string } | undefined {
  if (!key.startsWith('custom:')) return undefined;
  const rest = key.slice(7);
  const i = rest.indexOf(':');
  return i < 0 ? undefined : { vendor: rest.slice(0, i), name: rest.slice(i + 1) };
}

export interface ObjectRecord {
  /** Record format version, for migrations. */
  readonly v: 1;
  readonly uid: string;
  /** Object Type enumeration value. */
  readonly objectType: number;
  /** The identity that created or registered it. */
  readonly owner: string;
  /**
   * The State enumeration value as last written. The effective state at a given time
   * also depends on the Activation/Deactivation Dates (see objects/lifecycle.ts).
   */
  readonly state: number;
  readonly attributes: AttributeMap;
  /** The object's content, sealed by the key protector (AAD binds the uid). Absent once destroyed. */
  readonly sealedBody?: Uint8Array;
  /** Which key-encryption key sealed the body. */
  readonly kekId?: string;
  /**
   * An HSM-resident key: the reference (JSON of a KeyRef: CKA_ID, label, type, bits, never
   * material) of the non-extractable token key holding the value. The sealed body then holds
   * the Key Block's metadata without a Key Value; cryptography runs in the HSM.
   */
  readonly hsmKey?: string;
  /**
   * Single-valued attributes whose value the server supplied by default because the client gave
   * none (a Cryptographic Usage Mask, Fresh). A client's later Add Attribute of one of them
   * replaces the default instead of being refused (docs/tolerance.md); any client change of the
   * attribute takes it off this list.
   */
  readonly serverDefaults?: readonly AttributeKey[];
  /** Incremented on every write; the store refuses a write whose expected revision is stale. */
  readonly revision: number;
}
