/**
 * Create Split Key. KMIP 1.4 §4.38 (Tables 247-248, errors §11.39 Table 362), KMIP 2.1 §6.1.10
 * (Tables 193-195); Split Key object 1.4 §2.2.5 / 2.1 §2.8; methods 2.1 §13.1 (src/crypto/split-key.ts).
 * Splits a secret into Split Key Parts Split Key objects, any Split Key Threshold of which rebuild
 * it (Join Split Key):
 * - with a Unique Identifier: the caller's Symmetric Key or Secret Data (any state but Destroyed
 *   or Compromised; the caller must also be allowed to Get it, as the parts carry its value). Its
 *   Cryptographic Algorithm/Length and, unless the request gives one, its Cryptographic Usage Mask
 *   go to the parts ("the attributes of the key take precedence"). Each part gets a Parent Link to
 *   it, and it a Child Link to each part;
 * - without: a new symmetric key from the request's Cryptographic Algorithm/Length (the Create
 *   policy), made, split and wiped; only the parts are stored.
 * The parts of one split are chained by Previous Link / Next Link in Key Part Identifier order.
 * Methods: XOR (threshold = parts) and Polynomial Sharing GF(2^8). Each part is stored like any key
 * (sealed under the KEK), in one atomic commit; the response lists the parts' uids by Key Part
 * Identifier, and the ID Placeholder becomes part 1's.
 *
 * Result Reasons (1.x / 2.x):
 * - Invalid Field / Invalid Object Type: an Object Type other than Split Key; a key to split that
 *   is not a Symmetric Key or Secret Data.
 * - Invalid Field / Feature Not Supported: Polynomial Sharing GF(2^16) or Prime Field (not built;
 *   1.4 Table 362 "Split Key Method not supported").
 * - Invalid Field: parts/threshold that do not fit (threshold over parts, XOR with threshold ≠
 *   parts, over 255 GF(2^8) parts); a payload that breaks its schema.
 * - Invalid Field / Invalid Attribute Value: no Cryptographic Algorithm, or one the key policy
 *   refuses, for a new key.
 * - Invalid Field / Non Unique Name Attribute: a Name (each part would carry it) for more than one
 *   part, or a Name already taken.
 * - Item Not Found / Object Not Found, Object Archived, Key Value Not Present, Feature Not
 *   Supported (HSM-resident), Not Extractable, Sensitive: the key to split (keys-and-certificates/split-keys.ts).
 */
import { KeyFormatType, LinkType, ObjectType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../kmip/generated/masks.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import { generateSymmetricKey } from '../../crypto/tdes-key.js';
import { SERVED_SPLIT_METHODS, splitSecret, splitShapeProblem, type SplitPart } from '../../crypto/split-key.js';
import { symmetricKeySpec } from '../../policy/crypto-policy.js';
import { stampGenerated, stampKeyFormatType } from '../../objects/server-set.js';
import type { AttributeKey, ObjectRecord } from '../../objects/managed-object.js';
import type { TtlvNode } from '../../ttlv/node.js';
import type { OperationContext, OperationHandler } from '../context.js';
import { addLink, commitAll, keyDigest, newRecord, newUid } from './key-pairs.js';
import { checkNamesUnique, newObjectAttributes, normalizeUsageLimits, updated } from '../service/new-objects.js';
import { loadMaterial, splitKeyBody, type KeyFacts } from './split-keys.js';
import { touched } from '../service/save.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { hasAttribute, instance, instances, linkNode } from '../../objects/typed-attributes.js';
import { mechanism } from '../service/crypto-params.js';

const Common = {
  objectType: required(Tag.ObjectType, 'Enumeration'),
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  parts: required(Tag.SplitKeyParts, 'Integer'),
  threshold: required(Tag.SplitKeyThreshold, 'Integer'),
  method: required(Tag.SplitKeyMethod, 'Enumeration'),
  primeFieldSize: optional(Tag.PrimeFieldSize, 'BigInteger'),
};
const Request1x = { ...Common, templateAttribute: optional(Tag.TemplateAttribute, 'Structure') };
const Request2x = { ...Common, attributes: optional(Tag.Attributes, 'Structure'), protectionStorageMasks: optional(Tag.ProtectionStorageMasks, 'Structure') };

const SPLITTABLE: ReadonlySet<number> = new Set([ObjectType.SymmetricKey, ObjectType.SecretData]);

interface Secret {
  readonly material: Uint8Array;
  readonly facts: KeyFacts;
  /** The stored key split, if any. */
  readonly source?: ObjectRecord;
  /** Its usage mask, for parts the request gives none. */
  readonly usageMask?: TtlvNode;
  /** Material made here: wiped after use. */
  readonly fresh: boolean;
}

/** The stored key named by `uid`, or a new one from the request's attributes. */
async function secretToSplit(ctx: OperationContext, uid: string | undefined, attrs: Map<AttributeKey, TtlvNode[]>): Promise<Secret> {
  const v = ctx.version;
  if (uid !== undefined) {
    const key = await loadMaterial(ctx, uid, 'CreateSplitKey', { allowed: SPLITTABLE, what: 'a Symmetric Key or Secret Data; those are split' });
    const mask = instance(key.record.attributes, 'CryptographicUsageMask');
    const facts: KeyFacts = {
      keyFormatType: key.facts.keyFormatType === KeyFormatType.TransparentSymmetricKey ? KeyFormatType.Raw : key.facts.keyFormatType,
      ...(key.facts.algorithm !== undefined && { algorithm: key.facts.algorithm }),
      ...(key.facts.length !== undefined ? { length: key.facts.length } : key.record.objectType === ObjectType.SymmetricKey && { length: key.material.length * 8 }),
    };
    return { material: key.material, facts, source: key.record, ...(mask && { usageMask: mask }), fresh: false };
  }
  const alg = instance(attrs, 'CryptographicAlgorithm');
  if (alg?.type !== 'Enumeration')
    throw new KmipError(ResultReason.InvalidField, 'Create Split Key of a new key needs its Cryptographic Algorithm (or the Unique Identifier of a key to split)');
  const len = instance(attrs, 'CryptographicLength');
  const decision = symmetricKeySpec(alg.value, len?.type === 'Integer' ? len.value : undefined);
  if (!decision.ok) throw new KmipError(versionReason(v, 'InvalidAttributeValue'), decision.why);
  return {
    material: generateSymmetricKey(alg.value, decision.bits),
    facts: { keyFormatType: KeyFormatType.Raw, algorithm: alg.value, length: decision.bits },
    usageMask: item('CryptographicUsageMask', decision.usageMask),
    fresh: true,
  };
}

export const createSplitKey: OperationHandler = {
  operation: Operation.CreateSplitKey,
  name: 'CreateSplitKey',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Create Split Key request payload' }) : readPayload(node, Request1x, { what: 'Create Split Key request payload' });
    if (req.objectType.value !== ObjectType.SplitKey) {
      throw new KmipError(versionReason(v, 'ObjectTypeNotAccepted'), 'Create Split Key makes Split Key objects (Object Type Split Key)');
    }
    const method = req.method.value;
    if (!SERVED_SPLIT_METHODS.has(method)) {
      throw new KmipError(versionReason(v, 'FeatureNotSupported'), `Split Key Method ${method} is not served (XOR and Polynomial Sharing GF(2^8) are)`);
    }
    const fields = { parts: req.parts.value, threshold: req.threshold.value, method };
    const problem = splitShapeProblem(method, fields.parts, fields.threshold);
    if (problem) throw new KmipError(ResultReason.InvalidField, problem);

    const attrs = await newObjectAttributes(
      ctx,
      ObjectType.SplitKey,
      'attributes' in req ? { ...(req.attributes && { attributes: req.attributes }) } : { ...(req.templateAttribute && { templateAttribute: req.templateAttribute }) },
      'CreateSplitKey',
    );
    if (hasAttribute(attrs, 'Name') && fields.parts > 1) {
      throw new KmipError(versionReason(v, 'NonUniqueNameAttribute'), 'a Name would be carried by every part; names are unique here');
    }
    normalizeUsageLimits(attrs, v);
    await checkNamesUnique(ctx, attrs, 'CreateSplitKey');

    const secret = await secretToSplit(ctx, req.uid?.value, attrs);
    let parts: SplitPart[] = [];
    try {
      parts = await mechanism(ctx, () => splitSecret(method, secret.material, fields.parts, fields.threshold));
      // The key's own algorithm and length take precedence over the request's.
      attrs.delete('CryptographicAlgorithm');
      attrs.delete('CryptographicLength');
      if (secret.facts.algorithm !== undefined) attrs.set('CryptographicAlgorithm', [item('CryptographicAlgorithm', secret.facts.algorithm)]);
      if (secret.facts.length !== undefined) attrs.set('CryptographicLength', [item('CryptographicLength', secret.facts.length)]);
      if (!attrs.has('CryptographicUsageMask')) {
        attrs.set('CryptographicUsageMask', [secret.usageMask ?? item('CryptographicUsageMask', CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt)]);
      }
      stampGenerated(attrs, ctx.now);

      const records: ObjectRecord[] = [];
      const uids = parts.map(() => newUid());
      for (const [i, part] of parts.entries()) {
        const body = splitKeyBody(fields, part.id, part.material, secret.facts);
        const own = new Map([...attrs].map(([k, list]) => [k, [...list]]));
        const digest = keyDigest(body);
        if (digest) own.set('Digest', [digest]);
        stampKeyFormatType(own, body);
        if (secret.source) addLink(own, LinkType.ParentLink, secret.source.uid);
        // The parts of one split form a chain (Previous/Next Link), which Join Split Key follows to
        // tell parts of one split from look-alike parts of another.
        if (i > 0) addLink(own, LinkType.PreviousLink, uids[i - 1]!);
        if (i < parts.length - 1) addLink(own, LinkType.NextLink, uids[i + 1]!);
        records.push(await newRecord(ctx, { uid: uids[i]!, objectType: ObjectType.SplitKey, attributes: own, body }));
      }
      const changed: { record: ObjectRecord; previous: ObjectRecord }[] = [];
      if (secret.source) {
        const a = new Map(secret.source.attributes);
        a.set('Link', [...instances(a, 'Link'), ...records.map((r) => linkNode(LinkType.ChildLink, r.uid))]);
        changed.push({ record: updated(secret.source, { attributes: touched(a, ctx.now) }), previous: secret.source });
      }
      await commitAll(ctx, records, changed);
      ctx.batch.idPlaceholder = records[0]!.uid;
      return payload(
        Tag.ResponsePayload,
        records.map((r) => item('UniqueIdentifier', r.uid)),
      );
    } finally {
      for (const p of parts) p.material.fill(0);
      if (secret.fresh) secret.material.fill(0);
    }
  },
};
