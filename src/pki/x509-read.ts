/**
 * Reading X.509 certificates and PKCS#10 certificate requests (pkijs + asn1js), for the attributes
 * KMIP derives from a certificate (KMIP 1.4 §3.9-3.16, 2.1 §4.6-4.8, §4.22, §4.61-4.63) and for
 * Certify / Re-certify. Pure functions; a malformed input throws `X509Error`.
 *
 * Names are kept as their DER bytes (what X.509 Certificate Subject/Issuer carry, 2.1 Tables 153/155)
 * and rendered as RFC 4514 strings for the 1.x Text String forms (1.4 Tables 80-84): RDNs in reverse
 * order, CN/L/ST/O/OU/C/STREET/DC/UID by short name, any other attribute as `dotted.oid=#hex` of its
 * DER value, values escaped per RFC 4514 §2.4.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { CertificateRequestType, DigitalSignatureAlgorithm } from '../kmip/generated/enums.gen.js';

export class X509Error extends Error {
  override readonly name = 'X509Error';
}

const fail = (m: string): never => {
  throw new X509Error(m);
};

/** Parse one DER value that must fill `der` exactly. */
export function derValue(der: Uint8Array, what: string): asn1js.AsnType {
  const buf = der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
  const asn = asn1js.fromBER(buf);
  if (asn.offset === -1 || asn.offset !== der.byteLength) fail(`${what} is not one well-formed DER value`);
  return asn.result;
}

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};
export const SHORT_NAME_OIDS: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(SHORT_NAMES).map(([o, n]) => [n, o]));

/** One attribute of a distinguished name, as found in the DER. */
export interface NameAttribute {
  readonly oid: string;
  /** The string value, when the value is one of the ASN.1 string types. */
  readonly text?: string;
  /** The value's DER encoding. */
  readonly der: Uint8Array;
}

/** A distinguished name: its DER and its RDNs in DER order. */
export interface DistinguishedName {
  readonly der: Uint8Array;
  readonly rdns: readonly (readonly NameAttribute[])[];
}

function stringValue(v: asn1js.AsnType): string | undefined {
  const block = (v as { valueBlock?: { value?: unknown } }).valueBlock;
  if (
    v instanceof asn1js.Utf8String ||
    v instanceof asn1js.PrintableString ||
    v instanceof asn1js.IA5String ||
    v instanceof asn1js.TeletexString ||
    v instanceof asn1js.BmpString ||
    v instanceof asn1js.UniversalString ||
    v instanceof asn1js.VisibleString ||
    v instanceof asn1js.NumericString
  ) {
    return typeof block?.value === 'string' ? block.value : undefined;
  }
  return undefined;
}

/** Read a Name (SEQUENCE OF SET OF AttributeTypeAndValue) from its DER. */
export function readName(der: Uint8Array, what = 'distinguished name'): DistinguishedName {
  const seq = derValue(der, what);
  if (!(seq instanceof asn1js.Sequence)) return fail(`${what} is not a SEQUENCE`);
  const rdns = seq.valueBlock.value.map((set) => {
    if (!(set instanceof asn1js.Set)) return fail(`${what}: an RDN is not a SET`);
    return set.valueBlock.value.map((atv): NameAttribute => {
      if (!(atv instanceof asn1js.Sequence) || atv.valueBlock.value.length !== 2) return fail(`${what}: malformed attribute`);
      const [type, value] = atv.valueBlock.value as [asn1js.AsnType, asn1js.AsnType];
      if (!(type instanceof asn1js.ObjectIdentifier)) return fail(`${what}: attribute type is not an OID`);
      const text = stringValue(value);
      return { oid: type.valueBlock.toString(), der: new Uint8Array(value.toBER(false)), ...(text !== undefined && { text }) };
    });
  });
  return { der: new Uint8Array(der), rdns };
}

function escape4514(v: string): string {
  let s = v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\+/g, '\\+').replace(/,/g, '\\,').replace(/;/g, '\\;').replace(/</g, '\\<').replace(/>/g, '\\>').replace(/\0/g, '\\00');
  if (s.startsWith('#') || s.startsWith(' ')) s = `\\${s}`;
  if (s.endsWith(' ')) s = `${s.slice(0, -1)}\\ `;
  return s;
}

/** RFC 4514 string form of a name (the 1.x Certificate Subject/Issuer Distinguished Name). */
export function nameToString(name: DistinguishedName): string {
  return [...name.rdns]
    .reverse()
    .map((rdn) =>
      rdn
        .map((a) => {
          const short = SHORT_NAMES[a.oid];
          if (short && a.text !== undefined) return `${short}=${escape4514(a.text)}`;
          return `${a.oid}=#${Buffer.from(a.der).toString('hex')}`;
        })
        .join('+'),
    )
    .join(',');
}

/** A General Name (RFC 5280 §4.2.1.6) as DER and as text ("DNS:…", "IP:…", "email:…", "URI:…"). */
export interface GeneralNameInfo {
  readonly der: Uint8Array;
  readonly text: string;
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

function generalNames(extValue: ArrayBuffer): GeneralNameInfo[] {
  const alt = new pkijs.AltName({ schema: asn1js.fromBER(extValue).result });
  return alt.altNames.map((g) => {
    const der = new Uint8Array((g.toSchema() as asn1js.BaseBlock).toBER(false));
    const v = g.value as unknown;
    const text =
      g.type === 1
        ? `email:${String(v)}`
        : g.type === 2
          ? `DNS:${String(v)}`
          : g.type === 6
            ? `URI:${String(v)}`
            : g.type === 7 && v instanceof asn1js.OctetString
              ? `IP:${ipText(v.valueBlock.valueHexView)}`
              : g.type === 4 && v instanceof pkijs.RelativeDistinguishedNames
                ? `DirName:${nameToString(readName(new Uint8Array(v.toSchema().toBER(false))))}`
                : `othername:${Buffer.from(der).toString('hex')}`;
    return { der, text };
  });
}

const OID_SAN = '2.5.29.17';
const OID_IAN = '2.5.29.18';
export const OID_SKI = '2.5.29.14';
export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
export const OID_KEY_USAGE = '2.5.29.15';

/** Signature algorithm OIDs → KMIP Digital Signature Algorithm (1.4 §9.1.3.2.7, 2.1 §11.17). */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, number>> = {
  '1.2.840.113549.1.1.2': DigitalSignatureAlgorithm.MD2WithRSAEncryption,
  '1.2.840.113549.1.1.4': DigitalSignatureAlgorithm.MD5WithRSAEncryption,
  '1.2.840.113549.1.1.5': DigitalSignatureAlgorithm.SHA_1WithRSAEncryption,
  '1.2.840.113549.1.1.14': DigitalSignatureAlgorithm.SHA_224WithRSAEncryption,
  '1.2.840.113549.1.1.11': DigitalSignatureAlgorithm.SHA_256WithRSAEncryption,
  '1.2.840.113549.1.1.12': DigitalSignatureAlgorithm.SHA_384WithRSAEncryption,
  '1.2.840.113549.1.1.13': DigitalSignatureAlgorithm.SHA_512WithRSAEncryption,
  '1.2.840.113549.1.1.10': DigitalSignatureAlgorithm.RSASSA_PSS,
  '1.2.840.10040.4.3': DigitalSignatureAlgorithm.DSAWithSHA_1,
  '2.16.840.1.101.3.4.3.1': DigitalSignatureAlgorithm.DSAWithSHA224,
  '2.16.840.1.101.3.4.3.2': DigitalSignatureAlgorithm.DSAWithSHA256,
  '1.2.840.10045.4.1': DigitalSignatureAlgorithm.ECDSAWithSHA_1,
  '1.2.840.10045.4.3.1': DigitalSignatureAlgorithm.ECDSAWithSHA224,
  '1.2.840.10045.4.3.2': DigitalSignatureAlgorithm.ECDSAWithSHA256,
  '1.2.840.10045.4.3.3': DigitalSignatureAlgorithm.ECDSAWithSHA384,
  '1.2.840.10045.4.3.4': DigitalSignatureAlgorithm.ECDSAWithSHA512,
  '2.16.840.1.101.3.4.3.14': DigitalSignatureAlgorithm.SHA3_256WithRSAEncryption,
  '2.16.840.1.101.3.4.3.15': DigitalSignatureAlgorithm.SHA3_384WithRSAEncryption,
  '2.16.840.1.101.3.4.3.16': DigitalSignatureAlgorithm.SHA3_512WithRSAEncryption,
};

/** What the server reads from a certificate. */
export interface CertificateFacts {
  /** The serial number's DER content octets (two's complement, as encoded). */
  readonly serial: Uint8Array;
  /** The serial number's whole DER INTEGER (tag, length, content), as the OASIS test cases carry it. */
  readonly serialDer: Uint8Array;
  /** The serial number as upper-case hex of its unsigned value. */
  readonly serialHex: string;
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  readonly subjectAltNames: readonly GeneralNameInfo[];
  readonly issuerAltNames: readonly GeneralNameInfo[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly signatureOid: string;
  /** KMIP Digital Signature Algorithm, when the signature algorithm has one (Ed25519 has none). */
  readonly digitalSignatureAlgorithm?: number;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  /** The Subject Key Identifier extension's value, if present. */
  readonly subjectKeyId?: Uint8Array;
  /** basicConstraints cA, when the extension is present. */
  readonly isCa?: boolean;
  /** keyUsage keyCertSign, when the extension is present. */
  readonly keyCertSign?: boolean;
  readonly cert: pkijs.Certificate;
}

const bytesOf = (s: { toSchema(): asn1js.AsnType }): Uint8Array => new Uint8Array(s.toSchema().toBER(false));

function unsignedHex(b: Uint8Array): string {
  // As OpenSSL prints it (node's X509Certificate.serialNumber): whole bytes, leading zero bytes dropped.
  const hex = Buffer.from(b)
    .toString('hex')
    .replace(/^(00)+/, '')
    .toUpperCase();
  return hex === '' ? '00' : hex;
}

/** Parse a DER X.509 certificate. */
export function readCertificate(der: Uint8Array): CertificateFacts {
  const value = derValue(der, 'the certificate');
  let cert: pkijs.Certificate;
  try {
    cert = new pkijs.Certificate({ schema: value });
  } catch (e) {
    return fail(`not an X.509 certificate (${e instanceof Error ? e.message : String(e)})`);
  }
  const ext = (oid: string) => cert.extensions?.find((e) => e.extnID === oid);
  const san = ext(OID_SAN);
  const ian = ext(OID_IAN);
  let subjectKeyId: Uint8Array | undefined;
  let isCa: boolean | undefined;
  let keyCertSign: boolean | undefined;
  let subjectAltNames: GeneralNameInfo[] = [];
  let issuerAltNames: GeneralNameInfo[] = [];
  try {
    const ski = ext(OID_SKI);
    if (ski) subjectKeyId = new Uint8Array((asn1js.fromBER(ski.extnValue.valueBlock.valueHexView).result as asn1js.OctetString).valueBlock.valueHexView);
    const bc = ext(OID_BASIC_CONSTRAINTS);
    if (bc) isCa = new pkijs.BasicConstraints({ schema: asn1js.fromBER(bc.extnValue.valueBlock.valueHexView).result }).cA === true;
    const ku = ext(OID_KEY_USAGE);
    if (ku) {
      const bits = asn1js.fromBER(ku.extnValue.valueBlock.valueHexView).result as asn1js.BitString;
      keyCertSign = ((bits.valueBlock.valueHexView[0] ?? 0) & 0x04) !== 0;
    }
    if (san) subjectAltNames = generalNames(san.extnValue.valueBlock.valueHexView.slice().buffer);
    if (ian) issuerAltNames = generalNames(ian.extnValue.valueBlock.valueHexView.slice().buffer);
  } catch (e) {
    return fail(`a certificate extension is malformed (${e instanceof Error ? e.message : String(e)})`);
  }
  const serial = new Uint8Array(cert.serialNumber.valueBlock.valueHexView);
  const signatureOid = cert.signatureAlgorithm.algorithmId;
  const dsa = SIGNATURE_ALGORITHMS[signatureOid];
  return {
    serial,
    serialDer: new Uint8Array(cert.serialNumber.toBER(false)),
    serialHex: unsignedHex(serial),
    subject: readName(bytesOf(cert.subject), 'the subject name'),
    issuer: readName(bytesOf(cert.issuer), 'the issuer name'),
    subjectAltNames,
    issuerAltNames,
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    signatureOid,
    ...(dsa !== undefined && { digitalSignatureAlgorithm: dsa }),
    spki: bytesOf(cert.subjectPublicKeyInfo),
    ...(subjectKeyId && { subjectKeyId }),
    ...(isCa !== undefined && { isCa }),
    ...(keyCertSign !== undefined && { keyCertSign }),
    cert,
  };
}

/** The subject's public key of a SubjectPublicKeyInfo. */
export function publicKeyOf(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    return fail(`the public key cannot be read (${e instanceof Error ? e.message : String(e)})`);
  }
}

// ------------------------------------------------------------------------------- PKCS#10

const HASH_OF_SIG: Readonly<Record<string, { hash: string | null; kind: 'rsa' | 'ecdsa' | 'eddsa' }>> = {
  '1.2.840.113549.1.1.5': { hash: 'sha1', kind: 'rsa' },
  '1.2.840.113549.1.1.14': { hash: 'sha224', kind: 'rsa' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', kind: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', kind: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', kind: 'rsa' },
  '1.2.840.10045.4.1': { hash: 'sha1', kind: 'ecdsa' },
  '1.2.840.10045.4.3.1': { hash: 'sha224', kind: 'ecdsa' },
  '1.2.840.10045.4.3.2': { hash: 'sha256', kind: 'ecdsa' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', kind: 'ecdsa' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', kind: 'ecdsa' },
  '1.3.101.112': { hash: null, kind: 'eddsa' },
};
const HASH_OIDS: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Verify a signature over `tbs` made with the key of `spki` under `alg` (PKCS#1 v1.5, PSS, ECDSA, Ed25519). */
export function verifySignature(tbs: Uint8Array, signature: Uint8Array, alg: pkijs.AlgorithmIdentifier, key: KeyObject): boolean {
  const oid = alg.algorithmId;
  try {
    if (oid === '1.2.840.113549.1.1.10') {
      const p = new pkijs.RSASSAPSSParams({ schema: alg.algorithmParams });
      const hash = HASH_OIDS[p.hashAlgorithm.algorithmId] ?? fail('unsupported PSS hash');
      return cryptoVerify(hash, tbs, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: p.saltLength }, signature);
    }
    const s = HASH_OF_SIG[oid];
    if (!s) return fail(`signature algorithm ${oid} is not supported`);
    if (s.kind === 'rsa' && key.asymmetricKeyType !== 'rsa') return false;
    if (s.kind === 'ecdsa' && key.asymmetricKeyType !== 'ec') return false;
    if (s.kind === 'eddsa' && key.asymmetricKeyType !== 'ed25519') return false;
    return cryptoVerify(s.hash, tbs, key, signature);
  } catch (e) {
    if (e instanceof X509Error) throw e;
    return false;
  }
}

/** What the server reads from a PKCS#10 request, after checking its self-signature. */
export interface RequestFacts {
  readonly subject: DistinguishedName;
  readonly spki: Uint8Array;
  /** Extensions the request asks for (PKCS#9 extensionRequest), as pkijs objects. */
  readonly extensions: readonly pkijs.Extension[];
}

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/** The DER of a PEM block labelled CERTIFICATE REQUEST (or NEW CERTIFICATE REQUEST). */
export function pemToDer(text: string): Uint8Array {
  const m = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END (NEW )?CERTIFICATE REQUEST-----/.exec(text);
  if (!m?.[2]) return fail('no CERTIFICATE REQUEST PEM block');
  return new Uint8Array(Buffer.from(m[2].replace(/\s+/g, ''), 'base64'));
}

/** Parse a DER PKCS#10 CertificationRequest and verify its self-signature. */
export function readCertificationRequest(der: Uint8Array): RequestFacts {
  const value = derValue(der, 'the certificate request');
  let csr: pkijs.CertificationRequest;
  try {
    csr = new pkijs.CertificationRequest({ schema: value });
  } catch (e) {
    return fail(`not a PKCS#10 certificate request (${e instanceof Error ? e.message : String(e)})`);
  }
  const spki = bytesOf(csr.subjectPublicKeyInfo);
  const key = publicKeyOf(spki);
  if (!verifySignature(csr.tbsView, csr.signatureValue.valueBlock.valueHexView, csr.signatureAlgorithm, key)) {
    fail('the certificate request signature does not verify with its own public key');
  }
  const extensions: pkijs.Extension[] = [];
  for (const a of csr.attributes ?? []) {
    if (a.type !== OID_EXTENSION_REQUEST) continue;
    try {
      extensions.push(...(new pkijs.Extensions({ schema: a.values[0] }).extensions ?? []));
    } catch {
      fail('the extensionRequest attribute is malformed');
    }
  }
  return { subject: readName(bytesOf(csr.subject), 'the request subject'), spki, extensions };
}

/**
 * A KMIP Certificate Request (Certificate Request Type + value): PKCS#10 DER, or PEM (a PKCS#10
 * request in a CERTIFICATE REQUEST block). CRMF and PGP are not supported (`unsupported: true`).
 */
export function readRequest(type: number, value: Uint8Array): RequestFacts {
  if (type === CertificateRequestType.PKCS_10) return readCertificationRequest(value);
  if (type === CertificateRequestType.PEM) return readCertificationRequest(pemToDer(Buffer.from(value).toString('latin1')));
  throw new UnsupportedRequestType(`Certificate Request Type ${type} is not supported (PKCS#10 and PEM are)`);
}

export class UnsupportedRequestType extends X509Error {}
