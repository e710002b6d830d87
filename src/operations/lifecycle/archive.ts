/**
 * Archive. KMIP 1.4 §4.22 (Tables 216-217, errors §11.23 Table 349), KMIP 2.1 §6.1.4
 * (Tables 173-175). The object stays where it is (one storage tier), but is marked archived: the
 * server sets Archive Date (1.4 §3.33, 2.1 §4.5; implicitly set by Archive) and Last Change Date.
 * Until Recover, other operations on it answer Object Archived (1.4 §11.11-§11.22).
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Object Archived: already archived.
 * - Invalid Field: a payload that breaks its schema.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, readPayload } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';
import { uidPayload, updated } from '../service/new-objects.js';
import { dateNode, saveRecords, touched, withAttribute } from '../service/save.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request = { uid: optional(Tag.UniqueIdentifier, 'TextString') };

export const archive: OperationHandler = {
  operation: Operation.Archive,
  name: 'Archive',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Archive request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record } = await loadManaged(ctx, uid, 'Archive');
    const attributes = touched(withAttribute(record.attributes, 'ArchiveDate', [dateNode(Tag.ArchiveDate, ctx.now)]), ctx.now);
    await saveRecords(ctx, [{ record: updated(record, { attributes }), previous: record }]);
    return uidPayload(uid);
  },
};
