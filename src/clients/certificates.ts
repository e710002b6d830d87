/**
 * Client certificates made by the folder's CA (ca.ts): for a public key the caller holds
 * (`kms certs issue` makes the key pair where the command runs, so the private key never crosses
 * the admin socket) or for a PKCS#10 request (`kms certs sign --csr`, vCenter's "make KMS trust
 * vCenter" flow).
 *
 * What a request must satisfy: its self-signature verifies (and is not SHA-1 unless
 * cryptoPolicy.sha1Signatures), its key is within the crypto policy (RSA size and exponent, EC
 * curve; cryptoPolicy.*), its subject's CN equals the client name unless `overrideCn` says to
 * replace the subject by CN=NAME, and it asks for no extended key usage without clientAuth.
 * Every certificate issued here has basicConstraints cA=false, keyUsage digitalSignature (and
 * keyEncipherment for RSA), extKeyUsage clientAuth only, and the SAN the request asked for.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { factsOf } from '../operations/crypto/key-policy-check.js';
import { checkAsymmetricKey } from '../policy/key-policy.js';
import type { CryptoPolicy } from '../policy/crypto-policy.js';
import { CLIENT_AUTH_OID, issueCertificate, KeyUsageBit, OID_EKU } from '../pki/x509-issue.js';
import { derValue, nameToString, pemToDer, publicKeyOf, readCertificate, readCertificationRequest, X509Error, type CertificateFacts, type DistinguishedName } from '../pki/x509-read.js';
import type { IssuingCa } from './ca.js';
import { fingerprintOf } from './ca.js';
import { ClientsError } from './errors.js';

/** Client names: what `kms certs issue --client` has always accepted. */
export const CLIENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkClientName(name: unknown): string {
  if (typeof name !== 'string' || !CLIENT_NAME_RE.test(name) || name === 'ca' || name === 'server') {
    throw new ClientsError('BAD_REQUEST', `invalid client name ${JSON.stringify(name)}: 1 to 64 letters, digits, '.', '_', '-', starting with a letter or digit (not "ca" or "server")`);
  }
  return name;
}

const OID_CN = '2.5.4.3';
const SHA1_SIGNATURES = new Set(['1.2.840.113549.1.1.5', '1.2.840.10045.4.1']);

/** A certificate just made, with what the registry records of it. */
export interface IssuedCertificate {
  readonly der: Uint8Array;
  readonly pem: string;
  readonly facts: CertificateFacts;
  readonly fingerprint: string;
  readonly subject: string;
}

export function certificatePem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Name DER with one RDN: CN=name (UTF8String). */
function cnName(name: string): Uint8Array {
  const atv = new pkijs.AttributeTypeAndValue({ type: OID_CN, value: new asn1js.Utf8String({ value: name }) });
  return new Uint8Array(new asn1js.Sequence({ value: [new asn1js.Set({ value: [atv.toSchema()] })] }).toBER(false));
}

/** The first CN of a name, as text. */
export function firstCn(name: DistinguishedName): string | undefined {
  for (const rdn of name.rdns) for (const a of rdn) if (a.oid === OID_CN) return a.text;
  return undefined;
}

function keyPolicyCheck(policy: CryptoPolicy, key: KeyObject): void {
  const refusal = checkAsymmetricKey(policy.keys, undefined, factsOf(key));
  if (refusal) throw new ClientsError('BAD_REQUEST', `the client's key is refused: ${refusal.why}`);
}

function issue(ca: IssuingCa, subject: Uint8Array, spki: Uint8Array, days: number, requested: readonly pkijs.Extension[] = [], now = Date.now()): IssuedCertificate {
  const key = publicKeyOf(spki);
  const usage: number[] = [KeyUsageBit.digitalSignature];
  if (key.asymmetricKeyType === 'rsa') usage.push(KeyUsageBit.keyEncipherment);
  const der = issueCertificate({
    subject,
    spki,
    issuer: ca.facts.subject.der,
    ...(ca.facts.subjectKeyId && { issuerKeyId: ca.facts.subjectKeyId }),
    issuerSpki: ca.facts.spki,
    signingKey: ca.key,
    notBefore: new Date(now - 5 * 60 * 1000),
    notAfter: new Date(now + days * 86_400_000),
    ca: false,
    keyUsage: usage,
    requested,
    extKeyUsage: [CLIENT_AUTH_OID],
  });
  const facts = readCertificate(der);
  return { der, pem: certificatePem(der), facts, fingerprint: fingerprintOf(der), subject: nameToString(facts.subject) };
}

/** A certificate CN=name for `publicKey` (the key stays with the caller). */
export function issueForKey(ca: IssuingCa, name: string, publicKey: KeyObject, days: number, policy: CryptoPolicy, now?: number): IssuedCertificate {
  checkClientName(name);
  keyPolicyCheck(policy, publicKey);
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  return issue(ca, cnName(name), spki, days, [], now);
}

/** A fresh key pair of the CA's kind (EC P-256, or RSA 2048 for an RSA CA), for `kms certs issue`. */
export function newClientKeyPair(ca: Pick<IssuingCa, 'key'>): { publicKey: KeyObject; privateKey: KeyObject } {
  return ca.key.asymmetricKeyType === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export interface SignOptions {
  readonly days: number;
  /** Replace the request's subject by CN=NAME (its CN need not be the name). */
  readonly overrideCn?: boolean;
  readonly policy: CryptoPolicy;
  readonly now?: number;
}

/** PEM (CERTIFICATE REQUEST) or DER → DER. */
export function csrDer(input: Uint8Array | string): Uint8Array {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  if (text.includes('-----BEGIN')) {
    try {
      return pemToDer(text);
    } catch (e) {
      throw new ClientsError('BAD_REQUEST', `the CSR cannot be read: ${(e as Error).message}`);
    }
  }
  return typeof input === 'string' ? new Uint8Array(Buffer.from(input, 'latin1')) : input;
}

/** Sign a PKCS#10 request for client `name` (see the file comment for what is checked). */
export function signRequest(ca: IssuingCa, name: string, csr: Uint8Array | string, o: SignOptions): IssuedCertificate {
  checkClientName(name);
  const der = csrDer(csr);
  let facts;
  let sigOid: string;
  try {
    facts = readCertificationRequest(der);
    sigOid = new pkijs.CertificationRequest({ schema: derValue(der, 'the certificate request') }).signatureAlgorithm.algorithmId;
  } catch (e) {
    if (e instanceof X509Error) throw new ClientsError('BAD_REQUEST', `the CSR is refused: ${e.message}`);
    throw e;
  }
  if (SHA1_SIGNATURES.has(sigOid) && !o.policy.asymmetric.allowSha1Signatures) {
    throw new ClientsError('BAD_REQUEST', 'the CSR is signed with SHA-1, which the crypto policy refuses (cryptoPolicy.sha1Signatures)');
  }
  keyPolicyCheck(o.policy, publicKeyOf(facts.spki));
  const cn = firstCn(facts.subject);
  if (!o.overrideCn && cn !== name) {
    throw new ClientsError(
      'BAD_REQUEST',
      `the CSR's subject CN is ${cn === undefined ? 'missing' : JSON.stringify(cn)}, not the client name ${JSON.stringify(name)} (give the name it asks for, or override the CN explicitly)`,
    );
  }
  const eku = facts.extensions.find((e) => e.extnID === OID_EKU);
  if (eku) {
    let purposes: string[];
    try {
      purposes = new pkijs.ExtKeyUsage({ schema: asn1js.fromBER(eku.extnValue.valueBlock.valueHexView).result }).keyPurposes;
    } catch {
      throw new ClientsError('BAD_REQUEST', 'the CSR asks for a malformed extended key usage');
    }
    if (!purposes.includes(CLIENT_AUTH_OID))
      throw new ClientsError('BAD_REQUEST', `the CSR asks for extended key usages ${purposes.join(', ')} without clientAuth: a KMIP client certificate is for clientAuth`);
  }
  return issue(ca, o.overrideCn ? cnName(name) : facts.subject.der, facts.spki, o.days, facts.extensions, o.now);
}
