/**
 * Revoke. KMIP 1.4 §4.20 (Tables 212-213, errors §11.21 Table 347), KMIP 2.1 §6.1.44
 * (Tables 295-297). Key Compromise / CA Compromise → Compromised, with Compromise Date = now and
 * Compromise Occurrence Date = the request's, else the Initial Date; any other reason → Deactivated
 * with Deactivation Date = now (from Active only). Revocation Reason is recorded. All through the
 * lifecycle table (objects/lifecycle.ts); Last Change Date updated; one durable commit.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Invalid Field: a Revocation Reason Code the spec does not define; a Compromise Occurrence Date
 *   with a reason other than a compromise ("SHALL NOT be specified", 1.4 Table 212).
 * - Illegal Operation (1.x) / Wrong Key Lifecycle State (2.x): the state does not allow it.
 * - Illegal Operation (1.x) / Invalid Object Type (2.x): a Template.
 * - Object Archived: the object is archived.
 * - Invalid Field: a payload that breaks its schema.
 */
import { Operation, ResultReason, RevocationReasonCode } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload, required } from '../../kmip/payload.js';
import { applyEvent } from '../../objects/lifecycle.js';
import type { OperationHandler } from '../context.js';
import { refuseTemplate, uidPayload, updated, withReplaced } from '../service/new-objects.js';
import { saveRecords, touched } from '../service/save.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  revocationReason: required(Tag.RevocationReason, 'Structure'),
  compromiseOccurrenceDate: optional(Tag.CompromiseOccurrenceDate, 'DateTime'),
};
const Reason = { code: required(Tag.RevocationReasonCode, 'Enumeration'), message: optional(Tag.RevocationMessage, 'TextString') };
const CODES: ReadonlySet<number> = new Set(Object.values(RevocationReasonCode));
const COMPROMISE: ReadonlySet<number> = new Set([RevocationReasonCode.KeyCompromise, RevocationReasonCode.CACompromise]);

export const revoke: OperationHandler = {
  operation: Operation.Revoke,
  name: 'Revoke',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Revoke request payload' });
    const reason = readPayload(req.revocationReason, Reason, { what: 'Revocation Reason' });
    const code = reason.code.value;
    if (!CODES.has(code)) throw new KmipError(ResultReason.InvalidField, `Revocation Reason Code ${code} is not recognized`);
    if (req.compromiseOccurrenceDate !== undefined && !COMPROMISE.has(code)) {
      throw new KmipError(ResultReason.InvalidField, 'Compromise Occurrence Date is only for Key Compromise or CA Compromise');
    }
    const uid = resolveUid(ctx, req.uid);
    const { record } = await loadManaged(ctx, uid, 'Revoke');
    refuseTemplate(ctx, record, 'Revoke');
    const lc = applyEvent(
      record,
      {
        type: 'Revoke',
        reason: code,
        ...(reason.message && { message: reason.message.value }),
        ...(req.compromiseOccurrenceDate && { compromiseOccurrenceDate: req.compromiseOccurrenceDate.value }),
      },
      ctx.now,
      ctx.version,
    );
    await saveRecords(ctx, [{ record: updated(record, { state: lc.state, attributes: touched(withReplaced(record.attributes, lc.setAttributes), ctx.now) }), previous: record }]);
    return uidPayload(uid);
  },
};
