/**
 * Obtain Lease. KMIP 1.4 §4.17 (Tables 206-207, errors §11.18 Table 344), KMIP 2.1 §6.1.35
 * (Tables 268-270). Returns the lease granted — the object's Lease Time attribute when set, else
 * the policy default (src/policy/crypto-policy.ts) — and the object's Last Change Date. Changes
 * nothing (Last Change Date is not implicitly set by Obtain Lease, 1.4 §3.38).
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Permission Denied: no lease for a destroyed object or a Template.
 * - Permission Denied (1.x) / Usage Limit Exceeded (2.x): its Usage Limits are used up.
 * - Object Archived: the object is archived.
 * - Invalid Field: a payload that breaks its schema.
 */
import { ObjectType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';
import { grantableLease, usageLimitsCount } from './lease.js';
import { uidPayload } from '../service/new-objects.js';
import { dateNode } from '../service/save.js';
import { versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance } from '../../objects/typed-attributes.js';
import { isDestroyed } from '../../objects/lifecycle.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request = { uid: optional(Tag.UniqueIdentifier, 'TextString') };

export const obtainLease: OperationHandler = {
  operation: Operation.ObtainLease,
  name: 'ObtainLease',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Obtain Lease request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record, state } = await loadManaged(ctx, uid, 'ObtainLease');
    if (record.objectType === ObjectType.Template || isDestroyed(state)) {
      throw new KmipError(ResultReason.PermissionDenied, 'no lease is issued for this object');
    }
    if (usageLimitsCount(record.attributes) === 0n) {
      throw new KmipError(versionReason(ctx.version, 'UsageLimitExceeded'), 'the object has used up its Usage Limits');
    }
    const lcd = instance(record.attributes, 'LastChangeDate');
    return uidPayload(uid, [item('LeaseTime', grantableLease(record.attributes)), lcd?.type === 'DateTime' ? lcd : dateNode(Tag.LastChangeDate, ctx.now)]);
  },
};
