/**
 * Builders for KMIP request messages as TTLV trees, and a checked parser for responses.
 *
 * Attributes are given once, in the KMIP 2.x shape (a node tagged with the attribute's own
 * tag, e.g. Cryptographic Algorithm 0x420028), and rendered for the target version:
 * - KMIP 1.x: `Attribute { Attribute Name = "<spec name>", Attribute Value }`, inside a
 *   Template-Attribute (Create, Register) or directly in the payload (Locate);
 * - KMIP 2.x: the nodes themselves inside one `Attributes` structure.
 * References: KMIP 1.4 §2.1.1 (Attribute), §2.1.8 (Template-Attribute), §4.1 (Create),
 * §4.3 (Register), §4.9 (Locate), §4.11 (Get), §4.19 (Activate), §4.21 (Destroy),
 * §4.25 (Query), §4.26 (Discover Versions), §7.2 (message structure); KMIP 2.0 §2.1.1,
 * §6.1.x for the 2.0 payloads.
 */
import type { KmipVersion } from '../kmip/spec-types.js';
import { CertificateType, KeyFormatType, NameType, ObjectType, ResultStatus } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { tagDef } from '../kmip/registry.js';
import { t, type NodeOf, type StructureNode, type TtlvNode } from '../ttlv/index.js';
import { KmipClientError, KmipResultError } from './errors.js';

export type { KmipVersion };

/** `v` is at least `major.minor` (compared as a pair, never as a float). */
export function versionAtLeast(v: KmipVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

// ---------------------------------------------------------------------------------------------
// attributes

/** An attribute in the KMIP 2.x shape: a node tagged with the attribute's tag. */
export type AttributeNode = TtlvNode;

/** Builders for common attributes (2.x shape; rendered per version by the payload helpers). */
export const attr = {
  objectType: (value: number): AttributeNode => t.enum(Tag.ObjectType, value),
  cryptographicAlgorithm: (value: number): AttributeNode => t.enum(Tag.CryptographicAlgorithm, value),
  cryptographicLength: (bits: number): AttributeNode => t.int(Tag.CryptographicLength, bits),
  /** A bit mask of CryptographicUsageMask values. */
  cryptographicUsageMask: (mask: number): AttributeNode => t.int(Tag.CryptographicUsageMask, mask),
  name: (value: string, type: number = NameType.UninterpretedTextString): AttributeNode => t.struct(Tag.Name, [t.text(Tag.NameValue, value), t.enum(Tag.NameType, type)]),
  objectGroup: (value: string): AttributeNode => t.text(Tag.ObjectGroup, value),
  uniqueIdentifier: (value: string): AttributeNode => t.text(Tag.UniqueIdentifier, value),
  state: (value: number): AttributeNode => t.enum(Tag.State, value),
} as const;

/** The spec's name for an attribute tag, as KMIP 1.x Attribute Name carries it. */
export function attributeName(tag: number): string {
  const def = tagDef(tag);
  if (!def) throw new RangeError(`tag 0x${tag.toString(16)} is not a known KMIP tag; cannot name it as a 1.x attribute`);
  return def.specName;
}

/** KMIP 1.x form: Attribute { Attribute Name, [Attribute Index], Attribute Value }. */
export function attributeV1(a: AttributeNode, index?: number): StructureNode {
  return t.struct(Tag.Attribute, [
    t.text(Tag.AttributeName, attributeName(a.tag)),
    ...(index !== undefined ? [t.int(Tag.AttributeIndex, index)] : []),
    { ...a, tag: Tag.AttributeValue } as TtlvNode,
  ]);
}

/**
 * Attributes for a Create/Register-like payload: a Template-Attribute (1.x) or an
 * Attributes structure (2.x).
 */
export function templateAttributes(version: KmipVersion, attributes: readonly AttributeNode[]): StructureNode {
  return versionAtLeast(version, 2, 0)
    ? t.struct(Tag.Attributes, [...attributes])
    : t.struct(
        Tag.TemplateAttribute,
        attributes.map((a) => attributeV1(a)),
      );
}

// ---------------------------------------------------------------------------------------------
// messages

export interface RequestBatchItemSpec {
  /** Operation value (Operation.Create, …). */
  readonly operation: number;
  /** The Request Payload structure (from the helpers below), or its children. */
  readonly payload: StructureNode | readonly TtlvNode[];
  readonly uniqueBatchItemId?: Uint8Array;
}

export interface RequestMessageSpec {
  readonly version: KmipVersion;
  readonly batch: readonly RequestBatchItemSpec[];
  readonly maximumResponseSize?: number;
  /** 1.x Boolean; a number is the 2.x Asynchronous Indicator enumeration (Mandatory, Optional, Prohibited). */
  readonly asynchronousIndicator?: boolean | number;
  /** KMIP 1.2+: the client can provide attestation when asked. */
  readonly attestationCapableIndicator?: boolean;
  /** Authentication structure, as a ready node (Tag.Authentication). */
  readonly authentication?: StructureNode;
  /** BatchErrorContinuationOption value (Continue, Stop, Undo). */
  readonly batchErrorContinuationOption?: number;
  readonly batchOrderOption?: boolean;
  /** Seconds since the epoch, or a Date. */
  readonly timeStamp?: bigint | Date;
  /** KMIP 1.4+. */
  readonly clientCorrelationValue?: string;
}

/** Build a Request Message (KMIP 1.4 §7.2, Table 238 / KMIP 2.0 §8 Request Header). */
export function requestMessage(spec: RequestMessageSpec): StructureNode {
  if (spec.batch.length === 0) throw new RangeError('a request needs at least one batch item');
  const v = spec.version;
  const header: TtlvNode[] = [protocolVersion(v)];
  if (spec.maximumResponseSize !== undefined) header.push(t.int(Tag.MaximumResponseSize, spec.maximumResponseSize));
  if (spec.clientCorrelationValue !== undefined) header.push(t.text(Tag.ClientCorrelationValue, spec.clientCorrelationValue));
  if (spec.asynchronousIndicator !== undefined) {
    const a = spec.asynchronousIndicator;
    header.push(typeof a === 'number' ? t.enum(Tag.AsynchronousIndicator, a) : t.bool(Tag.AsynchronousIndicator, a));
  }
  if (spec.attestationCapableIndicator !== undefined) header.push(t.bool(Tag.AttestationCapableIndicator, spec.attestationCapableIndicator));
  if (spec.authentication) header.push(spec.authentication);
  if (spec.batchErrorContinuationOption !== undefined) {
    header.push(t.enum(Tag.BatchErrorContinuationOption, spec.batchErrorContinuationOption));
  }
  if (spec.batchOrderOption !== undefined) header.push(t.bool(Tag.BatchOrderOption, spec.batchOrderOption));
  if (spec.timeStamp !== undefined) {
    const ts = spec.timeStamp instanceof Date ? BigInt(Math.floor(spec.timeStamp.getTime() / 1000)) : spec.timeStamp;
    header.push(t.date(Tag.TimeStamp, ts));
  }
  header.push(t.int(Tag.BatchCount, spec.batch.length));

  const items = spec.batch.map((item) => {
    const payload = isStructure(item.payload) ? item.payload : t.struct(Tag.RequestPayload, [...item.payload]);
    if (payload.tag !== Tag.RequestPayload) throw new RangeError('a batch item payload must be a Request Payload structure');
    return t.struct(Tag.BatchItem, [t.enum(Tag.Operation, item.operation), ...(item.uniqueBatchItemId ? [t.bytes(Tag.UniqueBatchItemID, item.uniqueBatchItemId)] : []), payload]);
  });
  return t.struct(Tag.RequestMessage, [t.struct(Tag.RequestHeader, header), ...items]);
}

export function protocolVersion(v: KmipVersion): StructureNode {
  return t.struct(Tag.ProtocolVersion, [t.int(Tag.ProtocolVersionMajor, v.major), t.int(Tag.ProtocolVersionMinor, v.minor)]);
}

function isStructure(p: StructureNode | readonly TtlvNode[]): p is StructureNode {
  return !Array.isArray(p);
}

function payload(children: readonly (TtlvNode | undefined | false)[]): StructureNode {
  return t.struct(
    Tag.RequestPayload,
    children.filter((c): c is TtlvNode => c !== undefined && c !== false),
  );
}

// ---------------------------------------------------------------------------------------------
// payloads

/** Create (1.4 §4.1 / 2.0 §6.1.7): Object Type + Template-Attribute (1.x) or Attributes (2.x). */
export function createPayload(version: KmipVersion, objectType: number, attributes: readonly AttributeNode[]): StructureNode {
  return payload([t.enum(Tag.ObjectType, objectType), templateAttributes(version, attributes)]);
}

export interface CreateSymmetricKeyOptions {
  /** CryptographicAlgorithm value, e.g. CryptographicAlgorithm.AES. */
  readonly algorithm: number;
  readonly length: number;
  /** CryptographicUsageMask bits. */
  readonly usageMask: number;
  readonly name?: string;
  /** Further attributes, 2.x shape. */
  readonly attributes?: readonly AttributeNode[];
}

/** Create a Symmetric Key with algorithm, length, usage mask and optional Name. */
export function createSymmetricKeyPayload(version: KmipVersion, opts: CreateSymmetricKeyOptions): StructureNode {
  return createPayload(version, ObjectType.SymmetricKey, [
    attr.cryptographicAlgorithm(opts.algorithm),
    attr.cryptographicLength(opts.length),
    attr.cryptographicUsageMask(opts.usageMask),
    ...(opts.name !== undefined ? [attr.name(opts.name)] : []),
    ...(opts.attributes ?? []),
  ]);
}

export interface GetOptions {
  /** KeyFormatType value to ask for. */
  readonly keyFormatType?: number;
  /** KeyCompressionType value. */
  readonly keyCompressionType?: number;
}

/** Get (1.4 §4.11 / 2.0 §6.1.22). Without an identifier the ID Placeholder is used. */
export function getPayload(uniqueIdentifier?: string, opts: GetOptions = {}): StructureNode {
  return payload([
    uniqueIdentifier !== undefined && t.text(Tag.UniqueIdentifier, uniqueIdentifier),
    opts.keyFormatType !== undefined && t.enum(Tag.KeyFormatType, opts.keyFormatType),
    opts.keyCompressionType !== undefined && t.enum(Tag.KeyCompressionType, opts.keyCompressionType),
  ]);
}

export interface LocateOptions {
  readonly maximumItems?: number;
  /** KMIP 1.3+. */
  readonly offsetItems?: number;
  /** StorageStatusMask bits, KMIP 1.3+. */
  readonly storageStatusMask?: number;
  /** ObjectGroupMember value, KMIP 1.3+. */
  readonly objectGroupMember?: number;
}

/** Locate (1.4 §4.9 / 2.0 §6.1.27) by attributes: Attribute* (1.x) or one Attributes (2.x). */
export function locatePayload(version: KmipVersion, attributes: readonly AttributeNode[], opts: LocateOptions = {}): StructureNode {
  const v2 = versionAtLeast(version, 2, 0);
  return payload([
    opts.maximumItems !== undefined && t.int(Tag.MaximumItems, opts.maximumItems),
    opts.offsetItems !== undefined && t.int(Tag.OffsetItems, opts.offsetItems),
    opts.storageStatusMask !== undefined && t.int(Tag.StorageStatusMask, opts.storageStatusMask),
    opts.objectGroupMember !== undefined && t.enum(Tag.ObjectGroupMember, opts.objectGroupMember),
    ...(v2 ? [t.struct(Tag.Attributes, [...attributes])] : attributes.map((a) => attributeV1(a))),
  ]);
}

/** Destroy (1.4 §4.21 / 2.0 §6.1.15). */
export function destroyPayload(uniqueIdentifier?: string): StructureNode {
  return payload([uniqueIdentifier !== undefined && t.text(Tag.UniqueIdentifier, uniqueIdentifier)]);
}

/** Activate (1.4 §4.19 / 2.0 §6.1.1). */
export function activatePayload(uniqueIdentifier?: string): StructureNode {
  return payload([uniqueIdentifier !== undefined && t.text(Tag.UniqueIdentifier, uniqueIdentifier)]);
}

/** Query (1.4 §4.25 / 2.0 §6.1.37) with QueryFunction values. */
export function queryPayload(functions: readonly number[]): StructureNode {
  return payload(functions.map((f) => t.enum(Tag.QueryFunction, f)));
}

/** Discover Versions (1.4 §4.26 / 2.0 §6.1.16): the versions the client supports, preferred first. */
export function discoverVersionsPayload(versions: readonly KmipVersion[] = []): StructureNode {
  return payload(versions.map(protocolVersion));
}

/** Register (1.4 §4.3 / 2.0 §6.1.40): Object Type, attributes, and the object itself. */
export function registerPayload(version: KmipVersion, objectType: number, object: StructureNode, attributes: readonly AttributeNode[] = []): StructureNode {
  return payload([t.enum(Tag.ObjectType, objectType), templateAttributes(version, attributes), object]);
}

/** A Certificate object (X.509 by default) for Register. */
export function certificateObject(der: Uint8Array, certificateType: number = CertificateType.X_509): StructureNode {
  return t.struct(Tag.Certificate, [t.enum(Tag.CertificateType, certificateType), t.bytes(Tag.CertificateValue, der)]);
}

/** A Key Block with plain key material (not wrapped). */
export function keyBlock(material: Uint8Array, keyFormatType: number, algorithm?: number, length?: number): StructureNode {
  return t.struct(Tag.KeyBlock, [
    t.enum(Tag.KeyFormatType, keyFormatType),
    t.struct(Tag.KeyValue, [t.bytes(Tag.KeyMaterial, material)]),
    ...(algorithm !== undefined ? [t.enum(Tag.CryptographicAlgorithm, algorithm)] : []),
    ...(length !== undefined ? [t.int(Tag.CryptographicLength, length)] : []),
  ]);
}

/** A Symmetric Key object with Raw key material, for Register. */
export function symmetricKeyObject(key: Uint8Array, algorithm: number): StructureNode {
  return t.struct(Tag.SymmetricKey, [keyBlock(key, KeyFormatType.Raw, algorithm, key.length * 8)]);
}

/** A Private Key object (e.g. PKCS_8 or PKCS_1 DER), for Register. */
export function privateKeyObject(der: Uint8Array, keyFormatType: number, algorithm: number, length: number): StructureNode {
  return t.struct(Tag.PrivateKey, [keyBlock(der, keyFormatType, algorithm, length)]);
}

// ---------------------------------------------------------------------------------------------
// responses

export interface ResponseHeaderInfo {
  readonly version: KmipVersion;
  /** Seconds since the epoch. */
  readonly timeStamp: bigint;
  readonly batchCount: number;
  readonly clientCorrelationValue?: string;
  readonly serverCorrelationValue?: string;
}

export interface ResponseItem {
  /** Operation value; a server may omit it when the request did not name one it knows. */
  readonly operation?: number;
  readonly uniqueBatchItemId?: Uint8Array;
  /** ResultStatus value. */
  readonly status: number;
  /** ResultReason value. */
  readonly reason?: number;
  readonly message?: string;
  readonly asynchronousCorrelationValue?: Uint8Array;
  readonly payload?: StructureNode;
}

export interface ParsedResponse {
  readonly header: ResponseHeaderInfo;
  readonly items: readonly ResponseItem[];
}

function bad(message: string): KmipClientError {
  return new KmipClientError('BAD_RESPONSE', `malformed response: ${message}`);
}

function tagLabel(tag: number): string {
  return tagDef(tag)?.name ?? `0x${tag.toString(16).toUpperCase().padStart(6, '0')}`;
}

function one<T extends TtlvNode['type']>(parent: StructureNode, tag: number, type: T, where: string): NodeOf<T> | undefined {
  const found = parent.value.filter((c) => c.tag === tag);
  if (found.length > 1) throw bad(`${where} has ${found.length} ${tagLabel(tag)} items, expected at most one`);
  const node = found[0];
  if (node === undefined) return undefined;
  if (node.type !== type) throw bad(`${where}/${tagLabel(tag)} is a ${node.type}, expected ${type}`);
  return node as NodeOf<T>;
}

function required<T extends TtlvNode['type']>(parent: StructureNode, tag: number, type: T, where: string): NodeOf<T> {
  const node = one(parent, tag, type, where);
  if (!node) throw bad(`${where} lacks ${tagLabel(tag)}`);
  return node;
}

/**
 * Check and unpack a Response Message (KMIP 1.4 §7.2 Tables 239-241 / 2.0 §8). Unknown
 * items in the header and batch items are ignored (extensions); known ones must have the
 * right type and cardinality, and the Batch Count must match.
 */
export function parseResponse(node: TtlvNode): ParsedResponse {
  if (node.tag !== Tag.ResponseMessage) throw bad(`top-level item is ${tagLabel(node.tag)}, expected ResponseMessage`);
  if (node.type !== 'Structure') throw bad(`ResponseMessage is a ${node.type}, expected Structure`);
  const headerNode = node.value[0];
  if (headerNode === undefined || headerNode.tag !== Tag.ResponseHeader) throw bad('the first item of ResponseMessage is not ResponseHeader');
  if (headerNode.type !== 'Structure') throw bad(`ResponseHeader is a ${headerNode.type}, expected Structure`);

  const pv = required(headerNode, Tag.ProtocolVersion, 'Structure', 'ResponseHeader');
  const version = {
    major: required(pv, Tag.ProtocolVersionMajor, 'Integer', 'ResponseHeader/ProtocolVersion').value,
    minor: required(pv, Tag.ProtocolVersionMinor, 'Integer', 'ResponseHeader/ProtocolVersion').value,
  };
  const timeStamp = required(headerNode, Tag.TimeStamp, 'DateTime', 'ResponseHeader').value;
  const batchCount = required(headerNode, Tag.BatchCount, 'Integer', 'ResponseHeader').value;
  const ccv = one(headerNode, Tag.ClientCorrelationValue, 'TextString', 'ResponseHeader');
  const scv = one(headerNode, Tag.ServerCorrelationValue, 'TextString', 'ResponseHeader');

  const rest = node.value.slice(1);
  const stray = rest.find((c) => c.tag !== Tag.BatchItem);
  if (stray) throw bad(`unexpected ${tagLabel(stray.tag)} in ResponseMessage`);
  if (rest.length !== batchCount) throw bad(`Batch Count says ${batchCount} but the message has ${rest.length} batch items`);

  const items = rest.map((item, i): ResponseItem => {
    const where = `BatchItem[${i}]`;
    if (item.type !== 'Structure') throw bad(`${where} is a ${item.type}, expected Structure`);
    const operation = one(item, Tag.Operation, 'Enumeration', where);
    const id = one(item, Tag.UniqueBatchItemID, 'ByteString', where);
    const status = required(item, Tag.ResultStatus, 'Enumeration', where);
    const reason = one(item, Tag.ResultReason, 'Enumeration', where);
    const message = one(item, Tag.ResultMessage, 'TextString', where);
    const acv = one(item, Tag.AsynchronousCorrelationValue, 'ByteString', where);
    const payloadNode = one(item, Tag.ResponsePayload, 'Structure', where);
    return {
      ...(operation && { operation: operation.value }),
      ...(id && { uniqueBatchItemId: id.value }),
      status: status.value,
      ...(reason && { reason: reason.value }),
      ...(message && { message: message.value }),
      ...(acv && { asynchronousCorrelationValue: acv.value }),
      ...(payloadNode && { payload: payloadNode }),
    };
  });

  return {
    header: {
      version,
      timeStamp,
      batchCount,
      ...(ccv && { clientCorrelationValue: ccv.value }),
      ...(scv && { serverCorrelationValue: scv.value }),
    },
    items,
  };
}

/** The item's payload if it succeeded; a KmipResultError with the server's reason if not. */
export function expectSuccess(item: ResponseItem): StructureNode {
  if (item.status !== ResultStatus.Success) {
    throw new KmipResultError(
      item.status,
      item.reason,
      item.message,
      `operation failed: status ${item.status}${item.reason !== undefined ? `, reason ${item.reason}` : ''}${item.message ? `: ${item.message}` : ''}`,
    );
  }
  return item.payload ?? t.struct(Tag.ResponsePayload, []);
}

// ---------------------------------------------------------------------------------------------
// reading payloads

/** The first child of `node` with `tag`, if any. */
export function findChild(node: TtlvNode | undefined, tag: number): TtlvNode | undefined {
  return node?.type === 'Structure' ? node.value.find((c) => c.tag === tag) : undefined;
}

/** Every child of `node` with `tag`. */
export function findChildren(node: TtlvNode | undefined, tag: number): TtlvNode[] {
  return node?.type === 'Structure' ? node.value.filter((c) => c.tag === tag) : [];
}

/** Follow a path of tags (first match at each level). */
export function findPath(node: TtlvNode | undefined, ...tags: number[]): TtlvNode | undefined {
  let cur = node;
  for (const tag of tags) cur = findChild(cur, tag);
  return cur;
}

/** The Unique Identifier of a response payload (Create, Register, Get, Destroy, …). */
export function uniqueIdentifierOf(payloadNode: TtlvNode | undefined): string {
  const n = findChild(payloadNode, Tag.UniqueIdentifier);
  if (n?.type !== 'TextString') throw bad('payload has no Unique Identifier text');
  return n.value;
}

/** Every Unique Identifier in a Locate response payload. */
export function uniqueIdentifiersOf(payloadNode: TtlvNode | undefined): string[] {
  return findChildren(payloadNode, Tag.UniqueIdentifier).map((n) => {
    if (n.type !== 'TextString') throw bad('Unique Identifier is not a Text String');
    return n.value;
  });
}

/**
 * The plain Key Material bytes of a Get response for a key object (Symmetric Key, Private
 * Key, Public Key, Secret Data, Split Key): `<Object>/KeyBlock/KeyValue/KeyMaterial`.
 */
export function keyMaterialOf(getResponsePayload: TtlvNode | undefined): Uint8Array {
  const objectTags: readonly number[] = [Tag.SymmetricKey, Tag.PrivateKey, Tag.PublicKey, Tag.SecretData, Tag.SplitKey];
  const object = getResponsePayload?.type === 'Structure' ? getResponsePayload.value.find((c) => objectTags.includes(c.tag)) : undefined;
  if (!object) throw bad('payload holds no key object');
  const material = findPath(object, Tag.KeyBlock, Tag.KeyValue, Tag.KeyMaterial);
  if (material?.type !== 'ByteString') throw bad(`${tagLabel(object.tag)} has no plain Key Material byte string`);
  return material.value;
}
