/**
 * Payload schemas: explicit descriptors, no reflection. A schema names each field's tag,
 * accepted item type(s) and cardinality; `readPayload` checks them and refuses any tag the
 * schema does not list, with Invalid Field. Field order is not enforced (clients differ).
 */
import type { ItemTypeName } from '../ttlv/item-type.js';
import type { NodeOf, StructureNode, TtlvNode } from '../ttlv/node.js';
import { KmipError } from './errors.js';
import { ResultReason } from './generated/enums.gen.js';
import { tagName } from './registry.js';

export type Cardinality = 'required' | 'optional' | 'repeated';

export interface FieldSpec<T extends ItemTypeName = ItemTypeName, C extends Cardinality = Cardinality> {
  readonly tag: number;
  readonly types: readonly T[];
  readonly card: C;
}

export const required = <T extends ItemTypeName>(tag: number, ...types: T[]): FieldSpec<T, 'required'> => ({ tag, types, card: 'required' });
export const optional = <T extends ItemTypeName>(tag: number, ...types: T[]): FieldSpec<T, 'optional'> => ({ tag, types, card: 'optional' });
export const repeated = <T extends ItemTypeName>(tag: number, ...types: T[]): FieldSpec<T, 'repeated'> => ({ tag, types, card: 'repeated' });

export type Schema = Readonly<Record<string, FieldSpec>>;

type FieldValue<F> = F extends FieldSpec<infer T, infer C> ? (C extends 'required' ? NodeOf<T> : C extends 'optional' ? NodeOf<T> | undefined : NodeOf<T>[]) : never;

export type Parsed<S extends Schema> = { -readonly [K in keyof S]: FieldValue<S[K]> };

export interface ReadOptions {
  /** Name used in error messages, e.g. "Get request payload". */
  readonly what: string;
  /** Tags accepted and ignored (e.g. fields a later version added that this server does not act on). */
  readonly ignore?: readonly number[];
}

interface SchemaIndex {
  readonly byTag: ReadonlyMap<number, readonly [string, FieldSpec]>;
  readonly fields: readonly (readonly [string, FieldSpec])[];
  /** Every field undefined, in schema order: each result starts as a copy (one object shape per schema). */
  readonly empty: Readonly<Record<string, undefined>>;
  readonly repeatedKeys: readonly string[];
  readonly required: readonly (readonly [string, FieldSpec])[];
}

// Schemas are module constants: index each once, not on every request.
const indexes = new WeakMap<Schema, SchemaIndex>();

function indexOf(schema: Schema): SchemaIndex {
  let ix = indexes.get(schema);
  if (!ix) {
    const fields = Object.entries(schema);
    const empty: Record<string, undefined> = {};
    for (const [key] of fields) empty[key] = undefined;
    ix = {
      byTag: new Map(fields.map(([key, spec]) => [spec.tag, [key, spec] as const])),
      fields,
      empty,
      repeatedKeys: fields.filter(([, spec]) => spec.card === 'repeated').map(([key]) => key),
      required: fields.filter(([, spec]) => spec.card === 'required'),
    };
    indexes.set(schema, ix);
  }
  return ix;
}

/** Check `node` (a payload structure, or undefined for an absent payload) against `schema`. */
export function readPayload<S extends Schema>(node: TtlvNode | undefined, schema: S, opts: ReadOptions): Parsed<S> {
  if (node !== undefined && node.type !== 'Structure') {
    throw new KmipError(ResultReason.InvalidField, `${opts.what} is not a structure`);
  }
  const { byTag, empty, repeatedKeys, required } = indexOf(schema);
  const out: Record<string, TtlvNode | TtlvNode[] | undefined> = { ...empty };
  for (const key of repeatedKeys) out[key] = [];
  for (const child of node?.value ?? []) {
    const entry = byTag.get(child.tag);
    if (!entry) {
      if (opts.ignore?.includes(child.tag)) continue;
      throw new KmipError(ResultReason.InvalidField, `${opts.what}: unexpected ${tagName(child.tag)}`);
    }
    const [key, spec] = entry;
    if (!(spec.types as readonly string[]).includes(child.type)) {
      throw new KmipError(ResultReason.InvalidField, `${opts.what}: ${tagName(child.tag)} must be ${spec.types.join(' or ')}, not ${child.type}`);
    }
    if (spec.card === 'repeated') (out[key] as TtlvNode[]).push(child);
    else if (out[key] !== undefined) throw new KmipError(ResultReason.InvalidField, `${opts.what}: ${tagName(child.tag)} given more than once`);
    else out[key] = child;
  }
  for (const [key, spec] of required) {
    if (out[key] === undefined) {
      throw new KmipError(ResultReason.InvalidField, `${opts.what}: ${tagName(spec.tag)} is required`);
    }
  }
  return out as Parsed<S>;
}

/** A response payload from its children (undefined entries dropped). */
export function payload(tag: number, children: readonly (TtlvNode | undefined)[]): StructureNode {
  return { tag, type: 'Structure', value: children.filter((c): c is TtlvNode => c !== undefined) };
}
