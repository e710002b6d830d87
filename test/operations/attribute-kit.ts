/**
 * Shared by the attribute-operation and Locate tests: seeding records straight into a real
 * server's store, sending one-operation requests over mTLS, reading results.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import { findChildren, parseResponse, requestMessage, type ResponseItem } from '../../src/client/requests.js';
import { ObjectType, ResultStatus, State } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import type { KmipVersion } from '../../src/kmip/spec-types.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/node.js';
import type { TestKms } from '../support/kms.js';

export const V10: KmipVersion = { major: 1, minor: 0 };
export const V12: KmipVersion = { major: 1, minor: 2 };
export const V14: KmipVersion = { major: 1, minor: 4 };
export const V20: KmipVersion = { major: 2, minor: 0 };
export const V21: KmipVersion = { major: 2, minor: 1 };

export interface Seed {
  uid?: string;
  owner?: string;
  objectType?: number;
  state?: number;
  attributes?: ReadonlyArray<readonly [string, readonly TtlvNode[]]>;
}

/** Put a record straight into the server's store; returns its uid. */
export async function seed(srv: TestKms, s: Seed = {}): Promise<string> {
  const uid = s.uid ?? randomUUID();
  const record: ObjectRecord = {
    v: 1,
    uid,
    objectType: s.objectType ?? ObjectType.SymmetricKey,
    owner: s.owner ?? 'kms-client',
    state: s.state ?? State.PreActive,
    attributes: new Map(s.attributes ?? []),
    revision: 0,
  };
  await srv.kms.services.store.commit([{ type: 'put', record, expectedRevision: 0 }]);
  return uid;
}

export async function stored(srv: TestKms, uid: string): Promise<ObjectRecord> {
  const r = await srv.kms.services.store.get(uid);
  if (!r) throw new Error(`no record ${uid}`);
  return r;
}

/** Send a batch of (operation, payload children) and return the response items. */
export async function batch(client: KmipClient, version: KmipVersion, items: ReadonlyArray<readonly [number, readonly TtlvNode[]]>): Promise<readonly ResponseItem[]> {
  const msg = requestMessage({
    version,
    batch: items.map(([operation, payload]) => ({ operation, payload: t.struct(Tag.RequestPayload, [...payload]) })),
  });
  return parseResponse(await client.send(msg)).items;
}

export async function call(client: KmipClient, version: KmipVersion, operation: number, payload: readonly TtlvNode[]): Promise<ResponseItem> {
  const [item] = await batch(client, version, [[operation, payload]]);
  if (!item) throw new Error('no response item');
  return item;
}

export function ok(item: ResponseItem): StructureNode {
  expect(item.status, `expected success, got reason ${item.reason}: ${item.message}`).toBe(ResultStatus.Success);
  return item.payload ?? t.struct(Tag.ResponsePayload, []);
}

export function failed(item: ResponseItem, reason: number): void {
  expect(item.status, `expected failure ${reason}`).toBe(ResultStatus.OperationFailed);
  expect(item.reason, item.message).toBe(reason);
}

export const uidText = (uid: string): TtlvNode => t.text(Tag.UniqueIdentifier, uid);

/** 1.x Attribute { Name, Index?, Value } with a value node of any tag. */
export function attr1(name: string, value: TtlvNode, index?: number): TtlvNode {
  return t.struct(Tag.Attribute, [t.text(Tag.AttributeName, name), ...(index !== undefined ? [t.int(Tag.AttributeIndex, index)] : []), { ...value, tag: Tag.AttributeValue } as TtlvNode]);
}

/** 2.x vendor Attribute { Vendor Identification, Attribute Name, Attribute Value }. */
export function vendorAttr(vendor: string, name: string, value: TtlvNode): TtlvNode {
  return t.struct(Tag.Attribute, [t.text(Tag.VendorIdentification, vendor), t.text(Tag.AttributeName, name), { ...value, tag: Tag.AttributeValue } as TtlvNode]);
}

export function vendorRef(vendor: string, name: string): TtlvNode {
  return t.struct(Tag.AttributeReference, [t.text(Tag.VendorIdentification, vendor), t.text(Tag.AttributeName, name)]);
}

export const tagRef = (tag: number): TtlvNode => t.enum(Tag.AttributeReference, tag);
export const wrap = (tag: number, n: TtlvNode): TtlvNode => t.struct(tag, [n]);

/** 1.x Get Attributes response → [name, index, value node] triples. */
export function attributes1x(p: StructureNode): Array<{ name: string; index: number; value: TtlvNode }> {
  return findChildren(p, Tag.Attribute).map((a) => {
    const s = a as StructureNode;
    const name = s.value.find((c) => c.tag === Tag.AttributeName);
    const idx = s.value.find((c) => c.tag === Tag.AttributeIndex);
    const value = s.value.find((c) => c.tag === Tag.AttributeValue);
    if (name?.type !== 'TextString' || !value) throw new Error('bad Attribute');
    return { name: name.value, index: idx?.type === 'Integer' ? idx.value : 0, value };
  });
}

/** 2.x Get Attributes response → the children of its Attributes structure. */
export function attributes2x(p: StructureNode): readonly TtlvNode[] {
  const a = p.value.find((c) => c.tag === Tag.Attributes);
  if (a?.type !== 'Structure') throw new Error('no Attributes structure');
  return a.value;
}

export const date = (tag: number, seconds: number | bigint): TtlvNode => t.date(tag, BigInt(seconds));
