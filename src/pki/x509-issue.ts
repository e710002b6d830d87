/**
 * Issuing X.509 v3 certificates (RFC 5280) for Certify / Re-certify: the TBSCertificate is built
 * with pkijs and signed with node:crypto by the CA's private key (RSA: sha256WithRSAEncryption;
 * EC: ECDSA with SHA-256/384/512 by curve; Ed25519), so any key the server holds can sign.
 *
 * Extensions: basicConstraints (critical; cA as asked), keyUsage (critical; from the subject key's
 * KMIP usage mask), subjectKeyIdentifier (SHA-1 of the subject key bits), authorityKeyIdentifier
 * (the issuer's subjectKeyIdentifier, else SHA-1 of its key bits), and a subjectAltName the
 * certificate request asked for (copied as requested).
 */
import { createHash, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { derValue, OID_BASIC_CONSTRAINTS, OID_KEY_USAGE, OID_SKI } from './x509-read.js';

const OID_AKI = '2.5.29.35';
const OID_SAN = '2.5.29.17';
export const OID_EKU = '2.5.29.37';
/** The clientAuth extended key usage (RFC 5280 §4.2.1.12): every KMIP client certificate carries it. */
export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** keyUsage bits (RFC 5280 §4.2.1.3) as a 9-bit number, bit 0 = digitalSignature. */
export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

export interface IssueSpec {
  /** Subject Name DER. */
  readonly subject: Uint8Array;
  /** SubjectPublicKeyInfo DER of the key being certified. */
  readonly spki: Uint8Array;
  /** Issuer Name DER (the subject for a self-signed certificate). */
  readonly issuer: Uint8Array;
  /** The issuer's subjectKeyIdentifier, if its certificate has one. */
  readonly issuerKeyId?: Uint8Array;
  /** SubjectPublicKeyInfo DER of the issuer (for the authorityKeyIdentifier when it has none). */
  readonly issuerSpki: Uint8Array;
  readonly signingKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly ca: boolean;
  /** keyUsage bits (KeyUsageBit positions); empty: no keyUsage extension. */
  readonly keyUsage: readonly number[];
  /** Extensions asked for in a certificate request (only subjectAltName is copied). */
  readonly requested?: readonly pkijs.Extension[];
  /** extKeyUsage purposes (OIDs); absent or empty: no extKeyUsage extension. */
  readonly extKeyUsage?: readonly string[];
  /** A given serial number (positive, at most 20 octets); default 16 random bytes. */
  readonly serial?: Uint8Array;
}

const ab = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

function keyBits(spki: Uint8Array): Uint8Array {
  const info = new pkijs.PublicKeyInfo({ schema: derValue(spki, 'the public key') });
  return info.subjectPublicKey.valueBlock.valueHexView;
}

const keyId = (spki: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(keyBits(spki)).digest());

function extension(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function keyUsageValue(bits: readonly number[]): asn1js.BitString {
  const max = Math.max(...bits);
  const bytes = new Uint8Array(max >= 8 ? 2 : 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return new asn1js.BitString({ valueHex: ab(bytes), unusedBits: bytes.length * 8 - 1 - max });
}

/** The signature algorithm and node:crypto digest for a CA key. */
export function signatureFor(key: KeyObject): { alg: pkijs.AlgorithmIdentifier; hash: string | null } {
  const t = key.asymmetricKeyType;
  if (t === 'rsa') return { alg: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.11', algorithmParams: new asn1js.Null() }), hash: 'sha256' };
  if (t === 'ed25519') return { alg: new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.101.112' }), hash: null };
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const [oid, hash] =
      curve === 'secp384r1' || curve === 'P-384'
        ? ['1.2.840.10045.4.3.3', 'sha384']
        : curve === 'secp521r1' || curve === 'P-521'
          ? ['1.2.840.10045.4.3.4', 'sha512']
          : ['1.2.840.10045.4.3.2', 'sha256'];
    return { alg: new pkijs.AlgorithmIdentifier({ algorithmId: oid }), hash };
  }
  throw new Error(`${String(t)} keys cannot sign certificates here`);
}

/** A positive 16-byte serial number (RFC 5280 §4.1.2.2: at most 20 octets). */
function serialNumber(): asn1js.Integer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return new asn1js.Integer({ valueHex: ab(b) });
}

/** Build and sign a certificate; returns its DER. */
export function issueCertificate(spec: IssueSpec): Uint8Array {
  const { alg, hash } = signatureFor(spec.signingKey);
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = spec.serial ? new asn1js.Integer({ valueHex: ab(spec.serial) }) : serialNumber();
  cert.signature = alg;
  cert.signatureAlgorithm = alg;
  cert.issuer = new pkijs.RelativeDistinguishedNames({ schema: derValue(spec.issuer, 'the issuer name') });
  cert.subject = new pkijs.RelativeDistinguishedNames({ schema: derValue(spec.subject, 'the subject name') });
  // RelativeDistinguishedNames.toSchema re-encodes unless it keeps the bytes it was read from.
  cert.issuer.valueBeforeDecode = ab(spec.issuer);
  cert.subject.valueBeforeDecode = ab(spec.subject);
  cert.notBefore = new pkijs.Time({ type: spec.notBefore.getUTCFullYear() < 2050 ? 0 : 1, value: spec.notBefore });
  cert.notAfter = new pkijs.Time({ type: spec.notAfter.getUTCFullYear() < 2050 ? 0 : 1, value: spec.notAfter });
  cert.subjectPublicKeyInfo = new pkijs.PublicKeyInfo({ schema: derValue(spec.spki, 'the public key') });

  const extensions = [extension(OID_BASIC_CONSTRAINTS, true, new pkijs.BasicConstraints({ cA: spec.ca }).toSchema())];
  if (spec.keyUsage.length > 0) extensions.push(extension(OID_KEY_USAGE, true, keyUsageValue(spec.keyUsage)));
  extensions.push(extension(OID_SKI, false, new asn1js.OctetString({ valueHex: ab(keyId(spec.spki)) })));
  const aki = spec.issuerKeyId ?? keyId(spec.issuerSpki);
  extensions.push(extension(OID_AKI, false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: ab(aki) }) }).toSchema()));
  const san = spec.requested?.find((e) => e.extnID === OID_SAN);
  if (san) extensions.push(new pkijs.Extension({ extnID: OID_SAN, critical: san.critical, extnValue: san.extnValue.valueBlock.valueHexView.slice().buffer }));
  if (spec.extKeyUsage && spec.extKeyUsage.length > 0) extensions.push(extension(OID_EKU, false, new pkijs.ExtKeyUsage({ keyPurposes: [...spec.extKeyUsage] }).toSchema()));
  cert.extensions = extensions;

  const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.tbsView = tbs;
  const signature = cryptoSign(hash, tbs, spec.signingKey);
  cert.signatureValue = new asn1js.BitString({ valueHex: ab(new Uint8Array(signature)) });
  return new Uint8Array(cert.toSchema(false).toBER(false));
}
