/**
 * Client certificate → Principal. The TLS layer has already verified the chain against
 * the configured CA bundle; here the certificate must also carry the clientAuth extended
 * key usage, and the identity is taken from it: the subject CN (default), the first SAN
 * (DNS, email or URI), or the full subject DN, by configuration.
 */
import type { PeerCertificate } from 'node:tls';
import type { Principal } from '../policy/access.js';

export type IdentitySource = 'cn' | 'san' | 'dn';

export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

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
    const san = cert.subjectaltname?.split(',').map((s) => s.trim()).find((s) => /^(DNS|email|URI):/.test(s));
    id = san?.slice(san.indexOf(':') + 1);
  } else {
    const subj = cert.subject as unknown as Record<string, string | string[]>;
    id = Object.entries(subj)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
      .join(',');
  }
  if (!id) throw new AuthError(`client certificate has no identity in its ${source.toUpperCase()}`);
  return { id };
}
