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
 * The nodes are stored with every record; the attribute rules decide in which versions they are
 * visible (objects/attributes.ts visibleAttributes).
 */
import { CryptographicAlgorithm, RNGAlgorithm } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
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

/** Set the Key Format Type attribute from the Key Block of `body` (no Key Block: unchanged). */
export function stampKeyFormatType(attrs: Map<AttributeKey, TtlvNode[]>, body: StructureNode): void {
  const fmt = keyBlockOfBody(body)?.value.find((c) => c.tag === Tag.KeyFormatType);
  if (fmt?.type === 'Enumeration') attrs.set('KeyFormatType', [{ tag: Tag.KeyFormatType, type: 'Enumeration', value: fmt.value }]);
}
