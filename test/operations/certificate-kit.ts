/**
 * Shared by the certificate tests: certificates and PKCS#10 requests made by Python's
 * `cryptography` (OpenSSL underneath, no code shared with the server's pkijs/asn1js paths), the
 * facts that library reads back from a certificate (the oracle for every derived attribute), and
 * small wire helpers.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { findChild, findChildren, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { tagDefs } from '../../src/kmip/registry.js';
import { LinkType, Operation } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { ok, uidNode } from './object-kit.js';

const PY = String.raw`
import sys, json, datetime, ipaddress
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519
req = json.load(sys.stdin)
H = bytes.fromhex
D = serialization.Encoding.DER
def key(kind):
    if kind == 'rsa': return rsa.generate_private_key(65537, 2048)
    if kind == 'ed25519': return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())
def sign_hash(k): return None if isinstance(k, ed25519.Ed25519PrivateKey) else hashes.SHA256()
def name(cn, o=None, c=None):
    attrs = []
    if c: attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, c))
    if o: attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)
def ts(d): return int(d.replace(tzinfo=datetime.timezone.utc).timestamp()) if d.tzinfo is None else int(d.timestamp())
def facts(der):
    c = x509.load_der_x509_certificate(der)
    pk = c.public_key()
    try: san = [str(g.value) for g in c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound: san = []
    try: bc = c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound: bc = None
    try:
        k = c.extensions.get_extension_for_class(x509.KeyUsage).value
        ku = [n for n in ['digital_signature', 'content_commitment', 'key_encipherment', 'data_encipherment', 'key_agreement', 'key_cert_sign', 'crl_sign'] if getattr(k, n)]
    except x509.ExtensionNotFound: ku = None
    return {
        'subject': c.subject.rfc4514_string(), 'issuer': c.issuer.rfc4514_string(),
        'subjectDer': c.subject.public_bytes().hex(), 'issuerDer': c.issuer.public_bytes().hex(),
        'serial': format(c.serial_number, 'x'),
        'notBefore': ts(c.not_valid_before), 'notAfter': ts(c.not_valid_after),
        'sigOid': c.signature_algorithm_oid.dotted_string,
        'keyType': 'rsa' if isinstance(pk, rsa.RSAPublicKey) else 'ec' if isinstance(pk, ec.EllipticCurvePublicKey) else 'ed25519',
        'keyBits': getattr(pk, 'key_size', 256),
        'spki': pk.public_bytes(D, serialization.PublicFormat.SubjectPublicKeyInfo).hex(),
        'sha256': c.fingerprint(hashes.SHA256()).hex(), 'san': san, 'ca': bc, 'ku': ku,
        'cn': [a.value for a in c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)],
        'o': [a.value for a in c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)],
        'c': [a.value for a in c.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)],
        'issuerCn': [a.value for a in c.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)],
    }
op = req['op']
if op == 'chain':
    # A CA (EC P-256) and a leaf it signs (req['leafKey']), subject with a comma to escape, SANs.
    ca_key = key('ec'); leaf_key = key(req.get('leafKey', 'rsa'))
    now = datetime.datetime(2026, 1, 1)
    ca_name = name('Oracle Test CA', 'Oracle, Inc', 'US')
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(0x00ab12cd).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name('leaf.example', 'Oracle, Inc', 'US')).issuer_name(ca_name)
            .public_key(leaf_key.public_key()).serial_number(int(req.get('serial', '8f00000000000000000000000000000001'), 16))
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('leaf.example'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    print(json.dumps({'ca': ca.public_bytes(D).hex(), 'leaf': leaf.public_bytes(D).hex()}))
elif op == 'facts': print(json.dumps(facts(H(req['der']))))
elif op == 'csr':
    k = key(req.get('key', 'ec'))
    b = x509.CertificateSigningRequestBuilder().subject_name(name(req['cn'], 'CSR Org'))
    if req.get('dns'): b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(req['dns'])]), critical=False)
    csr = b.sign(k, sign_hash(k))
    print(json.dumps({'der': csr.public_bytes(D).hex(), 'pem': csr.public_bytes(serialization.Encoding.PEM).decode(),
                      'spki': k.public_key().public_bytes(D, serialization.PublicFormat.SubjectPublicKeyInfo).hex(),
                      'subject': csr.subject.rfc4514_string()}))
`;

function py<T>(req: Record<string, unknown>): T {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', PY], { input: JSON.stringify(req), encoding: 'utf8' })) as T;
}

export interface PyCertFacts {
  subject: string;
  issuer: string;
  subjectDer: string;
  issuerDer: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  sigOid: string;
  keyType: 'rsa' | 'ec' | 'ed25519';
  keyBits: number;
  spki: string;
  sha256: string;
  san: string[];
  ca: boolean | null;
  ku: string[] | null;
  cn: string[];
  o: string[];
  c: string[];
  issuerCn: string[];
}

export const pyChain = (leafKey: 'rsa' | 'ec' | 'ed25519' = 'rsa', serial?: string): { ca: Buffer; leaf: Buffer } => {
  const r = py<{ ca: string; leaf: string }>({ op: 'chain', leafKey, ...(serial && { serial }) });
  return { ca: Buffer.from(r.ca, 'hex'), leaf: Buffer.from(r.leaf, 'hex') };
};
export const pyFacts = (der: Uint8Array): PyCertFacts => py<PyCertFacts>({ op: 'facts', der: Buffer.from(der).toString('hex') });
export const pyCsr = (cn: string, opts: { key?: 'rsa' | 'ec' | 'ed25519'; dns?: string } = {}): { der: Buffer; pem: string; spki: Buffer; subject: string } => {
  const r = py<{ der: string; pem: string; spki: string; subject: string }>({ op: 'csr', cn, ...opts });
  return { der: Buffer.from(r.der, 'hex'), pem: r.pem, spki: Buffer.from(r.spki, 'hex'), subject: r.subject };
};

// ------------------------------------------------------------------------------ wire helpers

export const linkAttr = (linkType: number, uid: string): TtlvNode => t.struct(Tag.Link, [t.enum(Tag.LinkType, linkType), t.text(Tag.LinkedObjectIdentifier, uid)]);
export const certificateLink = (uid: string): TtlvNode => linkAttr(LinkType.CertificateLink, uid);

/** The DER a Certificate object holds (Get). */
export async function certificateDer(c: KmipClient, v: KmipVersion, uid: string): Promise<Buffer> {
  const p = await ok(c, v, Operation.Get, [uidNode(uid)]);
  const cert = findChild(p, Tag.Certificate) as StructureNode | undefined;
  const value = cert ? findChild(cert, Tag.CertificateValue) : undefined;
  if (value?.type !== 'ByteString') throw new Error('Get returned no Certificate Value');
  return Buffer.from(value.value);
}

export const x509 = (der: Uint8Array): X509Certificate => new X509Certificate(Buffer.from(der));
export const epoch = (s: string): bigint => BigInt(Math.floor(Date.parse(s) / 1000));

/** A DER INTEGER for an unsigned hex value (the oracle for X.509 Certificate Identifier's serial). */
export function derInteger(hex: string): Buffer {
  let b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

export function child(n: TtlvNode | undefined, tag: number): TtlvNode | undefined {
  return n?.type === 'Structure' ? n.value.find((c) => c.tag === tag) : undefined;
}
export function children(n: TtlvNode | undefined, tag: number): TtlvNode[] {
  return n?.type === 'Structure' ? n.value.filter((c) => c.tag === tag) : [];
}
export const texts = (nodes: readonly TtlvNode[] | undefined): string[] => (nodes ?? []).map((n) => (n.type === 'TextString' ? n.value : '?'));
export const hexOf = (n: TtlvNode | undefined): string => (n?.type === 'ByteString' ? Buffer.from(n.value).toString('hex') : `(not bytes: ${n?.type})`);

const bySpecName = new Map(tagDefs().map((d) => [d.specName, d.tag]));

/** All attributes of an object by tag (Get Attributes), 1.x Attribute Names mapped by their spec names. */
export async function certAttributes(c: KmipClient, v: KmipVersion, uid: string): Promise<Map<number, TtlvNode[]>> {
  const p = await ok(c, v, Operation.GetAttributes, [uidNode(uid)]);
  const out = new Map<number, TtlvNode[]>();
  const add = (n: TtlvNode) => out.set(n.tag, [...(out.get(n.tag) ?? []), n]);
  if (v.major >= 2) {
    const a = findChild(p, Tag.Attributes);
    if (a?.type === 'Structure') a.value.forEach(add);
  } else {
    for (const a of findChildren(p, Tag.Attribute)) {
      const name = findChild(a, Tag.AttributeName);
      const tag = name?.type === 'TextString' ? bySpecName.get(name.value) : undefined;
      if (tag === undefined) throw new Error(`unknown attribute name ${JSON.stringify(name)}`);
      add({ ...findChild(a, Tag.AttributeValue)!, tag } as TtlvNode);
    }
  }
  return out;
}
