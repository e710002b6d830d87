/**
 * The KMIP spec registry: lookups over the generated tag, enumeration and bit-mask tables
 * (src/kmip/spec/*.json → src/kmip/generated/*.gen.ts). Everything is built once at module load
 * and frozen; nothing mutable is exported.
 *
 * Names are the spec's normalized names (KMIP Additional Message Encodings v1.0 §4.1.3), as the
 * OASIS XML test cases write them. Version-independent: a lookup finds a tag or value whatever
 * version defined it (including ones removed later); use `isAvailable(def, version)` to ask whether
 * a given protocol version has it.
 *
 * Outside the data, and accepted by the API:
 * - extension tags 0x540000-0x54FFFF (and any other unknown tag) have no TagDef; `tagName` writes
 *   them as hex ("0x540001") and `tagFromName` reads hex back;
 * - vendor enumeration values (0x8XXXXXXX) have no name; `enumValueFromName` accepts any `0x`-hex
 *   string, `enumValueName` returns undefined for them (callers write hex).
 *
 * The "Tag" enumeration (KMIP 2.x §11.56, used by Attribute Reference, Tag, …) has the tags
 * themselves as values: the 2.x test cases write `<AttributeReference type="Enumeration"
 * value="State"/>`. Tags whose values come from it carry `enum: "Tag"`, and `enumValueName("Tag", v)`
 * / `enumValueFromName("Tag", name)` resolve through the tag table (hex accepted as for tags).
 * `enumDef("Tag")` returns an EnumDef whose values are derived from the tag table.
 *
 * Some values have extra accepted input spellings (`ENUM_VALUE_ALIASES`, `MASK_BIT_ALIASES`: older
 * spec names such as "SHA_3_256", or spellings used by the test cases); output always uses the
 * canonical name.
 */
import { ENUM_DEFS, ENUM_VALUE_ALIASES } from './generated/enums.gen.js';
import { MASK_BIT_ALIASES, MASK_DEFS } from './generated/masks.gen.js';
import { TAG_DEFS } from './generated/tags.gen.js';
import type { EnumDef, EnumValueDef, KmipVersion, MaskDef, SpecVersion, TagDef } from './spec-types.js';

/** The enumeration whose values are tags. */
export const TAG_ENUM = 'Tag';

export const SPEC_VERSIONS: readonly SpecVersion[] = Object.freeze(['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1', '3.0'] as const);

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x as object)) deepFreeze(v);
  }
  return x;
}

interface Table {
  readonly def: EnumDef;
  readonly byValue: ReadonlyMap<number, EnumValueDef>;
  readonly byName: ReadonlyMap<string, number>;
}

const tagByValue = new Map<number, TagDef>();
const tagByName = new Map<string, TagDef>();
for (const t of deepFreeze(TAG_DEFS)) {
  tagByValue.set(t.tag, t);
  tagByName.set(t.name, t);
}

function buildTables(defs: readonly EnumDef[], aliases: Readonly<Record<string, Readonly<Record<string, number>>>>) {
  const m = new Map<string, Table>();
  for (const def of deepFreeze(defs)) {
    const byValue = new Map<number, EnumValueDef>();
    const byName = new Map<string, number>();
    for (const v of def.values) {
      byValue.set(v.value, v);
      byName.set(v.name, v.value);
    }
    for (const [alias, value] of Object.entries(aliases[def.name] ?? {})) {
      if (!byName.has(alias)) byName.set(alias, value);
    }
    m.set(def.name, { def, byValue, byName });
  }
  return m;
}

const enumTables = buildTables(ENUM_DEFS, ENUM_VALUE_ALIASES);
const maskTables = buildTables(MASK_DEFS, MASK_BIT_ALIASES);

// The Tag enumeration as an EnumDef, derived from the tag table.
{
  const base = enumTables.get(TAG_ENUM);
  if (base) {
    const values: EnumValueDef[] = TAG_DEFS.map((t) => {
      const v: EnumValueDef = { name: t.name, specName: t.specName, value: t.tag, added: t.added };
      return t.removed ? { ...v, removed: t.removed } : v;
    });
    const def = deepFreeze<EnumDef>({ ...base.def, values });
    enumTables.set(TAG_ENUM, {
      def,
      byValue: new Map(values.map((v) => [v.value, v])),
      byName: new Map(values.map((v) => [v.name, v.value])),
    });
  }
}

const HEX = /^0x([0-9A-Fa-f]{1,8})$/;
const HEX_TAG = /^0x([0-9A-Fa-f]{1,6})$/;

function parseHex(s: string, re: RegExp): number | undefined {
  const m = re.exec(s);
  return m?.[1] === undefined ? undefined : parseInt(m[1], 16);
}

// ------------------------------------------------------------------------------------------ tags

/** The definition of a tag, or undefined (extension or unknown tag). */
export function tagDef(tag: number): TagDef | undefined {
  return tagByValue.get(tag);
}

/** The definition of a tag by normalized name. */
export function tagDefByName(name: string): TagDef | undefined {
  return tagByName.get(name);
}

/** Normalized name, or `0x` + 6 upper-case hex digits for a tag not in the registry. */
export function tagName(tag: number): string {
  return tagByValue.get(tag)?.name ?? '0x' + (tag >>> 0).toString(16).toUpperCase().padStart(6, '0');
}

/** Tag value for a normalized name or a `0x`-hex string (up to 6 digits); undefined otherwise. */
export function tagFromName(name: string): number | undefined {
  return tagByName.get(name)?.tag ?? parseHex(name, HEX_TAG);
}

/** All tag definitions, in tag order. */
export function tagDefs(): readonly TagDef[] {
  return TAG_DEFS;
}

// ------------------------------------------------------------------------------ enums and masks

export function enumDef(name: string): EnumDef | undefined {
  return enumTables.get(name)?.def;
}

export function maskDef(name: string): MaskDef | undefined {
  return maskTables.get(name)?.def;
}

/** Normalized name of an enumeration value; undefined for an unknown enumeration or value. */
export function enumValueName(enumName: string, value: number): string | undefined {
  return enumTables.get(enumName)?.byValue.get(value >>> 0)?.name;
}

/**
 * Value of an enumeration value given by normalized name (or an accepted alias), or by a `0x`-hex
 * string of up to 8 digits (any value, so vendor values 0x8XXXXXXX work). Undefined for an unknown
 * enumeration or name. For the Tag enumeration, hex is limited to 6 digits as for tags.
 */
export function enumValueFromName(enumName: string, name: string): number | undefined {
  const t = enumTables.get(enumName);
  if (!t) return undefined;
  return t.byName.get(name) ?? parseHex(name, enumName === TAG_ENUM ? HEX_TAG : HEX);
}

/**
 * Names of the set bits of a mask value, lowest bit first; [] for 0. Undefined for an unknown mask
 * or when any set bit has no name (callers then write the value as hex).
 */
export function maskToNames(maskName: string, value: number): string[] | undefined {
  const t = maskTables.get(maskName);
  if (!t) return undefined;
  const v = value >>> 0;
  const names: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    const b = (1 << bit) >>> 0;
    if ((v & b) === 0) continue;
    const def = t.byValue.get(b);
    if (!def) return undefined;
    names.push(def.name);
  }
  return names;
}

/**
 * The mask value with the named bits set (names or aliases; a `0x`-hex token adds its bits).
 * Undefined for an unknown mask or name.
 */
export function maskFromNames(maskName: string, names: readonly string[]): number | undefined {
  const t = maskTables.get(maskName);
  if (!t) return undefined;
  let v = 0;
  for (const n of names) {
    const bits = t.byName.get(n) ?? parseHex(n, HEX);
    if (bits === undefined) return undefined;
    v = (v | bits) >>> 0;
  }
  return v;
}

// ------------------------------------------------------------------------------------- versions

const parsedVersions = new Map<string, KmipVersion>();

/** "2.1" → {major: 2, minor: 1} (frozen, parsed once per string: `isAvailable` runs per item per request). */
export function parseSpecVersion(s: SpecVersion): KmipVersion {
  const known = parsedVersions.get(s);
  if (known) return known;
  const [major, minor] = s.split('.').map((p) => parseInt(p, 10));
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) {
    throw new RangeError(`bad spec version ${s}`);
  }
  const v = Object.freeze({ major, minor });
  parsedVersions.set(s, v);
  return v;
}

/** The SpecVersion naming a protocol version, or undefined when the registry has no such version. */
export function specVersionOf(v: KmipVersion): SpecVersion | undefined {
  const s = `${v.major}.${v.minor}`;
  return (SPEC_VERSIONS as readonly string[]).includes(s) ? (s as SpecVersion) : undefined;
}

/** Negative, zero or positive as a is before, equal to or after b ({major, minor} order). */
export function compareVersions(a: KmipVersion, b: KmipVersion): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

/** Whether a definition exists in protocol version v: added ≤ v < removed. */
export function isAvailable(def: { readonly added: SpecVersion; readonly removed?: SpecVersion }, v: KmipVersion): boolean {
  if (compareVersions(parseSpecVersion(def.added), v) > 0) return false;
  return def.removed === undefined || compareVersions(v, parseSpecVersion(def.removed)) < 0;
}
