/**
 * Resource budgets (issue 13, item 2): how much one request, one client identity and the
 * server as a whole may make the server hold. Each is a key of the config's `limits` section
 * (they are part of ServerLimits) and a KMS_ environment variable; docs/limits.md lists them
 * with what a client gets when it reaches one. 0 turns a budget off.
 *
 * - maxResponseBytes: checked while the batch items run (operations/dispatcher.ts); the item
 *   that passes it and every earlier one answer Response Too Large, later items are not run.
 * - maxMultipart*: the multi-part (streaming) operations' state (crypto/multipart.ts), per
 *   identity and in total; a new operation beyond them is refused, never another's evicted.
 * - maxObjectBytes / maxAttributeValueBytes: every object saved (operations/service/save.ts
 *   saveRecords).
 */
import { KmipError } from '../kmip/errors.js';
import { ResultReason } from '../kmip/generated/enums.gen.js';

export interface ResourceBudgets {
  /** Largest response message the server builds, whatever the client allows. Config: limits.maxResponseBytes */
  readonly maxResponseBytes: number;
  /** Open multi-part operations, all identities together. Config: limits.maxMultipartOperations */
  readonly maxMultipartOperations: number;
  /** Open multi-part operations of one identity. Config: limits.maxMultipartPerIdentity */
  readonly maxMultipartPerIdentity: number;
  /** Data held by open multi-part operations, all identities together. Config: limits.maxMultipartBytes */
  readonly maxMultipartBytes: number;
  /** Data held by the open multi-part operations of one identity. Config: limits.maxMultipartBytesPerIdentity */
  readonly maxMultipartBytesPerIdentity: number;
  /** A multi-part operation idle this long is forgotten. Config: limits.multipartIdleMs */
  readonly multipartIdleMs: number;
  /** Largest stored object: sealed content plus every attribute value. Config: limits.maxObjectBytes */
  readonly maxObjectBytes: number;
  /** Largest single attribute value (one instance, TTLV-encoded). Config: limits.maxAttributeValueBytes */
  readonly maxAttributeValueBytes: number;
}

export const DEFAULT_BUDGETS: ResourceBudgets = Object.freeze({
  maxResponseBytes: 16 * 1024 * 1024,
  maxMultipartOperations: 1024,
  maxMultipartPerIdentity: 32,
  maxMultipartBytes: 256 * 1024 * 1024,
  maxMultipartBytesPerIdentity: 64 * 1024 * 1024,
  multipartIdleMs: 10 * 60_000,
  maxObjectBytes: 4 * 1024 * 1024,
  maxAttributeValueBytes: 64 * 1024,
});

/** Environment variables of the budgets, by config path. */
export const BUDGET_ENV_KEYS: Readonly<Record<string, string>> = {
  KMS_MAX_RESPONSE_BYTES: 'limits.maxResponseBytes',
  KMS_MAX_MULTIPART_OPERATIONS: 'limits.maxMultipartOperations',
  KMS_MAX_MULTIPART_PER_IDENTITY: 'limits.maxMultipartPerIdentity',
  KMS_MAX_MULTIPART_BYTES: 'limits.maxMultipartBytes',
  KMS_MAX_MULTIPART_BYTES_PER_IDENTITY: 'limits.maxMultipartBytesPerIdentity',
  KMS_MULTIPART_IDLE_MS: 'limits.multipartIdleMs',
  KMS_MAX_OBJECT_BYTES: 'limits.maxObjectBytes',
  KMS_MAX_ATTRIBUTE_VALUE_BYTES: 'limits.maxAttributeValueBytes',
};

/** The budgets of a running server (`services.budgets`), else the defaults. */
export function budgetsOf(services: { readonly budgets?: ResourceBudgets }): ResourceBudgets {
  return services.budgets ?? DEFAULT_BUDGETS;
}

const SUMMARY: Readonly<Record<keyof ResourceBudgets, string>> = {
  maxResponseBytes: 'largest response, whatever the client allows',
  maxMultipartOperations: 'open multi-part operations, all clients',
  maxMultipartPerIdentity: 'open multi-part operations per client identity',
  maxMultipartBytes: 'data held by multi-part operations, all clients',
  maxMultipartBytesPerIdentity: "data held by one identity's multi-part operations",
  multipartIdleMs: 'an idle multi-part operation is forgotten after this',
  maxObjectBytes: 'largest stored object (content + attributes)',
  maxAttributeValueBytes: 'largest single attribute value',
};

/** The `kms serve --help` lines of the budgets: config key, variable, default, meaning. */
export function budgetsHelp(): string {
  const lines = Object.entries(BUDGET_ENV_KEYS).map(([env, path]) => {
    const key = path.slice('limits.'.length) as keyof ResourceBudgets;
    return `  ${path} (${env}; default ${DEFAULT_BUDGETS[key]})\n      ${SUMMARY[key]}`;
  });
  return lines.join('\n');
}

/** Whether `n` passes `limit` (a limit of 0 is off). */
export function exceeds(n: number, limit: number): boolean {
  return limit > 0 && n > limit;
}

/**
 * The refusal for a request that would pass a budget: Server Limit Exceeded (KMIP 2.0+; 1.x
 * clients get General Failure, kmip/messages.ts reasonForVersion), naming the setting.
 */
export function budgetExceeded(setting: keyof ResourceBudgets, limit: number, what: string): KmipError {
  return new KmipError(ResultReason.ServerLimitExceeded, `${what}: the server's limit is ${limit} (limits.${setting})`);
}
