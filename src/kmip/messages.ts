/**
 * The KMIP message layer: Request Message → typed header and batch items, and typed
 * response items → Response Message, in the request's protocol version.
 * KMIP 1.4 §7 / KMIP 2.1 §8 (Message Contents), §9 (Message Format).
 */
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import { KmipError, type ResultReasonValue } from './errors.js';
import { AsynchronousIndicator, ResultReason, ResultStatus } from './generated/enums.gen.js';
import { Tag } from './generated/tags.gen.js';
import { enumDef, isAvailable, tagName } from './registry.js';
import type { KmipVersion } from './spec-types.js';
import { readPayload, optional, required, repeated } from './payload.js';

export interface RequestHeader {
  readonly version: KmipVersion;
  readonly maximumResponseSize?: number;
  readonly clientCorrelationValue?: string;
  readonly serverCorrelationValue?: string;
  /**
   * 2.x Asynchronous Indicator Mandatory: the client requires an asynchronous answer. A 1.x
   * Boolean True only says the client "is able to accept an asynchronous response" (1.4 §6.7): the
   * server may still answer synchronously, and does (2.x Optional likewise).
   */
  readonly asynchronousRequired: boolean;
  /** 1.x Asynchronous Indicator True, 2.x Optional or Mandatory: a Pending answer is acceptable. */
  readonly asynchronousAllowed?: boolean;
  readonly attestationCapableIndicator?: boolean;
  readonly authentication?: StructureNode;
  readonly batchErrorContinuationOption?: number;
  readonly batchOrderOption?: boolean;
  readonly timeStamp?: bigint;
  readonly batchCount: number;
}

export interface RequestBatchItem {
  readonly operation: number;
  readonly uniqueBatchItemId?: Uint8Array;
  readonly payload?: StructureNode;
  readonly messageExtensions: readonly StructureNode[];
}

export interface RequestMessage {
  readonly header: RequestHeader;
  readonly items: readonly RequestBatchItem[];
}

export interface ResponseItem {
  /** Omitted when the request item's operation could not be read. */
  readonly operation?: number;
  readonly uniqueBatchItemId?: Uint8Array;
  readonly status: number;
  readonly reason?: number;
  readonly message?: string;
  /** With Result Status Operation Pending: the value Poll and Cancel name (1.4 §6.8, 2.1 §9.x). */
  readonly asynchronousCorrelationValue?: Uint8Array;
  readonly payload?: StructureNode;
}

const ProtocolVersionSchema = {
  major: required(Tag.ProtocolVersionMajor, 'Integer'),
  minor: required(Tag.ProtocolVersionMinor, 'Integer'),
};

const HeaderSchema = {
  protocolVersion: required(Tag.ProtocolVersion, 'Structure'),
  maximumResponseSize: optional(Tag.MaximumResponseSize, 'Integer'),
  clientCorrelationValue: optional(Tag.ClientCorrelationValue, 'TextString'),
  serverCorrelationValue: optional(Tag.ServerCorrelationValue, 'TextString'),
  asynchronousIndicator: optional(Tag.AsynchronousIndicator, 'Boolean', 'Enumeration'),
  attestationCapableIndicator: optional(Tag.AttestationCapableIndicator, 'Boolean'),
  attestationType: repeated(Tag.AttestationType, 'Enumeration'),
  authentication: optional(Tag.Authentication, 'Structure'),
  batchErrorContinuationOption: optional(Tag.BatchErrorContinuationOption, 'Enumeration'),
  batchOrderOption: optional(Tag.BatchOrderOption, 'Boolean'),
  timeStamp: optional(Tag.TimeStamp, 'DateTime'),
  batchCount: required(Tag.BatchCount, 'Integer'),
};

const BatchItemSchema = {
  operation: required(Tag.Operation, 'Enumeration'),
  ephemeral: optional(Tag.Ephemeral, 'Boolean'),
  uniqueBatchItemId: optional(Tag.UniqueBatchItemID, 'ByteString'),
  payload: optional(Tag.RequestPayload, 'Structure'),
  messageExtension: repeated(Tag.MessageExtension, 'Structure'),
};

/** Turn a schema failure (Invalid Field) into Invalid Message: the message itself is malformed. */
function asInvalidMessage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof KmipError) throw new KmipError(ResultReason.InvalidMessage, e.message);
    throw e;
  }
}

/**
 * The protocol version of a request, if it can be read at all: used to answer even a
 * malformed message in the client's version.
 */
export function peekVersion(node: TtlvNode): KmipVersion | undefined {
  if (node.type !== 'Structure') return undefined;
  const header = node.value.find((c) => c.tag === Tag.RequestHeader);
  if (header?.type !== 'Structure') return undefined;
  const pv = header.value.find((c) => c.tag === Tag.ProtocolVersion);
  if (pv?.type !== 'Structure') return undefined;
  const major = pv.value.find((c) => c.tag === Tag.ProtocolVersionMajor);
  const minor = pv.value.find((c) => c.tag === Tag.ProtocolVersionMinor);
  if (major?.type !== 'Integer' || minor?.type !== 'Integer') return undefined;
  return { major: major.value, minor: minor.value };
}

/** Parse a Request Message. Structural problems throw KmipError(Invalid Message). */
export function parseRequestMessage(node: TtlvNode): RequestMessage {
  if (node.tag !== Tag.RequestMessage || node.type !== 'Structure') {
    throw new KmipError(ResultReason.InvalidMessage, `expected a Request Message, got ${tagName(node.tag)}`);
  }
  const top = asInvalidMessage(() => readPayload(node, { header: required(Tag.RequestHeader, 'Structure'), items: repeated(Tag.BatchItem, 'Structure') }, { what: 'Request Message' }));
  const h = asInvalidMessage(() => readPayload(top.header, HeaderSchema, { what: 'Request Header' }));
  const pv = asInvalidMessage(() => readPayload(h.protocolVersion, ProtocolVersionSchema, { what: 'Protocol Version' }));
  const header: RequestHeader = {
    version: { major: pv.major.value, minor: pv.minor.value },
    maximumResponseSize: h.maximumResponseSize?.value,
    clientCorrelationValue: h.clientCorrelationValue?.value,
    serverCorrelationValue: h.serverCorrelationValue?.value,
    asynchronousRequired: h.asynchronousIndicator?.type === 'Enumeration' && h.asynchronousIndicator.value === AsynchronousIndicator.Mandatory,
    asynchronousAllowed:
      h.asynchronousIndicator?.type === 'Boolean'
        ? h.asynchronousIndicator.value
        : h.asynchronousIndicator?.value === AsynchronousIndicator.Mandatory || h.asynchronousIndicator?.value === AsynchronousIndicator.Optional,
    attestationCapableIndicator: h.attestationCapableIndicator?.value,
    authentication: h.authentication,
    batchErrorContinuationOption: h.batchErrorContinuationOption?.value,
    batchOrderOption: h.batchOrderOption?.value,
    timeStamp: h.timeStamp?.value,
    batchCount: h.batchCount.value,
  };
  if (top.items.length === 0) throw new KmipError(ResultReason.InvalidMessage, 'a request needs at least one Batch Item');
  if (header.batchCount !== top.items.length) {
    throw new KmipError(ResultReason.InvalidMessage, `Batch Count is ${header.batchCount} but the message holds ${top.items.length} Batch Items`);
  }
  const items = top.items.map((it, i): RequestBatchItem => {
    const b = asInvalidMessage(() => readPayload(it, BatchItemSchema, { what: `Batch Item ${i + 1}` }));
    return {
      operation: b.operation.value,
      uniqueBatchItemId: b.uniqueBatchItemId?.value,
      payload: b.payload,
      messageExtensions: b.messageExtension,
    };
  });
  return { header, items };
}

/**
 * The reason to send to a client of `version`: a reason the version does not define is
 * replaced by the nearest one it does (KMIP 1.x has no Wrong Key Lifecycle State; its
 * test cases answer lifecycle refusals with Permission Denied).
 */
export function reasonForVersion(reason: number, version: KmipVersion): number {
  const def = REASON_DEFS.get(reason);
  if (!def || isAvailable(def, version)) return reason;
  return FALLBACK_1X[reason] ?? ResultReason.GeneralFailure;
}

const REASON_DEFS = new Map((enumDef('ResultReason')?.values ?? []).map((v) => [v.value, v]));

const FALLBACK_1X: Readonly<Record<number, ResultReasonValue>> = {
  [ResultReason.WrongKeyLifecycleState]: ResultReason.PermissionDenied,
  [ResultReason.AttributeReadOnly]: ResultReason.PermissionDenied,
  [ResultReason.ReadOnlyAttribute]: ResultReason.PermissionDenied,
  [ResultReason.AttributeSingleValued]: ResultReason.InvalidField,
  [ResultReason.MultiValuedAttribute]: ResultReason.InvalidField,
  [ResultReason.AttributeNotFound]: ResultReason.InvalidField,
  [ResultReason.AttributeInstanceNotFound]: ResultReason.InvalidField,
  [ResultReason.InvalidAttribute]: ResultReason.InvalidField,
  [ResultReason.InvalidAttributeValue]: ResultReason.InvalidField,
  [ResultReason.UnsupportedAttribute]: ResultReason.InvalidField,
  [ResultReason.InvalidObjectType]: ResultReason.InvalidField,
  [ResultReason.IllegalObjectType]: ResultReason.InvalidField,
  [ResultReason.IncompatibleCryptographicUsageMask]: ResultReason.PermissionDenied,
};

/**
 * Result Message text in plain ASCII. The spec allows any UTF-8, but deployed clients
 * (PyKMIP 0.10 decodes text byte by byte) fail on anything else, and the message is only
 * informational: "§" becomes "section", other characters outside printable ASCII become
 * \uXXXX escapes, so nothing is lost.
 */
export function asciiMessage(text: string): string {
  return text.replace(/§\s*/g, 'section ').replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function int(tag: number, value: number): TtlvNode {
  return { tag, type: 'Integer', value };
}

export function protocolVersionNode(v: KmipVersion): StructureNode {
  return { tag: Tag.ProtocolVersion, type: 'Structure', value: [int(Tag.ProtocolVersionMajor, v.major), int(Tag.ProtocolVersionMinor, v.minor)] };
}

export interface ResponseHeaderFields {
  readonly version: KmipVersion;
  /** Seconds since the epoch. */
  readonly timeStamp: bigint;
  readonly serverCorrelationValue?: string;
}

/**
 * Build a Response Message. Reasons are mapped to the version; 1.x never sees a 2.x reason.
 * The request's Client Correlation Value is not echoed: for client-to-server operations it
 * travels in the request only (KMIP 2.1 §9.9); the dispatcher logs it.
 */
export function buildResponseMessage(h: ResponseHeaderFields, items: readonly ResponseItem[]): StructureNode {
  const v2 = h.version.major >= 2;
  const header: TtlvNode[] = [protocolVersionNode(h.version), { tag: Tag.TimeStamp, type: 'DateTime', value: h.timeStamp }];
  if (v2 && h.serverCorrelationValue !== undefined) header.push({ tag: Tag.ServerCorrelationValue, type: 'TextString', value: h.serverCorrelationValue });
  header.push(int(Tag.BatchCount, items.length));
  const value: TtlvNode[] = [{ tag: Tag.ResponseHeader, type: 'Structure', value: header }];
  for (const it of items) value.push(responseBatchItem(it, h.version));
  return { tag: Tag.ResponseMessage, type: 'Structure', value };
}

/** One Batch Item of a Response Message, as `buildResponseMessage` puts it (the dispatcher sizes items with it). */
export function responseBatchItem(it: ResponseItem, version: KmipVersion): StructureNode {
  const c: TtlvNode[] = [];
  if (it.operation !== undefined) c.push({ tag: Tag.Operation, type: 'Enumeration', value: it.operation });
  if (it.uniqueBatchItemId !== undefined) c.push({ tag: Tag.UniqueBatchItemID, type: 'ByteString', value: it.uniqueBatchItemId });
  c.push({ tag: Tag.ResultStatus, type: 'Enumeration', value: it.status });
  if (it.status !== ResultStatus.Success && it.reason !== undefined) {
    c.push({ tag: Tag.ResultReason, type: 'Enumeration', value: reasonForVersion(it.reason, version) });
  }
  if (it.message !== undefined) c.push({ tag: Tag.ResultMessage, type: 'TextString', value: asciiMessage(it.message) });
  if (it.asynchronousCorrelationValue !== undefined) c.push({ tag: Tag.AsynchronousCorrelationValue, type: 'ByteString', value: it.asynchronousCorrelationValue });
  if (it.payload !== undefined) c.push(it.payload);
  return { tag: Tag.BatchItem, type: 'Structure', value: c };
}
