/**
 * Helpers for the object-operation end-to-end tests (create, register, get, lifecycle-ops):
 * one request message per call over a real mTLS client, request payloads written from the spec
 * tables (KMIP 1.4 §4.x, 2.1 §6.1.x) independently of the server's code.
 */
import { expect } from 'vitest';
import { attributeV1, expectSuccess, findChild, parseResponse, requestMessage, type KmipClient, type KmipVersion, type ResponseItem } from '../../src/client/index.js';
import { BatchErrorContinuationOption, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';

export const V1_0: KmipVersion = { major: 1, minor: 0 };
export const V1_2: KmipVersion = { major: 1, minor: 2 };
export const V1_4: KmipVersion = { major: 1, minor: 4 };
export const V2_0: KmipVersion = { major: 2, minor: 0 };
export const V2_1: KmipVersion = { major: 2, minor: 1 };

export interface Item {
  readonly operation: number;
  readonly payload: readonly TtlvNode[];
}

/** Send one message with these batch items; return the response items. */
export async function batch(c: KmipClient, version: KmipVersion, items: readonly Item[], opts: { continueOnError?: boolean } = {}): Promise<readonly ResponseItem[]> {
  const res = parseResponse(
    await c.send(
      requestMessage({
        version,
        batch: items.map((i) => ({ operation: i.operation, payload: i.payload })),
        ...(opts.continueOnError && { batchErrorContinuationOption: BatchErrorContinuationOption.Continue }),
      }),
    ),
  );
  expect(res.header.version).toEqual(version);
  return res.items;
}

export async function ok(c: KmipClient, version: KmipVersion, operation: number, payload: readonly TtlvNode[]): Promise<StructureNode> {
  const [item] = await batch(c, version, [{ operation, payload }]);
  return expectSuccess(item!);
}

/** The failed item's reason and message (the test fails if the item succeeded). */
export async function fails(c: KmipClient, version: KmipVersion, operation: number, payload: readonly TtlvNode[]): Promise<{ reason: number | undefined; message: string | undefined }> {
  const [item] = await batch(c, version, [{ operation, payload }]);
  expect(item!.status, `expected failure, got ${JSON.stringify(item!.message)}`).toBe(ResultStatus.OperationFailed);
  return { reason: item!.reason, message: item!.message };
}

export const uidNode = (uid: string): TtlvNode => t.text(Tag.UniqueIdentifier, uid);

/** Attributes for Create/Register in the version's form (2.x nodes given). */
export function attrs(version: KmipVersion, list: readonly TtlvNode[]): TtlvNode {
  return version.major >= 2
    ? t.struct(Tag.Attributes, [...list])
    : t.struct(
        Tag.TemplateAttribute,
        list.map((a) => attributeV1(a)),
      );
}

export function textOf(node: TtlvNode | undefined): string {
  if (node?.type !== 'TextString') throw new Error('not a text string');
  return node.value;
}

export function uidOf(p: StructureNode): string {
  return textOf(findChild(p, Tag.UniqueIdentifier));
}

/** Every byte-string value in a tree (to find key bytes in responses). */
export function byteStrings(n: TtlvNode): Uint8Array[] {
  if (n.type === 'ByteString') return [n.value];
  if (n.type === 'Structure') return n.value.flatMap(byteStrings);
  return [];
}

/** Does `hay` contain `needle` as a contiguous run? */
export function containsBytes(hay: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  const first = needle[0]!;
  for (let i = hay.indexOf(first); i >= 0 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return true;
  }
  return false;
}

/** The Links of object `uid` as [Link Type, Linked Object Identifier] pairs, from a Get Attributes (1.x or 2.x form). */
export async function linksOf(c: KmipClient, v: KmipVersion, uid: string): Promise<Array<[number, string]>> {
  const p = await ok(c, v, Operation.GetAttributes, [uidNode(uid)]);
  const out: Array<[number, string]> = [];
  const visit = (n: TtlvNode): void => {
    if (n.type !== 'Structure') return;
    if (n.tag === Tag.Link || (n.tag === Tag.AttributeValue && findChild(n, Tag.LinkType))) {
      out.push([(findChild(n, Tag.LinkType) as { value: number }).value, (findChild(n, Tag.LinkedObjectIdentifier) as { value: string }).value]);
      return;
    }
    n.value.forEach(visit);
  };
  visit(p);
  return out;
}
