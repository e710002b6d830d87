/**
 * Which rotation policy governs a key, and when it is due (docs/rotation.md).
 *
 * - Per key: KMIP 2.1's own attributes, Rotate Automatic = true and Rotate Interval (seconds,
 *   > 0), set by the client at Create / Register (2.1 §4.48, §4.51); the overlap is the config's
 *   rotation.overlapDays. A per-key policy wins over a group policy.
 * - Per Object Group: config rotation.policies [{objectGroup, everyDays, overlapDays}]; the first
 *   policy naming one of the key's Object Groups.
 *
 * Due: the key's Initial Date (a replacement made by Re-key gets a fresh one) + the period.
 * Only the newest key of a chain is rotated: one with a Replacement Object Link already was.
 */
import { LinkType, ObjectType } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { dateAttribute } from '../objects/lifecycle.js';
import { customKey, type AttributeMap } from '../objects/managed-object.js';
import type { RotationConfig } from '../config/rotation.js';

export const DAY = 86_400;

export interface KeyPolicy {
  /** "key" (Rotate Interval on the key) or "group:NAME" (config): shown and audited. */
  readonly label: string;
  readonly source: 'key' | 'group';
  readonly everySeconds: number;
  readonly overlapSeconds: number;
}

/** The vendor attribute the rotation puts on each replacement it makes: "gen=N policy=LABEL" (1.x: x-kms-rotation). */
export const ROTATION_MARK_VENDOR = 'x';
export const ROTATION_MARK_NAME = 'kms-rotation';
export const ROTATION_MARK_KEY = customKey(ROTATION_MARK_VENDOR, ROTATION_MARK_NAME);

/** Object types the scheduler rotates: Symmetric Keys (Re-key) and key pairs by their Private Key (Re-key Key Pair). */
export function isRotatable(objectType: number): boolean {
  return objectType === ObjectType.SymmetricKey || objectType === ObjectType.PrivateKey;
}

function single(attrs: AttributeMap, key: string) {
  return attrs.get(key)?.[0];
}

export function policyOf(attrs: AttributeMap, config: RotationConfig): KeyPolicy | undefined {
  const auto = single(attrs, 'RotateAutomatic');
  const interval = single(attrs, 'RotateInterval');
  if (auto?.type === 'Boolean' && auto.value && interval?.type === 'Interval' && interval.value > 0) {
    return { label: 'key', source: 'key', everySeconds: interval.value, overlapSeconds: Math.round(config.overlapDays * DAY) };
  }
  const groups = (attrs.get('ObjectGroup') ?? []).flatMap((n) => (n.type === 'TextString' ? [n.value] : []));
  if (groups.length === 0) return undefined;
  const p = config.policies.find((x) => groups.includes(x.objectGroup));
  if (!p) return undefined;
  return { label: `group:${p.objectGroup}`, source: 'group', everySeconds: Math.round(p.everyDays * DAY), overlapSeconds: Math.round(p.overlapDays * DAY) };
}

/** When the key is due (seconds since the epoch), from its Initial Date. */
export function dueAt(attrs: AttributeMap, policy: KeyPolicy): bigint | undefined {
  const base = dateAttribute(attrs, 'InitialDate');
  return base === undefined ? undefined : base + BigInt(policy.everySeconds);
}

/** The uid a Link of `linkType` points at, if any. */
export function linkedUid(attrs: AttributeMap, linkType: number): string | undefined {
  for (const l of attrs.get('Link') ?? []) {
    if (l.type !== 'Structure') continue;
    const t = l.value.find((c) => c.tag === Tag.LinkType);
    const id = l.value.find((c) => c.tag === Tag.LinkedObjectIdentifier);
    if (t?.type === 'Enumeration' && t.value === linkType && id?.type === 'TextString') return id.value;
  }
  return undefined;
}

export const replacementOf = (attrs: AttributeMap): string | undefined => linkedUid(attrs, LinkType.ReplacementObjectLink);

/** The rotation generation of a key: 0 unless a rotation made it (its mark says gen=N). */
export function generationOf(attrs: AttributeMap): number {
  const m = single(attrs, ROTATION_MARK_KEY);
  const g = m?.type === 'TextString' ? /^gen=(\d+)/.exec(m.value) : null;
  return g ? Number(g[1]) : 0;
}

/** Was this key made by a rotation (it carries the mark)? */
export function madeByRotation(attrs: AttributeMap): boolean {
  return attrs.has(ROTATION_MARK_KEY);
}
