/**
 * Recover. KMIP 1.4 §4.23 (Tables 218-219, errors §11.24 Table 350), KMIP 2.1 §6.1.42
 * (Tables 288-290). Brings an archived object back on line at once (no asynchronous retrieval):
 * removes the Archive Date marker Archive set and updates Last Change Date. Recovering an object
 * that is not archived succeeds and changes nothing.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Invalid Field: a payload that breaks its schema.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, readPayload } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';
import { uidPayload, updated } from '../service/new-objects.js';
import { saveRecords, touched, withAttribute } from '../service/save.js';
import { isArchived } from '../../objects/typed-attributes.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request = { uid: optional(Tag.UniqueIdentifier, 'TextString') };

export const recover: OperationHandler = {
  operation: Operation.Recover,
  name: 'Recover',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Recover request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record } = await loadManaged(ctx, uid, 'Recover', { allowArchived: true });
    if (isArchived(record.attributes)) {
      const attributes = touched(withAttribute(record.attributes, 'ArchiveDate', []), ctx.now);
      await saveRecords(ctx, [{ record: updated(record, { attributes }), previous: record }]);
    }
    return uidPayload(uid);
  },
};
