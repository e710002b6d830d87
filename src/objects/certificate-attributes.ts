/**
 * The attributes the server derives from an X.509 certificate on Register, Certify and Re-certify.
 * All forms are stored; objects/attributes.ts `visibleAttributes` shows each client the forms its
 * protocol version defines (the registry's added/removed versions):
 *
 * | attribute                                    | versions   | value                                        |
 * |----------------------------------------------|------------|----------------------------------------------|
 * | Certificate Identifier (1.4 §3.13)           | 1.0 - 1.4  | Issuer: RFC 4514 issuer DN; Serial Number: hex of the serial (OpenSSL style) |
 * | Certificate Subject (1.4 §3.14)              | 1.0 - 1.4  | RFC 4514 subject DN; SAN entries as "DNS:…"  |
 * | Certificate Issuer (1.4 §3.15)               | 1.0 - 1.4  | RFC 4514 issuer DN; IAN entries              |
 * | X.509 Certificate Identifier (2.1 §4.61)     | 1.1 -      | issuer Name DER; serial number DER INTEGER (tag, length, content: as TC-CERTATTR-1-14/20) |
 * | X.509 Certificate Subject (2.1 §4.63)        | 1.1 -      | subject Name DER; each SAN GeneralName DER   |
 * | X.509 Certificate Issuer (2.1 §4.62)         | 1.1 -      | issuer Name DER; each IAN GeneralName DER    |
 * | Certificate Subject/Issuer CN, O, … (§4.6)   | 2.0 -      | one instance per attribute in the name       |
 * | Digital Signature Algorithm (2.1 §4.22)      | 1.1 -      | from the signature algorithm (none for Ed25519: no enumeration value) |
 * | Cryptographic Algorithm / Length (1.4 §3.4-3.5) | all     | of the subject public key (RSA, EC, Ed25519) |
 * Certificate Type, Certificate Length and Digest come from objects/object-body.ts.
 */
import { Tag } from '../kmip/generated/tags.gen.js';
import type { TtlvNode } from '../ttlv/node.js';
import { nameToString, publicKeyOf, type CertificateFacts, type DistinguishedName } from '../pki/x509-read.js';
import { keyFacts } from './key-formats.js';
import type { AttributeKey } from './managed-object.js';

export interface CertificateAttribute {
  readonly key: AttributeKey;
  readonly node: TtlvNode;
}

/** Every attribute key this module derives (Re-certify drops them before deriving anew). */
export const CERTIFICATE_DERIVED_KEYS: ReadonlySet<AttributeKey> = new Set([
  'CertificateIdentifier',
  'CertificateSubject',
  'CertificateIssuer',
  'X_509CertificateIdentifier',
  'X_509CertificateSubject',
  'X_509CertificateIssuer',
  'DigitalSignatureAlgorithm',
  'CryptographicAlgorithm',
  'CryptographicLength',
  'CertificateType',
  'CertificateLength',
  'Digest',
]);

/** Name attribute OIDs → the 2.x Certificate Attributes (2.1 §4.6 Table 39), subject and issuer. */
const NAME_ATTRIBUTES: Readonly<Record<string, readonly [string, number, string, number]>> = {
  '2.5.4.3': ['CertificateSubjectCN', Tag.CertificateSubjectCN, 'CertificateIssuerCN', Tag.CertificateIssuerCN],
  '2.5.4.10': ['CertificateSubjectO', Tag.CertificateSubjectO, 'CertificateIssuerO', Tag.CertificateIssuerO],
  '2.5.4.11': ['CertificateSubjectOU', Tag.CertificateSubjectOU, 'CertificateIssuerOU', Tag.CertificateIssuerOU],
  '1.2.840.113549.1.9.1': ['CertificateSubjectEmail', Tag.CertificateSubjectEmail, 'CertificateIssuerEmail', Tag.CertificateIssuerEmail],
  '2.5.4.6': ['CertificateSubjectC', Tag.CertificateSubjectC, 'CertificateIssuerC', Tag.CertificateIssuerC],
  '2.5.4.8': ['CertificateSubjectST', Tag.CertificateSubjectST, 'CertificateIssuerST', Tag.CertificateIssuerST],
  '2.5.4.7': ['CertificateSubjectL', Tag.CertificateSubjectL, 'CertificateIssuerL', Tag.CertificateIssuerL],
  '0.9.2342.19200300.100.1.1': ['CertificateSubjectUID', Tag.CertificateSubjectUID, 'CertificateIssuerUID', Tag.CertificateIssuerUID],
  '2.5.4.5': ['CertificateSubjectSerialNumber', Tag.CertificateSubjectSerialNumber, 'CertificateIssuerSerialNumber', Tag.CertificateIssuerSerialNumber],
  '2.5.4.12': ['CertificateSubjectTitle', Tag.CertificateSubjectTitle, 'CertificateIssuerTitle', Tag.CertificateIssuerTitle],
  '0.9.2342.19200300.100.1.25': ['CertificateSubjectDC', Tag.CertificateSubjectDC, 'CertificateIssuerDC', Tag.CertificateIssuerDC],
  '2.5.4.46': ['CertificateSubjectDNQualifier', Tag.CertificateSubjectDNQualifier, 'CertificateIssuerDNQualifier', Tag.CertificateIssuerDNQualifier],
};
for (const [s, , i] of Object.values(NAME_ATTRIBUTES)) {
  (CERTIFICATE_DERIVED_KEYS as Set<AttributeKey>).add(s);
  (CERTIFICATE_DERIVED_KEYS as Set<AttributeKey>).add(i);
}

const text = (tag: number, value: string): TtlvNode => ({ tag, type: 'TextString', value });
const bytes = (tag: number, value: Uint8Array): TtlvNode => ({ tag, type: 'ByteString', value });
const struct = (tag: number, value: TtlvNode[]): TtlvNode => ({ tag, type: 'Structure', value });

function nameAttributes(name: DistinguishedName, side: 'subject' | 'issuer'): CertificateAttribute[] {
  const out: CertificateAttribute[] = [];
  for (const rdn of name.rdns) {
    for (const a of rdn) {
      const m = NAME_ATTRIBUTES[a.oid];
      if (!m || a.text === undefined) continue;
      const [key, tag] = side === 'subject' ? [m[0], m[1]] : [m[2], m[3]];
      out.push({ key, node: text(tag, a.text) });
    }
  }
  return out;
}

/** The attributes a certificate states, in every version's form (see the table above). */
export function certificateAttributes(f: CertificateFacts): CertificateAttribute[] {
  const subjectDn = nameToString(f.subject);
  const issuerDn = nameToString(f.issuer);
  const out: CertificateAttribute[] = [
    { key: 'CertificateIdentifier', node: struct(Tag.CertificateIdentifier, [text(Tag.Issuer, issuerDn), text(Tag.SerialNumber, f.serialHex)]) },
    {
      key: 'CertificateSubject',
      node: struct(Tag.CertificateSubject, [text(Tag.CertificateSubjectDistinguishedName, subjectDn), ...f.subjectAltNames.map((n) => text(Tag.CertificateSubjectAlternativeName, n.text))]),
    },
    {
      key: 'CertificateIssuer',
      node: struct(Tag.CertificateIssuer, [text(Tag.CertificateIssuerDistinguishedName, issuerDn), ...f.issuerAltNames.map((n) => text(Tag.CertificateIssuerAlternativeName, n.text))]),
    },
    { key: 'X_509CertificateIdentifier', node: struct(Tag.X_509CertificateIdentifier, [bytes(Tag.IssuerDistinguishedName, f.issuer.der), bytes(Tag.CertificateSerialNumber, f.serialDer)]) },
    {
      key: 'X_509CertificateSubject',
      node: struct(Tag.X_509CertificateSubject, [bytes(Tag.SubjectDistinguishedName, f.subject.der), ...f.subjectAltNames.map((n) => bytes(Tag.SubjectAlternativeName, n.der))]),
    },
    {
      key: 'X_509CertificateIssuer',
      node: struct(Tag.X_509CertificateIssuer, [bytes(Tag.IssuerDistinguishedName, f.issuer.der), ...f.issuerAltNames.map((n) => bytes(Tag.IssuerAlternativeName, n.der))]),
    },
    ...nameAttributes(f.subject, 'subject'),
    ...nameAttributes(f.issuer, 'issuer'),
  ];
  if (f.digitalSignatureAlgorithm !== undefined)
    out.push({ key: 'DigitalSignatureAlgorithm', node: { tag: Tag.DigitalSignatureAlgorithm, type: 'Enumeration', value: f.digitalSignatureAlgorithm } });
  try {
    const k = keyFacts(publicKeyOf(f.spki));
    out.push({ key: 'CryptographicAlgorithm', node: { tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: k.algorithm } });
    out.push({ key: 'CryptographicLength', node: { tag: Tag.CryptographicLength, type: 'Integer', value: k.length } });
  } catch {
    // A key type this server does not model (DSA, other curves): no algorithm/length to state.
  }
  return out;
}
