/**
 * Adjust Attribute (KMIP 2.x only). KMIP 2.1 §6.1.3 (Tables 170-171).
 *
 * Increment, Decrement or Negate the one value of a numeric attribute: Integer, Long Integer,
 * Big Integer, Date-Time, Interval (and Negate on a Boolean). "If the object did not have value
 * for the attribute, the previous value is assumed to be a 0 for numeric types and intervals, or
 * false for Boolean, otherwise an error is raised. If the object had exactly one instance, then
 * it is modified. If it has more than one instance an error is raised."
 * Choices where the text is silent:
 * - Adjustment Value absent: Increment/Decrement by 1.
 * - Adjustment Value: any integral item type (Integer, Long Integer, Big Integer, Interval), its
 *   numeric value is used; for a Date-Time attribute it is a number of seconds.
 * - An absent vendor attribute takes the Adjustment Value's item type; with no Adjustment Value
 *   its type is unknown: Item Not Found.
 * - Negate of a Date-Time or an Interval (unsigned, a point in time) is Invalid Data Type;
 *   Increment/Decrement of a Boolean likewise.
 * - A result outside the item type's range (Integer 32-bit signed, Long Integer and Date-Time
 *   64-bit signed, Interval 32-bit unsigned, Big Integer at most 1024 bytes) is Numeric Range.
 * Read-only attributes are refused (Read Only Attribute); the state rules are Modify Attribute's.
 * Activation/Deactivation Date go through the life cycle. Response: the Unique Identifier.
 *
 * Result Reasons (§6.1.3.1): Item Not Found (no such object / not the requester's; an absent
 * vendor attribute without a type), Object Archived, Invalid Data Type, Multi Valued Attribute, Numeric Range, Read Only
 * Attribute, Invalid Attribute, Unknown Tag, Wrong Key Lifecycle State, Invalid Field.
 */
import { KmipError } from '../../kmip/errors.js';
import { AdjustmentType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import { tagDefByName } from '../../kmip/registry.js';
import { checkClientMayInitiallySet, checkClientMayModify, readAttributeReference2x } from '../../objects/attributes.js';
import { parseCustomKey } from '../../objects/managed-object.js';
import { bigIntFromBytes, bigIntToBytes, type TtlvNode } from '../../ttlv/node.js';
import { commitAttribute, loadFor, remapReason, uidNode } from './attribute-change.js';
import type { OperationHandler } from '../context.js';

const NUMERIC = ['Integer', 'LongInteger', 'BigInteger', 'Interval'] as const;
const Request = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  reference: required(Tag.AttributeReference, 'Enumeration', 'Structure'),
  adjustmentType: required(Tag.AdjustmentType, 'Enumeration'),
  adjustmentValue: optional(Tag.AdjustmentValue, ...NUMERIC, 'DateTime', 'Boolean', 'TextString', 'ByteString', 'Enumeration'),
};

type Adjustable = 'Integer' | 'LongInteger' | 'BigInteger' | 'DateTime' | 'Interval' | 'Boolean';
const ADJUSTABLE: ReadonlySet<string> = new Set<Adjustable>(['Integer', 'LongInteger', 'BigInteger', 'DateTime', 'Interval', 'Boolean']);

const RANGE: Readonly<Record<Exclude<Adjustable, 'Boolean' | 'BigInteger'>, readonly [bigint, bigint]>> = {
  Integer: [-(2n ** 31n), 2n ** 31n - 1n],
  LongInteger: [-(2n ** 63n), 2n ** 63n - 1n],
  DateTime: [-(2n ** 63n), 2n ** 63n - 1n],
  Interval: [0n, 2n ** 32n - 1n],
};
const MAX_BIGINTEGER_BYTES = 1024;

function fail(reason: (typeof ResultReason)[keyof typeof ResultReason], message: string): never {
  throw new KmipError(reason, message);
}

function numeric(node: TtlvNode): bigint {
  switch (node.type) {
    case 'Integer':
    case 'Interval':
      return BigInt(node.value);
    case 'LongInteger':
    case 'DateTime':
      return node.value;
    case 'BigInteger':
      return bigIntFromBytes(node.value);
    default:
      return fail(ResultReason.InvalidDataType, `${node.type} is not a numeric value`);
  }
}

function make(tag: number, type: Adjustable, v: bigint): TtlvNode {
  if (type === 'BigInteger') {
    const bytes = bigIntToBytes(v);
    if (bytes.length > MAX_BIGINTEGER_BYTES) fail(ResultReason.NumericRange, 'the result is too large');
    return { tag, type, value: bytes };
  }
  if (type === 'Boolean') throw new RangeError('unreachable');
  const [lo, hi] = RANGE[type];
  if (v < lo || v > hi) fail(ResultReason.NumericRange, `the result ${v} is outside the range of ${type}`);
  switch (type) {
    case 'Integer':
    case 'Interval':
      return { tag, type, value: Number(v) };
    case 'LongInteger':
    case 'DateTime':
      return { tag, type, value: v };
  }
}

export const adjustAttribute: OperationHandler = {
  operation: Operation.AdjustAttribute,
  name: 'AdjustAttribute',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Adjust Attribute request payload' });
    const key = readAttributeReference2x(req.reference, ctx.version);
    const how = req.adjustmentType.value;
    if (how !== AdjustmentType.Increment && how !== AdjustmentType.Decrement && how !== AdjustmentType.Negate) {
      fail(ResultReason.InvalidField, `unknown Adjustment Type ${how}`);
    }
    const loaded = await loadFor(ctx, req.uid, 'AdjustAttribute');
    const { record, state } = loaded;
    const list = record.attributes.get(key) ?? [];
    if (list.length > 1) fail(ResultReason.MultiValuedAttribute, `${key} has ${list.length} instances`);
    if (list.length === 0) checkClientMayInitiallySet(key, record.objectType, ctx.version, 'set');
    else remapReason(() => checkClientMayModify(key, record.objectType, state, ctx.version), ResultReason.AttributeReadOnly, ResultReason.ReadOnlyAttribute);

    const custom = parseCustomKey(key) !== undefined;
    const tag = custom ? Tag.AttributeValue : (tagDefByName(key)?.tag ?? fail(ResultReason.InvalidAttribute, `${key} is not an attribute`));
    let type: string;
    const existing = list[0];
    if (existing) type = existing.type;
    else if (custom) type = req.adjustmentValue?.type ?? fail(ResultReason.ItemNotFound, `the object has no ${key}, and no Adjustment Value gives its type`);
    else type = tagDefByName(key)?.types.find((t) => ADJUSTABLE.has(t)) ?? tagDefByName(key)?.types[0] ?? 'Structure';
    if (!ADJUSTABLE.has(type)) fail(ResultReason.InvalidDataType, `${key} is a ${type}: it cannot be adjusted`);
    const t = type as Adjustable;

    let result: TtlvNode;
    if (t === 'Boolean') {
      if (how !== AdjustmentType.Negate) fail(ResultReason.InvalidDataType, 'a Boolean can only be negated');
      result = { tag, type: 'Boolean', value: !(existing?.type === 'Boolean' && existing.value) };
    } else {
      const prev = existing ? numeric(existing) : 0n;
      if (how === AdjustmentType.Negate) {
        if (t === 'DateTime' || t === 'Interval') fail(ResultReason.InvalidDataType, `a ${t} cannot be negated`);
        result = make(tag, t, -prev);
      } else {
        const by = req.adjustmentValue ? numeric(req.adjustmentValue) : 1n;
        result = make(tag, t, how === AdjustmentType.Increment ? prev + by : prev - by);
      }
    }
    await commitAttribute(ctx, loaded, key, [result]);
    return payload(Tag.ResponsePayload, [uidNode(record.uid)]);
  },
};
