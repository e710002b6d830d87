/**
 * Shared by the asymmetric-key tests: request payloads written from the spec tables (KMIP 1.4
 * §4.2, §4.5, §4.31-4.32; 2.1 §6.1.9, §6.1.47, §6.1.52-53), attribute reading over the wire, and
 * the independent oracle — Python's `cryptography` package (/usr/bin/python3), which never shares
 * code with node:crypto's key import/export paths we test.
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import { attributeV1, findChild, findChildren, findPath, type KmipClient, type KmipVersion } from '../../src/client/index.js';
import { Operation } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { ok, textOf, uidNode } from './object-kit.js';

const is2 = (v: KmipVersion) => v.major >= 2;

/** Create Key Pair payload: common / private / public attribute lists in the version's form. */
export function keyPairPayload(v: KmipVersion, common: readonly TtlvNode[], priv: readonly TtlvNode[] = [], pub: readonly TtlvNode[] = []): TtlvNode[] {
  const set = (tag1: number, tag2: number, list: readonly TtlvNode[]) =>
    is2(v)
      ? t.struct(tag2, [...list])
      : t.struct(
          tag1,
          list.map((a) => attributeV1(a)),
        );
  return [
    set(Tag.CommonTemplateAttribute, Tag.CommonAttributes, common),
    set(Tag.PrivateKeyTemplateAttribute, Tag.PrivateKeyAttributes, priv),
    set(Tag.PublicKeyTemplateAttribute, Tag.PublicKeyAttributes, pub),
  ];
}

export function pairUids(p: StructureNode): { priv: string; pub: string } {
  return { priv: textOf(findChild(p, Tag.PrivateKeyUniqueIdentifier)), pub: textOf(findChild(p, Tag.PublicKeyUniqueIdentifier)) };
}

/** All attributes of an object, by tag, via Get Attributes (1.x Attribute structures or 2.x Attributes). */
export async function attributesOf(c: KmipClient, v: KmipVersion, uid: string): Promise<Map<number, TtlvNode[]>> {
  const p = await ok(c, v, Operation.GetAttributes, [uidNode(uid)]);
  const out = new Map<number, TtlvNode[]>();
  const add = (n: TtlvNode) => out.set(n.tag, [...(out.get(n.tag) ?? []), n]);
  if (is2(v)) {
    const a = findChild(p, Tag.Attributes);
    if (a?.type === 'Structure') a.value.forEach(add);
  } else {
    for (const a of findChildren(p, Tag.Attribute)) {
      const name = textOf(findChild(a, Tag.AttributeName));
      const val = findChild(a, Tag.AttributeValue)!;
      const tag = specTag(name);
      if (tag !== undefined) add({ ...val, tag } as TtlvNode);
    }
  }
  return out;
}

function specTag(name: string): number | undefined {
  const key = name.replace(/[- ]/g, '') as keyof typeof Tag;
  return Tag[key];
}

export function intAttr(m: Map<number, TtlvNode[]>, tag: number): number | undefined {
  const n = m.get(tag)?.[0];
  return n?.type === 'Integer' || n?.type === 'Enumeration' ? n.value : undefined;
}

export function dateAttr(m: Map<number, TtlvNode[]>, tag: number): bigint | undefined {
  const n = m.get(tag)?.[0];
  return n?.type === 'DateTime' ? n.value : undefined;
}

/** Links as [Link Type, Linked Object Identifier] pairs. */
export function links(m: Map<number, TtlvNode[]>): [number, string][] {
  return (m.get(Tag.Link) ?? []).map((l) => {
    const lt = findChild(l as StructureNode, Tag.LinkType);
    return [lt?.type === 'Enumeration' ? lt.value : -1, textOf(findChild(l as StructureNode, Tag.LinkedObjectIdentifier))];
  });
}

/** Get in a Key Format Type; returns the Key Block. */
export async function getKeyBlock(c: KmipClient, v: KmipVersion, uid: string, objectTag: number, format?: number): Promise<StructureNode> {
  const p = await ok(c, v, Operation.Get, [uidNode(uid), ...(format !== undefined ? [t.enum(Tag.KeyFormatType, format)] : [])]);
  const kb = findPath(p, objectTag, Tag.KeyBlock);
  expect(kb?.type).toBe('Structure');
  return kb as StructureNode;
}

export function materialBytes(kb: StructureNode): Buffer {
  const m = findPath(kb, Tag.KeyValue, Tag.KeyMaterial);
  if (m?.type !== 'ByteString') throw new Error('Key Material is not a byte string');
  return Buffer.from(m.value);
}

export function materialStruct(kb: StructureNode): StructureNode {
  const m = findPath(kb, Tag.KeyValue, Tag.KeyMaterial);
  if (m?.type !== 'Structure') throw new Error('Key Material is not a structure');
  return m;
}

/** Big Integer / Byte String child as an unsigned hex string without leading zeros. */
export function bigHex(s: StructureNode, tag: number): string {
  const n = findChild(s, tag);
  if (n?.type !== 'BigInteger' && n?.type !== 'ByteString') throw new Error(`no ${tag.toString(16)}`);
  return BigInt('0x' + (Buffer.from(n.value).toString('hex') || '0')).toString(16);
}

// ------------------------------------------------------------------------------ Python oracle

const PY = String.raw`
import sys, json, binascii
from cryptography.hazmat.primitives import serialization, hashes
from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519, padding, utils
from cryptography.exceptions import InvalidSignature
req = json.load(sys.stdin)
H = lambda s: binascii.unhexlify(s)
X = lambda b: binascii.hexlify(b).decode()
D = serialization.Encoding.DER
hashes_by = {'sha1': hashes.SHA1(), 'sha256': hashes.SHA256(), 'sha384': hashes.SHA384(), 'sha512': hashes.SHA512()}
def load_priv(fmt, der):
    if fmt == 'pkcs1':
        # cryptography reads PKCS#1 RSAPrivateKey via the traditional-OpenSSL DER loader
        return serialization.load_der_private_key(der, None)
    return serialization.load_der_private_key(der, None)
def load_pub(fmt, der):
    if fmt == 'pkcs1':
        from cryptography.hazmat.primitives.serialization import load_der_public_key
        # PKCS#1 RSAPublicKey DER: wrap via PEM header the library understands
        import base64
        pem = b'-----BEGIN RSA PUBLIC KEY-----\n' + base64.encodebytes(der) + b'-----END RSA PUBLIC KEY-----\n'
        return serialization.load_pem_public_key(pem)
    return serialization.load_der_public_key(der)
def pub_facts(k):
    out = {'spki': X(k.public_bytes(D, serialization.PublicFormat.SubjectPublicKeyInfo))}
    if isinstance(k, rsa.RSAPublicKey):
        n = k.public_numbers(); out.update(n=format(n.n, 'x'), e=format(n.e, 'x'), bits=k.key_size)
        out['pkcs1'] = X(k.public_bytes(D, serialization.PublicFormat.PKCS1))
    elif isinstance(k, ec.EllipticCurvePublicKey):
        out.update(curve=k.curve.name, q=X(k.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)))
    elif isinstance(k, ed25519.Ed25519PublicKey):
        out.update(raw=X(k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)))
    return out
def priv_facts(k):
    out = {'pkcs8': X(k.private_bytes(D, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())), 'public': pub_facts(k.public_key())}
    if isinstance(k, rsa.RSAPrivateKey):
        n = k.private_numbers()
        out.update(d=format(n.d, 'x'), p=format(n.p, 'x'), q=format(n.q, 'x'), dp=format(n.dmp1, 'x'), dq=format(n.dmq1, 'x'), qi=format(n.iqmp, 'x'))
        out['pkcs1'] = X(k.private_bytes(D, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    elif isinstance(k, ec.EllipticCurvePrivateKey):
        out.update(d=format(k.private_numbers().private_value, 'x'))
        out['sec1'] = X(k.private_bytes(D, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    elif isinstance(k, ed25519.Ed25519PrivateKey):
        out.update(seed=X(k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())))
    return out
def scheme_sign(k, s, data):
    if isinstance(k, ed25519.Ed25519PrivateKey): return k.sign(data)
    h = hashes_by[s['hash']]
    if isinstance(k, ec.EllipticCurvePrivateKey): return k.sign(data, ec.ECDSA(h))
    if s['kind'] == 'pss': return k.sign(data, padding.PSS(padding.MGF1(h), s.get('salt', h.digest_size)), h)
    return k.sign(data, padding.PKCS1v15(), h)
def scheme_verify(k, s, data, sig):
    try:
        if isinstance(k, ed25519.Ed25519PublicKey): k.verify(sig, data)
        else:
            h = hashes_by[s['hash']]
            if isinstance(k, ec.EllipticCurvePublicKey): k.verify(sig, data, ec.ECDSA(h))
            elif s['kind'] == 'pss': k.verify(sig, data, padding.PSS(padding.MGF1(h), padding.PSS.AUTO), h)
            else: k.verify(sig, data, padding.PKCS1v15(), h)
        return True
    except InvalidSignature:
        return False
op = req['op']
if op == 'priv': print(json.dumps(priv_facts(load_priv(req.get('fmt'), H(req['der'])))))
elif op == 'pub': print(json.dumps(pub_facts(load_pub(req.get('fmt'), H(req['der'])))))
elif op == 'gen':
    a = req['alg']
    if a == 'rsa': k = rsa.generate_private_key(65537, req['bits'])
    elif a == 'ec': k = ec.generate_private_key({'P-256': ec.SECP256R1(), 'P-384': ec.SECP384R1(), 'P-521': ec.SECP521R1()}[req['curve']])
    else: k = ed25519.Ed25519PrivateKey.generate()
    print(json.dumps(priv_facts(k)))
elif op == 'sign': print(json.dumps({'sig': X(scheme_sign(load_priv(None, H(req['der'])), req['scheme'], H(req['data'])))}))
elif op == 'verify': print(json.dumps({'ok': scheme_verify(load_pub(req.get('fmt'), H(req['der'])), req['scheme'], H(req['data']), H(req['sig']))}))
`;

export interface PyPrivFacts {
  pkcs8: string;
  pkcs1?: string;
  sec1?: string;
  d?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
  seed?: string;
  public: PyPubFacts;
}
export interface PyPubFacts {
  spki: string;
  pkcs1?: string;
  n?: string;
  e?: string;
  bits?: number;
  curve?: string;
  q?: string;
  raw?: string;
}

export function py<T>(req: Record<string, unknown>): T {
  const out = execFileSync('/usr/bin/python3', ['-c', PY], { input: JSON.stringify(req), encoding: 'utf8' });
  return JSON.parse(out) as T;
}

export const pyPriv = (der: Uint8Array, fmt?: string) => py<PyPrivFacts>({ op: 'priv', der: Buffer.from(der).toString('hex'), fmt });
export const pyPub = (der: Uint8Array, fmt?: string) => py<PyPubFacts>({ op: 'pub', der: Buffer.from(der).toString('hex'), fmt });
export const pyGen = (alg: 'rsa' | 'ec' | 'ed25519', opts: { bits?: number; curve?: string } = {}) => py<PyPrivFacts>({ op: 'gen', alg, ...opts });

export type PyScheme = { kind: 'pkcs1v15' | 'pss' | 'ecdsa' | 'ed25519'; hash?: string; salt?: number };
export const pySign = (pkcs8Hex: string, scheme: PyScheme, data: Uint8Array): Buffer =>
  Buffer.from(py<{ sig: string }>({ op: 'sign', der: pkcs8Hex, scheme, data: Buffer.from(data).toString('hex') }).sig, 'hex');
export const pyVerify = (spki: Uint8Array, scheme: PyScheme, data: Uint8Array, sig: Uint8Array): boolean =>
  py<{ ok: boolean }>({ op: 'verify', der: Buffer.from(spki).toString('hex'), scheme, data: Buffer.from(data).toString('hex'), sig: Buffer.from(sig).toString('hex') }).ok;
