/**
 * Register. KMIP 1.4 §4.3 (Tables 169-171), KMIP 2.1 §6.1.43 (Tables 291-294).
 * Stores an object the client supplies: Symmetric Key, Public Key, Private Key, Split Key, Secret
 * Data, PGP Key (Key Block, wrapped or not), Certificate, Opaque Object (any Opaque Data Type,
 * including the extension range PyKMIP uses, 0x80000000), Certificate Request (2.x) and Template
 * (1.x: its attributes are applied when a later Create/Register names it in a Template-Attribute).
 * The content is sealed before it is stored. Attributes the content states are derived: Cryptographic
 * Algorithm/Length from the Key Block (a symmetric key's length from its Raw material), Certificate
 * Type and Certificate Length, Opaque Data Type (2.x), Digest (SHA-256); an X.509 certificate's
 * identifier, subject, issuer, signature algorithm and subject-key algorithm/length in each version's
 * form (objects/certificate-attributes.ts; a certificate that does not parse is Invalid Field); a
 * Certificate Request's self-signature is verified (PKCS#10 DER or PEM, else Invalid Field); a public or private key's
 * algorithm and length from the key itself (PKCS#1, PKCS#8, X.509, ECPrivateKey, Transparent forms). Server-set attributes and
 * the ID Placeholder as in Create. Protection Storage Masks (2.x) are accepted and ignored.
 * A key whose Key Block carries Key Wrapping Data (Encrypt) naming a wrapping key the caller holds is
 * unwrapped (AES Key Wrap / with Padding, RSA-OAEP; TTLV or No Encoding) and stored plain, the Key
 * Block as registered kept beside it (inside the sealed body) for Get's Key Wrap Type As Registered
 * (test cases TC-WRAP-1/3); the wrapping
 * key must allow Unwrap Key and be Active, Deactivated or Compromised. Any other wrapped key (an
 * unknown wrapping key, one that may not unwrap, a MAC/sign method) is stored as given (TC-WRAP-1-14);
 * Get with Key Wrap Type Not Wrapped then gives the wrapping key's refusal.
 * A metadata-only key (KMIP 1.2+, 1.4 §3.41-3.42, 2.1 §4.27-4.28): a Key Block without Key Value
 * (Symmetric Key, Private Key, Split Key, Secret Data; in 2.x also Public Key and PGP Key) is stored
 * with Key Value Present false and the client's Key Value Location as given; no Digest. Operations
 * that need the value refuse it with Key Value Not Present (operations/service/save.ts `openBody`).
 *
 * Result Reasons:
 * - Invalid Field (1.x) / Invalid Object Type (2.x): an Object Type this version does not define or
 *   this server does not store.
 * - Invalid Field: the object does not match the Object Type or breaks its structure (missing Key
 *   Block, Certificate Value, …; 1.4 §11.4), a Template holding a Name, request attributes that
 *   contradict the Key Block (2.x: Invalid Attribute Value).
 * - Missing Data: a key (symmetric, public, private) whose Cryptographic Algorithm/Length is
 *   neither in the request nor in the Key Block (1.4 Table 171, 2.1 Table 293); a Split Key with only
 *   one of the two.
 * - Item Not Found / Object Archived: a Template-Attribute naming a missing / archived Template.
 * - Attribute rules (objects/attributes.ts) and Name uniqueness as in Create.
 * - Unwrapping (key-wrapping.ts) under a key that may unwrap: Cryptographic Failure when the integrity
 *   check fails; Encoding Option Error; Invalid Field for an unwrapped Key Value that is not one.
 */
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import { enumDef } from '../../kmip/registry.js';
import { KEY_VALUE_ABSENT, parseObject, takeObjects } from '../../objects/object-body.js';
import { asymmetricDerived } from '../../objects/key-formats.js';
import { nodesEqual, type TtlvNode } from '../../ttlv/node.js';
import type { OperationHandler } from '../context.js';
import { REGISTERED_WRAPPING_KEY, unwrapBody, withRegisteredForm } from '../service/key-wrapping.js';
import { servesObjectType } from '../query-and-session/query.js';
import { checkNewKey } from '../crypto/key-policy-check.js';
import { checkKeyIdentity, checkNamesUnique, commitNewObject, newObjectAttributes, normalizeUsageLimits } from '../service/new-objects.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { objectKeys } from '../service/object-service.js';

const Request1x = {
  objectType: required(Tag.ObjectType, 'Enumeration'),
  templateAttribute: optional(Tag.TemplateAttribute, 'Structure'),
};
// 2.x Attributes is "Required" in the Register request (2.0 §6.1.40), yet clients registering Secret Data or a certificate
// send none when they have none to give (as 1.x clients leave out the Template-Attribute, which is
// accepted): an absent Attributes is read as an empty one (docs/tolerance.md).
const Request2x = {
  objectType: required(Tag.ObjectType, 'Enumeration'),
  attributes: optional(Tag.Attributes, 'Structure'),
  protectionStorageMasks: optional(Tag.ProtectionStorageMasks, 'Structure'),
};

const OBJECT_TYPE_DEFS = new Map((enumDef('ObjectType')?.values ?? []).map((d) => [d.value, d]));

export const register: OperationHandler = {
  operation: Operation.Register,
  name: 'Register',
  async handle(ctx, node) {
    const v = ctx.version;
    // The object itself is any one of the object structures; take it out before the schema check.
    const { objects, rest } = takeObjects(node);
    if (objects.length > 1) throw new KmipError(ResultReason.InvalidField, 'Register carries more than one object');
    const req = is2x(v) ? readPayload(rest, Request2x, { what: 'Register request payload' }) : readPayload(rest, Request1x, { what: 'Register request payload' });
    const objectType = req.objectType.value;
    const def = OBJECT_TYPE_DEFS.get(objectType);
    if (!def || !servesObjectType(objectType, v)) {
      throw new KmipError(versionReason(v, 'ObjectTypeNotAccepted'), `Object Type ${objectType} cannot be registered in KMIP ${v.major}.${v.minor}`);
    }
    let parsed = parseObject(objectType, objects[0], v);
    // A key wrapped under a key the caller holds is unwrapped and stored plain (operations/service/key-wrapping.ts).
    const unwrapped = await unwrapBody(ctx, parsed.body, 'register', objectKeys);
    if (unwrapped) parsed = parseObject(objectType, unwrapped.body, v);
    const attrs = await newObjectAttributes(ctx, objectType, 'attributes' in req ? { attributes: req.attributes } : { templateAttribute: req.templateAttribute }, 'Register');

    // What the content states; a multi-valued attribute (Certificate Subject CN, …) may come more than once.
    const derived = new Map<string, TtlvNode[]>();
    for (const d of parsed.derived) derived.set(d.key, [...(derived.get(d.key) ?? []), d.node]);
    for (const [key, nodes] of derived) {
      const given = attrs.get(key);
      if (given && given.length > 0) {
        if (!given.every((g) => nodes.some((d) => nodesEqual(g, d)))) {
          throw new KmipError(versionReason(v, 'InvalidAttributeValue'), `${key} does not match the object's content`);
        }
      } else {
        attrs.set(key, nodes);
      }
    }
    // Public/Private Keys: what the key material itself states (objects/key-formats.ts), where nothing else did.
    for (const d of asymmetricDerived(objectType, parsed.body)) {
      const given = attrs.get(d.key)?.[0];
      if (given === undefined) attrs.set(d.key, [d.node]);
      else if (d.key === 'CryptographicLength' && !nodesEqual(given, d.node)) {
        throw new KmipError(versionReason(v, 'InvalidAttributeValue'), 'Cryptographic Length does not match the key');
      }
    }
    checkKeyIdentity(objectType, attrs, 'Register');
    // The crypto policy for every key (operations/crypto/key-policy-check.ts), on the plain content.
    checkNewKey(ctx, objectType, attrs, parsed.body, 'Register');
    if (parsed.digest) attrs.set('Digest', [parsed.digest]);
    // Metadata-only (Key Block without Key Value): the server records that the value is absent.
    if (parsed.metadataOnly) attrs.set('KeyValuePresent', [KEY_VALUE_ABSENT]);
    if (unwrapped) attrs.set(REGISTERED_WRAPPING_KEY, [unwrapped.wrappingData]);
    normalizeUsageLimits(attrs, v);
    await checkNamesUnique(ctx, attrs, 'Register');
    const uid = await commitNewObject(ctx, objectType, attrs, unwrapped ? withRegisteredForm(parsed.body, unwrapped.registeredKeyBlock) : parsed.body);
    return payload(Tag.ResponsePayload, [item('UniqueIdentifier', uid)]);
  },
};
