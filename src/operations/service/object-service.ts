/**
 * The object service: the one layer between the operation handlers and what holds objects (the
 * store, the access policy, the key protector), and the place where "the object as served" is
 * assembled. Handlers call it and it calls down; nothing below calls back up.
 *
 * - Find: `resolveUid` (the request's Unique Identifier, else the batch's ID Placeholder).
 * - Load: `loadObject` (the access check: missing and not permitted both read as not found,
 *   Item Not Found at 1.x, Object Not Found at 2.x, kmip/version-rules.ts), `loadManaged` (and
 *   Object Archived unless the operation takes archived objects).
 * - Open and seal the content: `openBody`, `sealBody`, the only calls to the key protector in
 *   operations/. A metadata-only object is refused with Key Value Not Present where its value is
 *   needed.
 * - Open a key for use: `openKeyForUse`, through the key-custody seam (operations/key-custody.ts,
 *   src/custody/): one path for host-sealed keys (opened with `openBody`) and HSM-resident ones.
 * - Save: operations/service/save.ts `saveRecords` (through the context's commit).
 * - Serve: `servedObject` for Get and Export: the destroyed-object rules (destroyed.ts), the
 *   Sensitive / Extractable refusals, then down to the key forms (objects/object-body.ts,
 *   objects/key-formats.ts) and key wrapping (key-wrapping.ts, which reaches the wrapping keys
 *   through `objectKeys`, this service's load and open, handed down); the attributes as served
 *   are objects/served-attributes.ts.
 *
 * A Get walks: get.ts `get.handle` → `resolveUid` → `loadManaged` → `loadObject` (store, access)
 * → `servedObject` → `openBody` (protector) → key-wrapping.ts `withoutRegisteredForm` /
 * `unwrapBody` → object-body.ts `inKeyFormat` / key-formats.ts `asymmetricInKeyFormat` →
 * key-wrapping.ts `wrapForGet` (→ `objectKeys` for the wrapping key) → back to the handler, which
 * marks the object served (get.ts `markServed` → service/save.ts `saveRecords`).
 */
import { KeyWrapType, ObjectType, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, type Parsed } from '../../kmip/payload.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { decode } from '../../ttlv/decode.js';
import { encode } from '../../ttlv/encode.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import type { AttributeMap, ObjectRecord } from '../../objects/managed-object.js';
import { effectiveState, isDestroyed } from '../../objects/lifecycle.js';
import { inKeyFormat, isMetadataOnly, isWrapped, keyCompressionTypeOf, keyFormatTypeOf } from '../../objects/object-body.js';
import { asymmetricInKeyFormat, isAsymmetricKeyType } from '../../objects/key-formats.js';
import { flag, instances, isArchived } from '../../objects/typed-attributes.js';
import { ProtectorError } from '../../hsm/key-protector.js';
import { StoreError } from '../../store/object-store.js';
import type { OperationContext } from '../context.js';
import type { OpenOptions, UsableKey } from '../../custody/index.js';
import { keyCustody } from '../key-custody.js';
import { destroyedValueError } from './destroyed.js';
import { readWrappingSpecification, REGISTERED_WRAPPING_KEY, unwrapBody, withoutRegisteredForm, wrapForGet, type KeySource } from './key-wrapping.js';

// ------------------------------------------------------------------------------ find and load

/** The object a request names: its own Unique Identifier, else the batch's ID Placeholder. */
export function resolveUid(ctx: OperationContext, uid: TtlvNode | undefined): string {
  if (uid !== undefined) {
    if (uid.type !== 'TextString' && uid.type !== 'Identifier') throw new KmipError(ResultReason.InvalidField, 'Unique Identifier must be a Text String');
    return uid.value;
  }
  if (ctx.batch.idPlaceholder !== undefined) return ctx.batch.idPlaceholder;
  throw new KmipError(ResultReason.InvalidField, 'no Unique Identifier given and no ID Placeholder from an earlier batch item');
}

export interface LoadedObject {
  readonly record: ObjectRecord;
  /** The lifecycle state now, with the date attributes applied. */
  readonly state: number;
}

export function objectGroups(attrs: AttributeMap): string[] {
  return instances(attrs, 'ObjectGroup').flatMap((n) => (n.type === 'TextString' ? [n.value] : []));
}

/**
 * The refusal for an object that does not exist or that the principal may not see (the two
 * are indistinguishable): Item Not Found in 1.x, Object Not Found in 2.x (2.1 operation
 * error tables; test case BL-M-4-21).
 */
export function notFound(ctx: OperationContext, uid: string): KmipError {
  return new KmipError(versionReason(ctx.version, 'ObjectNotFound'), `no object ${uid}`);
}

/** Load an object for `operation`; missing and not-permitted both read as not found. */
export async function loadObject(ctx: OperationContext, uid: string, operation: string): Promise<LoadedObject> {
  let record: ObjectRecord | undefined;
  try {
    record = await ctx.services.store.get(uid);
  } catch (e) {
    if (e instanceof StoreError && e.code === 'CORRUPT') {
      throw new KmipError(ResultReason.GeneralFailure, `object ${uid} is damaged in storage and cannot be read`, { cause: e });
    }
    throw e;
  }
  if (!record || !ctx.services.access.allows(ctx.principal, operation, record.owner, objectGroups(record.attributes))) {
    throw notFound(ctx, uid);
  }
  return { record, state: effectiveState(record.state, record.attributes, ctx.now) };
}

/**
 * Load an object for `operation` (spec normalized name). Not found / not permitted: `loadObject`
 * (Item Not Found at 1.x, Object Not Found at 2.x). Archived: Object Archived, unless `allowArchived`.
 */
export async function loadManaged(ctx: OperationContext, uid: string, operation: string, opts: { allowArchived?: boolean } = {}): Promise<LoadedObject> {
  const loaded = await loadObject(ctx, uid, operation);
  if (!opts.allowArchived && isArchived(loaded.record.attributes)) {
    throw new KmipError(ResultReason.ObjectArchived, `object ${uid} is archived; Recover it first`);
  }
  return loaded;
}

// ------------------------------------------------------------------------------ open and seal (custody)

/** Seal object content (a Key Block, certificate value, …) for storage, bound to `uid`. */
export async function sealBody(ctx: OperationContext, uid: string, body: StructureNode): Promise<{ sealedBody: Uint8Array; kekId: string }> {
  const protector = ctx.services.protector;
  const kekId = protector.kekId; // read before seal: see KeyProtector.kekId
  return { sealedBody: await protector.seal(uid, encode(body)), kekId };
}

/** Key Value Not Present (1.2+; Permission Denied at 1.0/1.1, which lack the reason): a metadata-only object. */
export function keyValueNotPresent(ctx: OperationContext, uid: string): KmipError {
  return new KmipError(versionReason(ctx.version, 'KeyValueNotPresent'), `object ${uid} is metadata-only: its key value is not on this server (see its Key Value Location)`);
}

/**
 * Open an object's sealed content. A record that fails authentication is reported, never served.
 * A metadata-only object (Key Value Present false, objects/object-body.ts) has no value to use:
 * it is refused with Key Value Not Present, unless the caller only serves the content as stored
 * (`metadataOnly: 'serve'`: Get).
 */
export async function openBody(ctx: OperationContext, record: ObjectRecord, opts: { readonly metadataOnly?: 'serve' } = {}): Promise<StructureNode> {
  if (!record.sealedBody || !record.kekId) throw new KmipError(ResultReason.KeyValueNotPresent, `object ${record.uid} has no content (destroyed)`);
  if (opts.metadataOnly !== 'serve' && isMetadataOnly(record.attributes)) throw keyValueNotPresent(ctx, record.uid);
  let plain: Uint8Array;
  try {
    plain = await ctx.services.protector.open(record.uid, record.sealedBody, record.kekId);
  } catch (e) {
    if (e instanceof ProtectorError) {
      ctx.log.error({ uid: record.uid, code: e.code }, 'sealed object content failed to open');
      throw new KmipError(ResultReason.GeneralFailure, `object ${record.uid} failed its integrity check and cannot be served`, { cause: e });
    }
    throw e;
  }
  const node = decode(plain);
  if (node.type !== 'Structure') throw new KmipError(ResultReason.GeneralFailure, `object ${record.uid} content is malformed`);
  return node;
}

/**
 * Open an object's key for use, wherever it lives: the key-custody seam (operations/key-custody.ts,
 * src/custody/) takes the one path. A host-sealed key is opened by `opts.host` (which opens the
 * sealed content with openBody and checks the value); an HSM-resident key is used through its
 * token reference and never opened here.
 */
export function openKeyForUse(ctx: OperationContext, record: ObjectRecord, opts: OpenOptions): Promise<UsableKey> {
  return keyCustody(ctx).open(record, opts);
}

/** Key wrapping's way to the wrapping keys: this service's load (access check) and open. */
export const objectKeys: KeySource = { load: loadObject, open: openBody };

// ------------------------------------------------------------------------------ the object as served

const Request = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  keyFormatType: optional(Tag.KeyFormatType, 'Enumeration'),
  keyWrapType: optional(Tag.KeyWrapType, 'Enumeration'),
  keyCompressionType: optional(Tag.KeyCompressionType, 'Enumeration'),
  keyWrappingSpecification: optional(Tag.KeyWrappingSpecification, 'Structure'),
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
export async function servedObject(ctx: OperationContext, record: ObjectRecord, state: number, req: ServedObjectFields, operation: 'Get' | 'Export'): Promise<StructureNode> {
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
      const now = await unwrapBody(ctx, body, 'get', objectKeys);
      if (!now) throw new KmipError(versionReason(v, 'KeyWrapTypeNotSupported'), 'the key was registered wrapped under a key this server does not hold');
      body = now.body;
    }
    if (kwt !== KeyWrapType.NotWrapped && kwt !== KeyWrapType.AsRegistered) {
      throw new KmipError(versionReason(v, 'KeyWrapTypeNotSupported'), `Key Wrap Type ${kwt} is not supported`);
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
  if (wrapping) body = await wrapForGet(ctx, record, state, body, wrapping, objectKeys);
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
