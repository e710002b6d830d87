/**
 * Certify. KMIP 1.4 §4.7 (Tables 184-185, errors §11.8 Table 334), KMIP 2.1 §6.1.6 (Tables
 * 179-181).
 * Issues an X.509 certificate for a public key the server holds (its Unique Identifier, else the ID
 * Placeholder) or for a PKCS#10 certificate request (inline: Certificate Request Type PKCS#10 (DER)
 * or PEM with 1.x Certificate Request / 2.x Certificate Request Value; or, 2.x, the Unique
 * Identifier of a Certificate Request object). When both a public key and a request are given, the
 * request must be for that key. The request takes precedence over the attributes (subject). The
 * issuing CA, subject and validity: keys-and-certificates/certificate-issuing.ts. The new Certificate gets the request's
 * attributes, the attributes the certificate states (objects/certificate-attributes.ts), Digest,
 * Link Public Key → the public key and Link Certificate → the CA certificate; the public key gets
 * Link Certificate → the new certificate; both are written in one atomic commit. The ID Placeholder
 * becomes the new certificate's uid.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object (public key, request, CA); Object
 *   Archived.
 * - Permission Denied (1.x) / Invalid Object Type (2.x): the object is not a Public Key (or, 2.x, a
 *   Certificate Request).
 * - Permission Denied: the key cannot be certified (destroyed) or no usable CA (keys-and-certificates/certificate-issuing.ts).
 * - Invalid Field (1.x) / Invalid CSR (2.x): the request does not parse, its signature does not
 *   verify, or it is for another key. Invalid Field (1.x) / Feature Not Supported (2.x): CRMF, PGP
 *   requests or a Certificate Type other than X.509.
 * - Invalid Field: a Certificate Request without its Type; attribute rules as in Create.
 */
import { LinkType, ObjectType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload } from '../../kmip/payload.js';
import type { RequestFacts } from '../../pki/x509-read.js';
import type { AttributeKey, AttributeMap, ObjectRecord } from '../../objects/managed-object.js';
import type { TtlvNode } from '../../ttlv/node.js';
import type { OperationHandler } from '../context.js';
import { checkNamesUnique, uidPayload } from '../service/new-objects.js';
import { touched } from '../service/save.js';
import { addLink, commitAll, newRecord, newUid, openKey } from './key-pairs.js';
import {
  badCsr,
  caIssuer,
  cannotCertify,
  certificateRequestAttributes,
  DEFAULT_VALIDITY_SECONDS,
  fallbackSubject,
  issue,
  linkedUid,
  parseRequest,
  publicKeyUsage,
  selfIssuer,
  spkiOf,
  storedRequest,
  validity,
  wrongType,
} from './certificate-issuing.js';
import { is2x } from '../../kmip/version-rules.js';
import { instances, linkNode } from '../../objects/typed-attributes.js';
import { isDestroyed } from '../../objects/lifecycle.js';
import { loadManaged, resolveUid } from '../service/object-service.js';

const Request1x = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  requestType: optional(Tag.CertificateRequestType, 'Enumeration'),
  request: optional(Tag.CertificateRequest, 'ByteString'),
  templateAttribute: optional(Tag.TemplateAttribute, 'Structure'),
};
const Request2x = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  requestType: optional(Tag.CertificateRequestType, 'Enumeration'),
  request: optional(Tag.CertificateRequestValue, 'ByteString'),
  attributes: optional(Tag.Attributes, 'Structure'),
  protectionStorageMasks: optional(Tag.ProtectionStorageMasks, 'Structure'),
};

export const certify: OperationHandler = {
  operation: Operation.Certify,
  name: 'Certify',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Certify request payload' }) : readPayload(node, Request1x, { what: 'Certify request payload' });
    const { attributes: attrs, subject: named } = await certificateRequestAttributes(ctx, req, 'Certify');

    // What is certified: a public key (uid or ID Placeholder) and/or a certificate request.
    let pub: ObjectRecord | undefined;
    let request: RequestFacts | undefined;
    if (req.request !== undefined && req.requestType !== undefined) request = parseRequest(ctx, req.requestType.value, req.request.value);
    if (req.uid !== undefined || request === undefined) {
      const target = await loadManaged(ctx, resolveUid(ctx, req.uid), 'Certify');
      if (target.record.objectType === ObjectType.PublicKey) {
        if (isDestroyed(target.state)) throw cannotCertify(`public key ${target.record.uid} is destroyed`);
        pub = target.record;
      } else if (target.record.objectType === ObjectType.CertificateRequest && is2x(v)) {
        if (request !== undefined) throw new KmipError(ResultReason.InvalidField, 'a Certificate Request object and an inline Certificate Request are both given');
        request = await storedRequest(ctx, target);
      } else {
        throw wrongType(ctx, `object ${target.record.uid} is not a Public Key${is2x(v) ? ' or a Certificate Request' : ''}`);
      }
    }
    const pubSpki = pub ? spkiOf(await openKey(ctx, pub, ResultReason.PermissionDenied)) : undefined;
    if (request && pubSpki && !Buffer.from(request.spki).equals(Buffer.from(pubSpki))) throw badCsr(ctx, 'the Certificate Request is for another public key');
    const spki = request?.spki ?? pubSpki!;
    const subject = request?.subject.der ?? named ?? fallbackSubject(pub!);

    const caUid = linkedUid(attrs, LinkType.CertificateLink);
    const issuer = caUid !== undefined ? await caIssuer(ctx, caUid, 'Certify') : pub ? await selfIssuer(ctx, pub, subject, spki, 'Certify') : undefined;
    if (!issuer) throw cannotCertify('no issuing CA: name a CA certificate with a Certificate Link attribute');
    const { notBefore, notAfter } = validity(attrs, ctx.now, BigInt(DEFAULT_VALIDITY_SECONDS));
    const made = issue(ctx, { subject, spki, issuer, notBefore, notAfter, mask: publicKeyUsage(pub), ...(request && { request }) });
    for (const [k, nodes] of made.derived) attrs.set(k, nodes);
    await checkNamesUnique(ctx, attrs, 'Certify');

    const uid = newUid();
    if (pub) addLink(attrs, LinkType.PublicKeyLink, pub.uid);
    // The public key gains a Certificate Link to the new certificate (1.4 §4.7, 2.1 §6.1.6).
    const changed = pub ? [{ record: { ...pub, attributes: touched(withLink(pub.attributes, LinkType.CertificateLink, uid), ctx.now) }, previous: pub }] : [];
    await commitAll(ctx, [await newRecord(ctx, { uid, objectType: ObjectType.Certificate, attributes: attrs, body: made.body })], changed);
    ctx.log.debug({ uid, publicKey: pub?.uid, issuer: issuer.certificateUid ?? 'self' }, 'certificate issued');
    ctx.batch.idPlaceholder = uid;
    return uidPayload(uid);
  },
};

/** `attrs` with one more Link instance. */
function withLink(attrs: AttributeMap, linkType: number, uid: string): Map<AttributeKey, readonly TtlvNode[]> {
  return new Map(attrs).set('Link', [...instances(attrs, 'Link'), linkNode(linkType, uid)]);
}
