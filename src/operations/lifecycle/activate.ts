/**
 * Activate. KMIP 1.4 §4.19 (Tables 210-211, errors §11.20 Table 346), KMIP 2.1 §6.1.1
 * (Tables 164-166). Pre-Active → Active with the Activation Date set to now, through the lifecycle
 * table (objects/lifecycle.ts); Last Change Date updated; one durable commit.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Permission Denied (1.x) / Wrong Key Lifecycle State (2.x): not Pre-Active.
 * - Illegal Operation (1.x) / Invalid Object Type (2.x): a Template, or (1.x, where State does not
 *   apply to it, 1.4 §3.22) an Opaque Object.
 * - Object Archived: the object is archived.
 * - Invalid Field: a payload that breaks its schema, or no Unique Identifier and no ID Placeholder.
 */
import { ObjectType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload } from '../../kmip/payload.js';
import { applyEvent } from '../../objects/lifecycle.js';
import type { OperationHandler } from '../context.js';
import { refuseTemplate, uidPayload, updated, withReplaced } from '../service/new-objects.js';
import { saveRecords, touched } from '../service/save.js';
import { is2x } from '../../kmip/version-rules.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request = { uid: optional(Tag.UniqueIdentifier, 'TextString') };

export const activate: OperationHandler = {
  operation: Operation.Activate,
  name: 'Activate',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Activate request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record } = await loadManaged(ctx, uid, 'Activate');
    refuseTemplate(ctx, record, 'Activate');
    if (record.objectType === ObjectType.OpaqueObject && !is2x(ctx.version)) {
      throw new KmipError(ResultReason.IllegalOperation, 'an Opaque Object has no lifecycle state in KMIP 1.x');
    }
    const lc = applyEvent(record, { type: 'Activate' }, ctx.now, ctx.version);
    await saveRecords(ctx, [{ record: updated(record, { state: lc.state, attributes: touched(withReplaced(record.attributes, lc.setAttributes), ctx.now) }), previous: record }]);
    return uidPayload(uid);
  },
};
