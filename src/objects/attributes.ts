/**
 * Attributes on the wire ↔ attributes in the record (objects/managed-object.ts), and the spec's
 * attribute rules applied from data (src/kmip/spec/attributes.json → ATTRIBUTE_RULES).
 *
 * Pure functions. Failures throw `KmipError` with the Result Reason the spec names for the
 * negotiated protocol version; the reasons differ between 1.x and 2.x:
 *
 * | situation                                   | KMIP 1.x (1.4 §11)                     | KMIP 2.x (2.1 §6.1 / §11.46)          |
 * |---------------------------------------------|----------------------------------------|---------------------------------------|
 * | unknown attribute name / not an attribute   | Invalid Field (§11.1, §11.2)           | Invalid Attribute (§11.46)            |
 * | value of the wrong item type                | Invalid Field (§11.2 "Incorrect        | Invalid Attribute Value (§11.46)      |
 * |                                             | attribute value(s) specified")         |                                       |
 * | client sets a server-only attribute (create)| Invalid Field (§11.2)                  | Attribute Read Only (§6.1.8.1)        |
 * | … with Add Attribute / Set Attribute        | Permission Denied (§11.15)             | Read Only Attribute (§6.1.2.1, 6.1.51.1)|
 * | attribute not for this object type (create) | Invalid Field (§11.2)                  | Invalid Attribute (§11.46)            |
 * | … with Add Attribute                        | Permission Denied (§11.15)             | Invalid Attribute (§6.1.2.1)          |
 * | second instance of a single-valued attribute| Illegal Operation (§11.15); Invalid    | Attribute Single Valued (§6.1.2.1,    |
 * |                                             | Field on create (§11.2)                | §6.1.8.1)                             |
 * | Set Attribute on a multi-valued attribute   | —                                      | Multi Valued Attribute (§6.1.51.1)    |
 * | more instances than the server allows       | Index Out of Bounds (§11.2, §11.15)    | Server Limit Exceeded (§6.1.2.1)      |
 * | Add Attribute carrying an Attribute Index   | Invalid Field (§11.15)                 | —                                     |
 * | modify a read-only attribute                | Permission Denied (§11.16)             | Attribute Read Only (§6.1.34.1)       |
 * | modify outside the allowed states           | Permission Denied (§11.16; test case   | Wrong Key Lifecycle State (§6.1.34.1; |
 * |                                             | SKLC-M-3-14)                           | test case SKLC-M-3-21)                |
 * | modify an attribute the object lacks        | Invalid Field (§11.16)                 | Attribute Not Found (§6.1.34.1)       |
 * | modify/delete an instance that is not there | Item Not Found (§11.16, §11.17)        | Attribute Instance Not Found          |
 * | delete a non-deletable attribute            | Permission Denied (§11.17)             | Attribute Read Only (§6.1.13.1)       |
 * | delete an attribute the object lacks        | Item Not Found (§11.17)                | Attribute Not Found (§6.1.13.1)       |
 *
 * A 1.x Attribute Index beyond the instances present is "no matching attribute instance"
 * (Item Not Found, 1.4 §11.16/§11.17); Index Out of Bounds is the spec's reason for exceeding the
 * server's instance limit (1.4 §11.2, §11.15), see `checkInstanceLimit`.
 *
 * Custom attributes (1.x "x-…"/"y-…", 1.4 §3.39; 2.x Vendor Attribute, 2.1 §4.60): any item type,
 * stored verbatim, no length or count limits here. Vendor "y" attributes are the server's and a
 * client may not create, modify or delete them; "x" and every other vendor are the client's.
 */
import { ResultReason } from '../kmip/generated/enums.gen.js';
import { ATTRIBUTE_RULES } from '../kmip/generated/attributes.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { KmipError, type ResultReasonValue } from '../kmip/errors.js';
import { enumValueName, isAvailable, tagDef, tagDefByName } from '../kmip/registry.js';
import type { AttributeRule, KmipVersion } from '../kmip/spec-types.js';
import { normalizeName } from '../kmip/text-values.js';
import { is2x, versionReason as reasonAt } from '../kmip/version-rules.js';
import type { TtlvNode } from '../ttlv/node.js';
import { customKey, parseCustomKey, type AttributeKey, type AttributeMap } from './managed-object.js';

export interface AttributeInstance {
  readonly key: AttributeKey;
  /** Standard: tagged with the attribute's tag. Custom: tagged Attribute Value. */
  readonly node: TtlvNode;
  /** 1.x Attribute Index, when the request gave one. */
  readonly index?: number;
}

/** How a client is trying to put an attribute on an object. */
export type InitialSetVia = 'create' | 'add' | 'set';

function fail(reason: ResultReasonValue, message: string): never {
  throw new KmipError(reason, message);
}

// ------------------------------------------------------------------------------------ rules

const rulesByName = new Map<string, AttributeRule[]>();
const nameBySpecName = new Map<string, string>();
for (const r of ATTRIBUTE_RULES) {
  const list = rulesByName.get(r.name) ?? [];
  list.push(r);
  rulesByName.set(r.name, list);
  nameBySpecName.set(r.specName, r.name);
  const def = tagDefByName(r.name);
  if (def) nameBySpecName.set(def.specName, r.name);
}

/** The rules of a standard attribute in protocol version v; undefined when v has no such attribute. */
export function attributeRule(name: string, version: KmipVersion): AttributeRule | undefined {
  return rulesByName.get(name)?.find((r) => isAvailable(r, version));
}

/** The Custom Attribute rule (1.4 §3.39 Table 138), used for custom/vendor keys in every version. */
const CUSTOM_RULE = rulesByName.get('CustomAttribute')?.[0];

/** Whether a client owns a custom attribute of this vendor (2.1 §4.60: "y" is the server's). */
function clientOwnsVendor(vendor: string): boolean {
  return vendor !== 'y';
}

function label(key: AttributeKey): string {
  const c = parseCustomKey(key);
  return c ? `vendor attribute ${c.vendor}/${c.name}` : key;
}

/** The rule for a standard key in v, or a KmipError for an unknown/unavailable attribute. */
function requireRule(key: AttributeKey, version: KmipVersion): AttributeRule {
  const r = attributeRule(key, version);
  if (!r) fail(reasonAt(version, 'InvalidAttribute'), `${key} is not an attribute in KMIP ${version.major}.${version.minor}`);
  return r;
}

function objectTypeName(objectType: number): string {
  return enumValueName('ObjectType', objectType) ?? `0x${objectType.toString(16)}`;
}

function appliesTo(rule: AttributeRule, objectType: number): boolean {
  return rule.appliesTo === 'all' || rule.appliesTo.includes(objectTypeName(objectType));
}

/**
 * Attributes the tables say only the server sets initially, but whose value the server takes from
 * the creating request: "The request contains … some of the attributes to be assigned to the
 * object (e.g., Cryptographic Algorithm, Cryptographic Length, etc.)" (1.4 §4.1, 2.1 §6.1.8). The
 * OASIS test cases send exactly these three in Create/Create Key Pair/Register/Derive Key/Join
 * Split Key requests (Certificate Type in Register). Others (Unique Identifier, State, Digest,
 * Initial Date, …) stay server-only.
 */
export const SERVER_SET_FROM_REQUEST: ReadonlySet<string> = new Set(['CryptographicAlgorithm', 'CryptographicLength', 'CertificateType']);

/**
 * May a client supply this attribute when creating/registering an object (`via` 'create'), or
 * put a new one on with Add Attribute ('add') or 2.x Set Attribute ('set')?
 * Checks "Initially set by" and "Applies to Object Types".
 */
export function checkClientMayInitiallySet(key: AttributeKey, objectType: number, version: KmipVersion, via: InitialSetVia = 'create'): void {
  const custom = parseCustomKey(key);
  const readOnly = (): never => fail(reasonAt(version, via === 'create' ? 'AttributeReadOnlyOnCreate' : 'ReadOnlyAttribute'), `${label(key)} is set by the server only`);
  if (custom) {
    if (!clientOwnsVendor(custom.vendor)) readOnly();
    return;
  }
  const rule = requireRule(key, version);
  if (!rule.initiallySetBy.includes('client') && !(via === 'create' && SERVER_SET_FROM_REQUEST.has(key))) readOnly();
  if (!appliesTo(rule, objectType)) {
    fail(reasonAt(version, via === 'create' ? 'AttributeNotApplicableOnCreate' : 'AttributeNotApplicable'), `${key} does not apply to ${objectTypeName(objectType)}`);
  }
}

/**
 * May a client modify an existing value (Modify Attribute, 2.x Set/Adjust Attribute)? Checks
 * "Modifiable by client", "Applies to Object Types" and the states the rule allows
 * (`effectiveState`: the State value as objects/lifecycle.ts computes it now).
 */
export function checkClientMayModify(key: AttributeKey, objectType: number, effectiveState: number, version: KmipVersion): void {
  const custom = parseCustomKey(key);
  if (custom) {
    if (!clientOwnsVendor(custom.vendor)) fail(reasonAt(version, 'AttributeReadOnly'), `${label(key)} is the server's`);
    return;
  }
  const rule = requireRule(key, version);
  if (!rule.modifiableByClient) fail(reasonAt(version, 'AttributeReadOnly'), `${key} is not modifiable by a client`);
  if (!appliesTo(rule, objectType)) fail(reasonAt(version, 'AttributeNotApplicable'), `${key} does not apply to ${objectTypeName(objectType)}`);
  if (rule.modifiableInStates && !rule.modifiableInStates.includes(stateName(effectiveState))) {
    fail(reasonAt(version, 'WrongKeyLifecycleState'), `${key} may only be modified in state ${rule.modifiableInStates.join(' or ')}, not ${stateName(effectiveState)}`);
  }
}

/** May a client delete an instance (Delete Attribute)? Checks "Deletable by client". */
export function checkClientMayDelete(key: AttributeKey, version: KmipVersion): void {
  const custom = parseCustomKey(key);
  if (custom) {
    if (!clientOwnsVendor(custom.vendor)) fail(reasonAt(version, 'AttributeReadOnly'), `${label(key)} is the server's`);
    return;
  }
  const rule = requireRule(key, version);
  if (!rule.deletableByClient) fail(reasonAt(version, 'AttributeReadOnly'), `${key} is not deletable by a client`);
}

/** Is the attribute multi-instance ("Multiple instances permitted")? Custom attributes are. */
export function isMultiple(key: AttributeKey, version: KmipVersion): boolean {
  if (parseCustomKey(key)) return CUSTOM_RULE?.multiple ?? true;
  return requireRule(key, version).multiple;
}

/**
 * Adding `adding` instances to `existing` ones: refused for a single-valued attribute that would
 * end up with more than one instance.
 */
export function checkMultiple(key: AttributeKey, existing: number, adding: number, version: KmipVersion, via: InitialSetVia = 'add'): void {
  if (adding <= 0 || isMultiple(key, version) || existing + adding <= 1) return;
  fail(
    reasonAt(version, via === 'create' ? 'AttributeSingleValuedOnCreate' : 'AttributeSingleValued'),
    existing > 0 ? `${key} already has a value and is single-valued` : `${key} is single-valued`,
  );
}

/** 2.x Set Attribute replaces the one value of a single-valued attribute (2.1 §6.1.51). */
export function checkSettable(key: AttributeKey, version: KmipVersion): void {
  if (isMultiple(key, version)) fail(ResultReason.MultiValuedAttribute, `${label(key)} is multi-valued: use Add/Modify Attribute`);
}

/** The server's limit on instances of one attribute (Index Out of Bounds / Server Limit Exceeded). */
export function checkInstanceLimit(key: AttributeKey, count: number, limit: number, version: KmipVersion): void {
  if (count > limit) {
    fail(reasonAt(version, 'AttributeInstanceLimit'), `${label(key)}: at most ${limit} instances`);
  }
}

/**
 * The position of the instance a request names, for Modify/Delete Attribute.
 * 1.x: `index` (absent = 0). 2.x: `current` (the Current Attribute value; absent = the only or
 * first instance). Throws the spec's "not found" reasons.
 */
export function findInstance(
  attrs: AttributeMap,
  key: AttributeKey,
  version: KmipVersion,
  sel: { readonly index?: number; readonly current?: TtlvNode; readonly via: 'modify' | 'delete' },
): number {
  const list = attrs.get(key);
  if (!list || list.length === 0) {
    fail(reasonAt(version, sel.via === 'modify' ? 'AttributeNotFoundOnModify' : 'AttributeNotFoundOnDelete'), `the object has no ${label(key)}`);
  }
  if (sel.current !== undefined) {
    const cur = sel.current;
    const i = list.findIndex((n) => sameValue(n, cur));
    if (i < 0) fail(reasonAt(version, 'AttributeInstanceNotFound'), `no such instance of ${label(key)}`);
    return i;
  }
  const i = sel.index ?? 0;
  if (!Number.isInteger(i) || i < 0 || i >= list.length) {
    fail(reasonAt(version, 'AttributeInstanceNotFound'), `${label(key)} has no instance ${i}`);
  }
  return i;
}

function sameValue(a: TtlvNode, b: TtlvNode): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'Structure') {
    const bv = (b as typeof a).value;
    return (
      a.value.length === bv.length &&
      a.value.every((c, i) => {
        const d = bv[i];
        return d !== undefined && c.tag === d.tag && sameValue(c, d);
      })
    );
  }
  const x = a.value;
  const y = b.value;
  if (x instanceof Uint8Array && y instanceof Uint8Array) return x.length === y.length && x.every((v, i) => v === y[i]);
  return x === y;
}

function stateName(state: number): string {
  return enumValueName('State', state) ?? `0x${state.toString(16)}`;
}

// ------------------------------------------------------------------------------ type checks

/**
 * Check a value against the registry: a standard attribute's node must carry the attribute's tag
 * and one of the item types the spec gives that tag. Custom values may be any item type.
 */
export function checkValue(key: AttributeKey, node: TtlvNode, version: KmipVersion): void {
  if (parseCustomKey(key)) return;
  const def = tagDefByName(key);
  if (!def || node.tag !== def.tag) fail(reasonAt(version, 'InvalidAttribute'), `value for ${key} has the wrong tag`);
  if (!def.types.includes(node.type)) {
    fail(reasonAt(version, 'InvalidAttributeValue'), `${key} is ${def.types.join(' or ')}, not ${node.type}`);
  }
}

// -------------------------------------------------------------------------------- 1.x form

const T = Tag;

function child(node: TtlvNode, tag: number): TtlvNode | undefined {
  return node.type === 'Structure' ? node.value.find((c) => c.tag === tag) : undefined;
}

function children(node: TtlvNode, tag: number): TtlvNode[] {
  return node.type === 'Structure' ? node.value.filter((c) => c.tag === tag) : [];
}

function text(node: TtlvNode | undefined, what: string, reason: ResultReasonValue): string {
  if (node?.type !== 'TextString') fail(reason, `${what} must be a Text String`);
  return node.value;
}

/** The record key of a 1.x Attribute Name, or a KmipError (1.4 §2.1.1: a name defined by the spec, or "x-"/"y-"). */
export function keyFromAttributeName1x(name: string, version: KmipVersion): AttributeKey {
  const m = /^([xy])-(.+)$/s.exec(name);
  if (m) return customKey(m[1] as string, m[2] as string);
  const key = nameBySpecName.get(name) ?? normalizeName(name);
  if (!attributeRule(key, version)) fail(ResultReason.InvalidField, `unknown attribute name ${JSON.stringify(name.slice(0, 100))}`);
  return key;
}

/** The 1.x Attribute Name of a record key ("Cryptographic Algorithm", "x-ID"). */
export function attributeName1x(key: AttributeKey): string {
  const c = parseCustomKey(key);
  if (c) {
    if (c.vendor !== 'x' && c.vendor !== 'y') throw new RangeError(`vendor attribute ${c.vendor}/${c.name} has no KMIP 1.x name`);
    return `${c.vendor}-${c.name}`;
  }
  const def = tagDefByName(key);
  if (!def) throw new RangeError(`no attribute ${key}`);
  return def.specName;
}

const TEMPLATE_ATTRIBUTE_TAGS: ReadonlySet<number> = new Set([T.TemplateAttribute, T.CommonTemplateAttribute, T.PrivateKeyTemplateAttribute, T.PublicKeyTemplateAttribute]);

/** One 1.x Attribute structure (Attribute Name, Attribute Index?, Attribute Value?). */
export function readAttribute1x(node: TtlvNode, version: KmipVersion): AttributeInstance {
  const bad = ResultReason.InvalidField;
  if (node.tag !== T.Attribute || node.type !== 'Structure') fail(bad, 'expected an Attribute structure');
  const key = keyFromAttributeName1x(text(child(node, T.AttributeName), 'Attribute Name', bad), version);
  const idxNode = child(node, T.AttributeIndex);
  let index: number | undefined;
  if (idxNode !== undefined) {
    if (idxNode.type !== 'Integer' || idxNode.value < 0) fail(bad, 'Attribute Index must be a non-negative Integer');
    index = idxNode.value;
  }
  const valueNode = child(node, T.AttributeValue);
  if (valueNode === undefined) fail(bad, `Attribute ${attributeName1x(key)} has no Attribute Value`);
  const custom = parseCustomKey(key);
  const def = custom ? undefined : tagDefByName(key);
  const value: TtlvNode = def ? ({ ...valueNode, tag: def.tag } as TtlvNode) : valueNode;
  checkValue(key, value, version);
  return index === undefined ? { key, node: value } : { key, node: value, index };
}

/**
 * 1.x attributes from a list of Attribute structures and/or Template-Attribute structures
 * (Template-Attribute, Common/Private Key/Public Key Template-Attribute). A Template-Attribute
 * that names a Template (Name children) fails with Item Not Found: this server holds no Template
 * objects, and 1.4 §11.2-§11.4 give "Templates that do not exist are given in request" that reason.
 */
export function readAttributes1x(nodes: readonly TtlvNode[], version: KmipVersion): AttributeInstance[] {
  const out: AttributeInstance[] = [];
  for (const n of nodes) {
    if (TEMPLATE_ATTRIBUTE_TAGS.has(n.tag)) {
      if (n.type !== 'Structure') fail(ResultReason.InvalidField, 'Template-Attribute must be a Structure');
      if (children(n, T.Name).length > 0) fail(ResultReason.ItemNotFound, 'no such Template');
      for (const c of n.value) {
        if (c.tag !== T.Attribute) fail(ResultReason.InvalidField, 'unexpected item in Template-Attribute');
        out.push(readAttribute1x(c, version));
      }
    } else {
      out.push(readAttribute1x(n, version));
    }
  }
  return out;
}

/**
 * A 1.x Attribute structure. `index` is written when it is greater than 0, as the 1.x test cases
 * do (index 0 is the default, 1.4 §2.1.1: "When the Attribute structure is used to specify or
 * return a particular instance of an Attribute and the Attribute Index is not specified it SHALL
 * be assumed to be 0"), and also when it is 0 with `explicitZero`: operation responses write it,
 * because deployed clients read it there (PyKMIP 0.10 reads `attribute_index.value` of each
 * attribute a Get Attributes, Modify Attribute or Delete Attribute returns, and fails on None);
 * the OASIS comparison rules allow an Attribute Index of 0 to be present or omitted.
 */
export function writeAttribute1x(key: AttributeKey, node: TtlvNode, index?: number, explicitZero = false): TtlvNode {
  const value = { ...node, tag: T.AttributeValue } as TtlvNode;
  const parts: TtlvNode[] = [{ tag: T.AttributeName, type: 'TextString', value: attributeName1x(key) }];
  if (index !== undefined && (index > 0 || (explicitZero && index === 0))) parts.push({ tag: T.AttributeIndex, type: 'Integer', value: index });
  parts.push(value);
  return { tag: T.Attribute, type: 'Structure', value: parts };
}

/** Every instance of a map as 1.x Attribute structures, in order, with their indexes. */
export function writeAttributes1x(attrs: AttributeMap, version: KmipVersion): TtlvNode[] {
  const out: TtlvNode[] = [];
  for (const [key, list] of visibleAttributes(attrs, version)) list.forEach((n, i) => out.push(writeAttribute1x(key, n, i)));
  return out;
}

// -------------------------------------------------------------------------------- 2.x form

const VENDOR_ID = /^[A-Za-z0-9_.]+$/;

/**
 * One 2.x attribute item: a node tagged by a standard attribute, or a vendor Attribute
 * structure { Vendor Identification, Attribute Name, Attribute Value } (2.1 §4.60).
 */
export function readAttribute2x(node: TtlvNode, version: KmipVersion): AttributeInstance {
  if (node.tag === T.Attribute) {
    if (node.type !== 'Structure') fail(ResultReason.InvalidField, 'Attribute must be a Structure');
    const { vendor, name } = readVendorName(node);
    const value = child(node, T.AttributeValue);
    if (value === undefined) fail(ResultReason.InvalidField, `vendor attribute ${vendor}/${name} has no Attribute Value`);
    return { key: customKey(vendor, name), node: value };
  }
  const def = tagDef(node.tag);
  if (!def) fail(ResultReason.UnknownTag, `unknown tag 0x${node.tag.toString(16)} among attributes`);
  if (!attributeRule(def.name, version)) fail(ResultReason.InvalidAttribute, `${def.name} is not an attribute in KMIP ${version.major}.${version.minor}`);
  checkValue(def.name, node, version);
  return { key: def.name, node };
}

function readVendorName(node: TtlvNode): { vendor: string; name: string } {
  const vendor = text(child(node, T.VendorIdentification), 'Vendor Identification', ResultReason.InvalidField);
  const name = text(child(node, T.AttributeName), 'Attribute Name', ResultReason.InvalidField);
  if (!VENDOR_ID.test(vendor)) fail(ResultReason.InvalidField, 'Vendor Identification is limited to [A-Za-z0-9_.] (KMIP 2.1 §4.60)');
  if (name === '') fail(ResultReason.InvalidField, 'empty Attribute Name');
  return { vendor, name };
}

/** The 2.x Attributes structure (its children, in order). */
export function readAttributes2x(attributesNode: TtlvNode, version: KmipVersion): AttributeInstance[] {
  if (attributesNode.type !== 'Structure') fail(ResultReason.InvalidField, 'Attributes must be a Structure');
  return attributesNode.value.map((n) => readAttribute2x(n, version));
}

/**
 * The one attribute inside a 2.x New Attribute / Current Attribute structure (Add, Set, Modify,
 * Delete Attribute; 2.1 §6.1.2, §6.1.51, §6.1.34, §6.1.13).
 */
export function readAttributeWrapper2x(wrapper: TtlvNode, version: KmipVersion): AttributeInstance {
  if (wrapper.type !== 'Structure' || wrapper.value.length !== 1) {
    fail(ResultReason.InvalidField, 'New/Current Attribute must hold exactly one attribute');
  }
  return readAttribute2x(wrapper.value[0] as TtlvNode, version);
}

/**
 * A 2.x Attribute Reference (2.1 §7.3): an Enumeration whose value is the attribute's tag, or a
 * Structure { Vendor Identification, Attribute Name } for a vendor attribute.
 */
export function readAttributeReference2x(ref: TtlvNode, version: KmipVersion): AttributeKey {
  if (ref.type === 'Structure') {
    // PyKMIP 0.10 names a standard attribute by its spec name with an empty Vendor
    // Identification; accepted as that standard attribute.
    const vid = child(ref, T.VendorIdentification);
    const an = child(ref, T.AttributeName);
    if (vid?.type === 'TextString' && vid.value === '' && an?.type === 'TextString') {
      const key = nameBySpecName.get(an.value) ?? normalizeName(an.value);
      if (!attributeRule(key, version)) fail(ResultReason.InvalidAttribute, `unknown attribute name ${JSON.stringify(an.value.slice(0, 100))}`);
      return key;
    }
    const { vendor, name } = readVendorName(ref);
    return customKey(vendor, name);
  }
  if (ref.type !== 'Enumeration') fail(ResultReason.InvalidField, 'Attribute Reference must be an Enumeration or a Structure');
  const def = tagDef(ref.value);
  if (!def) fail(ResultReason.UnknownTag, `unknown tag 0x${ref.value.toString(16)} in Attribute Reference`);
  if (!attributeRule(def.name, version)) fail(ResultReason.InvalidAttribute, `${def.name} is not an attribute`);
  return def.name;
}

/** One attribute in 2.x form: the node itself, or a vendor Attribute structure for a custom key. */
export function writeAttribute2x(key: AttributeKey, node: TtlvNode): TtlvNode {
  const c = parseCustomKey(key);
  if (!c) return node;
  return {
    tag: T.Attribute,
    type: 'Structure',
    value: [
      { tag: T.VendorIdentification, type: 'TextString', value: c.vendor },
      { tag: T.AttributeName, type: 'TextString', value: c.name },
      { ...node, tag: T.AttributeValue } as TtlvNode,
    ],
  };
}

/** A 2.x Attributes structure from instances (custom keys become vendor Attribute structures). */
export function writeAttributes2x(list: Iterable<{ readonly key: AttributeKey; readonly node: TtlvNode }>): TtlvNode {
  const value: TtlvNode[] = [];
  for (const { key, node } of list) value.push(writeAttribute2x(key, node));
  return { tag: T.Attributes, type: 'Structure', value };
}

/** Map → instance list (in map order, instances in order). */
export function instancesOf(attrs: AttributeMap): AttributeInstance[] {
  const out: AttributeInstance[] = [];
  for (const [key, list] of attrs) for (const node of list) out.push({ key, node });
  return out;
}

// ---------------------------------------------------------------------------- version gate

/**
 * The attributes a client speaking `version` may see: standard attributes that exist in that
 * version (a 1.x client never receives an attribute added in 2.x, a 2.x client never receives
 * Operation Policy Name), and, for 1.x, only the "x"/"y" custom attributes (other vendors have no
 * 1.x name).
 */
export function visibleAttributes(attrs: AttributeMap, version: KmipVersion): AttributeMap {
  const out = new Map<AttributeKey, readonly TtlvNode[]>();
  for (const [key, list] of attrs) {
    const c = parseCustomKey(key);
    if (c) {
      if (is2x(version) || c.vendor === 'x' || c.vendor === 'y') out.set(key, list);
      continue;
    }
    const def = tagDefByName(key);
    if (def && isAvailable(def, version) && attributeRule(key, version)) out.set(key, key === 'Digest' ? list.map((n) => digestFor(n, version)) : list);
  }
  return out;
}

/**
 * A Digest as `version` defines it: KMIP 1.0's Digest structure holds Hashing Algorithm and
 * Digest Value only (1.0 Table 58); Key Format Type was added in 1.1 (1.1 Table 70).
 */
function digestFor(node: TtlvNode, version: KmipVersion): TtlvNode {
  if (version.major !== 1 || version.minor !== 0 || node.type !== 'Structure') return node;
  return { ...node, value: node.value.filter((c) => c.tag !== T.KeyFormatType) };
}
