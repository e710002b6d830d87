/** Record builders for the store tests. */
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { ObjectType, State } from '../../src/kmip/generated/enums.gen.js';
import type { AttributeKey, ObjectRecord } from '../../src/objects/managed-object.js';

export interface RecordSpec {
  owner?: string;
  state?: number;
  objectType?: number;
  attributes?: Record<AttributeKey, TtlvNode[]> | Map<AttributeKey, TtlvNode[]>;
  sealedBody?: Uint8Array;
  kekId?: string;
}

export function rec(uid: string, spec: RecordSpec = {}): ObjectRecord {
  const attrs = spec.attributes instanceof Map ? spec.attributes : new Map(Object.entries(spec.attributes ?? {}));
  const r: ObjectRecord = {
    v: 1,
    uid,
    objectType: spec.objectType ?? ObjectType.SymmetricKey,
    owner: spec.owner ?? 'alice',
    state: spec.state ?? State.PreActive,
    attributes: attrs,
    revision: 0,
    ...(spec.sealedBody ? { sealedBody: spec.sealedBody } : {}),
    ...(spec.kekId !== undefined ? { kekId: spec.kekId } : {}),
  };
  return r;
}

export const name = (text: string): TtlvNode => t.struct(Tag.Name, [t.text(Tag.NameValue, text), t.enum(Tag.NameType, 1)]);

export const link = (linkType: number, target: string): TtlvNode => t.struct(Tag.Link, [t.enum(Tag.LinkType, linkType), t.text(Tag.LinkedObjectIdentifier, target)]);

export const appInfo = (ns: string, data: string): TtlvNode => t.struct(Tag.ApplicationSpecificInformation, [t.text(Tag.ApplicationNamespace, ns), t.text(Tag.ApplicationData, data)]);

export const altName = (text: string): TtlvNode => t.struct(Tag.AlternativeName, [t.text(Tag.AlternativeNameValue, text), t.enum(Tag.AlternativeNameType, 1)]);

export const activation = (seconds: bigint): TtlvNode => t.date(Tag.ActivationDate, seconds);

/** A custom attribute value node (tagged Attribute Value). */
export const cv = {
  int: (v: number) => t.int(Tag.AttributeValue, v),
  long: (v: bigint) => t.long(Tag.AttributeValue, v),
  text: (v: string) => t.text(Tag.AttributeValue, v),
  bytes: (v: number[]) => t.bytes(Tag.AttributeValue, Buffer.from(v)),
  bool: (v: boolean) => t.bool(Tag.AttributeValue, v),
  enum: (v: number) => t.enum(Tag.AttributeValue, v),
  interval: (v: number) => t.interval(Tag.AttributeValue, v),
  date: (v: bigint) => t.date(Tag.AttributeValue, v),
};
