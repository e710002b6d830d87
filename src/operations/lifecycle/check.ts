/**
 * Check. KMIP 1.4 §4.10 (Tables 192-193, errors §11.11 Table 337), KMIP 2.1 §6.1.7
 * (Tables 182-185). May the caller use the object as the request says?
 * - Cryptographic Usage Mask: every bit asked for must be in the object's mask;
 * - Usage Limits Count: no more than the object's remaining count (objects without Usage Limits
 *   are unlimited);
 * - Lease Time: no longer than the lease the server would grant (its Lease Time, else the policy
 *   default, src/policy/crypto-policy.ts).
 * Allowed: the Unique Identifier is returned (and is the ID Placeholder). Denied: the ID
 * Placeholder is emptied and the item fails; since a failed item carries no payload here, the
 * attributes that caused the denial are named in the Result Message.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Permission Denied (1.x) / Incompatible Cryptographic Usage Mask (2.x): the usage mask.
 * - Permission Denied (1.x) / Usage Limit Exceeded (2.x): the usage count.
 * - Permission Denied: the lease time.
 * - Illegal Operation (1.x) / Illegal Object Type (2.x): a Template.
 * - Object Archived: the object is archived.
 * - Invalid Field: a payload that breaks its schema.
 */
import { ObjectType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError, type ResultReasonValue } from '../../kmip/errors.js';
import { optional, readPayload } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';
import { grantableLease, usageLimitsCount } from './lease.js';
import { uidPayload } from '../service/new-objects.js';
import { versionReason } from '../../kmip/version-rules.js';
import { instance } from '../../objects/typed-attributes.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  usageLimitsCount: optional(Tag.UsageLimitsCount, 'LongInteger'),
  cryptographicUsageMask: optional(Tag.CryptographicUsageMask, 'Integer'),
  leaseTime: optional(Tag.LeaseTime, 'Interval'),
};

export const check: OperationHandler = {
  operation: Operation.Check,
  name: 'Check',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = readPayload(node, Request, { what: 'Check request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record } = await loadManaged(ctx, uid, 'Check');
    if (record.objectType === ObjectType.Template) {
      throw new KmipError(versionReason(v, 'ObjectTypeIllegal'), 'Check does not apply to a Template');
    }
    const denied: { what: string; reason: ResultReasonValue }[] = [];
    if (req.cryptographicUsageMask !== undefined) {
      const m = instance(record.attributes, 'CryptographicUsageMask');
      const have = m?.type === 'Integer' ? m.value : 0;
      const want = req.cryptographicUsageMask.value;
      if ((want & ~have) !== 0) denied.push({ what: 'Cryptographic Usage Mask', reason: versionReason(v, 'IncompatibleCryptographicUsageMask') });
    }
    if (req.usageLimitsCount !== undefined) {
      const left = usageLimitsCount(record.attributes);
      if (left !== undefined && req.usageLimitsCount.value > left) {
        denied.push({ what: 'Usage Limits Count', reason: versionReason(v, 'UsageLimitExceeded') });
      }
    }
    if (req.leaseTime !== undefined) {
      const max = grantableLease(record.attributes);
      if (max !== 0 && req.leaseTime.value > max) denied.push({ what: 'Lease Time', reason: ResultReason.PermissionDenied });
    }
    const first = denied[0];
    if (first) {
      ctx.batch.idPlaceholder = undefined;
      throw new KmipError(first.reason, `the object may not be used as asked; denied by: ${denied.map((d) => d.what).join(', ')}`);
    }
    ctx.batch.idPlaceholder = uid;
    return uidPayload(uid);
  },
};
