/**
 * End-to-end test helpers over our KmipClient: one connection at one protocol version, the
 * request payloads src/client does not build yet (Revoke, Get Attributes, Get Attribute List,
 * Add/Set/Modify/Delete Attribute, Check), and a version-neutral reading of Get Attributes.
 *
 * Payloads are written from the spec tables, independently of the server's own code:
 * KMIP 1.4 §4.14-4.17, §4.20, §4.24 (1.x), KMIP 2.0 §6.1.2, §6.1.13, §6.1.23-24, §6.1.31,
 * §6.1.44, §6.1.51 (2.x). 1.x attributes are `Attribute {Attribute Name, [Attribute Index],
 * Attribute Value}`; 2.x attributes are nodes tagged with the attribute's own tag, custom ones
 * an Attribute {Vendor Identification, Attribute Name, Attribute Value} (2.0 §2.1.1).
 */
import {
  attributeName,
  attributeV1,
  expectSuccess,
  findChild,
  findChildren,
  parseResponse,
  requestMessage,
  versionAtLeast,
  type KmipClient,
  type KmipVersion,
  type ResponseItem,
} from '../../src/client/index.js';
import { ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { tagDefByName, tagDef, tagDefs } from '../../src/kmip/registry.js';
import { encode, t, toHex, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';

export const V1_2: KmipVersion = { major: 1, minor: 2 };
export const V1_4: KmipVersion = { major: 1, minor: 4 };
export const V2_0: KmipVersion = { major: 2, minor: 0 };
export const V2_1: KmipVersion = { major: 2, minor: 1 };

export function versionLabel(v: KmipVersion): string {
  return `${v.major}.${v.minor}`;
}

/** A custom attribute: 1.x name "x-<name>", 2.x Attribute {Vendor Identification, Attribute Name, Attribute Value}. */
export interface CustomAttribute {
  readonly custom: { readonly vendor: string; readonly name: string; readonly value: TtlvNode };
}

/** A standard attribute (2.x shape node) or a custom one. */
export type AnyAttribute = TtlvNode | CustomAttribute;

function isCustom(a: AnyAttribute): a is CustomAttribute {
  return (a as CustomAttribute).custom !== undefined;
}

export function custom(vendor: string, name: string, value: TtlvNode): CustomAttribute {
  return { custom: { vendor, name, value: { ...value, tag: Tag.AttributeValue } as TtlvNode } };
}

/** The attribute as a 1.x Attribute structure. */
export function attribute1x(a: AnyAttribute, index?: number): StructureNode {
  if (!isCustom(a)) return attributeV1(a, index);
  return t.struct(Tag.Attribute, [t.text(Tag.AttributeName, `${a.custom.vendor}-${a.custom.name}`), ...(index !== undefined ? [t.int(Tag.AttributeIndex, index)] : []), a.custom.value]);
}

/** The attribute as a 2.x node. */
export function attribute2x(a: AnyAttribute): TtlvNode {
  if (!isCustom(a)) return a;
  return t.struct(Tag.Attribute, [t.text(Tag.VendorIdentification, a.custom.vendor), t.text(Tag.AttributeName, a.custom.name), a.custom.value]);
}

/** Attributes for Create/Register: Template-Attribute (1.x) or Attributes (2.x). */
export function attributesFor(v: KmipVersion, attrs: readonly AnyAttribute[]): StructureNode {
  return versionAtLeast(v, 2, 0)
    ? t.struct(Tag.Attributes, attrs.map(attribute2x))
    : t.struct(
        Tag.TemplateAttribute,
        attrs.map((a) => attribute1x(a)),
      );
}

function payload(children: readonly (TtlvNode | undefined | false)[]): StructureNode {
  return t.struct(
    Tag.RequestPayload,
    children.filter((c): c is TtlvNode => c !== undefined && c !== false),
  );
}

const uidNode = (uid: string | undefined) => uid !== undefined && t.text(Tag.UniqueIdentifier, uid);

/** Create (1.4 §4.1 / 2.0 §6.1.7) with any attributes, custom ones included. */
export function createWith(v: KmipVersion, objectType: number, attrs: readonly AnyAttribute[]): StructureNode {
  return payload([t.enum(Tag.ObjectType, objectType), attributesFor(v, attrs)]);
}

/** Register (1.4 §4.3 / 2.0 §6.1.40) with any attributes. */
export function registerWith(v: KmipVersion, objectType: number, object: StructureNode, attrs: readonly AnyAttribute[]): StructureNode {
  return payload([t.enum(Tag.ObjectType, objectType), attributesFor(v, attrs), object]);
}

/** Revoke (1.4 §4.20 / 2.0 §6.1.44). */
export function revokePayload(uid: string | undefined, reasonCode: number, opts: { message?: string; compromiseOccurrenceDate?: bigint } = {}): StructureNode {
  return payload([
    uidNode(uid),
    t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, reasonCode), ...(opts.message !== undefined ? [t.text(Tag.RevocationMessage, opts.message)] : [])]),
    opts.compromiseOccurrenceDate !== undefined && t.date(Tag.CompromiseOccurrenceDate, opts.compromiseOccurrenceDate),
  ]);
}

/** A normalized attribute name ("CryptographicAlgorithm") → its tag. */
export function attributeTag(name: string): number {
  const def = tagDefByName(name);
  if (!def) throw new RangeError(`unknown attribute ${name}`);
  return def.tag;
}

/**
 * Get Attributes (1.4 §4.12 / 2.0 §6.1.23). `names` are normalized names
 * ("CryptographicAlgorithm"); 1.x sends the spec names, 2.x Attribute References.
 */
export function getAttributesPayload(v: KmipVersion, uid: string | undefined, names?: readonly string[]): StructureNode {
  const refs = (names ?? []).map((n) => (versionAtLeast(v, 2, 0) ? t.enum(Tag.AttributeReference, attributeTag(n)) : t.text(Tag.AttributeName, attributeName(attributeTag(n)))));
  return payload([uidNode(uid), ...refs]);
}

/** Get Attribute List (1.4 §4.13 / 2.0 §6.1.24). */
export function getAttributeListPayload(uid?: string): StructureNode {
  return payload([uidNode(uid)]);
}

/** Add Attribute (1.4 §4.14 / 2.0 §6.1.2). */
export function addAttributePayload(v: KmipVersion, uid: string | undefined, a: AnyAttribute): StructureNode {
  return payload([uidNode(uid), versionAtLeast(v, 2, 0) ? t.struct(Tag.NewAttribute, [attribute2x(a)]) : attribute1x(a)]);
}

/** Set Attribute (2.0 §6.1.51; 2.x only). */
export function setAttributePayload(uid: string | undefined, a: AnyAttribute): StructureNode {
  return payload([uidNode(uid), t.struct(Tag.NewAttribute, [attribute2x(a)])]);
}

/** Modify Attribute (1.4 §4.15: Attribute with name/index/new value; 2.0 §6.1.31: [Current Attribute], New Attribute). */
export function modifyAttributePayload(v: KmipVersion, uid: string | undefined, a: AnyAttribute, current?: AnyAttribute): StructureNode {
  if (!versionAtLeast(v, 2, 0)) return payload([uidNode(uid), attribute1x(a)]);
  return payload([uidNode(uid), current !== undefined && t.struct(Tag.CurrentAttribute, [attribute2x(current)]), t.struct(Tag.NewAttribute, [attribute2x(a)])]);
}

/** Delete Attribute (1.4 §4.16: Attribute Name [+ Index]; 2.0 §6.1.13: Current Attribute or Attribute Reference). */
export function deleteAttributePayload(v: KmipVersion, uid: string | undefined, name: string, opts: { index?: number; vendor?: string } = {}): StructureNode {
  if (!versionAtLeast(v, 2, 0)) {
    const wire = opts.vendor !== undefined ? `${opts.vendor}-${name}` : attributeName(attributeTag(name));
    return payload([uidNode(uid), t.text(Tag.AttributeName, wire), opts.index !== undefined && t.int(Tag.AttributeIndex, opts.index)]);
  }
  const ref =
    opts.vendor !== undefined
      ? t.struct(Tag.AttributeReference, [t.text(Tag.VendorIdentification, opts.vendor), t.text(Tag.AttributeName, name)])
      : t.enum(Tag.AttributeReference, attributeTag(name));
  return payload([uidNode(uid), ref]);
}

/** Check (1.4 §4.10 / 2.0 §6.1.5). */
export function checkPayload(uid: string | undefined, opts: { usageMask?: number } = {}): StructureNode {
  return payload([uidNode(uid), opts.usageMask !== undefined && t.int(Tag.CryptographicUsageMask, opts.usageMask)]);
}

// ------------------------------------------------------------------------------------------

/** One connection at one protocol version. */
export class Session {
  constructor(
    readonly client: KmipClient,
    readonly version: KmipVersion,
  ) {}

  /** Send one batch item; the result item (success or failure). */
  async call(operation: number, body: StructureNode): Promise<ResponseItem> {
    const res = parseResponse(await this.client.send(requestMessage({ version: this.version, batch: [{ operation, payload: body }] })));
    if (res.items.length !== 1) throw new Error(`expected one batch item, got ${res.items.length}`);
    return res.items[0]!;
  }

  /** Send one batch item; its payload, or a KmipResultError with the server's reason. */
  async ok(operation: number, body: StructureNode): Promise<StructureNode> {
    return expectSuccess(await this.call(operation, body));
  }
}

/** A failed item's reason (throws if the item succeeded). */
export function failureReason(item: ResponseItem): number | undefined {
  if (item.status === ResultStatus.Success) throw new Error('expected the operation to fail, but it succeeded');
  return item.reason;
}

/** Key for an attribute in a Get Attributes answer: normalized name, or "vendor:<v>:<name>" / 1.x "x-name". */
export type AttributeView = Map<string, TtlvNode[]>;

/**
 * A Get Attributes response payload as name → values (value nodes, tag normalized to the
 * attribute's own tag for standard attributes, Attribute Value for custom ones), in order.
 */
export function readGetAttributes(v: KmipVersion, body: StructureNode): AttributeView {
  const out: AttributeView = new Map();
  const push = (k: string, n: TtlvNode) => out.set(k, [...(out.get(k) ?? []), n]);
  if (versionAtLeast(v, 2, 0)) {
    const attrs = findChild(body, Tag.Attributes);
    if (attrs?.type !== 'Structure') throw new Error('Get Attributes response has no Attributes structure');
    for (const a of attrs.value) {
      if (a.tag === Tag.Attribute && a.type === 'Structure') {
        const vid = findChild(a, Tag.VendorIdentification);
        const name = findChild(a, Tag.AttributeName);
        const value = findChild(a, Tag.AttributeValue);
        if (vid?.type !== 'TextString' || name?.type !== 'TextString' || !value) throw new Error('malformed Vendor Attribute');
        push(`vendor:${vid.value}:${name.value}`, value);
      } else {
        push(tagDef(a.tag)?.name ?? `0x${a.tag.toString(16)}`, a);
      }
    }
    return out;
  }
  for (const a of findChildren(body, Tag.Attribute)) {
    const name = findChild(a, Tag.AttributeName);
    const value = findChild(a, Tag.AttributeValue);
    if (name?.type !== 'TextString') throw new Error('1.x Attribute without an Attribute Name');
    const def = specNameDef(name.value);
    if (def && value) push(def.name, { ...value, tag: def.tag } as TtlvNode);
    else if (value) push(name.value, value);
  }
  return out;
}

function specNameDef(specName: string) {
  return tagDefs().find((d) => d.specName === specName);
}

/** Attribute names from a Get Attribute List payload (1.x names, 2.x references), normalized. */
export function readAttributeList(v: KmipVersion, body: StructureNode): string[] {
  if (versionAtLeast(v, 2, 0)) {
    return findChildren(body, Tag.AttributeReference).map((r) => {
      if (r.type === 'Enumeration') return tagDef(r.value)?.name ?? `0x${r.value.toString(16)}`;
      const vid = findChild(r, Tag.VendorIdentification);
      const name = findChild(r, Tag.AttributeName);
      return `vendor:${vid?.type === 'TextString' ? vid.value : '?'}:${name?.type === 'TextString' ? name.value : '?'}`;
    });
  }
  return findChildren(body, Tag.AttributeName).map((n) => {
    const s = n.type === 'TextString' ? n.value : '?';
    return specNameDef(s)?.name ?? s;
  });
}

/** The single value of `name`, or undefined. Throws when there are several. */
export function single(view: AttributeView, name: string): TtlvNode | undefined {
  const vs = view.get(name);
  if (vs && vs.length > 1) throw new Error(`${name} has ${vs.length} values`);
  return vs?.[0];
}

/** A stable, comparable text form of a view (for before/after comparisons). */
export function canonical(view: AttributeView): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k of [...view.keys()].sort()) out[k] = view.get(k)!.map((n) => toHex(encode(n)));
  return out;
}
