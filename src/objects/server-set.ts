/**
 * Attributes the server sets on objects it makes or stores (KMIP 2.1 §4.26, §4.38, §4.46;
 * 1.4 §3.25, §3.44):
 * - Original Creation Date: on an object the server generates (Create, Create Key Pair, Derive
 *   Key, Re-key, Re-key Key Pair) it "SHALL be set by the server and SHALL be the same as the
 *   Initial Date" — the operation's time.
 * - Random Number Generator: on those same objects, the generator used. Keys come from
 *   node:crypto's CSPRNG, OpenSSL 3's default DRBG: a CTR DRBG over AES-256 (SP 800-90A), stated
 *   as RNG Algorithm DRBG, Cryptographic Algorithm AES, Cryptographic Length 256.
 * - Key Format Type (2.x attribute): the format of the Key Block the server holds, for every
 *   object with one (set from the stored body, whatever operation made it).
 * - On every new object (2.1 §4.23, §4.55, §4.3, §4.33, §4.24; "SHALL always have a value"):
 *   Sensitive false and Extractable true unless the client gave them; Always Sensitive = Sensitive
 *   and Never Extractable = not Extractable (unless already set); Fresh true unless the client gave
 *   False. Later, Sensitive set to False makes Always Sensitive False, Extractable set to True makes
 *   Never Extractable False (`followChange`); the first Get that serves the object sets Fresh False
 *   (operations/get.ts).
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

/**
 * What the server sets on every object it stores: Key Format Type from the Key Block of `body`
 * (none: not set), Lease Time (the lease policy's default, on objects with a Key Block: 1.4 §3.20
 * and 2.1 §4.30 name it implicitly set by the operations that make objects), and the Boolean
 * attributes that always have a value.
 */
export function stampStored(attrs: Map<AttributeKey, TtlvNode[]>, body: StructureNode): void {
  const kb = keyBlockOfBody(body);
  const fmt = kb?.value.find((c) => c.tag === Tag.KeyFormatType);
  if (fmt?.type === 'Enumeration') attrs.set('KeyFormatType', [{ tag: Tag.KeyFormatType, type: 'Enumeration', value: fmt.value }]);
  if (kb && !attrs.has('LeaseTime')) attrs.set('LeaseTime', [{ tag: Tag.LeaseTime, type: 'Interval', value: LEASE_POLICY.defaultSeconds }]);
  const sensitive = flagOf(attrs, 'Sensitive') ?? false;
  const extractable = flagOf(attrs, 'Extractable') ?? true;
  if (!attrs.has('Sensitive')) attrs.set('Sensitive', [bool(Tag.Sensitive, sensitive)]);
  if (!attrs.has('Extractable')) attrs.set('Extractable', [bool(Tag.Extractable, extractable)]);
  if (!attrs.has('AlwaysSensitive')) attrs.set('AlwaysSensitive', [bool(Tag.AlwaysSensitive, sensitive)]);
  if (!attrs.has('NeverExtractable')) attrs.set('NeverExtractable', [bool(Tag.NeverExtractable, !extractable)]);
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
