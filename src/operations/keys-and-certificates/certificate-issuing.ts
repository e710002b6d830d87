/**
 * What Certify and Re-certify share (KMIP 1.4 §4.7-4.8 with §11.8-11.9; 2.1 §6.1.6 and §6.1.45
 * with Tables 181 and 302): reading the certificate request, choosing the issuing CA, the subject
 * and the validity, and issuing the certificate.
 *
 * The issuing CA. A certificate is signed by a CA the server holds:
 * - the CA certificate named by a Link of Link Type Certificate Link among the request's attributes
 *   (2.1 §4.31: for a Certificate, "the parent certificate … in a certificate chain"); its private
 *   key is the CA certificate's Private Key Link, else the Private Key Link of its Public Key Link.
 *   Re-certify without such a Link uses the existing certificate's Certificate Link.
 * - without one, the certificate is self-signed by the private key linked to the public key being
 *   certified (Create Key Pair sets that link) — how a CA certificate is made in the first place.
 * The CA private key must be Active with Certificate Sign in its Cryptographic Usage Mask and must
 * match the CA certificate's public key; the CA certificate must be an X.509 certificate that is
 * not Deactivated, Compromised or Destroyed and, when it says, a CA (basicConstraints, keyUsage).
 * Anything else is "object specified is not able to be certified": Permission Denied (1.4 §11.8;
 * 2.1 Table 181 lists no more specific reason).
 *
 * The subject: the certificate request's; else, from the request's attributes, an X.509 Certificate
 * Subject (Subject Distinguished Name as Name DER), a 1.x Certificate Subject (RFC 4514 string), or
 * 2.x Certificate Subject CN/O/OU/… attributes; else CN = the public key's first Name (or its uid).
 * These attributes are the server's once the certificate exists, so they are taken out of the
 * request before its other attributes are checked.
 *
 * Validity: notBefore = the request's Activation Date, else now; notAfter = its Deactivation Date,
 * else notBefore + 365 days (Re-certify: + the existing certificate's validity period). The new
 * Certificate object gets Activation/Deactivation Dates equal to notBefore/notAfter when the request
 * gives none, so it is Active while the certificate is valid.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { CertificateType, LinkType, ObjectType, ResultReason, State } from '../../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../kmip/generated/masks.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { readAttribute1x } from '../../objects/attributes.js';
import { dateAttribute, isDestroyed } from '../../objects/lifecycle.js';
import type { AttributeKey, AttributeMap, ObjectRecord } from '../../objects/managed-object.js';
import { parseObject } from '../../objects/object-body.js';
import { issueCertificate, KeyUsageBit } from '../../pki/x509-issue.js';
import { derValue, readCertificate, readName, readRequest, SHORT_NAME_OIDS, UnsupportedRequestType, X509Error, type CertificateFacts, type RequestFacts } from '../../pki/x509-read.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import type { OperationContext } from '../context.js';
import { newObjectAttributes } from '../service/new-objects.js';
import { openKey } from './key-pairs.js';
import { checkAsymmetricUse } from '../crypto/key-policy-check.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance, linkedUid } from '../../objects/typed-attributes.js';
import { type LoadedObject, loadManaged, openBody } from '../service/object-service.js';

const DAY = 86_400;
export const DEFAULT_VALIDITY_SECONDS = 365 * DAY;

/** Permission Denied: "Object specified is not able to be certified" (1.4 §11.8), and every CA problem. */
export const cannotCertify = (m: string): KmipError => new KmipError(ResultReason.PermissionDenied, m);

/** A wrong object type: Permission Denied (1.x) / Invalid Object Type (2.x). */
export const wrongType = (ctx: OperationContext, m: string): KmipError => new KmipError(versionReason(ctx.version, 'ObjectTypeNotCertifiable'), m);

/** A request that is not a signed request of its type: Invalid Field (1.x) / Invalid CSR (2.x). */
export const badCsr = (ctx: OperationContext, m: string): KmipError => new KmipError(versionReason(ctx.version, 'InvalidCSR'), m);

/** The Linked Object Identifier of the first Link of `linkType`. */
export { linkedUid };

/** Read a certificate request given inline; refusals per version. */
export function parseRequest(ctx: OperationContext, type: number, value: Uint8Array): RequestFacts {
  try {
    return readRequest(type, value);
  } catch (e) {
    if (e instanceof UnsupportedRequestType) throw new KmipError(versionReason(ctx.version, 'FeatureNotSupported'), e.message);
    if (e instanceof X509Error) throw badCsr(ctx, `the Certificate Request is not a signed request of its type: ${e.message}`);
    throw e;
  }
}

/** The request held by a stored Certificate Request object. */
export async function storedRequest(ctx: OperationContext, loaded: LoadedObject): Promise<RequestFacts> {
  const body = await openBody(ctx, loaded.record);
  const type = body.value.find((c) => c.tag === Tag.CertificateRequestType);
  const value = body.value.find((c) => c.tag === Tag.CertificateRequestValue);
  if (type?.type !== 'Enumeration' || value?.type !== 'ByteString') throw badCsr(ctx, `object ${loaded.record.uid} holds no certificate request`);
  return parseRequest(ctx, type.value, value.value);
}

/** The X.509 certificate a Certificate object holds. */
export async function storedCertificate(ctx: OperationContext, record: ObjectRecord): Promise<CertificateFacts> {
  const body = await openBody(ctx, record);
  const type = body.value.find((c) => c.tag === Tag.CertificateType);
  const value = body.value.find((c) => c.tag === Tag.CertificateValue);
  if (type?.type !== 'Enumeration' || type.value !== CertificateType.X_509 || value?.type !== 'ByteString') throw cannotCertify(`object ${record.uid} is not an X.509 certificate`);
  try {
    return readCertificate(value.value);
  } catch (e) {
    if (e instanceof X509Error) throw cannotCertify(`object ${record.uid}: ${e.message}`);
    throw e;
  }
}

export const spkiOf = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ type: 'spki', format: 'der' }));

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

function usageMask(record: ObjectRecord): number {
  const n = instance(record.attributes, 'CryptographicUsageMask');
  return n?.type === 'Integer' ? n.value : 0;
}

/** Who signs: the issuer's name, key identifier, public key and the private key itself. */
export interface Issuer {
  readonly name: Uint8Array;
  readonly keyId?: Uint8Array;
  readonly spki: Uint8Array;
  readonly signingKey: KeyObject;
  /** The CA certificate's uid (for the new certificate's Certificate Link); absent when self-signed. */
  readonly certificateUid?: string;
}

/** The private key that signs for `holder` (its Private Key Link, else via its Public Key Link), checked usable. */
async function signingKeyOf(ctx: OperationContext, holder: ObjectRecord, expectedSpki: Uint8Array, operation: string): Promise<KeyObject> {
  let privUid = linkedUid(holder.attributes, LinkType.PrivateKeyLink);
  if (privUid === undefined) {
    const pubUid = linkedUid(holder.attributes, LinkType.PublicKeyLink);
    if (pubUid !== undefined) privUid = linkedUid((await loadManaged(ctx, pubUid, operation)).record.attributes, LinkType.PrivateKeyLink);
  }
  if (privUid === undefined) throw cannotCertify(`object ${holder.uid} has no private key held by this server to sign with`);
  const priv = await loadManaged(ctx, privUid, operation);
  if (priv.record.objectType !== ObjectType.PrivateKey) throw cannotCertify(`the signing key ${privUid} is not a Private Key`);
  if (priv.state !== State.Active) throw cannotCertify(`the signing key ${privUid} is not Active`);
  if ((usageMask(priv.record) & CryptographicUsageMask.CertificateSign) === 0) throw cannotCertify(`the signing key ${privUid} does not allow Certificate Sign (Cryptographic Usage Mask)`);
  if (priv.record.hsmKey !== undefined) throw cannotCertify(`the signing key ${privUid} lives in the HSM; certificate signing with HSM-resident keys is not built`);
  const key = await openKey(ctx, priv.record, ResultReason.PermissionDenied);
  if (!sameBytes(spkiOf(createPublicKey(key)), expectedSpki)) throw cannotCertify(`the signing key ${privUid} does not match the issuer's public key`);
  const alg = instance(priv.record.attributes, 'CryptographicAlgorithm');
  checkAsymmetricUse(ctx, privUid, alg?.type === 'Enumeration' ? alg.value : undefined, key);
  return key;
}

/** The CA certificate named by `caUid` and its private key. */
export async function caIssuer(ctx: OperationContext, caUid: string, operation: string): Promise<Issuer> {
  const ca = await loadManaged(ctx, caUid, operation);
  if (ca.record.objectType !== ObjectType.Certificate) throw cannotCertify(`the Certificate Link ${caUid} does not name a certificate`);
  if (ca.state === State.Deactivated || ca.state === State.Compromised || isDestroyed(ca.state)) throw cannotCertify(`the CA certificate ${caUid} is not usable in its state`);
  const f = await storedCertificate(ctx, ca.record);
  if (f.isCa === false || f.keyCertSign === false) throw cannotCertify(`certificate ${caUid} is not a CA certificate (basicConstraints / keyUsage)`);
  const signingKey = await signingKeyOf(ctx, ca.record, f.spki, operation);
  return { name: f.subject.der, spki: f.spki, signingKey, certificateUid: caUid, ...(f.subjectKeyId && { keyId: f.subjectKeyId }) };
}

/** Self-signed: the public key's own private key signs, under the subject's name. */
export async function selfIssuer(ctx: OperationContext, pub: ObjectRecord, subject: Uint8Array, spki: Uint8Array, operation: string): Promise<Issuer> {
  if (linkedUid(pub.attributes, LinkType.PrivateKeyLink) === undefined) {
    throw cannotCertify(`no issuing CA: name a CA certificate with a Certificate Link attribute, or certify a public key whose private key this server holds (self-signed)`);
  }
  return { name: subject, spki, signingKey: await signingKeyOf(ctx, pub, spki, operation) };
}

// ------------------------------------------------------------------------------- subject

const SUBJECT_KEYS_2X: Readonly<Record<string, string>> = {
  CertificateSubjectC: '2.5.4.6',
  CertificateSubjectST: '2.5.4.8',
  CertificateSubjectL: '2.5.4.7',
  CertificateSubjectO: '2.5.4.10',
  CertificateSubjectOU: '2.5.4.11',
  CertificateSubjectCN: '2.5.4.3',
  CertificateSubjectEmail: '1.2.840.113549.1.9.1',
  CertificateSubjectUID: '0.9.2342.19200300.100.1.1',
  CertificateSubjectSerialNumber: '2.5.4.5',
  CertificateSubjectTitle: '2.5.4.12',
  CertificateSubjectDC: '0.9.2342.19200300.100.1.25',
  CertificateSubjectDNQualifier: '2.5.4.46',
};
const SUBJECT_KEYS: ReadonlySet<string> = new Set(['X_509CertificateSubject', 'CertificateSubject', ...Object.keys(SUBJECT_KEYS_2X)]);
const ASCII_ONLY = new Set(['2.5.4.6', '1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25', '2.5.4.5', '2.5.4.46']);

function atv(oid: string, value: string | Uint8Array): asn1js.Set {
  const v =
    value instanceof Uint8Array
      ? (derValue(value, 'a name value') as asn1js.BaseBlock)
      : ASCII_ONLY.has(oid)
        ? oid === '2.5.4.6' || oid === '2.5.4.5' || oid === '2.5.4.46'
          ? new asn1js.PrintableString({ value })
          : new asn1js.IA5String({ value })
        : new asn1js.Utf8String({ value });
  return new asn1js.Set({ value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), v] })] });
}

const nameDer = (rdns: asn1js.Set[]): Uint8Array => new Uint8Array(new asn1js.Sequence({ value: rdns }).toBER(false));

/** Parse an RFC 4514 string ("CN=a\,b,O=Org") into Name DER (one attribute per RDN; '+' joins a multi-valued RDN). */
export function nameFromString(s: string): Uint8Array {
  const rdns: { oid: string; value: string | Uint8Array }[][] = [];
  let cur: { oid: string; value: string | Uint8Array }[] = [];
  let i = 0;
  const bad = (m: string): never => {
    throw new X509Error(`distinguished name ${JSON.stringify(s.slice(0, 100))}: ${m}`);
  };
  if (s.trim() === '') return nameDer([]);
  while (i <= s.length) {
    const eq = s.indexOf('=', i);
    if (eq < 0) bad('an attribute without "="');
    const type = s.slice(i, eq).trim();
    const oid = SHORT_NAME_OIDS[type.toUpperCase()] ?? (/^\d+(\.\d+)+$/.test(type) ? type : bad(`unknown attribute type ${type}`));
    i = eq + 1;
    let value: string | Uint8Array;
    if (s[i] === '#') {
      const m = /^#([0-9a-fA-F]+)/.exec(s.slice(i)) ?? bad('bad #hex value');
      value = new Uint8Array(Buffer.from(m[1]!, 'hex'));
      i += m[0].length;
    } else {
      const bytes: number[] = [];
      while (i < s.length && s[i] !== ',' && s[i] !== '+') {
        if (s[i] === '\\') {
          const h = /^[0-9a-fA-F]{2}/.exec(s.slice(i + 1));
          if (h) {
            bytes.push(parseInt(h[0], 16));
            i += 3;
          } else {
            if (i + 1 >= s.length) bad('a trailing backslash');
            bytes.push(...Buffer.from(s[i + 1]!, 'utf8'));
            i += 2;
          }
        } else {
          bytes.push(...Buffer.from(s[i]!, 'utf8'));
          i += 1;
        }
      }
      value = Buffer.from(bytes).toString('utf8');
    }
    cur.push({ oid, value });
    if (i >= s.length || s[i] === ',') {
      rdns.push(cur);
      cur = [];
    }
    i += 1;
  }
  // RFC 4514 lists the RDNs last-first.
  return nameDer(
    rdns.reverse().map((rdn) => {
      const sets = rdn.map((a) => atv(a.oid, a.value));
      return sets.length === 1 ? sets[0]! : new asn1js.Set({ value: sets.flatMap((x) => x.valueBlock.value) });
    }),
  );
}

/** The attribute key of one item of a 1.x Template-Attribute or 2.x Attributes structure. */
function itemKey(ctx: OperationContext, n: TtlvNode): string | undefined {
  if (!is2x(ctx.version)) return n.tag === Tag.Attribute ? readAttribute1x(n, ctx.version).key : undefined;
  if (n.tag === Tag.X_509CertificateSubject) return 'X_509CertificateSubject';
  for (const k of Object.keys(SUBJECT_KEYS_2X)) if (n.tag === Tag[k as keyof typeof Tag]) return k;
  return undefined;
}

/**
 * What Certify and Re-certify read alike from their request: a Certificate Request needs its
 * type (Invalid Field); the attribute set (2.x Attributes / 1.x Template-Attribute) split into the
 * subject it names and the new certificate's other attributes, checked as a new Certificate's.
 */
export async function certificateRequestAttributes(
  ctx: OperationContext,
  req: { readonly request?: unknown; readonly requestType?: unknown; readonly attributes?: TtlvNode; readonly templateAttribute?: TtlvNode },
  operation: 'Certify' | 'ReCertify',
): Promise<{ attributes: Map<AttributeKey, TtlvNode[]>; subject?: Uint8Array }> {
  if (req.request !== undefined && req.requestType === undefined) throw new KmipError(ResultReason.InvalidField, 'Certificate Request Type is required with a Certificate Request');
  const split = splitSubject(ctx, 'attributes' in req ? req.attributes : req.templateAttribute);
  const rest = split.rest && (is2x(ctx.version) ? { attributes: split.rest } : { templateAttribute: split.rest });
  const attributes = await newObjectAttributes(ctx, ObjectType.Certificate, rest ?? {}, operation);
  checkCertificateType(ctx, attributes);
  return { attributes, ...(split.subject && { subject: split.subject }) };
}

/**
 * Take the subject-naming attributes out of a request's attribute set: the rest (to check as the new
 * object's attributes) and the subject they state as Name DER (undefined: none given).
 */
export function splitSubject(ctx: OperationContext, set: TtlvNode | undefined): { rest: TtlvNode | undefined; subject?: Uint8Array } {
  if (set === undefined || set.type !== 'Structure') return { rest: set };
  const bad = versionReason(ctx.version, 'InvalidAttributeValue');
  const rest: TtlvNode[] = [];
  const parts: asn1js.Set[] = [];
  let subject: Uint8Array | undefined;
  for (const n of set.value) {
    const key = itemKey(ctx, n);
    if (key === undefined || !SUBJECT_KEYS.has(key)) {
      rest.push(n);
      continue;
    }
    const value = is2x(ctx.version) ? n : readAttribute1x(n, ctx.version).node;
    try {
      if (key === 'X_509CertificateSubject') {
        const dn = value.type === 'Structure' ? value.value.find((c) => c.tag === Tag.SubjectDistinguishedName) : undefined;
        if (dn?.type !== 'ByteString') throw new X509Error('X.509 Certificate Subject needs a Subject Distinguished Name (Byte String)');
        subject = readName(dn.value).der;
      } else if (key === 'CertificateSubject') {
        const dn = value.type === 'Structure' ? value.value.find((c) => c.tag === Tag.CertificateSubjectDistinguishedName) : undefined;
        if (dn?.type !== 'TextString') throw new X509Error('Certificate Subject needs a Certificate Subject Distinguished Name (Text String)');
        subject = nameFromString(dn.value);
      } else if (value.type === 'TextString') {
        parts.push(atv(SUBJECT_KEYS_2X[key]!, value.value));
      }
    } catch (e) {
      if (e instanceof X509Error) throw new KmipError(bad, e.message);
      throw e;
    }
  }
  if (subject === undefined && parts.length > 0) subject = nameDer(parts);
  return { rest: { ...set, value: rest }, ...(subject && { subject }) };
}

/** CN = the object's first Name, else its uid. */
export function fallbackSubject(record: ObjectRecord): Uint8Array {
  const n = instance(record.attributes, 'Name');
  const v = n?.type === 'Structure' ? n.value.find((c) => c.tag === Tag.NameValue) : undefined;
  return nameDer([atv('2.5.4.3', v?.type === 'TextString' ? v.value : record.uid)]);
}

// ------------------------------------------------------------------------------- issuing

/** keyUsage bits for a public key's KMIP usage mask. */
export function keyUsageFor(mask: number): number[] {
  const M = CryptographicUsageMask;
  const bits = new Set<number>();
  if (mask & (M.Sign | M.Verify | M.Authenticate)) bits.add(KeyUsageBit.digitalSignature);
  if (mask & M.ContentCommitmentNonRepudiation) bits.add(KeyUsageBit.nonRepudiation);
  if (mask & (M.WrapKey | M.UnwrapKey)) bits.add(KeyUsageBit.keyEncipherment);
  if (mask & (M.Encrypt | M.Decrypt)) bits.add(KeyUsageBit.dataEncipherment);
  if (mask & M.KeyAgreement) bits.add(KeyUsageBit.keyAgreement);
  if (mask & M.CertificateSign) bits.add(KeyUsageBit.keyCertSign);
  if (mask & M.CRLSign) bits.add(KeyUsageBit.cRLSign);
  return [...bits].sort((a, b) => a - b);
}

export const publicKeyUsage = (pub: ObjectRecord | undefined): number => (pub ? usageMask(pub) : CryptographicUsageMask.Sign);

export interface IssueInput {
  readonly subject: Uint8Array;
  readonly spki: Uint8Array;
  readonly issuer: Issuer;
  /** Seconds since the epoch. */
  readonly notBefore: bigint;
  readonly notAfter: bigint;
  /** The subject key's KMIP usage mask (keyUsage bits; Certificate Sign makes a CA certificate). */
  readonly mask: number;
  readonly request?: RequestFacts;
}

/** Issue and return the Certificate object's body and the attributes it states (incl. Digest). */
export function issue(ctx: OperationContext, input: IssueInput): { body: StructureNode; derived: Map<AttributeKey, TtlvNode[]> } {
  if (input.notAfter <= input.notBefore) throw new KmipError(versionReason(ctx.version, 'InvalidAttributeValue'), 'the Deactivation Date must be after the Activation Date');
  let der: Uint8Array;
  try {
    der = issueCertificate({
      subject: input.subject,
      spki: input.spki,
      issuer: input.issuer.name,
      issuerSpki: input.issuer.spki,
      ...(input.issuer.keyId && { issuerKeyId: input.issuer.keyId }),
      signingKey: input.issuer.signingKey,
      notBefore: new Date(Number(input.notBefore) * 1000),
      notAfter: new Date(Number(input.notAfter) * 1000),
      ca: (input.mask & CryptographicUsageMask.CertificateSign) !== 0,
      keyUsage: keyUsageFor(input.mask),
      ...(input.request && { requested: input.request.extensions }),
    });
  } catch (e) {
    throw new KmipError(ResultReason.CryptographicFailure, 'the certificate could not be issued', { cause: e });
  }
  const body: StructureNode = {
    tag: Tag.Certificate,
    type: 'Structure',
    value: [item('CertificateType', CertificateType.X_509), item('CertificateValue', der)],
  };
  const parsed = parseObject(ObjectType.Certificate, body, ctx.version);
  const derived = new Map<AttributeKey, TtlvNode[]>();
  for (const d of parsed.derived) derived.set(d.key, [...(derived.get(d.key) ?? []), d.node]);
  if (parsed.digest) derived.set('Digest', [parsed.digest]);
  return { body, derived };
}

/** Validity from the new object's Activation/Deactivation Dates, stamping them when absent. */
export function validity(attrs: Map<AttributeKey, TtlvNode[]>, now: bigint, period: bigint): { notBefore: bigint; notAfter: bigint } {
  const notBefore = dateAttribute(attrs, 'ActivationDate') ?? now;
  const notAfter = dateAttribute(attrs, 'DeactivationDate') ?? notBefore + period;
  if (!attrs.has('ActivationDate')) attrs.set('ActivationDate', [item('ActivationDate', notBefore)]);
  if (!attrs.has('DeactivationDate')) attrs.set('DeactivationDate', [item('DeactivationDate', notAfter)]);
  return { notBefore, notAfter };
}

/** A Certificate Type the request asks for must be X.509 (the only type this server issues). */
export function checkCertificateType(ctx: OperationContext, attrs: AttributeMap): void {
  const t = instance(attrs, 'CertificateType');
  if (t && !(t.type === 'Enumeration' && t.value === CertificateType.X_509)) {
    throw new KmipError(versionReason(ctx.version, 'FeatureNotSupported'), 'only X.509 certificates are issued');
  }
}
