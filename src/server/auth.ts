/**
 * Client certificate → Principal. The TLS layer has already verified the chain against
 * the configured CA bundle; here the certificate must also carry the clientAuth extended
 * key usage, and the identity is taken from it, by configuration:
 * - cn (default): the subject's first CN, as it stands. Every other attribute (O, OU, …) is
 *   ignored: two certificates with the same CN are the same identity.
 * - san: the first SAN of type DNS, email or URI.
 * - dn: the RFC 4514 string of the whole subject, read from the certificate's DER: RDNs in
 *   reverse order, multi-valued RDNs kept (joined with "+"), values escaped (RFC 4514 §2.4),
 *   attributes without a short name as `dotted.oid=#hex`. Distinct subjects give distinct
 *   strings (CN="kms-client,O=evil" is `CN=kms-client\,O=evil`, the two-RDN subject
 *   CN=kms-client, O=evil is `O=evil,CN=kms-client`); only the ASN.1 string type of a value is
 *   not part of it.
 * Identities the server acts as itself (the key rotation scheduler's `kms-rotation`) are
 * reserved: a certificate that names one is refused like one without an identity, so no client
 * can pass for the server in the audit trail or in what it may do.
 */
import type { PeerCertificate } from 'node:tls';
import { RESERVED_IDENTITIES, type Principal } from '../policy/access.js';
import { nameToString, readCertificate } from '../pki/x509-read.js';
import type { IdentitySource } from '../config/identity.js';

export type { IdentitySource };

import { CLIENT_AUTH_OID } from '../pki/x509-issue.js';
export { CLIENT_AUTH_OID };

export class AuthError extends Error {
  override readonly name = 'AuthError';
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function principalFromCertificate(cert: PeerCertificate | undefined, source: IdentitySource = 'cn'): Principal {
  if (!cert || Object.keys(cert).length === 0) throw new AuthError('no client certificate');
  const eku = (cert as PeerCertificate & { ext_key_usage?: string[] }).ext_key_usage;
  if (!eku || !eku.includes(CLIENT_AUTH_OID)) throw new AuthError('client certificate lacks the clientAuth extended key usage');
  let id: string | undefined;
  if (source === 'cn') {
    id = first(cert.subject?.CN);
  } else if (source === 'san') {
    const san = cert.subjectaltname
      ?.split(',')
      .map((s) => s.trim())
      .find((s) => /^(DNS|email|URI):/.test(s));
    id = san?.slice(san.indexOf(':') + 1);
  } else {
    if (!cert.raw) throw new AuthError('client certificate DER not available');
    try {
      id = nameToString(readCertificate(cert.raw).subject);
    } catch (e) {
      throw new AuthError(`client certificate subject cannot be read: ${(e as Error).message}`);
    }
  }
  if (!id) throw new AuthError(`client certificate has no identity in its ${source.toUpperCase()}`);
  if (RESERVED_IDENTITIES.has(id)) throw new AuthError(`client certificate names the identity "${id}", which is reserved for the server itself`);
  return { id };
}
