/**
 * What an operation handler gets. `ServerServices` are shared by every request;
 * `OperationContext` is made per request message (never stored on a shared object) and
 * carries the principal, the negotiated version, the request time, the batch-scoped
 * ID Placeholder and the open batch item's unit of work (`work`: the only way a handler writes).
 */
import type { Logger } from 'pino';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import type { ResidentKeys } from '../hsm/resident.js';
import type { CryptoPolicy } from '../policy/crypto-policy.js';
import type { ResourceBudgets } from '../policy/budgets.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import type { RequestHeader } from '../kmip/messages.js';
import type { ObjectStore } from '../store/object-store.js';
import type { AccessPolicy, Principal } from '../policy/access.js';
import type { AuditTrail } from '../audit/trail.js';
import type { UnitOfWork } from './unit-of-work.js';
import type { KmsMetrics } from '../http/metrics.js';
import type { ClientProfiles } from '../policy/client-profiles.js';
import type { AsyncRequests } from './async-requests.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import type { ResponseItem } from '../kmip/messages.js';

export interface ServerInfo {
  readonly vendor: string;
  readonly product: string;
  readonly version: string;
}

export interface ServerServices {
  readonly store: ObjectStore;
  readonly protector: KeyProtector;
  readonly access: AccessPolicy;
  readonly log: Logger;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock: () => number;
  readonly info: ServerInfo;
  /** Protocol versions served, most preferred first. */
  readonly versions: readonly KmipVersion[];
  /** The cryptographic policy (config `cryptoPolicy`); absent: the defaults of src/policy/crypto-policy.ts. */
  readonly cryptoPolicy?: CryptoPolicy;
  /** Resource budgets (config `limits`, policy/budgets.ts); absent: the defaults. */
  readonly budgets?: ResourceBudgets;
  /** HSM-resident keys (a PKCS#11 backend is configured): the backend and the residency policy. */
  readonly resident?: ResidentKeys;
  /** The audit trail. Every server started by bootstrap.ts has one; unit tests may omit it. */
  readonly audit?: AuditTrail;
  /** Prometheus metrics (src/http/metrics.ts): fed by the dispatcher and the listeners when present. */
  readonly metrics?: KmsMetrics;
  /** Per-client profiles (config `clientProfiles`, policy/client-profiles.ts); absent: the default profile for everyone. */
  readonly clientProfiles?: ClientProfiles;
  /** Pending asynchronous results (operations/async-requests.ts); absent: every answer is synchronous. */
  readonly asyncRequests?: AsyncRequests;
  /** Server-to-client delivery (src/notify): Notify / Put after committed changes; absent: none. */
  readonly serverToClient?: ServerToClientSink;
}

/** A change an item committed (operations/service/save.ts saveRecords), for server-to-client events. */
export interface CommittedChange {
  readonly record: ObjectRecord;
  readonly previous?: ObjectRecord;
}

/** What the dispatcher hands committed changes to (src/notify/hub.ts implements it). */
export interface ServerToClientSink {
  /** Changes that stand (committed, batch not undone, audit durable); `origin` made them. */
  publish(changes: readonly CommittedChange[], origin: string): void;
  /** Whether Notify and Put can be sent to `principal` at `version` (Query lists them then). */
  canSendTo(principal: Principal, version: KmipVersion): boolean;
}

/** The connection a request came on, for Set Endpoint Role (absent over HTTPS). */
export interface ConnectionHooks {
  readonly id: string;
  /** Make this connection a server-to-client channel; false when it cannot be one. */
  takeClientRole(principal: Principal, version: KmipVersion): boolean;
}

export interface BatchState {
  /** The ID Placeholder: the Unique Identifier the previous batch item produced. */
  idPlaceholder?: string;
}

export interface OperationContext {
  readonly services: ServerServices;
  readonly principal: Principal;
  readonly version: KmipVersion;
  readonly header: RequestHeader;
  /** The request's time, in seconds since the epoch: one value for the whole message. */
  readonly now: bigint;
  readonly batch: BatchState;
  readonly log: Logger;
  /**
   * The unit of work of the batch item being run (operations/unit-of-work.ts): changes staged
   * here (through service/save.ts `saveRecords`) are committed with the item's audit record by the
   * dispatcher when the item succeeds, and dropped with its undo journal run when it fails.
   */
  readonly work: UnitOfWork;
  /** The connection the request came on (KMIP port only): Set Endpoint Role Client. */
  readonly connection?: ConnectionHooks;
}

/**
 * One operation. Every operation file exports one of these; the dispatcher, Query and
 * Discover Versions all read the same table (operations/index.ts), so what is advertised
 * is what is served.
 */
export interface OperationHandler {
  /** Operation enumeration value. */
  readonly operation: number;
  /** The operation's normalized name ("Get"), used by access grants and logs. */
  readonly name: string;
  /**
   * The lowest protocol version this server serves the operation in, when that is above the
   * version the registry says the operation appeared in (Query and the dispatcher both honour it).
   */
  readonly since?: KmipVersion;
  handle(ctx: OperationContext, payload: StructureNode | undefined): Promise<StructureNode>;
  /**
   * For an operation whose answer is not always Success or a KmipError (Poll: the polled item's
   * own status, Operation Pending included): the whole outcome. The dispatcher prefers it.
   */
  handleItem?(ctx: OperationContext, payload: StructureNode | undefined): Promise<Omit<ResponseItem, 'operation' | 'uniqueBatchItemId'>>;
}

export type HandlerTable = ReadonlyMap<number, OperationHandler>;

/** Narrow a child lookup, shared by handlers. */
export function child(node: StructureNode | undefined, tag: number): TtlvNode | undefined {
  return node?.value.find((c) => c.tag === tag);
}
