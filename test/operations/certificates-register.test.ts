/**
 * Register of X.509 certificates and certificate requests over a real mTLS server: every attribute
 * the server derives (KMIP 1.4 §3.4-3.5, §3.9-3.17; 2.1 §4.6-4.8, §4.13, §4.15, §4.21-4.22,
 * §4.61-4.63) checked against what Python's `cryptography` and node's X509Certificate read from the
 * same bytes, in each version's form (1.0: Certificate Identifier/Subject/Issuer only; 1.4: those and
 * the X.509 forms; 2.1: X.509 forms and Certificate Attributes); Get returns the bytes registered;
 * malformed certificates and requests are Invalid Field.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateObject, findChild, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  CertificateRequestType,
  CertificateType,
  CryptographicAlgorithm,
  DigitalSignatureAlgorithm,
  HashingAlgorithm,
  ObjectType,
  Operation,
  ResultReason,
} from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { FULL_ATTRIBUTES, startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, uidOf, V1_0, V1_4, V2_1 } from './object-kit.js';
import { certAttributes, certificateDer, child, children, derInteger, hexOf, pyChain, pyCsr, pyFacts, texts, x509, type PyCertFacts } from './certificate-kit.js';

let srv: TestKms;
let c: KmipClient;
let chain: { ca: Buffer; leaf: Buffer };
let leaf: PyCertFacts;

beforeAll(async () => {
  srv = await startTestKms(FULL_ATTRIBUTES);
  c = await srv.client();
  chain = pyChain('rsa');
  leaf = pyFacts(chain.leaf);
});
afterAll(async () => srv?.dispose());

const attributes = (v: KmipVersion, uid: string) => certAttributes(c, v, uid);
const register = async (v: KmipVersion, der: Uint8Array) => uidOf(await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.Certificate), attrs(v, []), certificateObject(der)]));
const one = (m: Map<number, TtlvNode[]>, tag: number) => m.get(tag)?.[0];

describe('Register of an X.509 certificate made by Python cryptography', () => {
  it('KMIP 2.1: X.509 Certificate Identifier/Subject/Issuer, Certificate Attributes, algorithms, length, digest; Get returns the same bytes', async () => {
    const uid = await register(V2_1, chain.leaf);
    expect(await certificateDer(c, V2_1, uid)).toEqual(chain.leaf);
    const m = await attributes(V2_1, uid);

    const id = one(m, Tag.X_509CertificateIdentifier);
    expect(hexOf(child(id, Tag.IssuerDistinguishedName))).toBe(leaf.issuerDer);
    expect(hexOf(child(id, Tag.CertificateSerialNumber))).toBe(derInteger(leaf.serial).toString('hex'));
    const subject = one(m, Tag.X_509CertificateSubject);
    expect(hexOf(child(subject, Tag.SubjectDistinguishedName))).toBe(leaf.subjectDer);
    // Each Subject Alternative Name is one GeneralName's DER: [2] "leaf.example" and [7] 127.0.0.1.
    expect(children(subject, Tag.SubjectAlternativeName).map(hexOf)).toEqual(['82' + '0c' + Buffer.from('leaf.example').toString('hex'), '87' + '04' + '7f000001']);
    expect(hexOf(child(one(m, Tag.X_509CertificateIssuer), Tag.IssuerDistinguishedName))).toBe(leaf.issuerDer);

    expect(texts(m.get(Tag.CertificateSubjectCN))).toEqual(leaf.cn);
    expect(texts(m.get(Tag.CertificateSubjectO))).toEqual(leaf.o);
    expect(texts(m.get(Tag.CertificateSubjectC))).toEqual(leaf.c);
    expect(texts(m.get(Tag.CertificateIssuerCN))).toEqual(leaf.issuerCn);
    expect(leaf.sigOid).toBe('1.2.840.10045.4.3.2');
    expect(one(m, Tag.DigitalSignatureAlgorithm)).toEqual(t.enum(Tag.DigitalSignatureAlgorithm, DigitalSignatureAlgorithm.ECDSAWithSHA256));
    expect(leaf.keyType).toBe('rsa');
    expect(one(m, Tag.CryptographicAlgorithm)).toEqual(t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.RSA));
    expect(one(m, Tag.CryptographicLength)).toEqual(t.int(Tag.CryptographicLength, leaf.keyBits));
    expect(one(m, Tag.CertificateType)).toEqual(t.enum(Tag.CertificateType, CertificateType.X_509));
    expect(one(m, Tag.CertificateLength)).toEqual(t.int(Tag.CertificateLength, chain.leaf.length));
    const digest = one(m, Tag.Digest);
    expect(child(digest, Tag.HashingAlgorithm)).toEqual(t.enum(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256));
    expect(hexOf(child(digest, Tag.DigestValue))).toBe(leaf.sha256);
    // The 1.x forms are not 2.x attributes.
    expect(m.has(Tag.CertificateIdentifier)).toBe(false);
    expect(m.has(Tag.CertificateSubject)).toBe(false);
  });

  it('KMIP 1.4: Certificate Identifier/Subject/Issuer as RFC 4514 text and the X.509 forms; no 2.x Certificate Attributes', async () => {
    const uid = await register(V1_4, chain.leaf);
    expect(await certificateDer(c, V1_4, uid)).toEqual(chain.leaf);
    const m = await attributes(V1_4, uid);
    const node = x509(chain.leaf);

    const id = one(m, Tag.CertificateIdentifier);
    expect(child(id, Tag.Issuer)).toEqual(t.text(Tag.Issuer, leaf.issuer));
    expect(child(id, Tag.SerialNumber)).toEqual(t.text(Tag.SerialNumber, node.serialNumber));
    expect(leaf.subject).toBe('CN=leaf.example,O=Oracle\\, Inc,C=US');
    const subject = one(m, Tag.CertificateSubject);
    expect(child(subject, Tag.CertificateSubjectDistinguishedName)).toEqual(t.text(Tag.CertificateSubjectDistinguishedName, leaf.subject));
    expect(texts(children(subject, Tag.CertificateSubjectAlternativeName))).toEqual(['DNS:leaf.example', 'IP:127.0.0.1']);
    expect(node.subjectAltName).toBe('DNS:leaf.example, IP Address:127.0.0.1');
    expect(child(one(m, Tag.CertificateIssuer), Tag.CertificateIssuerDistinguishedName)).toEqual(t.text(Tag.CertificateIssuerDistinguishedName, leaf.issuer));
    expect(hexOf(child(one(m, Tag.X_509CertificateSubject), Tag.SubjectDistinguishedName))).toBe(leaf.subjectDer);
    expect(hexOf(child(one(m, Tag.X_509CertificateIdentifier), Tag.CertificateSerialNumber))).toBe(derInteger(leaf.serial).toString('hex'));
    expect(one(m, Tag.DigitalSignatureAlgorithm)).toEqual(t.enum(Tag.DigitalSignatureAlgorithm, DigitalSignatureAlgorithm.ECDSAWithSHA256));
    expect(one(m, Tag.CryptographicLength)).toEqual(t.int(Tag.CryptographicLength, 2048));
    expect(m.has(Tag.CertificateSubjectCN)).toBe(false);
  });

  it('KMIP 1.0: only the 1.0 attributes (no X.509 forms, no Digital Signature Algorithm, no Certificate Length)', async () => {
    const uid = await register(V1_0, chain.leaf);
    const m = await attributes(V1_0, uid);
    expect(child(one(m, Tag.CertificateIdentifier), Tag.Issuer)).toEqual(t.text(Tag.Issuer, leaf.issuer));
    expect(child(one(m, Tag.CertificateSubject), Tag.CertificateSubjectDistinguishedName)).toEqual(t.text(Tag.CertificateSubjectDistinguishedName, leaf.subject));
    for (const tag of [Tag.X_509CertificateIdentifier, Tag.X_509CertificateSubject, Tag.X_509CertificateIssuer, Tag.DigitalSignatureAlgorithm, Tag.CertificateLength])
      expect(m.has(tag)).toBe(false);
  });

  it('a serial with its high bit set is a positive DER INTEGER with a leading zero; an EC and an Ed25519 subject key give EC/256 and Ed25519/256', async () => {
    const ec = pyChain('ec', 'ff00ee');
    const uid = await register(V2_1, ec.leaf);
    const m = await attributes(V2_1, uid);
    expect(hexOf(child(one(m, Tag.X_509CertificateIdentifier), Tag.CertificateSerialNumber))).toBe('020400ff00ee');
    expect(one(m, Tag.CryptographicAlgorithm)).toEqual(t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.EC));
    expect(one(m, Tag.CryptographicLength)).toEqual(t.int(Tag.CryptographicLength, 256));
    const ed = pyChain('ed25519');
    const m2 = await attributes(V2_1, await register(V2_1, ed.leaf));
    expect(one(m2, Tag.CryptographicAlgorithm)).toEqual(t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.Ed25519));
    // The CA itself: its self-issued subject is its issuer.
    const m3 = await attributes(V2_1, await register(V2_1, chain.ca));
    expect(hexOf(child(one(m3, Tag.X_509CertificateSubject), Tag.SubjectDistinguishedName))).toBe(hexOf(child(one(m3, Tag.X_509CertificateIssuer), Tag.IssuerDistinguishedName)));
  });

  it.each([
    ['1.4', V1_4],
    ['2.1', V2_1],
  ])('KMIP %s: a malformed certificate is Invalid Field (garbage, truncated, trailing bytes, not a certificate)', async (_l, v) => {
    const cases = [Buffer.from('not a certificate at all'), chain.leaf.subarray(0, chain.leaf.length - 10), Buffer.concat([chain.leaf, Buffer.from([0, 0])]), pyCsr('not-a-cert').der];
    for (const der of cases) {
      const r = await fails(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.Certificate), attrs(v, []), certificateObject(der)]);
      expect(r.reason, r.message).toBe(ResultReason.InvalidField);
    }
    // A PGP certificate is stored as given (nothing to parse here).
    const pgp = uidOf(await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.Certificate), attrs(v, []), certificateObject(Buffer.from('pgp bytes'), CertificateType.PGP)]));
    expect(await certificateDer(c, v, pgp)).toEqual(Buffer.from('pgp bytes'));
  });
});

describe('Register: request attributes against the certificate', () => {
  it.each([
    ['1.4', V1_4],
    ['2.1', V2_1],
  ])('KMIP %s: a Cryptographic Algorithm or Certificate Type the certificate contradicts is refused; the ones it states are accepted', async (_l, v) => {
    const reg = (list: TtlvNode[]) => [t.enum(Tag.ObjectType, ObjectType.Certificate), attrs(v, list), certificateObject(chain.leaf)];
    const bad = v.major >= 2 ? ResultReason.InvalidAttributeValue : ResultReason.InvalidField;
    expect((await fails(c, v, Operation.Register, reg([t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.EC)]))).reason).toBe(bad);
    expect((await fails(c, v, Operation.Register, reg([t.enum(Tag.CertificateType, CertificateType.PGP)]))).reason).toBe(bad);
    await ok(c, v, Operation.Register, reg([t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.RSA), t.enum(Tag.CertificateType, CertificateType.X_509)]));
  });
});

describe('Register of a Certificate Request (KMIP 2.1)', () => {
  const request = (type: number, value: Uint8Array) => [
    t.enum(Tag.ObjectType, ObjectType.CertificateRequest),
    attrs(V2_1, []),
    t.struct(Tag.CertificateRequest, [t.enum(Tag.CertificateRequestType, type), t.bytes(Tag.CertificateRequestValue, value)]),
  ];

  it('PKCS#10 DER and PEM requests are stored and returned as given, with their Digest', async () => {
    const csr = pyCsr('stored-request', { key: 'rsa' });
    for (const [type, value] of [
      [CertificateRequestType.PKCS_10, csr.der],
      [CertificateRequestType.PEM, Buffer.from(csr.pem)],
    ] as const) {
      const uid = uidOf(await ok(c, V2_1, Operation.Register, request(type, value)));
      const p = await ok(c, V2_1, Operation.Get, [uidNode(uid)]);
      expect(hexOf(child(findChild(p, Tag.CertificateRequest), Tag.CertificateRequestValue))).toBe(Buffer.from(value).toString('hex'));
      const m = await attributes(V2_1, uid);
      expect(hexOf(child(one(m, Tag.Digest), Tag.DigestValue))).toBe(createHash('sha256').update(value).digest('hex'));
    }
  });

  it('a request whose self-signature does not verify, or that is not a request, is Invalid Field; CRMF is refused', async () => {
    const csr = pyCsr('tampered', { key: 'ec' });
    const tampered = Buffer.from(csr.der);
    // Change one byte of the subject (inside CertificationRequestInfo): the signature no longer matches.
    const at = tampered.indexOf(Buffer.from('tampered'));
    tampered[at] = 'T'.charCodeAt(0);
    for (const [type, value] of [
      [CertificateRequestType.PKCS_10, tampered],
      [CertificateRequestType.PKCS_10, Buffer.from('junk')],
      [CertificateRequestType.PEM, csr.der],
      [CertificateRequestType.PKCS_10, chain.leaf],
      [CertificateRequestType.CRMF, csr.der],
    ] as const) {
      const r = await fails(c, V2_1, Operation.Register, request(type, value));
      expect(r.reason, r.message).toBe(ResultReason.InvalidField);
    }
  });
});
