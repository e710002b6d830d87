/**
 * The batch loop and the one place errors become KMIP results.
 *
 * Mapping (unit-tested in test/operations/dispatcher.test.ts):
 * - a KmipError keeps its reason and message;
 * - a malformed header or batch → Invalid Message (the whole message);
 * - an unknown operation → Operation Not Supported;
 * - anything else → General Failure, message "internal error, ref <id>", cause logged
 *   under that id and never sent.
 * Batch semantics: items run in order; Batch Error Continuation Option Stop (the default)
 * ends the batch at the first failure, Continue goes on, Undo ends it and rolls back every
 * earlier item, reported Operation Undone (operations/batch-undo.ts). A client that accepts an
 * asynchronous answer may get Operation Pending for an eligible item (operations/async-requests.ts;
 * never in an Undo batch, where Mandatory is refused: Feature Not Supported). Changes that stand
 * are handed to the server-to-client sink after the response is final (src/notify). The ID Placeholder carries from item to
 * item. Each response item echoes Operation and Unique Batch Item ID. A reply larger than
 * the client's Maximum Response Size, or than the server's limits.maxResponseBytes (counted as
 * the items run: the item that passes it ends the batch), becomes Response Too Large.
 *
 * Audit (src/audit): every batch item, and every message refused as a whole, gets a record
 * that is durable before the response is returned. An item that changes state writes its
 * record in the same store commit (saveRecords); the rest are written together after the
 * loop. If they cannot be written the whole response becomes General Failure "audit log
 * unavailable" (fail closed).
 */
import { randomUUID } from 'node:crypto';
import { encodedLength } from '../ttlv/encode.js';
import type { TtlvNode } from '../ttlv/node.js';
import { KmipError } from '../kmip/errors.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { BatchErrorContinuationOption, ResultReason, ResultStatus } from '../kmip/generated/enums.gen.js';
import { buildResponseMessage, parseRequestMessage, peekVersion, type RequestMessage, type ResponseItem } from '../kmip/messages.js';
import { compareVersions, enumDef, isAvailable } from '../kmip/registry.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import type { Principal } from '../policy/access.js';
import { RequestAudit } from '../audit/request-audit.js';
import { AUDIT_UNAVAILABLE } from '../audit/trail.js';
import type { ConnectionHooks, HandlerTable, OperationContext, OperationHandler, ServerServices } from './context.js';
import { BatchUndo } from './batch-undo.js';
import { AsyncBatch } from './async-requests.js';
import { budgetsOf } from '../policy/budgets.js';
import type { Logger } from 'pino';

export interface DispatchResult {
  readonly response: TtlvNode;
  /** True when the request could not be parsed: answer, then close the connection. */
  readonly closeAfter: boolean;
}

const OPERATION_DEFS = new Map((enumDef('Operation')?.values ?? []).map((v) => [v.value, v]));

/** The handler for `operation` if it is served and the operation exists in `version`. */
export function servedIn(handlers: HandlerTable, operation: number, version: KmipVersion): OperationHandler | undefined {
  const handler = handlers.get(operation);
  const def = OPERATION_DEFS.get(operation);
  if (handler?.since && compareVersions(version, handler.since) < 0) return undefined;
  return handler && def && isAvailable(def, version) ? handler : undefined;
}

export function isSupportedVersion(services: ServerServices, v: KmipVersion): boolean {
  return services.versions.some((s) => compareVersions(s, v) === 0);
}

/** The version to answer in when the request's own cannot be used. */
function fallbackVersion(services: ServerServices, requested: KmipVersion | undefined): KmipVersion {
  if (requested && isSupportedVersion(services, requested)) return requested;
  // The highest served version not above the requested one, else the lowest served.
  const sorted = [...services.versions].sort(compareVersions);
  if (requested) {
    const below = sorted.filter((v) => compareVersions(v, requested) <= 0);
    if (below.length > 0) return below[below.length - 1]!;
  }
  return sorted[0] ?? { major: 1, minor: 0 };
}

function nowSeconds(services: ServerServices): bigint {
  return BigInt(Math.floor(services.clock() / 1000));
}

function failure(reason: number, message: string, operation?: number, uniqueBatchItemId?: Uint8Array): ResponseItem {
  return { operation, uniqueBatchItemId, status: ResultStatus.OperationFailed, reason, message };
}

/** Map any thrown value to a failed response item (the one mapping, see header). */
export function errorToItem(services: ServerServices, e: unknown, operation?: number, id?: Uint8Array, log = services.log): ResponseItem {
  if (e instanceof KmipError) return failure(e.reason, e.message, operation, id);
  const ref = randomUUID();
  log.error({ err: e, ref, operation }, 'internal error');
  return failure(ResultReason.GeneralFailure, `internal error, ref ${ref}`, operation, id);
}

/** A whole-message failure (Invalid Message) in the best version we can tell. */
export function messageFailure(services: ServerServices, version: KmipVersion | undefined, reason: number, message: string): TtlvNode {
  const v = fallbackVersion(services, version);
  return buildResponseMessage({ version: v, timeStamp: nowSeconds(services) }, [failure(reason, message)]);
}

/**
 * The size the response must stay within: the client's Maximum Response Size when it is given
 * and not above the server's limit (0 = none), else the server's. Undefined: no limit at all.
 */
export function responseBudget(clientMax: number | undefined, serverMax: number): { readonly max: number; readonly client: boolean } | undefined {
  const client = clientMax !== undefined && clientMax > 0 ? clientMax : undefined;
  const server = serverMax > 0 ? serverMax : undefined;
  if (client !== undefined && (server === undefined || client <= server)) return { max: client, client: true };
  return server === undefined ? undefined : { max: server, client: false };
}

export interface Correlation {
  readonly connectionId: string;
  readonly requestNo: number;
  /** The client's address, for the audit trail. */
  readonly remote?: string;
  /** The connection (KMIP port): Set Endpoint Role Client makes it a server-to-client channel. */
  readonly connection?: ConnectionHooks;
}

/**
 * Make the request's audit records durable, then hand back `result`; when they cannot be
 * written, `unavailable` (every item General Failure) instead.
 */
async function audited(audit: RequestAudit | undefined, result: DispatchResult, unavailable: () => TtlvNode, metrics?: ServerServices['metrics']): Promise<DispatchResult> {
  if (!audit) return result;
  try {
    const t0 = performance.now();
    await audit.flush();
    metrics?.auditAppended((performance.now() - t0) / 1000);
    return result;
  } catch {
    // AuditTrail logged the cause.
    return { response: unavailable(), closeAfter: result.closeAfter };
  }
}

/** Answer one request message (any transport); with metrics on, its items and time are counted. */
export async function dispatch(
  services: ServerServices,
  handlers: HandlerTable,
  principal: Principal,
  requestNode: TtlvNode,
  correlation: Correlation,
): Promise<DispatchResult> {
  const metrics = services.metrics;
  if (!metrics) return dispatchMessage(services, handlers, principal, requestNode, correlation);
  const t0 = performance.now();
  const result = await dispatchMessage(services, handlers, principal, requestNode, correlation);
  metrics.observeExchange(result.response, (performance.now() - t0) / 1000);
  return result;
}

async function dispatchMessage(
  services: ServerServices,
  handlers: HandlerTable,
  principal: Principal,
  requestNode: TtlvNode,
  correlation: Correlation,
): Promise<DispatchResult> {
  const who = { connectionId: correlation.connectionId, requestNo: correlation.requestNo, client: principal.id, addr: correlation.remote };
  let req: RequestMessage;
  try {
    req = parseRequestMessage(requestNode);
  } catch (e) {
    const reason = e instanceof KmipError ? e.reason : ResultReason.InvalidMessage;
    const message = e instanceof KmipError ? e.message : 'malformed request';
    const v = peekVersion(requestNode);
    const audit = services.audit && new RequestAudit(services.audit, { ...who, kmip: v && `${v.major}.${v.minor}` }, services.clock);
    audit?.refused([failure(reason, message)]);
    return audited(
      audit,
      { response: messageFailure(services, v, reason, message), closeAfter: true },
      () => messageFailure(services, v, ResultReason.GeneralFailure, AUDIT_UNAVAILABLE),
      services.metrics,
    );
  }
  const { header } = req;
  const version = header.version;
  const respond = (items: ResponseItem[]): TtlvNode =>
    buildResponseMessage({ version: fallbackVersion(services, version), timeStamp: nowSeconds(services) }, items);
  const audit = services.audit && new RequestAudit(services.audit, { ...who, kmip: `${version.major}.${version.minor}` }, services.clock);
  const auditUnavailable = () => respond(req.items.map((it) => failure(ResultReason.GeneralFailure, AUDIT_UNAVAILABLE, it.operation, it.uniqueBatchItemId)));
  const refuse = (items: ResponseItem[]): Promise<DispatchResult> => {
    audit?.refused(items);
    return audited(audit, { response: respond(items), closeAfter: false }, auditUnavailable, services.metrics);
  };

  if (!isSupportedVersion(services, version)) {
    return refuse([failure(ResultReason.InvalidMessage, `protocol version ${version.major}.${version.minor} is not supported`)]);
  }
  // The request's child logger is made when something logs: building one (bindings serialized,
  // redaction set up) for every request cost more than a Get's own work in the profile.
  let requestLog: Logger | undefined;
  const log = (): Logger =>
    (requestLog ??= services.log.child({
      conn: correlation.connectionId,
      req: correlation.requestNo,
      principal: principal.id,
      kmip: `${version.major}.${version.minor}`,
      ...(header.clientCorrelationValue !== undefined ? { ccv: header.clientCorrelationValue } : {}),
    }));

  const refuseAll = (reason: number, message: string) => refuse(req.items.map((it) => failure(reason, message, it.operation, it.uniqueBatchItemId)));
  const undo = header.batchErrorContinuationOption === BatchErrorContinuationOption.Undo ? new BatchUndo(services.store) : undefined;
  if (header.asynchronousRequired && (undo || !services.asyncRequests)) {
    const why = undo ? 'an Undo batch is never answered asynchronously (its rollback needs the whole batch)' : 'asynchronous operations are not enabled';
    return refuseAll(ResultReason.FeatureNotSupported, why);
  }
  const ctx: OperationContext = {
    services,
    principal,
    version,
    header,
    now: nowSeconds(services),
    batch: {},
    get log() {
      return log();
    },
    ...(audit ? { audit } : {}),
    ...(undo ? { undo } : {}),
    changes: [],
    ...(correlation.connection ? { connection: correlation.connection } : {}),
  };
  const continueOnError = header.batchErrorContinuationOption === BatchErrorContinuationOption.Continue;
  // Items run with a context (the message's, or an asynchronous item's own: async-requests.ts).
  const execute = async (c: OperationContext, index: number): Promise<ResponseItem> => {
    const item = req.items[index]!;
    c.audit?.begin(index, item.operation, item.payload);
    const handler = servedIn(handlers, item.operation, version);
    let result: ResponseItem;
    if (!handler) {
      result = failure(ResultReason.OperationNotSupported, `operation ${item.operation} is not supported`, item.operation, item.uniqueBatchItemId);
    } else if (item.messageExtensions.some((x) => x.value.some((ch) => ch.type === 'Boolean' && ch.value && ch.tag === Tag.CriticalityIndicator))) {
      // A critical message extension we do not understand (Criticality Indicator true).
      result = failure(ResultReason.FeatureNotSupported, 'critical message extension not supported', item.operation, item.uniqueBatchItemId);
    } else {
      try {
        const outcome = handler.handleItem ? await handler.handleItem(c, item.payload) : { status: ResultStatus.Success, payload: await handler.handle(c, item.payload) };
        result = { operation: item.operation, uniqueBatchItemId: item.uniqueBatchItemId, ...outcome };
      } catch (e) {
        result = errorToItem(services, e, item.operation, item.uniqueBatchItemId, log());
      }
    }
    c.audit?.end(result, c.batch.idPlaceholder);
    return result;
  };
  const publish = (c: OperationContext) => {
    if (c.changes && c.changes.length > 0) services.serverToClient?.publish(c.changes, correlation.connectionId);
  };
  const asyncBatch =
    header.asynchronousAllowed && !undo && services.asyncRequests
      ? new AsyncBatch(services.asyncRequests, { ctx, items: req.items, who: { ...who, kmip: `${version.major}.${version.minor}` }, mandatory: header.asynchronousRequired, continueOnError, run: execute, afterBackground: publish })
      : undefined;
  const items: ResponseItem[] = [];
  // The response's size is kept as the items run: the item that passes the budget (the client's
  // Maximum Response Size or the server's limits.maxResponseBytes, the smaller) ends the batch.
  const budget = responseBudget(header.maximumResponseSize, budgetsOf(services).maxResponseBytes);
  const emptyLength = encodedLength(respond([]));
  let responseLength = emptyLength;
  let tooLarge = false;
  for (const [index, item] of req.items.entries()) {
    if (undo) undo.lastItem = index === req.items.length - 1;
    let result: ResponseItem;
    if (asyncBatch?.eligible(item.operation)) {
      const step = await asyncBatch.start(index);
      if (step.kind === 'pending') {
        // This item and the rest of the batch run in the background (async-requests.ts).
        items.push(...step.results);
        break;
      }
      result = step.result;
    } else {
      result = await execute(ctx, index);
    }
    items.push(result);
    if (budget) {
      responseLength += encodedLength(respond([result])) - emptyLength;
      if (responseLength > budget.max) {
        tooLarge = true;
        break;
      }
    }
    if (result.status !== ResultStatus.Success && !continueOnError) break;
  }

  let response = respond(items);
  const finished = undo && (await undo.finish(ctx, items, tooLarge));
  if (finished && !tooLarge) response = respond(finished.items);
  if (tooLarge && budget) {
    const undone = finished ? (finished.undone ? '; the batch was undone' : '; the batch could NOT be undone') : '';
    const limit = budget.client ? `the Maximum Response Size of ${budget.max} bytes` : `the server's response limit of ${budget.max} bytes (limits.maxResponseBytes)`;
    if (!budget.client) log().warn({ limit: budget.max, items: items.length, of: req.items.length }, 'response over the server limit: Response Too Large');
    response = respond(
      items.map((it) => failure(ResultReason.ResponseTooLarge, `the response exceeds ${limit}${undone}`, it.operation, it.uniqueBatchItemId)),
    );
  }
  const out = await audited(audit, { response, closeAfter: false }, auditUnavailable, services.metrics);
  // Server-to-client events only for changes that stand: not undone, answered with their audit durable.
  if (out.response === response && !(finished && finished.undone)) publish(ctx);
  return out;
}
