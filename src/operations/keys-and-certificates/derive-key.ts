/**
 * Derive Key. KMIP 1.4 §4.6 (Table 180, errors §11.7 Table 333), KMIP 2.1 §6.1.14 (Tables 205-207),
 * Derivation Parameters 1.4 §2.1.8 / 2.1 §7.12 (Table 364). Derives a Symmetric Key or Secret Data
 * object from a Symmetric Key or Secret Data the caller holds (the first Unique Identifier); a second
 * Unique Identifier may name a Secret Data object whose bytes are the Derivation Data. Methods
 * (src/crypto/kdf.ts):
 * - PBKDF2 (RFC 8018): the base object's bytes are the password; Salt and Iteration Count required;
 *   PRF HMAC with the Cryptographic Parameters' Hashing Algorithm (or HMAC-SHA* Cryptographic
 *   Algorithm), SHA-1 by default (PKCS#5; test cases TC-DERIVEKEY-3/4/5);
 * - HKDF (RFC 5869, 2.x): IKM the base object, Salt, info the Derivation Data, SHA-256 by default;
 * - HMAC: HMAC over the Derivation Data with the base key; the hash from the key's HMAC-SHA*
 *   algorithm, else the Cryptographic Parameters' Hashing Algorithm (test case TC-DERIVEKEY-2);
 * - ENCRYPT: the Derivation Data encrypted with the base AES key under the Cryptographic Parameters
 *   (Block Cipher Mode …; Initialization Vector, all-zero when absent), the first bytes kept;
 * - HASH: a hash (Cryptographic Parameters' Hashing Algorithm) over the Derivation Data, or over the
 *   base key when there is none (test case TC-DERIVEKEY-1).
 * The new object's attributes come from the request (Cryptographic Length always; Cryptographic
 * Algorithm for a key, under the same policy as Create); links: Derived Key on each base object,
 * Derivation Base Object on the new one; all records in one atomic commit; the new uid becomes the
 * ID Placeholder (the request's own uids never come from it).
 *
 * Result Reasons (2.x / 1.x):
 * - Object Not Found / Item Not Found: a base object missing or not the caller's. Object Archived.
 * - Invalid Object Type / Invalid Field: a new object other than Symmetric Key or Secret Data, or a
 *   base object other than Symmetric Key or Secret Data.
 * - Wrong Key Lifecycle State / Invalid Field: a base object not Active ("not able to be used").
 * - Incompatible Cryptographic Usage Mask / Invalid Field: no Derive Key bit.
 * - Key Value Not Present: a base object destroyed or stored wrapped.
 * - Feature Not Supported: an HSM-resident base object (not built).
 * - Feature Not Supported / Invalid Field: a Derivation Method not served (NIST 800-108, asymmetric,
 *   AWS Signature Version 4).
 * - Invalid Field: missing Salt / Iteration Count / Derivation Data, no Cryptographic Length, no
 *   Cryptographic Algorithm for a key, a length not whole bytes; a malformed payload.
 * - Invalid Message: Derivation Data given both in the request and by a Secret Data object.
 * - Bad Cryptographic Parameters / Invalid Field: parameters that do not fit the method.
 * - Invalid Attribute Value / Invalid Field: an algorithm or length the key policy refuses.
 * - Cryptographic Failure: a length beyond what the method gives.
 * - Attribute rules and Name uniqueness as in Create.
 */
import {
  BlockCipherMode,
  CryptographicAlgorithm,
  DerivationMethod,
  HashingAlgorithm,
  KeyFormatType,
  LinkType,
  ObjectType,
  Operation,
  ResultReason,
  SecretDataType,
  State,
} from '../../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../kmip/generated/masks.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload, repeated, required } from '../../kmip/payload.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import { readKeyBlock, symmetricKeyBody } from '../../objects/object-body.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import { symmetricKeySpec, type CipherPolicy } from '../../policy/crypto-policy.js';
import { CryptoError } from '../../crypto/errors.js';
import { hashDerive, hkdfDerive, hmacDerive, pbkdf2Derive, type KdfHash } from '../../crypto/kdf.js';
import { openSymmetricCipher, type CryptoParams } from '../../crypto/mechanism.js';
import type { OperationContext, OperationHandler } from '../context.js';
import { checkSymmetricUse, keyPolicyOf } from '../crypto/key-policy-check.js';
import { checkPbkdf2, type KeyPolicy } from '../../policy/key-policy.js';
import { setServerDefault, stampGenerated, stampKeyFormatType } from '../../objects/server-set.js';
import { addLink, commitAll, keyDigest, newRecord, newUid } from './key-pairs.js';
import { destroyedValueError } from '../service/destroyed.js';
import { checkNamesUnique, newObjectAttributes, normalizeUsageLimits, updated } from '../service/new-objects.js';
import { touched } from '../service/save.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance, instances, linkNode } from '../../objects/typed-attributes.js';
import { cryptoPolicyOf, mechanism, readCryptoParams } from '../service/crypto-params.js';
import { isDestroyed } from '../../objects/lifecycle.js';
import { loadManaged, openBody } from '../service/object-service.js';
import { keyCustody } from '../key-custody.js';

const Request1x = {
  objectType: required(Tag.ObjectType, 'Enumeration'),
  uids: repeated(Tag.UniqueIdentifier, 'TextString'),
  method: required(Tag.DerivationMethod, 'Enumeration'),
  parameters: required(Tag.DerivationParameters, 'Structure'),
  templateAttribute: optional(Tag.TemplateAttribute, 'Structure'),
};
const Request2x = {
  objectType: required(Tag.ObjectType, 'Enumeration'),
  uids: repeated(Tag.UniqueIdentifier, 'TextString'),
  method: required(Tag.DerivationMethod, 'Enumeration'),
  parameters: required(Tag.DerivationParameters, 'Structure'),
  attributes: required(Tag.Attributes, 'Structure'),
};
const ParametersSchema = {
  cryptographicParameters: optional(Tag.CryptographicParameters, 'Structure'),
  iv: optional(Tag.InitializationVector, 'ByteString'),
  data: repeated(Tag.DerivationData, 'ByteString'),
  salt: optional(Tag.Salt, 'ByteString'),
  iterationCount: optional(Tag.IterationCount, 'Integer'),
};

const HASH_OF: ReadonlyMap<number, KdfHash> = new Map([
  [HashingAlgorithm.SHA_1, 'sha1'],
  [HashingAlgorithm.SHA_224, 'sha224'],
  [HashingAlgorithm.SHA_256, 'sha256'],
  [HashingAlgorithm.SHA_384, 'sha384'],
  [HashingAlgorithm.SHA_512, 'sha512'],
]);
const HMAC_HASH: ReadonlyMap<number, KdfHash> = new Map([
  [CryptographicAlgorithm.HMAC_SHA1, 'sha1'],
  [CryptographicAlgorithm.HMAC_SHA224, 'sha224'],
  [CryptographicAlgorithm.HMAC_SHA256, 'sha256'],
  [CryptographicAlgorithm.HMAC_SHA384, 'sha384'],
  [CryptographicAlgorithm.HMAC_SHA512, 'sha512'],
]);

const SERVED_METHODS: ReadonlySet<number> = new Set([DerivationMethod.PBKDF2, DerivationMethod.HASH, DerivationMethod.HMAC, DerivationMethod.ENCRYPT, DerivationMethod.HKDF]);

/** The hash a method uses: the Hashing Algorithm, else an HMAC-SHA* algorithm, in `params`; else `fallback`. */
function hashFrom(params: CryptoParams, fallback: KdfHash | undefined): KdfHash {
  if (params.hashingAlgorithm !== undefined) {
    const h = HASH_OF.get(params.hashingAlgorithm);
    if (!h) throw new CryptoError('UNSUPPORTED', `Hashing Algorithm ${params.hashingAlgorithm} is not served for key derivation`);
    return h;
  }
  const viaAlg = params.cryptographicAlgorithm !== undefined ? HMAC_HASH.get(params.cryptographicAlgorithm) : undefined;
  if (viaAlg) return viaAlg;
  if (fallback) return fallback;
  throw new CryptoError('BAD_PARAMETERS', 'this derivation method needs a Hashing Algorithm in the Cryptographic Parameters');
}

/** Pull Cryptographic Length out of the request's attributes (1.x Secret Data cannot carry it as an attribute). */
function takeLength(ctx: OperationContext, src: TtlvNode | undefined): { length?: number; rest?: TtlvNode } {
  if (src?.type !== 'Structure') return src ? { rest: src } : {};
  let length: number | undefined;
  const keep = src.value.filter((c) => {
    if (is2x(ctx.version) ? c.tag === Tag.CryptographicLength : c.type === 'Structure' && c.value.some((n) => n.tag === Tag.AttributeName && n.value === 'Cryptographic Length')) {
      const v = is2x(ctx.version) ? c : c.type === 'Structure' ? c.value.find((n) => n.tag === Tag.AttributeValue) : undefined;
      if (v?.type !== 'Integer') throw new KmipError(ResultReason.InvalidField, 'Cryptographic Length must be an Integer');
      length = v.value;
      return false;
    }
    return true;
  });
  return { ...(length !== undefined && { length }), rest: { ...src, value: keep } };
}

interface BaseObject {
  readonly record: ObjectRecord;
  readonly material: Uint8Array;
  readonly algorithm: number | undefined;
}

/** Load a base object: Symmetric Key or Secret Data, Active, Derive Key in its usage mask, plain material. */
async function loadBase(ctx: OperationContext, uid: string): Promise<BaseObject> {
  const v = ctx.version;
  const { record, state } = await loadManaged(ctx, uid, 'DeriveKey');
  if (record.objectType !== ObjectType.SymmetricKey && record.objectType !== ObjectType.SecretData) {
    throw new KmipError(versionReason(v, 'ObjectTypeNotAccepted'), `object ${uid} is not a Symmetric Key or Secret Data; keys are derived from those`);
  }
  const noValue = versionReason(v, 'DerivationBaseValueAbsent');
  if (isDestroyed(state)) throw destroyedValueError(v, 'DeriveKey', uid);
  if (!record.sealedBody) throw new KmipError(noValue, `object ${uid} has no key material`);
  if (state !== State.Active) throw new KmipError(versionReason(v, 'InputWrongKeyLifecycleState'), `object ${uid} is not Active; it cannot be used to derive a key`);
  const maskNode = instance(record.attributes, 'CryptographicUsageMask');
  const mask = maskNode?.type === 'Integer' ? maskNode.value : 0;
  if ((mask & CryptographicUsageMask.DeriveKey) === 0) {
    throw new KmipError(versionReason(v, 'InputIncompatibleCryptographicUsageMask'), `object ${uid}'s Cryptographic Usage Mask does not allow Derive Key`);
  }
  keyCustody(ctx).requireHostValue(record, `object ${uid} lives in the HSM; deriving from HSM-resident keys is not built`);
  const kb = readKeyBlock(
    (await openBody(ctx, record)).value.find((c) => c.tag === Tag.KeyBlock),
    'stored object',
  );
  if (kb.wrapped || !kb.material) throw new KmipError(noValue, `object ${uid} is stored wrapped or holds no usable bytes`);
  const algNode = instance(record.attributes, 'CryptographicAlgorithm');
  const algorithm = kb.algorithm ?? (algNode?.type === 'Enumeration' ? algNode.value : undefined);
  // The crypto policy for a key about to be used (operations/crypto/key-policy-check.ts).
  checkSymmetricUse(ctx, uid, algorithm, kb.material);
  return { record, material: kb.material, algorithm };
}

async function derive(
  method: number,
  base: BaseObject,
  p: { params: CryptoParams; data?: Uint8Array; salt?: Uint8Array; iterations?: number; iv?: Uint8Array },
  bytes: number,
  policy: CipherPolicy,
  keys: KeyPolicy,
): Promise<Uint8Array> {
  const needData = (): Uint8Array => {
    if (!p.data) throw new CryptoError('BAD_PARAMETERS', 'this derivation method needs Derivation Data');
    return p.data;
  };
  switch (method) {
    case DerivationMethod.PBKDF2:
      if (!p.salt || p.iterations === undefined) throw new CryptoError('BAD_PARAMETERS', 'PBKDF2 needs a Salt and an Iteration Count');
      {
        const refused = checkPbkdf2(keys, p.iterations, p.salt.length);
        if (refused) throw new CryptoError('BAD_PARAMETERS', refused.why);
      }
      return pbkdf2Derive(base.material, p.salt, p.iterations, bytes, hashFrom(p.params, 'sha1'));
    case DerivationMethod.HKDF:
      return hkdfDerive(base.material, p.salt ?? new Uint8Array(0), p.data ?? new Uint8Array(0), bytes, hashFrom(p.params, 'sha256'));
    case DerivationMethod.HMAC: {
      const own = base.algorithm !== undefined ? HMAC_HASH.get(base.algorithm) : undefined;
      // The base key is the HMAC key here, whatever its own algorithm.
      if (base.material.length * 8 < keys.hmacMinBits)
        throw new CryptoError('BAD_PARAMETERS', `HMAC keys must be at least ${keys.hmacMinBits} bits; the base key is ${base.material.length * 8} (cryptoPolicy.hmacMinBits)`);
      return hmacDerive(base.material, needData(), bytes, own ?? hashFrom(p.params, undefined));
    }
    case DerivationMethod.HASH:
      return hashDerive(p.data ?? base.material, bytes, hashFrom(p.params, undefined));
    case DerivationMethod.ENCRYPT: {
      const data = needData();
      if (base.algorithm !== CryptographicAlgorithm.AES) throw new CryptoError('UNSUPPORTED', 'the ENCRYPT derivation is served with AES keys');
      const mode = p.params.blockCipherMode;
      const ivBytes = mode === BlockCipherMode.ECB ? undefined : mode === BlockCipherMode.GCM ? 12 : 16;
      const iv = p.iv ?? (ivBytes !== undefined ? new Uint8Array(ivBytes) : undefined);
      const c = openSymmetricCipher(CryptographicAlgorithm.AES, base.material, p.params, 'encrypt', { ...(iv && { iv }) }, policy);
      const head = c.update(data);
      const out = Buffer.concat([head, c.final().data]);
      if (bytes > out.length) throw new CryptoError('FAILURE', `the ENCRYPT derivation gives ${out.length} bytes for this data; ${bytes} were asked for`);
      return new Uint8Array(out.subarray(0, bytes));
    }
    default:
      throw new CryptoError('UNSUPPORTED', `Derivation Method ${method} is not served`);
  }
}

export const deriveKey: OperationHandler = {
  operation: Operation.DeriveKey,
  name: 'DeriveKey',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Derive Key request payload' }) : readPayload(node, Request1x, { what: 'Derive Key request payload' });
    const objectType = req.objectType.value;
    if (objectType !== ObjectType.SymmetricKey && objectType !== ObjectType.SecretData) {
      throw new KmipError(versionReason(v, 'ObjectTypeNotAccepted'), 'Derive Key makes Symmetric Keys and Secret Data');
    }
    if (req.uids.length === 0) throw new KmipError(ResultReason.InvalidField, 'Derive Key needs the Unique Identifier of the object to derive from (the ID Placeholder is not used)');
    if (req.uids.length > 2) throw new KmipError(ResultReason.InvalidField, 'Derive Key takes a base object and at most one Secret Data object holding the Derivation Data');
    const method = req.method.value;
    if (!SERVED_METHODS.has(method) || (method === DerivationMethod.HKDF && !is2x(v))) {
      throw new KmipError(versionReason(v, 'FeatureNotSupported'), `Derivation Method ${method} is not served (PBKDF2, HASH, HMAC, ENCRYPT${is2x(v) ? ', HKDF' : ''} are)`);
    }
    const dp = readPayload(req.parameters, ParametersSchema, { what: 'Derivation Parameters' });
    if (dp.data.length > 1) throw new KmipError(ResultReason.InvalidField, 'one Derivation Data is taken by these methods');

    const { length, rest } = takeLength(ctx, 'attributes' in req ? req.attributes : req.templateAttribute);
    const attrs = await newObjectAttributes(ctx, objectType, 'attributes' in req ? { ...(rest && { attributes: rest }) } : { ...(rest && { templateAttribute: rest }) }, 'DeriveKey');
    if (length === undefined) throw new KmipError(ResultReason.InvalidField, 'Derive Key needs the Cryptographic Length of the object to derive');
    if (length <= 0 || length % 8 !== 0) throw new KmipError(ResultReason.InvalidField, 'Cryptographic Length must be a positive multiple of 8');
    let algorithm: number | undefined;
    if (objectType === ObjectType.SymmetricKey) {
      const alg = instance(attrs, 'CryptographicAlgorithm');
      if (alg?.type !== 'Enumeration') throw new KmipError(ResultReason.InvalidField, 'Derive Key needs the Cryptographic Algorithm of the key to derive');
      const decision = symmetricKeySpec(alg.value, length, keyPolicyOf(ctx));
      if (!decision.ok) throw new KmipError(versionReason(v, 'InvalidAttributeValue'), decision.why);
      // A derived byte string is no TDES key bundle (parity, distinct non-weak parts): Create makes those.
      if (alg.value === CryptographicAlgorithm.DES3) throw new KmipError(versionReason(v, 'InvalidAttributeValue'), 'Triple DES keys are made by Create, not derived');
      algorithm = alg.value;
      attrs.set('CryptographicLength', [item('CryptographicLength', length)]);
      setServerDefault(attrs, 'CryptographicUsageMask', item('CryptographicUsageMask', decision.usageMask));
    } else if (is2x(v)) {
      attrs.set('CryptographicLength', [item('CryptographicLength', length)]);
    }
    normalizeUsageLimits(attrs, v);
    await checkNamesUnique(ctx, attrs, 'DeriveKey');

    const bases: BaseObject[] = [];
    for (const uid of req.uids) bases.push(await loadBase(ctx, uid.value));
    let data = dp.data[0]?.value;
    if (bases[1]) {
      if (data) throw new KmipError(ResultReason.InvalidMessage, 'Derivation Data is given both in the request and by a Secret Data object');
      if (bases[1].record.objectType !== ObjectType.SecretData) throw new KmipError(versionReason(v, 'ObjectTypeNotAccepted'), 'the second object must be Secret Data (the Derivation Data)');
      data = bases[1].material;
    }
    const params = readCryptoParams(dp.cryptographicParameters) ?? {};
    const derived = await mechanism(ctx, () =>
      derive(
        method,
        bases[0]!,
        {
          params,
          ...(data && { data }),
          ...(dp.salt && { salt: dp.salt.value }),
          ...(dp.iterationCount && { iterations: dp.iterationCount.value }),
          ...(dp.iv && { iv: dp.iv.value }),
        },
        length / 8,
        cryptoPolicyOf(ctx).cipher,
        keyPolicyOf(ctx),
      ),
    );
    try {
      const uid = newUid();
      const body: StructureNode =
        objectType === ObjectType.SymmetricKey
          ? symmetricKeyBody(derived, algorithm!, length)
          : {
              tag: Tag.SecretData,
              type: 'Structure',
              value: [
                item('SecretDataType', SecretDataType.Seed),
                {
                  tag: Tag.KeyBlock,
                  type: 'Structure',
                  value: [item('KeyFormatType', KeyFormatType.Opaque), item('KeyValue', [item('KeyMaterial', derived)])],
                },
              ],
            };
      const digest = keyDigest(body);
      if (digest) attrs.set('Digest', [digest]);
      stampGenerated(attrs, ctx.now);
      stampKeyFormatType(attrs, body);
      for (const b of bases) addLink(attrs, LinkType.DerivationBaseObjectLink, b.record.uid);
      const fresh = await newRecord(ctx, { uid, objectType, attributes: attrs, body });
      const changed = [...new Map(bases.map((b) => [b.record.uid, b.record])).values()].map((old) => {
        const a = new Map(old.attributes);
        a.set('Link', [...instances(a, 'Link'), linkNode(LinkType.DerivedKeyLink, uid)]);
        return { record: updated(old, { attributes: touched(a, ctx.now) }), previous: old };
      });
      await commitAll(ctx, [fresh], changed);
      ctx.batch.idPlaceholder = uid;
      return payload(Tag.ResponsePayload, [item('UniqueIdentifier', uid)]);
    } finally {
      derived.fill(0);
    }
  },
};
