/**
 * Get Usage Allocation. KMIP 1.4 §4.18 (Tables 208-209, errors §11.19 Table 345), KMIP 2.1
 * §6.1.23 (Tables 232-234). Takes the requested amount from the object's Usage Limits Count (the
 * server assumes it is all consumed, so the Count goes down at once), updates Last Change Date,
 * one durable commit. Only for keys that can apply protection (symmetric, private, public, split,
 * PGP keys) while they are Active and before any Protect Stop Date.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Invalid Message: no Usage Limits Count in the request (1.4 §11.19).
 * - Invalid Field: a count that is not positive.
 * - Illegal Operation (1.x) / Attribute Not Found (2.x): the object has no Usage Limits (with a count).
 * - Illegal Operation (1.x) / Invalid Object Type (2.x): an object that cannot apply protection.
 * - Permission Denied: not Active, or past its Protect Stop Date.
 * - Permission Denied (1.x) / Usage Limit Exceeded (2.x): less than the amount is left.
 * - Object Archived: the object is archived.
 */
import { ObjectType, Operation, ResultReason, State } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload } from '../../kmip/payload.js';
import { dateAttribute } from '../../objects/lifecycle.js';
import type { TtlvNode } from '../../ttlv/node.js';
import type { OperationHandler } from '../context.js';
import { usageLimitsCount } from './lease.js';
import { uidPayload, updated } from '../service/new-objects.js';
import { saveRecords, touched, withAttribute } from '../service/save.js';
import { versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance } from '../../objects/typed-attributes.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request = { uid: optional(Tag.UniqueIdentifier, 'TextString'), usageLimitsCount: optional(Tag.UsageLimitsCount, 'LongInteger') };
const PROTECTING: ReadonlySet<number> = new Set([ObjectType.SymmetricKey, ObjectType.PrivateKey, ObjectType.PublicKey, ObjectType.SplitKey, ObjectType.PGPKey]);

export const getUsageAllocation: OperationHandler = {
  operation: Operation.GetUsageAllocation,
  name: 'GetUsageAllocation',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = readPayload(node, Request, { what: 'Get Usage Allocation request payload' });
    if (req.usageLimitsCount === undefined) throw new KmipError(ResultReason.InvalidMessage, 'Get Usage Allocation needs a Usage Limits Count');
    const amount = req.usageLimitsCount.value;
    if (amount <= 0n) throw new KmipError(ResultReason.InvalidField, 'Usage Limits Count must be positive');
    const uid = resolveUid(ctx, req.uid);
    const { record, state } = await loadManaged(ctx, uid, 'GetUsageAllocation');
    if (!PROTECTING.has(record.objectType)) {
      throw new KmipError(versionReason(v, 'ObjectTypeNotUsable'), 'this object cannot be used to apply cryptographic protection');
    }
    const ul = instance(record.attributes, 'UsageLimits');
    const left = usageLimitsCount(record.attributes);
    if (ul?.type !== 'Structure' || left === undefined) {
      throw new KmipError(versionReason(v, 'UsageLimitsAbsent'), 'the object has no Usage Limits');
    }
    const stop = dateAttribute(record.attributes, 'ProtectStopDate');
    if (state !== State.Active || (stop !== undefined && stop <= ctx.now)) {
      throw new KmipError(ResultReason.PermissionDenied, 'the object cannot apply protection now (not Active, or past its Protect Stop Date)');
    }
    if (amount > left) {
      throw new KmipError(versionReason(v, 'UsageLimitExceeded'), `only ${left} units of the Usage Limits are left`);
    }
    const next: TtlvNode = {
      ...ul,
      value: ul.value.map((c): TtlvNode => (c.tag === Tag.UsageLimitsCount ? item('UsageLimitsCount', left - amount) : c)),
    };
    const attributes = touched(withAttribute(record.attributes, 'UsageLimits', [next]), ctx.now);
    await saveRecords(ctx, [{ record: updated(record, { attributes }), previous: record }]);
    return uidPayload(uid);
  },
};
