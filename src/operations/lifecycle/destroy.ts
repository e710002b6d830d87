/**
 * Destroy. KMIP 1.4 §4.21 (Tables 214-215, errors §11.22 Table 348), KMIP 2.1 §6.1.15
 * (Tables 208-210). The key material is erased: the record drops its sealed content and keeps its
 * metadata, with State Destroyed (or Destroyed Compromised) and Destroy Date set by the lifecycle
 * table (objects/lifecycle.ts), Last Change Date updated; one durable commit. A 1.x Template is
 * removed with all its metadata (1.4 §4.21). LevelDB may keep the superseded value in its files
 * until compaction; that value is the sealed content, never the key in the clear.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Permission Denied (1.x) / Wrong Key Lifecycle State (2.x): Active (only Pre-Active,
 *   Deactivated and Compromised objects may be destroyed).
 * - Permission Denied (1.x) / Object Destroyed (2.x): already destroyed.
 * - Object Archived: the object is archived.
 * - Invalid Field: a payload that breaks its schema.
 */
import { ObjectType, Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, readPayload } from '../../kmip/payload.js';
import { applyEvent } from '../../objects/lifecycle.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import type { OperationHandler } from '../context.js';
import { uidPayload, withReplaced } from '../service/new-objects.js';
import { saveRecords, touched } from '../service/save.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request = { uid: optional(Tag.UniqueIdentifier, 'TextString') };

export const destroy: OperationHandler = {
  operation: Operation.Destroy,
  name: 'Destroy',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Destroy request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record } = await loadManaged(ctx, uid, 'Destroy');
    if (record.objectType === ObjectType.Template) {
      await saveRecords(ctx, [], [record]);
      return uidPayload(uid);
    }
    const lc = applyEvent(record, { type: 'Destroy' }, ctx.now, ctx.version);
    const { sealedBody: _sealed, kekId: _kek, hsmKey, ...meta } = record;
    const next: ObjectRecord = { ...meta, state: lc.state, attributes: touched(withReplaced(record.attributes, lc.setAttributes), ctx.now) };
    await saveRecords(ctx, [{ record: next, previous: record }]);
    // The token object goes once the record no longer refers to it (and, in an Undo batch, once
    // the batch stands: a destroyed token key could not be brought back).
    if (hsmKey !== undefined) ctx.work.retireToken(uid, hsmKey);
    return uidPayload(uid);
  },
};
