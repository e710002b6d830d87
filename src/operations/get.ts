/**
 * Get. KMIP 1.4 §4.11 (Tables 194-195, errors §11.12 Table 338), KMIP 2.1 §6.1.19 (Tables 220-222).
 * Returns Object Type, Unique Identifier and the object. A key is returned in the format it was
 * registered or created in; a symmetric key also as Raw or Transparent Symmetric Key (Key Material
 * { Key }); a public or private key in the other formats it can take (objects/key-formats.ts:
 * PKCS#1, PKCS#8, X.509, ECPrivateKey, Transparent RSA/EC); a certificate also answers to X.509. Key Wrap Type Not Wrapped / As Registered are
 * honoured as far as they ask for what is stored.
 *
 * Not built yet: Key Wrapping Specification (wrapping the returned key under another key) answers
 * Feature Not Supported; a later change adds it.
 *
 * Result Reasons:
 * - Item Not Found: no such object, or not the caller's (both versions; see object-support.ts).
 * - Object Archived: the object is archived (1.4 §11.12).
 * - Object Destroyed (2.x; test case BL-M-8-21) / Key Value Not Present (1.2-1.4; Permission
 *   Denied in 1.0/1.1, which lack it): the key material was destroyed.
 * - Key Format Type Not Supported: a format the object cannot be given in.
 * - Key Compression Type Not Supported: a compression other than the stored one.
 * - Key Wrap Type Not Supported (2.x) / Feature Not Supported (1.x): Not Wrapped for a key
 *   registered wrapped.
 * - Feature Not Supported: a Key Wrapping Specification.
 * - Sensitive / Not Extractable (1.4+): the object's Sensitive is true / Extractable is false.
 * - Invalid Object Type (2.x): a Template (a 1.x object).
 * - General Failure: the stored content fails its integrity check (copied or edited); the server
 *   logs it and keeps serving.
 * - Invalid Field: a payload that breaks its schema.
 */
import { KeyWrapType, ObjectType, Operation, ResultReason } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { KmipError } from '../kmip/errors.js';
import { optional, payload, readPayload } from '../kmip/payload.js';
import { inKeyFormat, isWrapped, keyCompressionTypeOf } from '../objects/object-body.js';
import { asymmetricInKeyFormat, isAsymmetricKeyType } from '../objects/key-formats.js';
import type { OperationHandler } from './context.js';
import { byVersion, is2x, isDestroyed, loadManaged } from './object-support.js';
import { openBody, resolveUid } from './support.js';

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
    const v = ctx.version;
    const req = readPayload(node, Request, { what: 'Get request payload' });
    const uid = resolveUid(ctx, req.uid);
    const { record, state } = await loadManaged(ctx, uid, 'Get');
    if (record.objectType === ObjectType.Template && is2x(v)) throw new KmipError(ResultReason.InvalidObjectType, 'Templates are KMIP 1.x objects');
    if (req.keyWrappingSpecification !== undefined) {
      throw new KmipError(ResultReason.FeatureNotSupported, 'Key Wrapping Specification is not supported yet');
    }
    if (isDestroyed(state) || !record.sealedBody) {
      const reason = is2x(v) ? ResultReason.ObjectDestroyed : v.minor >= 2 ? ResultReason.KeyValueNotPresent : ResultReason.PermissionDenied;
      throw new KmipError(reason, `object ${uid} has been destroyed; only its attributes remain`);
    }
    if (flag(record.attributes, 'Sensitive') === true) throw new KmipError(ResultReason.Sensitive, `object ${uid} is Sensitive and cannot be returned unwrapped`);
    if (flag(record.attributes, 'Extractable') === false) throw new KmipError(ResultReason.NotExtractable, `object ${uid} is not Extractable`);

    let body = await openBody(ctx, record);
    if (req.keyWrapType !== undefined) {
      const kwt = req.keyWrapType.value;
      if (kwt === KeyWrapType.NotWrapped && isWrapped(body)) {
        throw new KmipError(byVersion(v, ResultReason.FeatureNotSupported, ResultReason.KeyWrapTypeNotSupported), 'the key was registered wrapped; the server cannot unwrap it');
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
    return payload(Tag.ResponsePayload, [
      { tag: Tag.ObjectType, type: 'Enumeration', value: record.objectType },
      { tag: Tag.UniqueIdentifier, type: 'TextString', value: uid },
      body,
    ]);
  },
};
