/**
 * Re-certify. KMIP 1.4 §4.8 (Tables 186-189, errors §11.9 Table 335), KMIP 2.1 §6.1.45 (Tables
 * 298-302).
 * Renews an existing X.509 certificate (its Unique Identifier, else the ID Placeholder) for the same
 * key: a new certificate for the existing certificate's public key, signed by the CA its
 * Certificate Link names (or the request's Certificate Link; self-signed again when the existing one
 * was self-issued and the server holds the private key). The subject: a certificate request's (which
 * must be for the same key: inline, or 2.x Certificate Request Unique Identifier), else the request's
 * subject attributes, else the existing certificate's. Attributes are copied from the existing
 * certificate as Re-key does (keys-and-certificates/replacement.ts; Table 187/299: Initial Date now, no Destroy Date or
 * Revocation Reason, Names moved, Digest recomputed, Last Change Date now); the attributes the
 * certificate states are derived anew. Dates: without an Offset the Activation and Deactivation
 * Dates are copied; with one, AT2 = IT2 + Offset and DT2 = DT1 + (AT2 - AT1) (Table 186/298).
 * The certificate's validity follows those dates (keys-and-certificates/certificate-issuing.ts). Links: Replaced Object
 * (new → existing), Replacement Object (existing → new), Public Key (new → key), Certificate (new →
 * CA; and the public key's Certificate Link moved from the existing certificate to the new one). All
 * records are written in one atomic commit; the ID Placeholder becomes the new certificate's uid.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x); Object Archived.
 * - Permission Denied (1.x) / Invalid Object Type (2.x): not a Certificate.
 * - Permission Denied: a destroyed certificate, a non-X.509 one, no usable CA (keys-and-certificates/certificate-issuing.ts).
 * - Invalid Message: an Offset together with an Activation or Deactivation Date (1.4 §11.9).
 * - Invalid Field (1.x) / Invalid CSR (2.x): a request that does not verify or is for another key.
 */
import { LinkType, ObjectType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload } from '../../kmip/payload.js';
import { CERTIFICATE_DERIVED_KEYS } from '../../objects/certificate-attributes.js';
import type { AttributeKey, ObjectRecord } from '../../objects/managed-object.js';
import type { RequestFacts } from '../../pki/x509-read.js';
import type { TtlvNode } from '../../ttlv/node.js';
import type { OperationHandler } from '../context.js';
import { checkNamesUnique, uidPayload } from '../service/new-objects.js';
import { touched } from '../service/save.js';
import { addLink, commitAll, newRecord, newUid } from './key-pairs.js';
import { offsetOf, replacedRecord, replacementAttributes } from './replacement.js';
import {
  badCsr,
  caIssuer,
  cannotCertify,
  certificateRequestAttributes,
  issue,
  linkedUid,
  parseRequest,
  publicKeyUsage,
  selfIssuer,
  storedCertificate,
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
  offset: optional(Tag.Offset, 'Interval'),
  templateAttribute: optional(Tag.TemplateAttribute, 'Structure'),
};
const Request2x = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  requestUid: optional(Tag.CertificateRequestUniqueIdentifier, 'TextString'),
  requestType: optional(Tag.CertificateRequestType, 'Enumeration'),
  request: optional(Tag.CertificateRequestValue, 'ByteString'),
  offset: optional(Tag.Offset, 'Interval'),
  attributes: optional(Tag.Attributes, 'Structure'),
  protectionStorageMasks: optional(Tag.ProtectionStorageMasks, 'Structure'),
};

export const reCertify: OperationHandler = {
  operation: Operation.ReCertify,
  name: 'ReCertify',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Re-certify request payload' }) : readPayload(node, Request1x, { what: 'Re-certify request payload' });
    // Checked before the object is loaded, as Certify does (certificateRequestAttributes checks it too).
    if (req.request !== undefined && req.requestType === undefined) throw new KmipError(ResultReason.InvalidField, 'Certificate Request Type is required with a Certificate Request');
    const old = await loadManaged(ctx, resolveUid(ctx, req.uid), 'ReCertify');
    if (old.record.objectType !== ObjectType.Certificate) throw wrongType(ctx, `object ${old.record.uid} is not a Certificate`);
    if (isDestroyed(old.state)) throw cannotCertify(`certificate ${old.record.uid} is destroyed`);
    const oldCert = await storedCertificate(ctx, old.record);

    const { attributes: asked, subject: named } = await certificateRequestAttributes(ctx, req, 'ReCertify');
    const offset = offsetOf(req.offset);
    if (offset !== undefined && (asked.has('ActivationDate') || asked.has('DeactivationDate'))) {
      throw new KmipError(ResultReason.InvalidMessage, 'an Offset may not be given together with an Activation or Deactivation Date');
    }

    let request: RequestFacts | undefined;
    if (req.request !== undefined && req.requestType !== undefined) request = parseRequest(ctx, req.requestType.value, req.request.value);
    if ('requestUid' in req && req.requestUid !== undefined) {
      if (request) throw new KmipError(ResultReason.InvalidField, 'a Certificate Request object and an inline Certificate Request are both given');
      const r = await loadManaged(ctx, req.requestUid.value, 'ReCertify');
      if (r.record.objectType !== ObjectType.CertificateRequest) throw wrongType(ctx, `object ${r.record.uid} is not a Certificate Request`);
      request = await storedRequest(ctx, r);
    }
    if (request && !Buffer.from(request.spki).equals(Buffer.from(oldCert.spki))) throw badCsr(ctx, 'Re-certify renews a certificate for the same key; the request is for another key');

    const pubUid = linkedUid(old.record.attributes, LinkType.PublicKeyLink);
    const pub: ObjectRecord | undefined = pubUid !== undefined ? (await loadManaged(ctx, pubUid, 'ReCertify')).record : undefined;
    const subject = request?.subject.der ?? named ?? oldCert.subject.der;
    const caUid = linkedUid(asked, LinkType.CertificateLink) ?? linkedUid(old.record.attributes, LinkType.CertificateLink);
    const selfIssued = Buffer.from(oldCert.issuer.der).equals(Buffer.from(oldCert.subject.der));
    const issuer = caUid !== undefined ? await caIssuer(ctx, caUid, 'ReCertify') : selfIssued && pub ? await selfIssuer(ctx, pub, subject, oldCert.spki, 'ReCertify') : undefined;
    if (!issuer) throw cannotCertify(`no issuing CA for certificate ${old.record.uid}: name one with a Certificate Link attribute`);

    const attrs = replacementAttributes(old.record.attributes, asked, { now: ctx.now, dates: ['ActivationDate', 'DeactivationDate'], ...(offset !== undefined && { offset }) });
    for (const k of CERTIFICATE_DERIVED_KEYS) if (!asked.has(k)) attrs.delete(k);
    const period = BigInt(Math.max(1, Math.round((oldCert.notAfter.getTime() - oldCert.notBefore.getTime()) / 1000)));
    const { notBefore, notAfter } = validity(attrs, ctx.now, period);
    const made = issue(ctx, { subject, spki: oldCert.spki, issuer, notBefore, notAfter, mask: publicKeyUsage(pub), ...(request && { request }) });
    for (const [k, nodes] of made.derived) attrs.set(k, nodes);
    if (asked.has('Name')) await checkNamesUnique(ctx, new Map([['Name', asked.get('Name')!]]), 'ReCertify');

    const uid = newUid();
    addLink(attrs, LinkType.ReplacedObjectLink, old.record.uid);
    if (pub) addLink(attrs, LinkType.PublicKeyLink, pub.uid);
    if (issuer.certificateUid !== undefined && linkedUid(attrs, LinkType.CertificateLink) === undefined) addLink(attrs, LinkType.CertificateLink, issuer.certificateUid);
    const changed: { record: ObjectRecord; previous: ObjectRecord }[] = [{ record: replacedRecord(old.record, uid, ctx.now), previous: old.record }];
    if (pub) changed.push({ record: { ...pub, attributes: touched(movedCertificateLink(pub, old.record.uid, uid), ctx.now) }, previous: pub });
    await commitAll(ctx, [await newRecord(ctx, { uid, objectType: ObjectType.Certificate, attributes: attrs, body: made.body })], changed);
    ctx.log.debug({ replaced: old.record.uid, uid, issuer: issuer.certificateUid ?? 'self' }, 'certificate renewed');
    ctx.batch.idPlaceholder = uid;
    return uidPayload(uid);
  },
};

/** The public key's Certificate Link to the existing certificate now points to the new one (added if it had none). */
function movedCertificateLink(pub: ObjectRecord, oldUid: string, newUid: string): Map<AttributeKey, readonly TtlvNode[]> {
  const links = [...instances(pub.attributes, 'Link')];
  const i = links.findIndex(
    (l) =>
      l.type === 'Structure' &&
      l.value.some((c) => c.tag === Tag.LinkType && c.value === LinkType.CertificateLink) &&
      l.value.some((c) => c.tag === Tag.LinkedObjectIdentifier && c.value === oldUid),
  );
  if (i >= 0) links[i] = linkNode(LinkType.CertificateLink, newUid);
  else links.push(linkNode(LinkType.CertificateLink, newUid));
  return new Map(pub.attributes).set('Link', links);
}
