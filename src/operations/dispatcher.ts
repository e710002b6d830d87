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
 * Writes and audit: the dispatcher opens a unit of work for each batch item
 * (operations/unit-of-work.ts) and closes it with the item's result: the unit commits what the
 * handler staged together with the item's audit record, or abandons it (running its undo
 * journal) when the item failed; a commit that fails answers the item with the mapped error.
 * Every batch item, and every message refused as a whole, gets a record that is durable before
 * the response is returned (`MessageWork.finish`, which also decides the durability class). If
 * they cannot be written the whole response becomes General Failure "audit log unavailable"
 * (fail closed).
 */
import { randomUUID } from 'node:crypto';
import { encodedLength } from '../ttlv/encode.js';
import type { TtlvNode } from '../ttlv/node.js';
import { KmipError } from '../kmip/errors.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { BatchErrorContinuationOption, Operation, ResultReason, ResultStatus } from '../kmip/generated/enums.gen.js';
import { buildResponseMessage, parseRequestMessage, peekVersion, responseBatchItem, type RequestHeader, type RequestMessage, type ResponseItem } from '../kmip/messages.js';
import { compareVersions, enumDef, isAvailable } from '../kmip/registry.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import type { Principal } from '../policy/access.js';
import { AUDIT_UNAVAILABLE } from '../audit/trail.js';
import type { BatchState, ConnectionHooks, HandlerTable, OperationContext, OperationHandler, ServerServices } from './context.js';
import type { UnitOfWork } from './unit-of-work.js';
import { MessageWork, type WorkDeps } from './unit-of-work.js';
import { AsyncBatch, type ItemScope } from './async-requests.js';
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
 * Make the message's audit records durable (`MessageWork.finish`), then hand back `result`;
 * when they cannot be written, `unavailable` (every item General Failure) instead.
 */
async function audited(work: MessageWork, result: DispatchResult, unavailable: () => TtlvNode, answerAnyway = false): Promise<DispatchResult> {
  if (await work.finish()) return result;
  // AuditTrail logged the cause. A message of Discover Versions only (no object, no key: a
  // client's or load balancer's probe) is answered anyway, so a node whose database is down
  // still says what it speaks (docs/cluster-nodes.md); its audit record is what is lost.
  if (answerAnyway) return result;
  return { response: unavailable(), closeAfter: result.closeAfter };
}

/** The encoded length of a response without items (its header's items all have fixed sizes). */
let emptyResponseLength: number | undefined;

/**
 * The context handlers get: the request's values, the logger made on first use, and the unit of
 * work of the item being run. A class, so its accessors live on the prototype instead of being
 * defined on a new object for every request.
 */
class MessageContext implements OperationContext {
  readonly connection?: ConnectionHooks;
  constructor(
    readonly services: ServerServices,
    readonly principal: Principal,
    readonly version: KmipVersion,
    readonly header: RequestHeader,
    readonly now: bigint,
    readonly batch: BatchState,
    private readonly makeLog: () => Logger,
    private readonly w: MessageWork,
    connection: ConnectionHooks | undefined,
  ) {
    if (connection) this.connection = connection;
  }

  get log(): Logger {
    return this.makeLog();
  }

  get work(): UnitOfWork {
    return this.w.current;
  }
}

/** Answer one request message (any transport); with metrics on, its items and time are counted. */
export async function dispatch(services: ServerServices, handlers: HandlerTable, principal: Principal, requestNode: TtlvNode, correlation: Correlation): Promise<DispatchResult> {
  const metrics = services.metrics;
  if (!metrics) return dispatchMessage(services, handlers, principal, requestNode, correlation);
  const t0 = performance.now();
  const result = await dispatchMessage(services, handlers, principal, requestNode, correlation);
  metrics.observeExchange(result.response, (performance.now() - t0) / 1000);
  return result;
}

async function dispatchMessage(services: ServerServices, handlers: HandlerTable, principal: Principal, requestNode: TtlvNode, correlation: Correlation): Promise<DispatchResult> {
  const who = { connectionId: correlation.connectionId, requestNo: correlation.requestNo, client: principal.id, addr: correlation.remote };
  // The request's child logger is made when something logs: building one (bindings serialized,
  // redaction set up) for every request cost more than a Get's own work in the profile.
  let requestLog: Logger | undefined;
  // Its bindings: the message's version and correlation value once the version is known to be served.
  let known: { kmip: string; ccv: string | undefined } | undefined;
  const log = (): Logger =>
    (requestLog ??= services.log.child({
      conn: correlation.connectionId,
      req: correlation.requestNo,
      principal: principal.id,
      ...(known && { kmip: known.kmip, ...(known.ccv !== undefined ? { ccv: known.ccv } : {}) }),
    }));
  // One object shape per request (no conditional spreads: those build a slow dictionary object).
  const deps: WorkDeps = { store: services.store, audit: services.audit, protector: services.protector, resident: services.resident, metrics: services.metrics, clock: services.clock, log };
  let req: RequestMessage;
  try {
    req = parseRequestMessage(requestNode);
  } catch (e) {
    const reason = e instanceof KmipError ? e.reason : ResultReason.InvalidMessage;
    const message = e instanceof KmipError ? e.message : 'malformed request';
    const v = peekVersion(requestNode);
    const work = new MessageWork(deps, { ...who, kmip: v && `${v.major}.${v.minor}` });
    work.refused([failure(reason, message)]);
    return audited(work, { response: messageFailure(services, v, reason, message), closeAfter: true }, () => messageFailure(services, v, ResultReason.GeneralFailure, AUDIT_UNAVAILABLE));
  }
  const { header } = req;
  const version = header.version;
  const respond = (items: ResponseItem[]): TtlvNode => buildResponseMessage({ version: fallbackVersion(services, version), timeStamp: nowSeconds(services) }, items);
  const undoing = header.batchErrorContinuationOption === BatchErrorContinuationOption.Undo;
  const kmip = `${version.major}.${version.minor}`;
  const work = new MessageWork(deps, { ...who, kmip }, { undo: undoing });
  const auditUnavailable = () => respond(req.items.map((it) => failure(ResultReason.GeneralFailure, AUDIT_UNAVAILABLE, it.operation, it.uniqueBatchItemId)));
  const refuse = (items: ResponseItem[]): Promise<DispatchResult> => {
    work.refused(items);
    return audited(work, { response: respond(items), closeAfter: false }, auditUnavailable);
  };

  if (!isSupportedVersion(services, version)) {
    return refuse([failure(ResultReason.InvalidMessage, `protocol version ${version.major}.${version.minor} is not supported`)]);
  }
  known = { kmip: `${version.major}.${version.minor}`, ccv: header.clientCorrelationValue };

  const refuseAll = (reason: number, message: string) => refuse(req.items.map((it) => failure(reason, message, it.operation, it.uniqueBatchItemId)));
  if (header.asynchronousRequired && (undoing || !services.asyncRequests)) {
    const why = undoing ? 'an Undo batch is never answered asynchronously (its rollback needs the whole batch)' : 'asynchronous operations are not enabled';
    return refuseAll(ResultReason.FeatureNotSupported, why);
  }

  const now = nowSeconds(services);
  const batch = {};
  // A context over a MessageWork: the message's own, or an asynchronous item's (async-requests.ts).
  const contextFor = (w: MessageWork): OperationContext => new MessageContext(services, principal, version, header, now, batch, log, w, correlation.connection);
  const ctx = contextFor(work);
  const continueOnError = header.batchErrorContinuationOption === BatchErrorContinuationOption.Continue;
  // Run item `index` in `w` (its unit of work opened and closed there); never throws.
  const execute = async (c: OperationContext, w: MessageWork, index: number): Promise<ResponseItem> => {
    const item = req.items[index]!;
    const unit = w.open(index, item.operation, item.payload, c.batch);
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
    // Commit what the item staged with its audit record, or abandon it (see unit-of-work.ts).
    return unit.close(result, (e) => errorToItem(services, e, item.operation, item.uniqueBatchItemId, log()));
  };
  const publish = (w: MessageWork) => {
    if (w.committed.length > 0) services.serverToClient?.publish(w.committed, correlation.connectionId);
  };
  const asyncBatch =
    header.asynchronousAllowed && !undoing && services.asyncRequests
      ? new AsyncBatch(services.asyncRequests, {
          ctx,
          items: req.items,
          mandatory: header.asynchronousRequired,
          continueOnError,
          scope: (): ItemScope => {
            const w = new MessageWork(deps, { ...who, kmip });
            const c = contextFor(w);
            return { ctx: c, run: (index) => execute(c, w, index), finish: () => w.finish(), publish: () => publish(w) };
          },
          runHere: (index) => execute(ctx, work, index),
          recordPending: async (index, audited) => {
            const it = req.items[index]!;
            await work.open(index, it.operation, it.payload, ctx.batch).close(audited, (e) => errorToItem(services, e, it.operation, it.uniqueBatchItemId, log()));
          },
        })
      : undefined;
  const items: ResponseItem[] = [];
  // The response's size is kept as the items run: the item that passes the budget (the client's
  // Maximum Response Size or the server's limits.maxResponseBytes, the smaller) ends the batch.
  const budget = responseBudget(header.maximumResponseSize, budgetsOf(services).maxResponseBytes);
  // The message without items, then each item's node as it comes (not the whole message again).
  let responseLength = budget ? (emptyResponseLength ??= encodedLength(respond([]))) : 0;
  let tooLarge = false;
  for (let index = 0; index < req.items.length; index++) {
    const item = req.items[index]!;
    if (work.undo) work.undo.lastItem = index === req.items.length - 1;
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
      result = await execute(ctx, work, index);
    }
    items.push(result);
    if (budget) {
      responseLength += encodedLength(responseBatchItem(result, version));
      if (responseLength > budget.max) {
        tooLarge = true;
        break;
      }
    }
    if (result.status !== ResultStatus.Success && !continueOnError) break;
  }

  let response = respond(items);
  const finished = await work.finishBatch(items, tooLarge);
  if (finished && !tooLarge) response = respond(finished.items);
  if (tooLarge && budget) {
    const undone = finished ? (finished.undone ? '; the batch was undone' : '; the batch could NOT be undone') : '';
    const limit = budget.client ? `the Maximum Response Size of ${budget.max} bytes` : `the server's response limit of ${budget.max} bytes (limits.maxResponseBytes)`;
    if (!budget.client) log().warn({ limit: budget.max, items: items.length, of: req.items.length }, 'response over the server limit: Response Too Large');
    response = respond(items.map((it) => failure(ResultReason.ResponseTooLarge, `the response exceeds ${limit}${undone}`, it.operation, it.uniqueBatchItemId)));
  }
  const probeOnly = req.items.every((it) => it.operation === Operation.DiscoverVersions);
  const out = await audited(work, { response, closeAfter: false }, auditUnavailable, probeOnly);
  // Server-to-client events only for changes that stand: not undone, answered with their audit durable.
  if (out.response === response && !finished?.undone) publish(work);
  return out;
}
