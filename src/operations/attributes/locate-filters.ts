/**
 * Locate's matching rules (KMIP 1.4 §4.9, KMIP 2.1 §6.1.28), in two halves:
 * - `indexQueries`: for one requested attribute, the store index queries whose results must
 *   contain every match (a superset: narrow, never wrong);
 * - `matches`: the exact test of one candidate's attribute instances.
 *
 * Rules, per requested attribute (all requested attributes must match: "Returned objects SHALL
 * match all of the attributes in the request"):
 * - Date-Time values: one instance = the object has that date; two instances = a range,
 *   inclusive ("inside or at a limit of the range"); more is Invalid Field. "If a Date attribute
 *   is set to its largest possible value, then it is equivalent to an undefined attribute": a
 *   single maximum value places no condition, a maximum upper bound leaves the range open.
 * - Cryptographic Usage Mask: the object's mask holds every bit of the requested one
 *   ((object AND request) = request).
 * - Usage Limits: the object's Usage Limits Count and Total are at least the requested ones
 *   (and the Unit, if given, is the same).
 * - Structures (Name, Link, Application Specific Information, Alternative Name, …): "all of the
 *   structure fields are not REQUIRED to be specified": every field the request gives must be in
 *   the object's instance (recursively); fields it omits match anything.
 * - Everything else, custom attributes included: the object has an instance of the same item
 *   type and value. Several instances of one non-date attribute must all be present (two Object
 *   Groups = both groups).
 * - State is the state the object has now (date attributes applied), Object Type and Unique
 *   Identifier the record's.
 * Text is compared exactly: wild-cards and regular expressions (a MAY) are not supported.
 */
import { KmipError } from '../../kmip/errors.js';
import { ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { storedStatesThatCanBe } from '../../objects/lifecycle.js';
import { DERIVED_KEYS } from '../../objects/server-set.js';
import { parseCustomKey, type AttributeKey } from '../../objects/managed-object.js';
import { applicationField, indexEnum, indexValue, linkField, RecordField } from '../../store/index-encoding.js';
import type { IndexQuery } from '../../store/object-store.js';
import { bigIntFromBytes, type TtlvNode } from '../../ttlv/node.js';

/** The largest Date-Time value: "equivalent to an undefined attribute". */
export const MAX_DATE = 2n ** 63n - 1n;

/** One requested attribute: its key and the instances the request gave, in order. */
export interface LocateFilter {
  readonly key: AttributeKey;
  readonly nodes: readonly TtlvNode[];
}

/**
 * Index queries for one filter. Each inner list is a union (any of them); the outer list an
 * intersection. An empty outer list means "no narrowing from this filter"; `null` means no
 * object can match.
 */
export type QueryPlan = ReadonlyArray<readonly IndexQuery[]> | null;

function child(n: TtlvNode, tag: number): TtlvNode | undefined {
  return n.type === 'Structure' ? n.value.find((c) => c.tag === tag) : undefined;
}

function isDate(n: TtlvNode): n is Extract<TtlvNode, { type: 'DateTime' }> {
  return n.type === 'DateTime';
}

/** The date range a filter asks for, or undefined when it places no condition. */
function dateRange(f: LocateFilter): { lo: bigint; hi: bigint | undefined } | undefined {
  const dates = f.nodes.filter(isDate).map((n) => n.value);
  if (dates.length > 2) throw new KmipError(ResultReason.InvalidField, `${f.key}: at most two instances (a range) may be given`);
  if (dates.length === 1) {
    const d = dates[0] as bigint;
    return d === MAX_DATE ? undefined : { lo: d, hi: d };
  }
  const [a, b] = dates as [bigint, bigint];
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  return { lo, hi: hi === MAX_DATE ? undefined : hi };
}

/** Does this filter compare dates (all of its instances are Date-Time)? */
export function isDateFilter(f: LocateFilter): boolean {
  return f.nodes.length > 0 && f.nodes.every(isDate);
}

export function indexQueries(f: LocateFilter): QueryPlan {
  const { key, nodes } = f;
  const custom = parseCustomKey(key) !== undefined;
  if (!custom && isDateFilter(f)) {
    const r = dateRange(f);
    if (!r) return [];
    const from = indexValue({ tag: 0, type: 'DateTime', value: r.lo });
    return [[r.hi === undefined ? { field: key, from } : { field: key, from, to: indexValue({ tag: 0, type: 'DateTime', value: r.hi }) }]];
  }
  if (key === 'UniqueIdentifier') return []; // answered directly by locate.ts
  if (DERIVED_KEYS.has(key)) return []; // may be derived, not stored (objects/server-set.ts): verified per candidate
  const plan: IndexQuery[][] = [];
  for (const n of nodes) {
    if (key === 'ObjectType' && n.type === 'Enumeration') plan.push([{ field: RecordField.ObjectType, equals: indexEnum(n.value) }]);
    else if (key === 'State' && n.type === 'Enumeration') {
      let stored: number[];
      try {
        stored = storedStatesThatCanBe(n.value);
      } catch {
        return null; // not a State value: nothing has it
      }
      plan.push(stored.map((s) => ({ field: RecordField.State, equals: indexEnum(s) })));
    } else if (custom) plan.push([{ field: key, equals: indexValue(n) }]);
    else if (key === 'CryptographicUsageMask' || key === 'UsageLimits') plan.push([{ field: key, exists: true }]);
    else if (n.type !== 'Structure') plan.push([{ field: key, equals: indexValue(n) }]);
    else if (key === 'Name' || key === 'AlternativeName') {
      const v = child(n, key === 'Name' ? Tag.NameValue : Tag.AlternativeNameValue);
      plan.push([v ? { field: key, equals: indexValue(v) } : { field: key, exists: true }]);
    } else if (key === 'Link') {
      const lt = child(n, Tag.LinkType);
      const id = child(n, Tag.LinkedObjectIdentifier);
      if (lt?.type === 'Enumeration') plan.push([id ? { field: linkField(lt.value), equals: indexValue(id) } : { field: linkField(lt.value), exists: true }]);
      else plan.push([{ field: key, exists: true }]);
    } else if (key === 'ApplicationSpecificInformation') {
      const ns = child(n, Tag.ApplicationNamespace);
      const data = child(n, Tag.ApplicationData);
      if (ns?.type === 'TextString') plan.push([data ? { field: applicationField(ns.value), equals: indexValue(data) } : { field: applicationField(ns.value), exists: true }]);
      else plan.push([{ field: key, exists: true }]);
    } else plan.push([{ field: key, exists: true }]);
  }
  return plan;
}

function sameScalar(a: TtlvNode, b: TtlvNode): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'Structure') return false;
  const x = a.value;
  const y = b.value;
  if (x instanceof Uint8Array && y instanceof Uint8Array) return Buffer.compare(x, y) === 0;
  return x === y;
}

/** Every field of `want` is in `have` (structures recursively; repeated fields each matched). */
function structMatch(want: TtlvNode, have: TtlvNode): boolean {
  if (want.type !== 'Structure') return sameScalar(want, have);
  if (have.type !== 'Structure') return false;
  return want.value.every((w) => have.value.some((h) => h.tag === w.tag && structMatch(w, h)));
}

function usageLimitsMatch(want: TtlvNode, have: TtlvNode): boolean {
  const num = (n: TtlvNode | undefined): bigint | undefined =>
    n?.type === 'LongInteger' ? n.value : n?.type === 'Integer' ? BigInt(n.value) : n?.type === 'BigInteger' ? bigIntFromBytes(n.value) : undefined;
  for (const tag of [Tag.UsageLimitsTotal, Tag.UsageLimitsCount]) {
    const w = num(child(want, tag));
    if (w === undefined) continue;
    const h = num(child(have, tag));
    if (h === undefined || h < w) return false;
  }
  const wu = child(want, Tag.UsageLimitsUnit);
  const hu = child(have, Tag.UsageLimitsUnit);
  return wu === undefined || (hu !== undefined && sameScalar(wu, hu));
}

/** Do the object's instances of `f.key` satisfy the filter? */
export function matches(f: LocateFilter, have: readonly TtlvNode[]): boolean {
  const custom = parseCustomKey(f.key) !== undefined;
  if (!custom && isDateFilter(f)) {
    const r = dateRange(f);
    if (!r) return true;
    return have.some((h) => h.type === 'DateTime' && h.value >= r.lo && (r.hi === undefined || h.value <= r.hi));
  }
  return f.nodes.every((w) => {
    if (f.key === 'CryptographicUsageMask' && w.type === 'Integer') {
      return have.some((h) => h.type === 'Integer' && (h.value & w.value) >>> 0 === w.value >>> 0);
    }
    if (f.key === 'UsageLimits' && w.type === 'Structure') return have.some((h) => usageLimitsMatch(w, h));
    return have.some((h) => structMatch(w, h));
  });
}
