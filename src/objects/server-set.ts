/**
 * Attributes the server sets on objects it makes or stores (KMIP 2.1 §4.26, §4.38, §4.46;
 * 1.4 §3.25, §3.44):
 * - Original Creation Date: on an object the server generates (Create, Create Key Pair, Derive
 *   Key, Re-key, Re-key Key Pair) it "SHALL be set by the server and SHALL be the same as the
 *   Initial Date" — the operation's time.
 * - Random Number Generator: on those same objects, the generator used. Keys come from
 *   node:crypto's CSPRNG, OpenSSL 3's default DRBG: a CTR DRBG over AES-256 (SP 800-90A), stated
 *   as RNG Algorithm DRBG, Cryptographic Algorithm AES, Cryptographic Length 256.
 * - Key Format Type (2.x attribute): the format of the Key Block, set on the keys the server
 *   generates (Create, Create Key Pair, Re-key, Re-key Key Pair, Derive Key). Registered objects do
 *   not get it yet although 2.1 §4.26 says the server sets it on every key: PyKMIP 0.10 cannot
 *   decode a Key Format Type attribute, and its get_attributes (all) of a registered key would fail.
 * - Fresh true on every new object unless the client gave False (2.1 §4.24); the first Get that
 *   serves the object sets it False (operations/get.ts).
 * - Always Sensitive = the given Sensitive, Never Extractable = not the given Extractable (2.1 §4.3,
 *   §4.33); later, Sensitive set to False makes Always Sensitive False and Extractable set to True
 *   makes Never Extractable False (`followChange`). Sensitive and Extractable themselves "always
 *   have a value" (False / True by default) but are not stored when the client gives none: PyKMIP
 *   0.10 cannot decode Extractable, Always Sensitive or Never Extractable in a 1.x Get Attributes
 *   of all attributes. Their absence reads as the defaults (Get checks Sensitive === true and
 *   Extractable === false).
 * The nodes are stored with every record; the attribute rules decide in which versions they are
 * visible (objects/attributes.ts visibleAttributes).
 */
import { CryptographicAlgorithm, RNGAlgorithm } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { LEASE_POLICY } from '../policy/crypto-policy.js';
import { keyBlockOfBody } from './key-formats.js';
import type { AttributeKey } from './managed-object.js';

/** The Random Number Generator value of keys this server generates. */
export function serverRngNode(): StructureNode {
  return {
    tag: Tag.RandomNumberGenerator,
    type: 'Structure',
    value: [
      { tag: Tag.RNGAlgorithm, type: 'Enumeration', value: RNGAlgorithm.DRBG },
      { tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: CryptographicAlgorithm.AES },
      { tag: Tag.CryptographicLength, type: 'Integer', value: 256 },
    ],
  };
}

/** Stamp Original Creation Date (= `now`, the Initial Date) and Random Number Generator on an object the server generated. */
export function stampGenerated(attrs: Map<AttributeKey, TtlvNode[]>, now: bigint): void {
  attrs.set('OriginalCreationDate', [{ tag: Tag.OriginalCreationDate, type: 'DateTime', value: now }]);
  attrs.set('RandomNumberGenerator', [serverRngNode()]);
}

function bool(tag: number, value: boolean): TtlvNode {
  return { tag, type: 'Boolean', value };
}

function flagOf(attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>, key: AttributeKey): boolean | undefined {
  const n = attrs.get(key)?.[0];
  return n?.type === 'Boolean' ? n.value : undefined;
}

/** Set the Key Format Type attribute from the Key Block of `body` (objects the server generates; see the module note). */
export function stampKeyFormatType(attrs: Map<AttributeKey, TtlvNode[]>, body: StructureNode): void {
  const fmt = keyBlockOfBody(body)?.value.find((c) => c.tag === Tag.KeyFormatType);
  if (fmt?.type === 'Enumeration') attrs.set('KeyFormatType', [{ tag: Tag.KeyFormatType, type: 'Enumeration', value: fmt.value }]);
}

/**
 * What the server sets on every object it stores: Lease Time (the lease policy's default, on
 * objects with a Key Block: 1.4 §3.20 and 2.1 §4.30 name it implicitly set by the operations that
 * make objects), Fresh, and Always Sensitive / Never Extractable following a given Sensitive /
 * Extractable.
 */
export function stampStored(attrs: Map<AttributeKey, TtlvNode[]>, body: StructureNode): void {
  if (keyBlockOfBody(body) && !attrs.has('LeaseTime')) attrs.set('LeaseTime', [{ tag: Tag.LeaseTime, type: 'Interval', value: LEASE_POLICY.defaultSeconds }]);
  const sensitive = flagOf(attrs, 'Sensitive');
  const extractable = flagOf(attrs, 'Extractable');
  if (sensitive !== undefined && !attrs.has('AlwaysSensitive')) attrs.set('AlwaysSensitive', [bool(Tag.AlwaysSensitive, sensitive)]);
  if (extractable !== undefined && !attrs.has('NeverExtractable')) attrs.set('NeverExtractable', [bool(Tag.NeverExtractable, !extractable)]);
  if (!attrs.has('Fresh')) attrs.set('Fresh', [bool(Tag.Fresh, true)]);
}

/** After a client changed `key`: Sensitive False clears Always Sensitive, Extractable True clears Never Extractable. */
export function followChange(attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>, key: AttributeKey): Map<AttributeKey, readonly TtlvNode[]> {
  const out = new Map(attrs);
  if (key === 'Sensitive' && flagOf(attrs, 'Sensitive') === false) out.set('AlwaysSensitive', [bool(Tag.AlwaysSensitive, false)]);
  if (key === 'Extractable' && flagOf(attrs, 'Extractable') === true) out.set('NeverExtractable', [bool(Tag.NeverExtractable, false)]);
  return out;
}

/** Whether the object is still Fresh (never served by Get); a record without the attribute counts as Fresh. */
export function isFresh(attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>): boolean {
  return flagOf(attrs, 'Fresh') !== false;
}

/** The attributes with Fresh False (the object has been served). */
export function served(attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>): Map<AttributeKey, readonly TtlvNode[]> {
  return new Map(attrs).set('Fresh', [bool(Tag.Fresh, false)]);
}
