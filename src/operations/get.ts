/**
 * Get. KMIP 1.4 §4.11 (Tables 194-195, errors §11.12 Table 338), KMIP 2.1 §6.1.19 (Tables 220-222).
 * Returns Object Type, Unique Identifier and the object. A key is returned in the format it was
 * registered or created in; a symmetric key also as Raw or Transparent Symmetric Key (Key Material
 * { Key }); a public or private key in the other formats it can take (objects/key-formats.ts:
 * PKCS#1, PKCS#8, X.509, ECPrivateKey, Transparent RSA/EC); a certificate also answers to X.509.
 *
 * Wrapping (operations/key-wrapping.ts): a Key Wrapping Specification returns the key (in the
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
 *   notFound in support.ts).
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
import { KeyWrapType, ObjectType, Operation, ResultReason } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { KmipError } from '../kmip/errors.js';
import { optional, payload, readPayload, type Parsed } from '../kmip/payload.js';
import { inKeyFormat, isMetadataOnly, isWrapped, keyCompressionTypeOf, keyFormatTypeOf } from '../objects/object-body.js';
import { asymmetricInKeyFormat, isAsymmetricKeyType } from '../objects/key-formats.js';
import type { OperationContext, OperationHandler } from './context.js';
import type { StructureNode } from '../ttlv/node.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import { byVersion, is2x, isDestroyed, loadManaged } from './object-support.js';
import { keyValueNotPresent, openBody, resolveUid, saveRecords, touched } from './support.js';
import { isFresh, served } from '../objects/server-set.js';
import { destroyedValueError } from './destroyed.js';
import { readWrappingSpecification, REGISTERED_WRAPPING_KEY, unwrapBody, withoutRegisteredForm, wrapForGet } from './key-wrapping.js';

const Request = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  keyFormatType: optional(Tag.KeyFormatType, 'Enumeration'),
  keyWrapType: optional(Tag.KeyWrapType, 'Enumeration'),
  keyCompressionType: optional(Tag.KeyCompressionType, 'Enumeration'),
  keyWrappingSpecification: optional(Tag.KeyWrappingSpecification, 'Structure'),
};

function flag(attrs: ReadonlyMap<string, readonly { type: string; value: unknown }[]>, key: string): boolean | undefined {
  const n = attrs.get(key)?.[0];
  return n?.type === 'Boolean' ? (n.value as boolean) : undefined;
}

export const get: OperationHandler = {
  operation: Operation.Get,
  name: 'Get',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Get request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record, state } = await loadManaged(ctx, uid, 'Get');
    const body = await servedBody(ctx, record, state, req, 'Get');
    // Served: Fresh becomes False (2.1 §4.24, 1.4 §3.34), a server change of an attribute.
    if (isFresh(record.attributes)) await markServed(ctx, record, state);
    return payload(Tag.ResponsePayload, [
      { tag: Tag.ObjectType, type: 'Enumeration', value: record.objectType },
      { tag: Tag.UniqueIdentifier, type: 'TextString', value: uid },
      body,
    ]);
  },
};

/** The Get/Export request fields that shape the returned object (2.1 Tables 217 and 220). */
export const ServedObjectRequest = Request;
export type ServedObjectFields = Parsed<typeof Request>;

/**
 * The object as Get returns it (format, compression, Key Wrap Type, Key Wrapping Specification,
 * and the Sensitive / Extractable refusals); Export (2.1 §6.1.18) gives the same "in the same
 * manner as the Get operation". A destroyed object: Object Destroyed (2.x Get) / Key Value Not
 * Present (2.x Export, Table 219) / Item Not Found (1.x; destroyed.ts).
 */
export async function servedBody(ctx: OperationContext, record: ObjectRecord, state: number, req: ServedObjectFields, operation: 'Get' | 'Export'): Promise<StructureNode> {
  const v = ctx.version;
  const uid = record.uid;
  if (record.objectType === ObjectType.Template && is2x(v)) throw new KmipError(ResultReason.InvalidObjectType, 'Templates are KMIP 1.x objects');
  const wrapping = req.keyWrappingSpecification && readWrappingSpecification(req.keyWrappingSpecification);
  if (isDestroyed(state) || !record.sealedBody) {
    // destroyed.ts: Item Not Found (1.x), Object Destroyed (2.x Get), Key Value Not Present (2.x Export, Table 219).
    if (operation === 'Get' || !is2x(v)) throw destroyedValueError(v, 'Get', uid);
    throw new KmipError(ResultReason.KeyValueNotPresent, `object ${uid} has been destroyed; only its attributes remain`);
  }
  const kwt = req.keyWrapType?.value;
  const registeredWrapped = record.attributes.has(REGISTERED_WRAPPING_KEY);
  if (flag(record.attributes, 'Extractable') === false) throw new KmipError(ResultReason.NotExtractable, `object ${uid} is not Extractable`);

  // Metadata-only: the Key Block as registered, without Key Value; anything that would need the
  // value (Export, wrapping, another Key Format Type) is Key Value Not Present.
  const opened = await openBody(ctx, record, { metadataOnly: 'serve' });
  if (isMetadataOnly(record.attributes)) {
    const otherFormat = req.keyFormatType !== undefined && req.keyFormatType.value !== keyFormatTypeOf(opened);
    if (operation === 'Export' || wrapping || otherFormat) throw keyValueNotPresent(ctx, uid);
  }
  const stored = withoutRegisteredForm(opened);
  let body = stored.body;
  // Sensitive: never returned in the clear; wrapped (asked for, as registered, or stored so) is fine.
  const plainOut = !wrapping && (registeredWrapped || isWrapped(body) ? kwt === KeyWrapType.NotWrapped : true);
  if (plainOut && flag(record.attributes, 'Sensitive') === true) throw new KmipError(ResultReason.Sensitive, `object ${uid} is Sensitive and cannot be returned unwrapped`);
  if (kwt !== undefined) {
    if (kwt === KeyWrapType.NotWrapped && isWrapped(body)) {
      // Stored as given: unwrap now if the wrapping key is held here (its refusals have their reasons).
      const now = await unwrapBody(ctx, body, 'get');
      if (!now) throw new KmipError(byVersion(v, ResultReason.FeatureNotSupported, ResultReason.KeyWrapTypeNotSupported), 'the key was registered wrapped under a key this server does not hold');
      body = now.body;
    }
    if (kwt !== KeyWrapType.NotWrapped && kwt !== KeyWrapType.AsRegistered) {
      throw new KmipError(byVersion(v, ResultReason.FeatureNotSupported, ResultReason.KeyWrapTypeNotSupported), `Key Wrap Type ${kwt} is not supported`);
    }
  }
  if (req.keyCompressionType !== undefined && req.keyCompressionType.value !== keyCompressionTypeOf(body)) {
    throw new KmipError(ResultReason.KeyCompressionTypeNotSupported, 'the object cannot be given in that Key Compression Type');
  }
  if (req.keyFormatType !== undefined) {
    let r = inKeyFormat(record.objectType, body, req.keyFormatType.value);
    if (!r.ok && isAsymmetricKeyType(record.objectType) && !isWrapped(body)) r = asymmetricInKeyFormat(record.objectType, body, req.keyFormatType.value);
    if (!r.ok) throw new KmipError(ResultReason.KeyFormatTypeNotSupported, r.why);
    body = r.body;
  }
  if (wrapping) body = await wrapForGet(ctx, record, state, body, wrapping);
  else if (stored.registered && kwt !== KeyWrapType.NotWrapped) {
    // As Registered (the default for a key registered wrapped): the Key Block exactly as it came.
    const fmt = stored.registered.value.find((c) => c.tag === Tag.KeyFormatType);
    if (req.keyFormatType !== undefined && (fmt?.type !== 'Enumeration' || fmt.value !== req.keyFormatType.value)) {
      throw new KmipError(ResultReason.KeyFormatTypeNotSupported, 'a key returned as registered keeps the Key Format Type it was registered in');
    }
    const registered = stored.registered;
    body = { ...body, value: body.value.map((c) => (c.tag === Tag.KeyBlock ? registered : c)) };
  }
  return body;
}

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
