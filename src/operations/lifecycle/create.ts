/**
 * Create. KMIP 1.4 §4.1 (Tables 163-165), KMIP 2.1 §6.1.8 (Tables 186-188).
 * Generates a symmetric key — AES 128/192/256, three-key Triple DES (Cryptographic Length 168 or
 * 192, 24 bytes with odd parity, distinct and not weak parts: src/crypto/tdes-key.ts; using it to
 * encrypt is gated by cryptoPolicy.tripleDes) or an HMAC key (HMAC-SHA1/224/256/384/512; length
 * defaults to the hash size) — from the platform CSPRNG, as the SymmetricKey structure
 * Key Block { Key Format Type Raw, Key Value { Key Material }, Cryptographic Algorithm,
 * Cryptographic Length }, sealed before it is stored; the key bytes are never logged. Policy:
 * src/policy/crypto-policy.ts.
 *
 * Attributes: 1.x Template-Attribute (with Template names, objects registered by 1.x clients) or
 * 2.x Attributes (Protection Storage Masks accepted, not checked yet; the key's Protection Storage
 * Mask attribute tells where it is kept: objects/server-set.ts). The server sets
 * Unique Identifier, Object Type, State (lifecycle Create: Pre-Active, or Active when the Activation
 * Date has passed), Initial Date, Last Change Date, Original Creation Date, Random Number Generator,
 * Key Format Type, Digest (SHA-256 of the Raw key), and the Usage Limits Count. The new uid becomes the ID Placeholder.
 * Where the key lives is the key-custody seam's choice (src/custody/): sealed in the host, or,
 * with a PKCS#11 backend and hsm.residentKeys / Extractable false, generated in the HSM (no
 * Digest then, Extractable false, Never Extractable true).
 *
 * Result Reasons:
 * - Invalid Field (1.x) / Invalid Object Type (2.x): an Object Type other than Symmetric Key.
 * - Missing Data: no Cryptographic Algorithm; 1.x without Cryptographic Usage Mask (1.4 Table 165;
 *   a 2.x Create without one gets the policy default, 2.1 §4.14 "always has a value").
 * - Invalid Field (1.x) / Invalid Attribute Value (2.x): an algorithm or length the policy refuses,
 *   malformed Usage Limits (1.4 §11.2 "Incorrect attribute value(s) specified").
 * - Item Not Found: a Template name that does not exist (1.4 §11.2); Object Archived: it is archived.
 * - Attribute rules (objects/attributes.ts): Invalid Field (1.x); Attribute Read Only, Invalid
 *   Attribute, Invalid Attribute Value, Attribute Single Valued (2.x).
 * - Invalid Field (1.x) / Non Unique Name Attribute (2.x): the Name is taken.
 * - Invalid Field: a payload that breaks its schema.
 */
import { ObjectType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import { symmetricKeySpec } from '../../policy/crypto-policy.js';
import { keyPolicyOf } from '../crypto/key-policy-check.js';
import type { OperationHandler } from '../context.js';
import { keyCustody } from '../key-custody.js';
import { newUid } from '../../objects/identifiers.js';
import { setServerDefault, stampGenerated, stampKeyFormatType } from '../../objects/server-set.js';
import { checkNamesUnique, commitNewObject, newObjectAttributes, normalizeUsageLimits } from '../service/new-objects.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance } from '../../objects/typed-attributes.js';

const Request1x = { objectType: required(Tag.ObjectType, 'Enumeration'), templateAttribute: optional(Tag.TemplateAttribute, 'Structure') };
const Request2x = {
  objectType: required(Tag.ObjectType, 'Enumeration'),
  attributes: required(Tag.Attributes, 'Structure'),
  protectionStorageMasks: optional(Tag.ProtectionStorageMasks, 'Structure'),
};

export const create: OperationHandler = {
  operation: Operation.Create,
  name: 'Create',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Create request payload' }) : readPayload(node, Request1x, { what: 'Create request payload' });
    const objectType = req.objectType.value;
    if (objectType !== ObjectType.SymmetricKey) {
      throw new KmipError(versionReason(v, 'ObjectTypeNotAccepted'), 'this server creates Symmetric Keys only (use Register for other objects)');
    }
    const attrs = await newObjectAttributes(ctx, objectType, 'attributes' in req ? { attributes: req.attributes } : { templateAttribute: req.templateAttribute }, 'Create');

    const alg = instance(attrs, 'CryptographicAlgorithm');
    if (alg?.type !== 'Enumeration') throw new KmipError(ResultReason.MissingData, 'Create needs a Cryptographic Algorithm');
    const len = instance(attrs, 'CryptographicLength');
    const decision = symmetricKeySpec(alg.value, len?.type === 'Integer' ? len.value : undefined, keyPolicyOf(ctx));
    if (!decision.ok) throw new KmipError(ResultReason.InvalidAttributeValue, decision.why);
    attrs.set('CryptographicLength', [item('CryptographicLength', decision.bits)]);
    if (!attrs.has('CryptographicUsageMask')) {
      if (!is2x(v)) throw new KmipError(ResultReason.MissingData, 'Create needs a Cryptographic Usage Mask (KMIP 1.4 Table 165)');
      setServerDefault(attrs, 'CryptographicUsageMask', item('CryptographicUsageMask', decision.usageMask));
    }
    normalizeUsageLimits(attrs, v);
    stampGenerated(attrs, ctx.now);
    await checkNamesUnique(ctx, attrs, 'Create');

    // Where the key lives (src/custody/): in the HSM when the residency policy and Extractable
    // ask for it and the token holds it, else in the host, sealed.
    const custody = keyCustody(ctx).forSecret({ attributes: attrs, refusal: ResultReason.InvalidAttributeValue }, alg.value, decision.bits);
    const uid = newUid();
    const made = await custody.generate({ uid, algorithm: alg.value, bits: decision.bits });
    // A token key made for an item whose commit fails (or that fails later) is removed: the unit of work's undo journal.
    ctx.work.onUndo(() => made.discard());
    try {
      made.stamp(attrs);
      stampKeyFormatType(attrs, made.body);
      await commitNewObject(ctx, objectType, attrs, made.body, { uid, ...(made.hsmKey !== undefined && { hsmKey: made.hsmKey }) });
    } finally {
      made.wipe();
    }
    return payload(Tag.ResponsePayload, [item('ObjectType', objectType), item('UniqueIdentifier', uid)]);
  },
};
