/**
 * Join Split Key. KMIP 1.4 §4.39 (Tables 249-250, errors §11.40 Table 363), KMIP 2.1 §6.1.27
 * (Tables 244-246); methods 2.1 §13.1 (src/crypto/split-key.ts).
 * Rebuilds a Symmetric Key or Secret Data from Split Key objects the caller holds (and may Get):
 * they must belong together — one Split Key Method, Split Key Parts and Threshold, Key Format
 * Type, Cryptographic Algorithm/Length, material length and Parent Link (the key they were split
 * from, when there is one), distinct Key Part Identifiers, and for parts Create Split Key made, one
 * Previous/Next Link chain; with Polynomial Sharing, parts beyond the
 * threshold must lie on the same polynomial. At least Split Key Threshold parts are needed. The
 * rebuilt object is stored like any key (sealed under the KEK, Digest, lifecycle Create: Pre-Active);
 * a Symmetric Key takes the parts' Cryptographic Algorithm (the request may repeat it, not change it)
 * and passes the key policy; Secret Data takes the request's Secret Data Type (Seed by default).
 * The new uid becomes the ID Placeholder.
 *
 * Result Reasons (1.x / 2.x):
 * - Invalid Field / Invalid Object Type: an Object Type other than Symmetric Key or Secret Data; a
 *   Unique Identifier naming something other than a Split Key.
 * - Cryptographic Failure: fewer parts than the Split Key Threshold (1.4 Table 363; test cases
 *   TC-SJ-1/2/3/4); extra parts inconsistent with the others.
 * - Invalid Field: parts that do not belong together or whose split its method cannot make (a
 *   registered XOR split whose threshold is not its parts); a Unique Identifier given twice; none given;
 *   a payload that breaks its schema.
 * - Invalid Field / Feature Not Supported: a Split Key Method not served (GF(2^16), Prime Field).
 * - Invalid Field / Invalid Attribute Value: a Cryptographic Algorithm/Length in the request that
 *   contradicts the parts, no algorithm for a Symmetric Key, or one the key policy refuses.
 * - Item Not Found / Object Not Found, Object Archived, Key Value Not Present, Not Extractable,
 *   Sensitive: a part (keys-and-certificates/split-keys.ts). Name uniqueness as in Create.
 */
import { KeyFormatType, ObjectType, Operation, ResultReason, SecretDataType } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload, repeated, required } from '../../kmip/payload.js';
import { SERVED_SPLIT_METHODS, joinSecret, splitShapeProblem } from '../../crypto/split-key.js';
import { symmetricKeyBody } from '../../objects/object-body.js';
import { stampKeyFormatType } from '../../objects/server-set.js';
import { symmetricKeySpec } from '../../policy/crypto-policy.js';
import type { StructureNode } from '../../ttlv/node.js';
import type { OperationHandler } from '../context.js';
import { keyDigest } from './key-pairs.js';
import { checkNamesUnique, commitNewObject, newObjectAttributes, normalizeUsageLimits } from '../service/new-objects.js';
import { chainedTogether, loadPart, parentLinks, type LoadedPart } from './split-keys.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance } from '../../objects/typed-attributes.js';
import { mechanism } from '../service/crypto-params.js';

const Common = {
  objectType: required(Tag.ObjectType, 'Enumeration'),
  uids: repeated(Tag.UniqueIdentifier, 'TextString'),
  secretDataType: optional(Tag.SecretDataType, 'Enumeration'),
};
const Request1x = { ...Common, templateAttribute: optional(Tag.TemplateAttribute, 'Structure') };
const Request2x = { ...Common, attributes: optional(Tag.Attributes, 'Structure'), protectionStorageMasks: optional(Tag.ProtectionStorageMasks, 'Structure') };

/** Why the parts do not belong to one split, or undefined. */
function mismatch(parts: readonly LoadedPart[]): string | undefined {
  const first = parts[0]!;
  const parent = parentLinks(first.record).join('\n');
  for (const p of parts) {
    if (p.method !== first.method || p.parts !== first.parts || p.threshold !== first.threshold) return 'the parts come from different splits (Split Key Method, Parts or Threshold differ)';
    if (p.facts.keyFormatType !== first.facts.keyFormatType || p.facts.algorithm !== first.facts.algorithm || p.facts.length !== first.facts.length) {
      return 'the parts come from different keys (Key Format Type, Cryptographic Algorithm or Length differ)';
    }
    if (p.material.length !== first.material.length) return 'the parts are not of one length';
    if (parentLinks(p.record).join('\n') !== parent) return 'the parts were split from different keys';
    if (p.id < 1 || p.id > p.parts) return `Key Part Identifier ${p.id} is outside 1…${p.parts}`;
  }
  if (new Set(parts.map((p) => p.id)).size !== parts.length) return 'the same Key Part Identifier is given twice';
  return undefined;
}

export const joinSplitKey: OperationHandler = {
  operation: Operation.JoinSplitKey,
  name: 'JoinSplitKey',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Join Split Key request payload' }) : readPayload(node, Request1x, { what: 'Join Split Key request payload' });
    const objectType = req.objectType.value;
    const wrongType = versionReason(v, 'ObjectTypeNotAccepted');
    if (objectType !== ObjectType.SymmetricKey && objectType !== ObjectType.SecretData) throw new KmipError(wrongType, 'Join Split Key forms a Symmetric Key or Secret Data');
    const uids = req.uids.map((u) => u.value);
    if (uids.length === 0) throw new KmipError(ResultReason.InvalidField, 'Join Split Key needs the Unique Identifiers of the parts');
    if (new Set(uids).size !== uids.length) throw new KmipError(ResultReason.InvalidField, 'a Unique Identifier is given twice');
    if (req.secretDataType && objectType !== ObjectType.SecretData) throw new KmipError(ResultReason.InvalidField, 'Secret Data Type applies to Secret Data');

    const parts: LoadedPart[] = [];
    for (const uid of uids) parts.push(await loadPart(ctx, uid));
    const first = parts[0]!;
    if (!SERVED_SPLIT_METHODS.has(first.method)) {
      throw new KmipError(versionReason(v, 'FeatureNotSupported'), `Split Key Method ${first.method} is not served (XOR and Polynomial Sharing GF(2^8) are)`);
    }
    // A registered split may state a shape its method cannot have (XOR with fewer needed than made).
    const shape = splitShapeProblem(first.method, first.parts, first.threshold);
    if (shape) throw new KmipError(ResultReason.InvalidField, `the parts' split cannot be joined: ${shape}`);
    const why = mismatch(parts);
    if (why) throw new KmipError(ResultReason.InvalidField, why);
    if ((await chainedTogether(ctx, parts)) === false)
      throw new KmipError(ResultReason.InvalidField, 'the parts do not come from one Create Split Key (their Previous/Next Link chain differs)');
    if (parts.length < first.threshold) throw new KmipError(ResultReason.CryptographicFailure, `${parts.length} part(s) given; this split needs ${first.threshold}`);

    const attrs = await newObjectAttributes(
      ctx,
      objectType,
      'attributes' in req ? { ...(req.attributes && { attributes: req.attributes }) } : { ...(req.templateAttribute && { templateAttribute: req.templateAttribute }) },
      'JoinSplitKey',
    );
    const badValue = versionReason(v, 'InvalidAttributeValue');
    const bits = first.material.length * 8;
    const askedAlg = instance(attrs, 'CryptographicAlgorithm');
    const askedLen = instance(attrs, 'CryptographicLength');
    if (askedLen && (askedLen.type !== 'Integer' || askedLen.value !== bits)) throw new KmipError(badValue, `the parts rebuild a ${bits}-bit value; Cryptographic Length does not match`);
    let algorithm: number | undefined;
    if (objectType === ObjectType.SymmetricKey) {
      if (askedAlg && (askedAlg.type !== 'Enumeration' || (first.facts.algorithm !== undefined && askedAlg.value !== first.facts.algorithm))) {
        throw new KmipError(badValue, 'Cryptographic Algorithm does not match the parts');
      }
      algorithm = first.facts.algorithm ?? (askedAlg?.type === 'Enumeration' ? askedAlg.value : undefined);
      if (algorithm === undefined) throw new KmipError(badValue, 'a Symmetric Key needs a Cryptographic Algorithm (neither the parts nor the request state one)');
      const decision = symmetricKeySpec(algorithm, bits);
      if (!decision.ok) throw new KmipError(badValue, decision.why);
      attrs.set('CryptographicAlgorithm', [item('CryptographicAlgorithm', algorithm)]);
      attrs.set('CryptographicLength', [item('CryptographicLength', bits)]);
      if (!attrs.has('CryptographicUsageMask')) {
        const partMask = instance(first.record.attributes, 'CryptographicUsageMask');
        attrs.set('CryptographicUsageMask', [partMask ?? item('CryptographicUsageMask', decision.usageMask)]);
      }
    } else if (is2x(v)) {
      attrs.set('CryptographicLength', [item('CryptographicLength', bits)]);
    }
    normalizeUsageLimits(attrs, v);
    await checkNamesUnique(ctx, attrs, 'JoinSplitKey');

    const secret = await mechanism(ctx, () =>
      joinSecret(
        first.method,
        parts.map((p) => ({ id: p.id, material: p.material })),
        first.threshold,
      ),
    );
    try {
      const body: StructureNode =
        objectType === ObjectType.SymmetricKey
          ? symmetricKeyBody(secret, algorithm!, bits)
          : {
              tag: Tag.SecretData,
              type: 'Structure',
              value: [
                item('SecretDataType', req.secretDataType?.value ?? SecretDataType.Seed),
                {
                  tag: Tag.KeyBlock,
                  type: 'Structure',
                  value: [
                    item('KeyFormatType', first.facts.keyFormatType === KeyFormatType.Opaque ? KeyFormatType.Opaque : KeyFormatType.Raw),
                    item('KeyValue', [item('KeyMaterial', secret)]),
                  ],
                },
              ],
            };
      const digest = keyDigest(body);
      if (digest) attrs.set('Digest', [digest]);
      stampKeyFormatType(attrs, body);
      const uid = await commitNewObject(ctx, objectType, attrs, body);
      return payload(Tag.ResponsePayload, [item('UniqueIdentifier', uid)]);
    } finally {
      secret.fill(0);
    }
  },
};
