/**
 * Certify (KMIP 1.4 §4.7, 2.1 §6.1.6) and Re-certify (1.4 §4.8, 2.1 §6.1.45) over a real mTLS
 * server, at 1.4 and 2.1. Every issued certificate is checked with node's X509Certificate (verify
 * against the CA public key fetched from the server as a key, checkIssued, CA flag) and read back by
 * Python's `cryptography` (subject, serial, validity, subject key, SANs): a self-signed CA made from
 * a key pair, a leaf for a held public key, leaves for PKCS#10 requests (inline DER/PEM, 2.x stored
 * Certificate Request object), the ID Placeholder, validity from dates, the Links, Re-certify with
 * and without an Offset, and the refusals of the error tables (1.4 §11.8-11.9, 2.1 Tables 181, 302).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, certificateObject, expectSuccess, findChild, findChildren, keyBlock, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import {
  CertificateRequestType,
  CryptographicAlgorithm,
  DigitalSignatureAlgorithm,
  KeyFormatType,
  LinkType,
  ObjectType,
  Operation,
  QueryFunction,
  ResultReason,
  State,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { FULL_ATTRIBUTES, startTestKms, type TestKms } from '../support/kms.js';
import { attrs, batch, fails, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';
import { attributesOf, dateAttr, getKeyBlock, intAttr, keyPairPayload, links, materialBytes, pairUids } from './asymmetric-kit.js';
import { certAttributes, certificateDer, certificateLink, child, derInteger, epoch, hexOf, pyChain, pyCsr, pyFacts, texts, x509 } from './certificate-kit.js';

let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms(FULL_ATTRIBUTES);
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

const nowS = () => BigInt(Math.floor(Date.now() / 1000));
let seq = 0;
const unique = (p: string) => `${p}-${process.pid}-${++seq}`;
const is2 = (v: KmipVersion) => v.major >= 2;

/** The subject "CN=cn,O=KMS Test" as request attributes, in the version's form. */
function subjectAttrs(v: KmipVersion, cn: string): TtlvNode[] {
  return is2(v)
    ? [t.text(Tag.CertificateSubjectO, 'KMS Test'), t.text(Tag.CertificateSubjectCN, cn)]
    : [t.struct(Tag.CertificateSubject, [t.text(Tag.CertificateSubjectDistinguishedName, `CN=${cn},O=KMS Test`)])];
}

/** A key pair: EC P-256 (CA: Certificate Sign, Active) or RSA 2048 (leaf: Sign/Verify). */
async function keyPair(v: KmipVersion, kind: 'ca' | 'leaf', opts: { privMask?: number; active?: boolean } = {}): Promise<{ priv: string; pub: string }> {
  const ca = kind === 'ca';
  const common = ca
    ? [attr.cryptographicAlgorithm(CryptographicAlgorithm.EC), attr.cryptographicLength(256)]
    : [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)];
  if (opts.active ?? ca) common.push(t.date(Tag.ActivationDate, nowS() - 60n));
  const privMask = opts.privMask ?? (ca ? M.Sign | M.CertificateSign : M.Sign);
  const pubMask = ca ? M.Verify | M.CertificateSign : M.Verify | M.WrapKey;
  return pairUids(
    await ok(
      c,
      v,
      Operation.CreateKeyPair,
      keyPairPayload(v, common, [attr.name(unique('priv')), attr.cryptographicUsageMask(privMask)], [attr.name(unique('pub')), attr.cryptographicUsageMask(pubMask)]),
    ),
  );
}

/** The public key as the server holds it (Get as X.509 SubjectPublicKeyInfo): the oracle for signatures. */
async function publicKey(v: KmipVersion, uid: string): Promise<KeyObject> {
  return createPublicKey({ key: materialBytes(await getKeyBlock(c, v, uid, Tag.PublicKey, KeyFormatType.X_509)), format: 'der', type: 'spki' });
}

function certifyPayload(v: KmipVersion, opts: { uid?: string; request?: { type: number; value: Uint8Array }; attributes?: TtlvNode[] }): TtlvNode[] {
  return [
    ...(opts.uid !== undefined ? [uidNode(opts.uid)] : []),
    ...(opts.request ? [t.enum(Tag.CertificateRequestType, opts.request.type), t.bytes(is2(v) ? Tag.CertificateRequestValue : Tag.CertificateRequest, opts.request.value)] : []),
    attrs(v, opts.attributes ?? []),
  ];
}

const certify = async (v: KmipVersion, opts: Parameters<typeof certifyPayload>[1]) => uidOf(await ok(c, v, Operation.Certify, certifyPayload(v, opts)));

/** A self-signed CA certificate over a fresh CA key pair. */
async function makeCa(v: KmipVersion, cn = unique('Test CA')) {
  const pair = await keyPair(v, 'ca');
  const cert = await certify(v, { uid: pair.pub, attributes: subjectAttrs(v, cn) });
  return { ...pair, cert, cn, key: await publicKey(v, pair.pub), der: await certificateDer(c, v, cert) };
}

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Certify at KMIP %s', (_l, v) => {
  it('a self-signed CA from a key pair, then a leaf for a held public key: signatures, names, validity, links, attributes', async () => {
    const ca = await makeCa(v);
    const caX = x509(ca.der);
    expect(caX.verify(ca.key)).toBe(true);
    expect(caX.checkIssued(caX)).toBe(true);
    expect(caX.ca).toBe(true);
    const caFacts = pyFacts(ca.der);
    expect(caFacts.subject).toBe(`CN=${ca.cn},O=KMS Test`);
    expect(caFacts.issuer).toBe(caFacts.subject);
    expect(caFacts.ca).toBe(true);
    // The CA key's public half is in the certificate, and its public key now links to it.
    expect(caFacts.spki).toBe(ca.key.export({ type: 'spki', format: 'der' }).toString('hex'));
    expect(links(await attributesOf(c, v, ca.pub))).toEqual(expect.arrayContaining([[LinkType.CertificateLink, ca.cert]]));

    const leaf = await keyPair(v, 'leaf');
    const cn = unique('leaf');
    const before = nowS();
    const uid = await certify(v, { uid: leaf.pub, attributes: [certificateLink(ca.cert), ...subjectAttrs(v, cn)] });
    const der = await certificateDer(c, v, uid);
    const x = x509(der);
    expect(x.verify(ca.key)).toBe(true);
    expect(x.checkIssued(caX)).toBe(true);
    expect(x.ca).toBe(false);
    expect(x.verify((await publicKey(v, leaf.pub)) as KeyObject)).toBe(false);
    const f = pyFacts(der);
    expect(f.subject).toBe(`CN=${cn},O=KMS Test`);
    expect(f.issuer).toBe(caFacts.subject);
    expect(f.spki).toBe((await publicKey(v, leaf.pub)).export({ type: 'spki', format: 'der' }).toString('hex'));
    expect(f.sigOid).toBe('1.2.840.10045.4.3.2');
    expect(f.serial).not.toBe(caFacts.serial);
    // Validity: now (to the second) for 365 days; the object's dates are the same, so it is Active.
    const m = await certAttributes(c, v, uid);
    expect(BigInt(f.notBefore)).toBeGreaterThanOrEqual(before);
    expect(BigInt(f.notBefore)).toBeLessThanOrEqual(nowS());
    expect(f.notAfter - f.notBefore).toBe(365 * 86400);
    expect(dateAttr(m, Tag.ActivationDate)).toBe(BigInt(f.notBefore));
    expect(dateAttr(m, Tag.DeactivationDate)).toBe(BigInt(f.notAfter));
    expect(intAttr(m, Tag.State)).toBe(State.Active);
    expect(links(m)).toEqual(
      expect.arrayContaining([
        [LinkType.PublicKeyLink, leaf.pub],
        [LinkType.CertificateLink, ca.cert],
      ]),
    );
    expect(links(await attributesOf(c, v, leaf.pub))).toEqual(expect.arrayContaining([[LinkType.CertificateLink, uid]]));
    expect(intAttr(m, Tag.CryptographicAlgorithm)).toBe(CryptographicAlgorithm.RSA);
    expect(intAttr(m, Tag.CryptographicLength)).toBe(2048);
    expect(intAttr(m, Tag.DigitalSignatureAlgorithm)).toBe(DigitalSignatureAlgorithm.ECDSAWithSHA256);
    expect(intAttr(m, Tag.CertificateLength)).toBe(der.length);
    expect(hexOf(child(m.get(Tag.Digest)?.[0], Tag.DigestValue))).toBe(f.sha256);
    expect(hexOf(child(m.get(Tag.X_509CertificateIdentifier)?.[0], Tag.CertificateSerialNumber))).toBe(derInteger(f.serial).toString('hex'));
    expect(x.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(f.serial);
    // keyUsage follows the public key's mask (Verify → digitalSignature, Wrap Key → keyEncipherment).
    expect(f.ku).toEqual(['digital_signature', 'key_encipherment']);
    expect(caFacts.ku).toEqual(['digital_signature', 'key_cert_sign']);
  });

  it('a leaf for a PKCS#10 request (DER, and PEM): the request subject, key and subjectAltName; no Public Key link', async () => {
    const ca = await makeCa(v);
    for (const form of ['der', 'pem'] as const) {
      const csr = pyCsr(unique('csr'), { key: form === 'der' ? 'rsa' : 'ed25519', dns: 'csr.example' });
      const request = form === 'der' ? { type: CertificateRequestType.PKCS_10, value: csr.der } : { type: CertificateRequestType.PEM, value: Buffer.from(csr.pem) };
      const uid = await certify(v, { request, attributes: [certificateLink(ca.cert), ...subjectAttrs(v, 'ignored: the request takes precedence')] });
      const der = await certificateDer(c, v, uid);
      expect(x509(der).verify(ca.key)).toBe(true);
      const f = pyFacts(der);
      expect(f.subject).toBe(csr.subject);
      expect(f.spki).toBe(csr.spki.toString('hex'));
      expect(f.san).toEqual(['csr.example']);
      const m = await attributesOf(c, v, uid);
      expect(links(m)).toEqual([[LinkType.CertificateLink, ca.cert]]);
    }
  });

  it('the ID Placeholder: Register a public key, Certify and Get it in one batch', async () => {
    const ca = await makeCa(v);
    const { publicKey: pk } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const spki = pk.export({ type: 'spki', format: 'der' });
    const items = await batch(c, v, [
      {
        operation: Operation.Register,
        payload: [
          t.enum(Tag.ObjectType, ObjectType.PublicKey),
          attrs(v, [attr.cryptographicUsageMask(M.Verify)]),
          t.struct(Tag.PublicKey, [keyBlock(spki, KeyFormatType.X_509, CryptographicAlgorithm.EC, 384)]),
        ],
      },
      { operation: Operation.Certify, payload: [attrs(v, [certificateLink(ca.cert), ...subjectAttrs(v, 'placeholder')])] },
      { operation: Operation.Get, payload: [] },
    ]);
    const certUid = uidOf(expectSuccess(items[1]!));
    const got = expectSuccess(items[2]!);
    expect(uidOf(got)).toBe(certUid);
    const value = child(findChild(got, Tag.Certificate), Tag.CertificateValue);
    const x = x509(value?.type === 'ByteString' ? value.value : new Uint8Array());
    expect(x.verify(ca.key)).toBe(true);
    expect(x.publicKey.export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
  });

  it('validity from the Activation and Deactivation Dates given; the object is Pre-Active until then', async () => {
    const ca = await makeCa(v);
    const leaf = await keyPair(v, 'leaf');
    const at = nowS() + 3600n;
    const dt = at + 86400n * 30n;
    const uid = await certify(v, { uid: leaf.pub, attributes: [certificateLink(ca.cert), t.date(Tag.ActivationDate, at), t.date(Tag.DeactivationDate, dt)] });
    const x = x509(await certificateDer(c, v, uid));
    expect(epoch(x.validFrom)).toBe(at);
    expect(epoch(x.validTo)).toBe(dt);
    expect(intAttr(await attributesOf(c, v, uid), Tag.State)).toBe(State.PreActive);
    // No subject given: CN = the public key's Name.
    expect(pyFacts(await certificateDer(c, v, uid)).cn).toHaveLength(1);
  });
});

describe('Certify: the subject given as attributes', () => {
  it('1.4 Certificate Subject as an RFC 4514 string with an escaped comma; 1.4 and 2.1 X.509 Certificate Subject as Name DER, kept byte for byte', async () => {
    const ca = await makeCa(V1_4);
    const leaf = await keyPair(V1_4, 'leaf');
    const text = await certify(V1_4, {
      uid: leaf.pub,
      attributes: [certificateLink(ca.cert), t.struct(Tag.CertificateSubject, [t.text(Tag.CertificateSubjectDistinguishedName, 'CN=Comma\\, Inc,O=Org,C=DE')])],
    });
    expect(pyFacts(await certificateDer(c, V1_4, text)).subject).toBe('CN=Comma\\, Inc,O=Org,C=DE');
    // A Name DER made by Python cryptography (PrintableString country, UTF8 others) is used as is.
    const wanted = pyFacts(pyChain('ec').leaf).subjectDer;
    for (const v of [V1_4, V2_1]) {
      const vca = v === V1_4 ? ca : await makeCa(v);
      const pub = (await keyPair(v, 'leaf')).pub;
      const uid = await certify(v, {
        uid: pub,
        attributes: [certificateLink(vca.cert), t.struct(Tag.X_509CertificateSubject, [t.bytes(Tag.SubjectDistinguishedName, Buffer.from(wanted, 'hex'))])],
      });
      expect(pyFacts(await certificateDer(c, v, uid)).subjectDer).toBe(wanted);
    }
    // A Subject Distinguished Name that is not a Name is refused.
    const bad = await fails(
      c,
      V2_1,
      Operation.Certify,
      certifyPayload(V2_1, { uid: (await keyPair(V2_1, 'leaf')).pub, attributes: [t.struct(Tag.X_509CertificateSubject, [t.bytes(Tag.SubjectDistinguishedName, Buffer.from('nope'))])] }),
    );
    expect(bad.reason).toBe(ResultReason.InvalidAttributeValue);
  });
});

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Re-certify at KMIP %s', (_l, v) => {
  it('Offset: AT2 = IT2 + Offset, DT2 = DT1 + (AT2 - AT1), validity follows; links both ways; Name moved; the key’s Certificate Link moves', async () => {
    const ca = await makeCa(v);
    const leaf = await keyPair(v, 'leaf');
    const name = unique('renew-me');
    const at1 = nowS() - 100n;
    const dt1 = at1 + 86400n;
    const old = await certify(v, {
      uid: leaf.pub,
      attributes: [certificateLink(ca.cert), attr.name(name), t.date(Tag.ActivationDate, at1), t.date(Tag.DeactivationDate, dt1), ...subjectAttrs(v, 'renewed')],
    });
    const oldDer = await certificateDer(c, v, old);
    const uid = uidOf(await ok(c, v, Operation.ReCertify, [uidNode(old), t.interval(Tag.Offset, 600), attrs(v, [])]));
    expect(uid).not.toBe(old);
    const der = await certificateDer(c, v, uid);
    const x = x509(der);
    expect(x.verify(ca.key)).toBe(true);
    const [f, fo] = [pyFacts(der), pyFacts(oldDer)];
    expect(f.subject).toBe(fo.subject);
    expect(f.spki).toBe(fo.spki);
    expect(f.serial).not.toBe(fo.serial);

    const m = await attributesOf(c, v, uid);
    const it2 = dateAttr(m, Tag.InitialDate)!;
    const at2 = dateAttr(m, Tag.ActivationDate)!;
    expect(at2).toBe(it2 + 600n);
    expect(dateAttr(m, Tag.DeactivationDate)).toBe(dt1 + (at2 - at1));
    expect(BigInt(f.notBefore)).toBe(at2);
    expect(BigInt(f.notAfter)).toBe(dt1 + (at2 - at1));
    expect(links(m)).toEqual(
      expect.arrayContaining([
        [LinkType.ReplacedObjectLink, old],
        [LinkType.PublicKeyLink, leaf.pub],
        [LinkType.CertificateLink, ca.cert],
      ]),
    );
    const om = await attributesOf(c, v, old);
    expect(links(om)).toEqual(expect.arrayContaining([[LinkType.ReplacementObjectLink, uid]]));
    const names = (mm: Map<number, TtlvNode[]>) => texts((mm.get(Tag.Name) ?? []).map((n) => child(n, Tag.NameValue)!));
    expect(names(m)).toEqual([name]);
    expect(names(om)).toEqual([]);
    const pubLinks = links(await attributesOf(c, v, leaf.pub)).filter(([lt]) => lt === LinkType.CertificateLink);
    expect(pubLinks).toEqual([[LinkType.CertificateLink, uid]]);
    // The old certificate's dates are untouched.
    expect(dateAttr(om, Tag.ActivationDate)).toBe(at1);
  });

  it('without an Offset the dates are copied; a self-signed CA certificate renews itself', async () => {
    const ca = await makeCa(v);
    const caM = await attributesOf(c, v, ca.cert);
    const uid = uidOf(await ok(c, v, Operation.ReCertify, [uidNode(ca.cert), attrs(v, [])]));
    const der = await certificateDer(c, v, uid);
    const x = x509(der);
    expect(x.verify(ca.key)).toBe(true);
    expect(x.checkIssued(x)).toBe(true);
    const m = await attributesOf(c, v, uid);
    expect(dateAttr(m, Tag.ActivationDate)).toBe(dateAttr(caM, Tag.ActivationDate));
    expect(dateAttr(m, Tag.DeactivationDate)).toBe(dateAttr(caM, Tag.DeactivationDate));
    expect(epoch(x.validFrom)).toBe(dateAttr(caM, Tag.ActivationDate));
    expect(pyFacts(der).subject).toBe(`CN=${ca.cn},O=KMS Test`);
  });

  it('an Offset with an Activation Date is Invalid Message; a Public Key is not a certificate to renew', async () => {
    const ca = await makeCa(v);
    const r = await fails(c, v, Operation.ReCertify, [uidNode(ca.cert), t.interval(Tag.Offset, 10), attrs(v, [t.date(Tag.ActivationDate, nowS())])]);
    expect(r.reason).toBe(ResultReason.InvalidMessage);
    const w = await fails(c, v, Operation.ReCertify, [uidNode(ca.pub), attrs(v, [])]);
    expect(w.reason).toBe(is2(v) ? ResultReason.InvalidObjectType : ResultReason.PermissionDenied);
  });
});

describe.each([
  ['1.4', V1_4],
  ['2.1', V2_1],
])('Certify refusals at KMIP %s', (_l, v) => {
  it('unknown object; an object that is not a public key', async () => {
    expect((await fails(c, v, Operation.Certify, certifyPayload(v, { uid: 'no-such-object' }))).reason).toBe(is2(v) ? ResultReason.ObjectNotFound : ResultReason.ItemNotFound);
    const sym = uidOf(
      await ok(c, v, Operation.Create, [
        t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
        attrs(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(M.Encrypt)]),
      ]),
    );
    expect((await fails(c, v, Operation.Certify, certifyPayload(v, { uid: sym }))).reason).toBe(is2(v) ? ResultReason.InvalidObjectType : ResultReason.PermissionDenied);
  });

  it('a CA key that is not usable: no Certificate Sign in its mask, not Active, a CA certificate whose key the server does not hold, a leaf as CA', async () => {
    const noSign = await keyPair(v, 'ca', { privMask: M.Sign });
    const r1 = await fails(c, v, Operation.Certify, certifyPayload(v, { uid: noSign.pub }));
    expect(r1.reason, r1.message).toBe(ResultReason.PermissionDenied);
    expect(r1.message).toMatch(/Certificate Sign/);
    const preActive = await keyPair(v, 'ca', { active: false });
    const r2 = await fails(c, v, Operation.Certify, certifyPayload(v, { uid: preActive.pub }));
    expect(r2.reason, r2.message).toBe(ResultReason.PermissionDenied);
    expect(r2.message).toMatch(/not Active/);

    const leaf = await keyPair(v, 'leaf');
    const foreignCa = uidOf(await ok(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.Certificate), attrs(v, []), certificateObject(pyChain('ec').ca)]));
    const r3 = await fails(c, v, Operation.Certify, certifyPayload(v, { uid: leaf.pub, attributes: [certificateLink(foreignCa)] }));
    expect(r3.reason, r3.message).toBe(ResultReason.PermissionDenied);

    const ca = await makeCa(v);
    const notCa = await certify(v, { uid: (await keyPair(v, 'leaf')).pub, attributes: [certificateLink(ca.cert)] });
    const r4 = await fails(c, v, Operation.Certify, certifyPayload(v, { uid: leaf.pub, attributes: [certificateLink(notCa)] }));
    expect(r4.reason, r4.message).toBe(ResultReason.PermissionDenied);
    // A leaf key pair cannot sign for itself either (its private key lacks Certificate Sign).
    expect((await fails(c, v, Operation.Certify, certifyPayload(v, { uid: leaf.pub }))).reason).toBe(ResultReason.PermissionDenied);
  });

  it('a request whose signature does not verify, or that is for another key than the one named: Invalid Field (1.x) / Invalid CSR (2.x)', async () => {
    const ca = await makeCa(v);
    const csr = pyCsr('tampered-certify', { key: 'ec' });
    const bad = Buffer.from(csr.der);
    bad[bad.indexOf(Buffer.from('tampered'))] = 'T'.charCodeAt(0);
    const want = is2(v) ? ResultReason.InvalidCSR : ResultReason.InvalidField;
    expect((await fails(c, v, Operation.Certify, certifyPayload(v, { request: { type: CertificateRequestType.PKCS_10, value: bad }, attributes: [certificateLink(ca.cert)] }))).reason).toBe(
      want,
    );
    const leaf = await keyPair(v, 'leaf');
    expect(
      (await fails(c, v, Operation.Certify, certifyPayload(v, { uid: leaf.pub, request: { type: CertificateRequestType.PKCS_10, value: csr.der }, attributes: [certificateLink(ca.cert)] })))
        .reason,
    ).toBe(want);
  });

  it('Query lists Certify and Re-certify', async () => {
    const p = await ok(c, v, Operation.Query, [t.enum(Tag.QueryFunction, QueryFunction.QueryOperations)]);
    const ops = findChildren(p, Tag.Operation).map((n) => (n.type === 'Enumeration' ? n.value : -1));
    expect(ops).toEqual(expect.arrayContaining([Operation.Certify, Operation.ReCertify]));
  });
});

describe('Certify from a stored Certificate Request (KMIP 2.1)', () => {
  it('Certify names a Certificate Request object; Re-certify takes a Certificate Request Unique Identifier for the same key', async () => {
    const v = V2_1;
    const ca = await makeCa(v);
    const csr = pyCsr(unique('stored'), { key: 'rsa' });
    const reqUid = uidOf(
      await ok(c, v, Operation.Register, [
        t.enum(Tag.ObjectType, ObjectType.CertificateRequest),
        attrs(v, []),
        t.struct(Tag.CertificateRequest, [t.enum(Tag.CertificateRequestType, CertificateRequestType.PKCS_10), t.bytes(Tag.CertificateRequestValue, csr.der)]),
      ]),
    );
    const uid = await certify(v, { uid: reqUid, attributes: [certificateLink(ca.cert)] });
    const f = pyFacts(await certificateDer(c, v, uid));
    expect(f.subject).toBe(csr.subject);
    expect(f.spki).toBe(csr.spki.toString('hex'));
    const renewed = uidOf(await ok(c, v, Operation.ReCertify, [uidNode(uid), t.text(Tag.CertificateRequestUniqueIdentifier, reqUid), attrs(v, [])]));
    const x = x509(await certificateDer(c, v, renewed));
    expect(x.verify(ca.key)).toBe(true);
    expect(pyFacts(x.raw).spki).toBe(csr.spki.toString('hex'));
    // A request for another key cannot renew this certificate.
    const other = pyCsr('other-key', { key: 'ec' });
    const r = await fails(c, v, Operation.ReCertify, [
      uidNode(renewed),
      t.enum(Tag.CertificateRequestType, CertificateRequestType.PKCS_10),
      t.bytes(Tag.CertificateRequestValue, other.der),
      attrs(v, []),
    ]);
    expect(r.reason).toBe(ResultReason.InvalidCSR);
  });
});
