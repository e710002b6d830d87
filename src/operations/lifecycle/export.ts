/**
 * Export. KMIP 2.1 §6.1.18 (Tables 217-219), KMIP 2.0 §6.1.18. Served from KMIP 2.0 on (see
 * `since`; KMIP 1.4 §4.40 defines it too, with 1.x Attribute structures — not served here).
 * Returns Object Type, Unique Identifier, all the object's attributes (the stored ones and the
 * always-valued ones the server derives — Short Unique Identifier, Protection Storage Mask,
 * Sensitive/Extractable and their followers, Lease Time — in the Get Attribute List order) and the
 * object "in the same manner as the Get operation" (get.ts `servedObject`: Key Format Type, Key Wrap
 * Type, Key Compression Type, Key Wrapping Specification). What Export returns is what Import
 * (import.ts) takes, so an object moves between servers with its identifier and attributes.
 * Export does not mark the object served: Fresh keeps its value (test case TC-IMPEXP-3-20 reads
 * Fresh True after an Export). The Unique Identifier goes into the ID Placeholder.
 *
 * Result Reasons (Table 219, and Get's):
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (as every
 *   operation here; notFound in service/object-service.ts).
 * - Object Archived: the object is archived.
 * - Key Value Not Present: the object was destroyed ("the key material … SHALL not be returned").
 * - Sensitive: a Sensitive object asked for unwrapped. Not Extractable: Extractable is False.
 * - Key Format Type / Key Compression Type / Key Wrap Type Not Supported, the wrapping key's
 *   reasons (key-wrapping.ts), Feature Not Supported, Invalid Object Type, Invalid Field.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { payload, readPayload } from '../../kmip/payload.js';
import type { KmipVersion } from '../../kmip/spec-types.js';
import type { OperationHandler } from '../context.js';
import { item } from '../../kmip/items.js';
import { exportedAttributes } from '../../objects/served-attributes.js';
import { loadManaged, resolveUid, servedObject, ServedObjectRequest } from '../service/object-service.js';

/** Export and Import are served from KMIP 2.0 on. */
export const IMPORT_EXPORT_SINCE: KmipVersion = { major: 2, minor: 0 };

export const exportObject: OperationHandler = {
  operation: Operation.Export,
  name: 'Export',
  since: IMPORT_EXPORT_SINCE,
  async handle(ctx, node) {
    const req = readPayload(node, ServedObjectRequest, { what: 'Export request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record, state } = await loadManaged(ctx, uid, 'Export');
    const body = await servedObject(ctx, record, state, req, 'Export');
    ctx.batch.idPlaceholder = uid;
    return payload(Tag.ResponsePayload, [item('ObjectType', record.objectType), item('UniqueIdentifier', uid), exportedAttributes(record, state, ctx.version), body]);
  },
};
