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
 *   generates (Create, Create Key Pair, Re-key, Re-key Key Pair, Derive Key, Create/Join Split Key). Registered objects do
 *   not get it yet although 2.1 §4.26 says the server sets it on every key: PyKMIP 0.10 cannot
 *   decode a Key Format Type attribute, and its get_attributes (all) of a registered key would fail.
 * - Fresh true on every new object unless the client gave False (2.1 §4.24); the first Get that
 *   serves the object sets it False (operations/lifecycle/get.ts).
 * - Always Sensitive = the given Sensitive, Never Extractable = not the given Extractable (2.1 §4.3,
 *   §4.33), stored at creation when the client gave Sensitive / Extractable; every later change of
 *   Sensitive or Extractable stores both followers (`followChange`): Always Sensitive stays True
 *   only while Sensitive has always been True, Never Extractable only while Extractable has always
 *   been False.
 * The nodes are stored with every record; the attribute rules decide in which versions they are
 * visible (objects/attributes.ts visibleAttributes).
 *
 * Derived on read (`derivedAttributes`), not stored: attributes that "SHALL always have a value"
 * whose value follows from the record, so objects stored before this server kept them read the
 * same as new ones (no migration):
 * - Short Unique Identifier (2.x; 2.1 §4.56): "SHOULD be generated as a SHA-256 hash of the Unique
 *   Identifier and SHALL be a 32 byte byte string" — done so. Unique as the uids are (random
 *   UUIDs; SHA-256 collisions are out of reach), assigned with the uid and never changed.
 * - Protection Storage Mask (2.x; 2.1 §4.44, "when object is stored"): where the value is kept —
 *   Hardware for an HSM-resident key (the value never leaves the token), Software for everything
 *   else (sealed by the key protector in the data folder).
 * - Sensitive False and Extractable True when the client gave none (2.1 §4.55, §4.23: "The server
 *   SHALL set the value to False/True if not provided"); Always Sensitive and Never Extractable
 *   False when not stored (they are stored at creation whenever they could be True).
 * - Lease Time (the policy default) on a key object stored before `stampStored` set it.
 * Which listings show them: every one; a Get Attributes naming none leaves out, per client
 * profile, what the client cannot decode (policy/client-profiles.ts).
 */
import { createHash } from 'node:crypto';
import { CryptographicAlgorithm, DRBGAlgorithm, RNGAlgorithm } from '../kmip/generated/enums.gen.js';
import { ProtectionStorageMask } from '../kmip/generated/masks.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { keyBlockOfBody } from './key-formats.js';
import { KEY_BLOCK_TYPES } from './object-body.js';
import type { AttributeKey, AttributeMap, ObjectRecord } from './managed-object.js';

/**
 * The server's one random number generator, stated here only: keys and random bytes come from
 * node:crypto, i.e. OpenSSL 3's default (public/private) DRBG — a CTR DRBG over AES-256
 * (SP 800-90A) — shared by every client. Its fields, in RNG Parameters order.
 */
function serverRngFields(): TtlvNode[] {
  return [
    { tag: Tag.RNGAlgorithm, type: 'Enumeration', value: RNGAlgorithm.DRBG },
    { tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: CryptographicAlgorithm.AES },
    { tag: Tag.CryptographicLength, type: 'Integer', value: 256 },
  ];
}

/** The Random Number Generator value of keys this server generates. */
export function serverRngNode(): StructureNode {
  return { tag: Tag.RandomNumberGenerator, type: 'Structure', value: serverRngFields() };
}

/**
 * The same generator as the RNG Parameters a Query RNGs answers (KMIP 1.3+), with its DRBG
 * Algorithm (CTR) named as well. The Random Number Generator attribute of keys keeps the three
 * fields above, as the OASIS cases show it.
 */
export function serverRngParameters(): StructureNode {
  return {
    tag: Tag.RNGParameters,
    type: 'Structure',
    value: [...serverRngFields(), { tag: Tag.DRBGAlgorithm, type: 'Enumeration', value: DRBGAlgorithm.CTR }],
  };
}

/**
 * Which attributes of a new object's map the server filled in by default (the client gave none),
 * kept beside the map until the record is written (ObjectRecord.serverDefaults).
 */
const DEFAULTED = new WeakMap<ReadonlyMap<AttributeKey, readonly TtlvNode[]>, Set<AttributeKey>>();

/** Set `key` to the server's default value `node` (only when the client gave none) and remember that it is a default. */
export function setServerDefault(attrs: Map<AttributeKey, TtlvNode[]>, key: AttributeKey, node: TtlvNode): void {
  if (attrs.has(key)) return;
  attrs.set(key, [node]);
  const set = DEFAULTED.get(attrs) ?? new Set<AttributeKey>();
  set.add(key);
  DEFAULTED.set(attrs, set);
}

/** The keys `setServerDefault` filled in on this map, in a stable order (empty when none). */
export function serverDefaultsOf(attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>): AttributeKey[] {
  return [...(DEFAULTED.get(attrs) ?? [])].filter((k) => attrs.has(k)).sort();
}

/** Stamp Original Creation Date (= `now`, the Initial Date) and Random Number Generator on an object the server generated. */
export function stampGenerated(attrs: Map<AttributeKey, TtlvNode[]>, now: bigint): void {
  attrs.set('OriginalCreationDate', [{ tag: Tag.OriginalCreationDate, type: 'DateTime', value: now }]);
  attrs.set('RandomNumberGenerator', [serverRngNode()]);
}

function bool(tag: number, value: boolean): TtlvNode {
  return { tag, type: 'Boolean', value };
}

/**
 * The Lease Time the server sets on objects with a Key Block when the client gave none (1.4
 * §3.20, 2.1 §4.30); policy/crypto-policy.ts LEASE_POLICY names it as the lease policy's default.
 * Defined here, below policy, so objects/ does not import policy/.
 */
export const DEFAULT_LEASE_SECONDS = 3600;

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
  if (keyBlockOfBody(body) && !attrs.has('LeaseTime')) attrs.set('LeaseTime', [{ tag: Tag.LeaseTime, type: 'Interval', value: DEFAULT_LEASE_SECONDS }]);
  const sensitive = flagOf(attrs, 'Sensitive');
  const extractable = flagOf(attrs, 'Extractable');
  if (sensitive !== undefined && !attrs.has('AlwaysSensitive')) attrs.set('AlwaysSensitive', [bool(Tag.AlwaysSensitive, sensitive)]);
  if (extractable !== undefined && !attrs.has('NeverExtractable')) attrs.set('NeverExtractable', [bool(Tag.NeverExtractable, !extractable)]);
  setServerDefault(attrs, 'Fresh', bool(Tag.Fresh, true));
}

/**
 * After a client changed `key` (`attrs` already holds the new value): store the follower.
 * Always Sensitive stays True only if it was True and Sensitive is True now; Never Extractable
 * only if it was True and Extractable is False now. A follower not stored was False: it is stored
 * (True) at creation whenever the client gave Sensitive True / Extractable False.
 */
export function followChange(attrs: ReadonlyMap<AttributeKey, readonly TtlvNode[]>, key: AttributeKey): Map<AttributeKey, readonly TtlvNode[]> {
  const out = new Map(attrs);
  if (key === 'Sensitive') {
    const always = flagOf(attrs, 'AlwaysSensitive') === true && flagOf(attrs, 'Sensitive') === true;
    out.set('AlwaysSensitive', [bool(Tag.AlwaysSensitive, always)]);
  }
  if (key === 'Extractable') {
    const never = flagOf(attrs, 'NeverExtractable') === true && flagOf(attrs, 'Extractable') === false;
    out.set('NeverExtractable', [bool(Tag.NeverExtractable, never)]);
  }
  return out;
}

/** The attributes `derivedAttributes` may supply; Locate cannot narrow them by the stored-value indexes. */
export const DERIVED_KEYS: ReadonlySet<AttributeKey> = new Set([
  'ShortUniqueIdentifier',
  'ProtectionStorageMask',
  'Sensitive',
  'Extractable',
  'AlwaysSensitive',
  'NeverExtractable',
  'LeaseTime',
]);

/** The Short Unique Identifier of `uid` (2.1 §4.56): SHA-256 of the Unique Identifier, 32 bytes. */
export function shortUniqueIdentifier(uid: string): Uint8Array {
  return createHash('sha256').update(uid, 'utf8').digest();
}

/** The values of the derived attributes the record does not store (see the module note), in no particular order. */
export function derivedAttributes(record: Pick<ObjectRecord, 'uid' | 'objectType' | 'hsmKey' | 'attributes'>): Map<AttributeKey, readonly TtlvNode[]> {
  const a = record.attributes;
  const out = new Map<AttributeKey, readonly TtlvNode[]>();
  const put = (key: AttributeKey, node: TtlvNode) => {
    if (!a.has(key)) out.set(key, [node]);
  };
  put('ShortUniqueIdentifier', { tag: Tag.ShortUniqueIdentifier, type: 'ByteString', value: shortUniqueIdentifier(record.uid) });
  const where = record.hsmKey !== undefined ? ProtectionStorageMask.Hardware : ProtectionStorageMask.Software;
  put('ProtectionStorageMask', { tag: Tag.ProtectionStorageMask, type: 'Integer', value: where });
  const sensitive = flagOf(a, 'Sensitive') ?? false;
  const extractable = flagOf(a, 'Extractable') ?? true;
  put('Sensitive', bool(Tag.Sensitive, sensitive));
  put('Extractable', bool(Tag.Extractable, extractable));
  // Not stored means the client gave no Sensitive / Extractable at creation (stampStored stores the
  // followers then): Sensitive started False and Extractable True, so neither follower can be True.
  put('AlwaysSensitive', bool(Tag.AlwaysSensitive, false));
  put('NeverExtractable', bool(Tag.NeverExtractable, false));
  if (KEY_BLOCK_TYPES.has(record.objectType)) put('LeaseTime', { tag: Tag.LeaseTime, type: 'Interval', value: DEFAULT_LEASE_SECONDS });
  return out;
}

/** `attrs` plus the derived values it lacks (derived ones after the stored ones). */
export function withDerived(record: Pick<ObjectRecord, 'uid' | 'objectType' | 'hsmKey' | 'attributes'>, attrs: AttributeMap): Map<AttributeKey, readonly TtlvNode[]> {
  const out = new Map(attrs);
  for (const [k, v] of derivedAttributes(record)) if (!out.has(k)) out.set(k, v);
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
