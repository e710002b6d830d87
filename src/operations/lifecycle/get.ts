/**
 * Get. KMIP 1.4 §4.11 (Tables 194-195, errors §11.12 Table 338), KMIP 2.1 §6.1.19 (Tables 220-222).
 * Returns Object Type, Unique Identifier and the object. A key is returned in the format it was
 * registered or created in; a symmetric key also as Raw or Transparent Symmetric Key (Key Material
 * { Key }); a public or private key in the other formats it can take (objects/key-formats.ts:
 * PKCS#1, PKCS#8, X.509, ECPrivateKey, Transparent RSA/EC); a certificate also answers to X.509.
 *
 * Wrapping (operations/service/key-wrapping.ts): a Key Wrapping Specification returns the key (in the
 * requested format) wrapped under another key — AES Key Wrap (RFC 3394), AES Key Wrap with
 * Padding (RFC 5649), RSA-OAEP — with Key Wrapping Data. A Sensitive key may be returned this way.
 * Key Wrap Type: a key registered wrapped under a key the server holds was unwrapped at Register;
 * Not Wrapped returns it plain, As Registered (and no Key Wrap Type) the Key Block exactly as it was
 * registered (kept in the sealed body; no wrapping key is used). A
 * key stored as registered (wrapped under a key the server does not hold, or that may not unwrap) is
 * returned as stored, and Not Wrapped unwraps it then if the wrapping key allows it now.
 * The first Get that serves an object sets its Fresh attribute to False (a durable write, Last
 * Change Date stamped).
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's (see
 *   notFound in service/object-service.ts).
 * - Object Archived: the object is archived (1.4 §11.12).
 * - Object Destroyed (2.x; test case BL-M-8-21) / Item Not Found (1.x, which has no reason for
 *   it; see destroyed.ts): the key material was destroyed.
 * - Key Format Type Not Supported: a format the object cannot be given in.
 * - Key Compression Type Not Supported: a compression other than the stored one.
 * - Key Wrap Type Not Supported (2.x) / Feature Not Supported (1.x): Not Wrapped for a key
 *   registered wrapped under a key this server does not hold.
 * - Feature Not Supported: a MAC/sign Wrapping Method.
 * - Sensitive (1.4+): the object's Sensitive is true and it is asked for unwrapped.
 * - Not Extractable (1.4+): the object's Extractable is false (wrapped or not).
 * - The wrapping key's reasons (key-wrapping.ts): Wrapping Object Not Found / Archived / Destroyed,
 *   Invalid Object Type, Wrong Key Lifecycle State, Incompatible Cryptographic Usage Mask, Bad or
 *   Unsupported Cryptographic Parameters (2.x); Item Not Found, Object Archived, Illegal Operation,
 *   Permission Denied, Invalid Field (1.x); Encoding Option Error.
 * - Invalid Object Type (2.x): a Template (a 1.x object).
 * - General Failure: the stored content fails its integrity check (copied or edited); the server
 *   logs it and keeps serving.
 * - Invalid Field: a payload that breaks its schema.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { payload, readPayload } from '../../kmip/payload.js';
import type { OperationContext, OperationHandler } from '../context.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import { saveRecords, touched } from '../service/save.js';
import { isFresh, served } from '../../objects/server-set.js';
import { item } from '../../kmip/items.js';
import { loadManaged, resolveUid, ServedObjectRequest, servedObject } from '../service/object-service.js';

export const get: OperationHandler = {
  operation: Operation.Get,
  name: 'Get',
  async handle(ctx, node) {
    const req = readPayload(node, ServedObjectRequest, { what: 'Get request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record, state } = await loadManaged(ctx, uid, 'Get');
    const body = await servedObject(ctx, record, state, req, 'Get');
    // Served: Fresh becomes False (2.1 §4.24, 1.4 §3.34), a server change of an attribute.
    if (isFresh(record.attributes)) await markServed(ctx, record, state);
    return payload(Tag.ResponsePayload, [item('ObjectType', record.objectType), item('UniqueIdentifier', uid), body]);
  },
};

/**
 * Fresh becomes False. Concurrent first Gets of one object (or any concurrent change) must not
 * fail the Get: on a revision conflict the record is read again, and the write is retried only
 * while the object is still Fresh.
 */
async function markServed(ctx: OperationContext, record: ObjectRecord, state: number): Promise<void> {
  if (!isFresh(record.attributes)) return;
  const unfresh = (current: ObjectRecord, state: number) => [{ record: { ...current, attributes: touched(served(current.attributes), ctx.now), state }, previous: current }];
  await saveRecords(ctx, unfresh(record, state), [], {
    // Retried by the unit of work (unit-of-work.ts CONFLICT_RETRIES) while the object is still Fresh.
    onConflict: async () => {
      const current = await ctx.services.store.get(record.uid);
      return { changes: current && isFresh(current.attributes) ? unfresh(current, current.state) : [] };
    },
  });
}
