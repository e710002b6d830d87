/**
 * What the cryptographic operations (Encrypt, Decrypt, MAC, MAC Verify, Hash) share:
 * - reading Cryptographic Parameters (1.4 §3.6, 2.1 §7.6) from the request, else from the key's
 *   Cryptographic Parameters attribute (the request's, when given, is used whole);
 * - loading a key for a use, with the checks each operation's error table lists:
 *   - object type: Symmetric Key (and Secret Data for MAC), Public Key to encrypt / Private Key to
 *     decrypt with RSA; otherwise Illegal Operation (1.x) / Invalid Object Type (2.x);
 *   - lifecycle (1.4 §3.22 / 2.1 §4.57): protecting (Encrypt, MAC) needs Active and, with a
 *     Protect Stop Date, a time before it; processing (Decrypt, MAC Verify) needs Active, Deactivated
 *     or Compromised and, with a Process Start Date, a time at or after it; otherwise Wrong Key
 *     Lifecycle State (2.x; test case CS-BC-M-14-21) / Permission Denied (1.x, "not able to be used");
 *   - Cryptographic Usage Mask must hold the operation's bit: Incompatible Cryptographic Usage Mask
 *     (2.x) / Permission Denied (1.x);
 *   - the key material, opened from its sealed body (never logged); a wrapped or destroyed key has
 *     none: Key Value Not Present (1.2+); a destroyed one Object Destroyed (2.x) / Item Not Found
 *     (1.x), see destroyed.ts.
 * - the translation of mechanism errors (src/crypto/errors.ts) to Result Reasons:
 *   BAD_PARAMETERS → Bad Cryptographic Parameters (2.x) / Invalid Field (1.x);
 *   UNSUPPORTED → Unsupported Cryptographic Parameters (2.x) / Invalid Field (1.x);
 *   BAD_DATA → Invalid Field; FAILURE → Cryptographic Failure (test cases CS-BC-M-GCM-1-21 and
 *   CS-BC-M-CHACHA20POLY1305-1-21 for a tag mismatch; RSA-OAEP decryption errors);
 *   MISSING_IV → Invalid Message at every version, and INVALID_TAG_LENGTH → General Failure at
 *   every version, because the OASIS profile test cases ask for them: CS-BC-M-11/12/13-21 (-20,
 *   -14, -13) Decrypt CBC without IV/Counter/Nonce → Invalid Message "missing-iv", and
 *   CS-BC-M-GCM-1 / CS-BC-M-CHACHA20POLY1305-1 steps 7-8 Encrypt with Tag Length 1 or 32 →
 *   General Failure "invalid-tag-length". The error tables allow the first: KMIP 2.1 Table 216
 *   (Encrypt Errors) and Table 198 (Decrypt Errors) list "Operation Failed: Bad Cryptographic
 *   Parameters, Cryptographic Failure, Incompatible Cryptographic Usage Mask, Invalid Correlation
 *   Value, Invalid Object Type, Key Value Not Present, Missing Initialization Vector, Object Not
 *   Found, Unsupported Cryptographic Parameters, [Usage Limit Exceeded,] Wrong Key Lifecycle State,
 *   Attestation Failed, Attestation Required, Feature Not Supported, Invalid Field, Invalid Message,
 *   Operation Not Supported, Permission Denied, Response Too Large", and KMIP 1.4 Table 327
 *   (General Errors) has "REQUIRED field(s) missing: Operation Failed, Invalid Message". General
 *   Failure is in neither table (it is the catch-all of the Result Reason enumeration, 2.1 Table
 *   479 / 1.4 Table 317); it is answered only for a Tag Length no AEAD mode can have. The same
 *   condition gets the same reason in Encrypt and Decrypt. A Tag Length the modes have but the
 *   policy refuses stays Bad Cryptographic Parameters (2.x) / Invalid Field (1.x).
 * - Usage Limits (1.4 §3.21, 2.1 §4.59) on protecting uses (Encrypt, MAC): each use spends its
 *   data length (unit Byte) or one (unit Object) from the Usage Limits Count, saved before the
 *   result is returned; more than is left: Permission Denied at every version, as test cases
 *   CS-BC-M-7-21 and CS-BC-M-7-14 expect (2.1 Table 216 lists Permission Denied as well as Usage
 *   Limit Exceeded; 1.4 has no Usage Limit Exceeded). Check, Obtain Lease and Get Usage Allocation
 *   keep Usage Limit Exceeded in 2.x (their own tables).
 * - the multi-part state (src/crypto/multipart.ts), one store per running server, and the
 *   unknown Correlation Value: Invalid Correlation Value (2.x) / Item Not Found (1.x, 1.4 Tables
 *   353-361 "No outstanding operation with the specified Correlation Value exists").
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { KeyFormatType, ObjectType, ResultReason, State, UsageLimitsUnit } from '../../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../kmip/generated/masks.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { readKeyBlock } from '../../objects/object-body.js';
import { dateAttribute, isDestroyed } from '../../objects/lifecycle.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import type { CryptoParams } from '../../crypto/mechanism.js';
import { MultipartStore } from '../../crypto/multipart.js';
import type { MultipartSessions } from '../batch-undo.js';
import type { HostKey, UsableKey } from '../../custody/index.js';
import { budgetsOf } from '../../policy/budgets.js';
import type { OperationContext, ServerServices } from '../context.js';
import { usageLimitsCount } from '../lifecycle/lease.js';
import { checkAsymmetricUse, checkSymmetricUse } from './key-policy-check.js';
import { updated } from '../service/new-objects.js';
import { destroyedValueReason } from '../service/destroyed.js';
import { saveRecords, touched, withAttribute } from '../service/save.js';
import { versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { attribute, instance } from '../../objects/typed-attributes.js';
import { readCryptoParams } from '../service/crypto-params.js';
import { loadManaged, openBody, openKeyForUse } from '../service/object-service.js';

export type KeyUse = 'Encrypt' | 'Decrypt' | 'MAC' | 'MACVerify';

const USE_BIT: Readonly<Record<KeyUse, number>> = {
  Encrypt: CryptographicUsageMask.Encrypt,
  Decrypt: CryptographicUsageMask.Decrypt,
  MAC: CryptographicUsageMask.MACGenerate,
  MACVerify: CryptographicUsageMask.MACVerify,
};

const PROTECTS: Readonly<Record<KeyUse, boolean>> = { Encrypt: true, MAC: true, Decrypt: false, MACVerify: false };

function int(n: TtlvNode | undefined): number | undefined {
  return n?.type === 'Integer' || n?.type === 'Enumeration' ? n.value : undefined;
}

/** The parameters to use: the request's, else the key's Cryptographic Parameters attribute, else none. */
export function effectiveParams(record: ObjectRecord | undefined, fromRequest: TtlvNode | undefined): CryptoParams {
  return readCryptoParams(fromRequest) ?? readCryptoParams(instance(record?.attributes, 'CryptographicParameters')) ?? {};
}

/** A key ready for a mechanism, wherever it lives (src/custody/). */
export type { UsableKey } from '../../custody/index.js';

const ALLOWED_TYPES: Readonly<Record<KeyUse, readonly number[]>> = {
  Encrypt: [ObjectType.SymmetricKey, ObjectType.PublicKey],
  Decrypt: [ObjectType.SymmetricKey, ObjectType.PrivateKey],
  MAC: [ObjectType.SymmetricKey, ObjectType.SecretData],
  MACVerify: [ObjectType.SymmetricKey, ObjectType.SecretData],
};

/** Load the key `uid` for `use`, checking type, state, dates and usage mask, and open its material. */
export async function loadKeyFor(ctx: OperationContext, uid: string, use: KeyUse): Promise<UsableKey> {
  const v = ctx.version;
  const { record, state } = await loadManaged(ctx, uid, use);
  if (!ALLOWED_TYPES[use].includes(record.objectType)) {
    throw new KmipError(versionReason(v, 'ObjectTypeNotUsable'), `${use} cannot use an object of this type`);
  }
  if (isDestroyed(state) || !record.sealedBody) {
    throw new KmipError(destroyedValueReason(v, 'Crypto'), `the key ${uid} has been destroyed`);
  }
  const wrongState = versionReason(v, 'WrongKeyLifecycleState');
  if (PROTECTS[use]) {
    if (state !== State.Active) throw new KmipError(wrongState, `the key ${uid} is not Active; it cannot be used to ${use === 'MAC' ? 'MAC' : 'encrypt'}`);
    const stop = dateAttribute(record.attributes, 'ProtectStopDate');
    if (stop !== undefined && ctx.now > stop) throw new KmipError(wrongState, `the key ${uid} is past its Protect Stop Date`);
  } else {
    if (state !== State.Active && state !== State.Deactivated && state !== State.Compromised) {
      throw new KmipError(wrongState, `the key ${uid} is not Active, Deactivated or Compromised; it cannot be used to ${use === 'Decrypt' ? 'decrypt' : 'verify'}`);
    }
    const start = dateAttribute(record.attributes, 'ProcessStartDate');
    if (start !== undefined && ctx.now < start) throw new KmipError(wrongState, `the key ${uid} is before its Process Start Date`);
  }
  const mask = attribute(record.attributes, 'CryptographicUsageMask') ?? 0;
  if ((mask & USE_BIT[use]) === 0) {
    throw new KmipError(versionReason(v, 'IncompatibleCryptographicUsageMask'), `the key's Cryptographic Usage Mask does not allow ${use}`);
  }
  return openKeyForUse(ctx, record, { unavailable: ResultReason.CryptographicFailure, host: () => hostKeyFor(ctx, record, use) });
}

/** A host-sealed key's value, opened from the sealed content and checked against the crypto policy. */
async function hostKeyFor(ctx: OperationContext, record: ObjectRecord, use: KeyUse): Promise<HostKey> {
  const v = ctx.version;
  const uid = record.uid;
  const body = await openBody(ctx, record);
  const kb = readKeyBlock(
    body.value.find((c) => c.tag === Tag.KeyBlock),
    'stored key',
  );
  const noValue = versionReason(v, 'KeyValueNotPresent');
  if (kb.wrapped) throw new KmipError(noValue, `the key ${uid} is stored wrapped; the server cannot use it`);
  const algorithm = kb.algorithm ?? attribute(record.attributes, 'CryptographicAlgorithm');
  if (record.objectType === ObjectType.PublicKey || record.objectType === ObjectType.PrivateKey) {
    const keyObject = rsaKeyObject(record.objectType, kb.keyFormatType, kb.material);
    // The crypto policy for protecting uses (operations/crypto/key-policy-check.ts); Decrypt stays possible.
    if (PROTECTS[use]) checkAsymmetricUse(ctx, uid, algorithm, keyObject);
    return { algorithm, keyObject };
  }
  if (!kb.material) throw new KmipError(noValue, `the key ${uid} has no usable key material`);
  if (PROTECTS[use]) checkSymmetricUse(ctx, uid, algorithm, kb.material);
  return { algorithm, material: kb.material };
}

/** A Public Key (PKCS#1 or X.509 SubjectPublicKeyInfo DER) or Private Key (PKCS#1 or PKCS#8 DER). */
function rsaKeyObject(objectType: number, format: number, material: Uint8Array | undefined): KeyObject {
  const fail = (): never => {
    throw new KmipError(ResultReason.KeyFormatTypeNotSupported, 'the key is not in a format the server can use for RSA (PKCS#1, PKCS#8 or X.509 DER)');
  };
  if (!material) return fail();
  const key = Buffer.from(material);
  try {
    if (objectType === ObjectType.PublicKey) {
      if (format === KeyFormatType.PKCS_1) return createPublicKey({ key, format: 'der', type: 'pkcs1' });
      if (format === KeyFormatType.X_509) return createPublicKey({ key, format: 'der', type: 'spki' });
      return fail();
    }
    if (format === KeyFormatType.PKCS_1) return createPrivateKey({ key, format: 'der', type: 'pkcs1' });
    if (format === KeyFormatType.PKCS_8) return createPrivateKey({ key, format: 'der', type: 'pkcs8' });
    return fail();
  } catch (e) {
    if (e instanceof KmipError) throw e;
    throw new KmipError(ResultReason.CryptographicFailure, 'the stored key material cannot be parsed', { cause: e });
  }
}

/** The refusal for a Correlation Value that names no open operation of this principal. */
export function unknownCorrelation(ctx: OperationContext): KmipError {
  return new KmipError(versionReason(ctx.version, 'InvalidCorrelationValue'), 'no outstanding operation with that Correlation Value');
}

const STORES = new WeakMap<ServerServices, MultipartStore<unknown>>();

/** The multi-part state of the running server (one per ServerServices). */
export function multipart(ctx: OperationContext): MultipartSessions {
  let s = STORES.get(ctx.services);
  if (!s) {
    const b = budgetsOf(ctx.services);
    const limits = {
      maxOperations: b.maxMultipartOperations,
      maxPerIdentity: b.maxMultipartPerIdentity,
      maxBytes: b.maxMultipartBytes,
      maxBytesPerIdentity: b.maxMultipartBytesPerIdentity,
      idleMs: b.multipartIdleMs,
    };
    s = new MultipartStore<unknown>(limits, ctx.services.clock);
    STORES.set(ctx.services, s);
  }
  // In an Undo batch: what the batch opens is closed again on undo (operations/batch-undo.ts).
  return ctx.work.sessions(s);
}

/** Init / Final Indicators and Correlation Value of a request, checked for consistency. */
export interface PartFlags {
  readonly init: boolean;
  readonly final: boolean;
  readonly correlation?: Uint8Array;
}

export function partFlags(init: TtlvNode | undefined, fin: TtlvNode | undefined, cv: TtlvNode | undefined): PartFlags {
  const i = init?.type === 'Boolean' && init.value;
  const f = fin?.type === 'Boolean' && fin.value;
  const c = cv?.type === 'ByteString' ? cv.value : undefined;
  if (i && c) throw new KmipError(ResultReason.InvalidField, 'an Init Indicator starts a new operation; it takes no Correlation Value');
  return { init: i, final: f, ...(c && { correlation: c }) };
}

/** Whether the request is a one-shot operation (no multi-part state involved). */
export function isOneShot(p: PartFlags): boolean {
  return p.correlation === undefined && (!p.init || p.final);
}

export function checkDataSize(data: Uint8Array | undefined, max: number): void {
  if (data && data.length > max) throw new KmipError(ResultReason.InvalidField, `Data is limited to ${max} bytes per request`);
}

/**
 * Spend Usage Limits for a protecting use of `bytes` bytes (nothing when the key has none).
 * The record is written with its revision checked, so concurrent uses cannot both spend the last units.
 */
export async function spendUsage(ctx: OperationContext, record: ObjectRecord, bytes: number): Promise<void> {
  const ul = instance(record.attributes, 'UsageLimits');
  const left = usageLimitsCount(record.attributes);
  if (ul?.type !== 'Structure' || left === undefined) return;
  const unit = int(ul.value.find((c) => c.tag === Tag.UsageLimitsUnit));
  const amount = unit === UsageLimitsUnit.Byte ? BigInt(bytes) : 1n;
  if (amount > left) {
    // Permission Denied at every version (not Usage Limit Exceeded in 2.x): test case CS-BC-M-7-21.
    throw new KmipError(ResultReason.PermissionDenied, `the key's Usage Limits allow ${left} more ${unit === UsageLimitsUnit.Byte ? 'bytes' : 'uses'}`);
  }
  const next: TtlvNode = {
    ...ul,
    value: ul.value.map((c): TtlvNode => (c.tag === Tag.UsageLimitsCount ? item('UsageLimitsCount', left - amount) : c)),
  };
  const attributes = touched(withAttribute(record.attributes, 'UsageLimits', [next]), ctx.now);
  await saveRecords(ctx, [{ record: updated(record, { attributes }), previous: record }]);
}
