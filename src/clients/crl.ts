/**
 * The CRL of the client-issuing CA (RFC 5280 §5): version 2, signed by the CA's key, thisUpdate
 * now, nextUpdate thisUpdate + the configured validity (clients.crlValidityHours), a CRL Number
 * that only increases (kept in the store: registry.ts), the Authority Key Identifier, and one
 * entry per revoked certificate that has not expired, with its revocation date and reason code.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sign as cryptoSign } from 'node:crypto';
import { signatureFor } from '../pki/x509-issue.js';
import { derValue } from '../pki/x509-read.js';
import type { IssuingCa } from './ca.js';

/** RFC 5280 §5.3.1 CRLReason values an operator may give (certificateHold and removeFromCRL are not used). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function isRevocationReason(x: unknown): x is RevocationReason {
  return typeof x === 'string' && Object.hasOwn(REVOCATION_REASONS, x);
}

const OID_CRL_NUMBER = '2.5.29.20';
const OID_AKI = '2.5.29.35';
const OID_REASON_CODE = '2.5.29.21';

export interface CrlEntry {
  /** Serial number, upper-case hex of the unsigned value. */
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason: RevocationReason;
}

const ab = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** A positive INTEGER's content octets for an unsigned hex value. */
function serialBytes(hex: string): Uint8Array {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  const b = Buffer.from(even, 'hex');
  return (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

function time(d: Date): pkijs.Time {
  return new pkijs.Time({ type: d.getUTCFullYear() < 2050 ? 0 : 1, value: d });
}

/** Build and sign the CRL; returns its DER. */
export function buildCrl(ca: IssuingCa, o: { readonly number: number; readonly thisUpdate: Date; readonly nextUpdate: Date; readonly entries: readonly CrlEntry[] }): Uint8Array {
  const { alg, hash } = signatureFor(ca.key);
  const crl = new pkijs.CertificateRevocationList();
  crl.version = 1; // v2
  crl.signature = alg;
  crl.signatureAlgorithm = alg;
  crl.issuer = new pkijs.RelativeDistinguishedNames({ schema: derValue(ca.facts.subject.der, 'the CA subject') });
  crl.issuer.valueBeforeDecode = ab(ca.facts.subject.der);
  crl.thisUpdate = time(o.thisUpdate);
  crl.nextUpdate = time(o.nextUpdate);
  if (o.entries.length > 0) {
    crl.revokedCertificates = o.entries.map(
      (e) =>
        new pkijs.RevokedCertificate({
          userCertificate: new asn1js.Integer({ valueHex: ab(serialBytes(e.serial)) }),
          revocationDate: time(e.revokedAt),
          crlEntryExtensions: new pkijs.Extensions({
            extensions: [new pkijs.Extension({ extnID: OID_REASON_CODE, critical: false, extnValue: new asn1js.Enumerated({ value: REVOCATION_REASONS[e.reason] }).toBER(false) })],
          }),
        }),
    );
  }
  const extensions: pkijs.Extension[] = [new pkijs.Extension({ extnID: OID_CRL_NUMBER, critical: false, extnValue: new asn1js.Integer({ value: o.number }).toBER(false) })];
  if (ca.facts.subjectKeyId) {
    extensions.push(
      new pkijs.Extension({
        extnID: OID_AKI,
        critical: false,
        extnValue: new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: ab(ca.facts.subjectKeyId) }) }).toSchema().toBER(false),
      }),
    );
  }
  crl.crlExtensions = new pkijs.Extensions({ extensions });
  // encodeTBS is protected in the typings; it is what crl.sign() itself encodes.
  const tbs = new Uint8Array((crl as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
  crl.tbsView = tbs;
  crl.signatureValue = new asn1js.BitString({ valueHex: ab(new Uint8Array(cryptoSign(hash, tbs, ca.key))) });
  return new Uint8Array(crl.toSchema(false).toBER(false));
}

export function crlPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN X509 CRL-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END X509 CRL-----\n`;
}
