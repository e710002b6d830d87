/**
 * Development certificates: a private CA, a server certificate and client certificates,
 * written as PEM files for local runs and tests. Not for production use.
 *
 * Built with pkijs + asn1js on node's WebCrypto. Keys are ECDSA P-256 by default (PyKMIP's
 * TLS1.2 suite offers ECDHE-ECDSA ciphers, and Python's ssl loads PKCS#8 EC keys), or RSA 2048.
 *
 * Layout of `dir`:
 *   ca.pem / ca.key           the development CA (basicConstraints CA:TRUE, keyCertSign)
 *   server.pem / server.key   CN=localhost, SAN DNS + IP, EKU serverAuth
 *   client.pem / client.key   the default client "kms-client", CN = name, EKU clientAuth
 *   <name>.pem / <name>.key   further clients
 * Private key files are mode 0600.
 */
import { createHash, createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { SHORT_NAME_OIDS } from './x509-read.js';

export type DevKeyType = 'ec' | 'rsa';

export interface DevCertOptions {
  /** Names and addresses the server certificate is valid for. Default localhost, 127.0.0.1, ::1. */
  readonly hosts?: readonly string[];
  /** Client certificates to issue; the first is written as client.pem/.key. Default ["kms-client"]. */
  readonly clientNames?: readonly string[];
  /** Validity in days. Default 825. */
  readonly days?: number;
  /** Key type for every key. Default 'ec' (ECDSA P-256). */
  readonly keyType?: DevKeyType;
}

export interface CertKeyPaths {
  readonly cert: string;
  readonly key: string;
}

export interface DevCertPaths {
  readonly dir: string;
  readonly ca: CertKeyPaths;
  readonly server: CertKeyPaths;
  /** The default client (client.pem / client.key). */
  readonly client: CertKeyPaths;
  /** Every client by name, the default included. */
  readonly clients: Readonly<Record<string, CertKeyPaths>>;
}

export const DEFAULT_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];
export const DEFAULT_CLIENT_NAME = 'kms-client';
const DEFAULT_DAYS = 825;
const CA_NAME = 'KMIP KMS Development CA';
const ORGANIZATION = 'kmip-kms development';

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

// KeyUsage bits (RFC 5280 §4.2.1.3), bit 0 is the most significant bit of the first byte.
const KU_DIGITAL_SIGNATURE = 0x80;
const KU_KEY_ENCIPHERMENT = 0x20;
const KU_KEY_CERT_SIGN = 0x04;
const KU_CRL_SIGN = 0x02;

// ---------------------------------------------------------------------------------------------
// crypto engine

const ENGINE_NAME = 'node-webcrypto';
let engine: pkijs.CryptoEngine | undefined;
type EngineCrypto = ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'];

/** The pkijs engine over node's WebCrypto, registered globally with pkijs on first use. */
function getEngine(): pkijs.CryptoEngine {
  if (!engine) {
    engine = new pkijs.CryptoEngine({ name: ENGINE_NAME, crypto: webcrypto as unknown as EngineCrypto });
    pkijs.setEngine(ENGINE_NAME, engine);
  }
  return engine;
}

function keyAlgorithm(type: DevKeyType): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return type === 'ec' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
}

async function generateKeyPair(type: DevKeyType): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyAlgorithm(type), true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

// ---------------------------------------------------------------------------------------------
// PEM

function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function fromPem(label: string, pem: string): Uint8Array<ArrayBuffer> {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`);
  const m = re.exec(pem);
  if (!m?.[1]) throw new Error(`no ${label} PEM block found`);
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

// ---------------------------------------------------------------------------------------------
// certificate building

/** The issuing side of a signature: a CA's name, key and key identifier. */
interface Issuer {
  readonly name: pkijs.RelativeDistinguishedNames;
  readonly privateKey: webcrypto.CryptoKey;
  readonly keyId: Uint8Array;
}

interface CertSpec {
  readonly subject: pkijs.RelativeDistinguishedNames;
  readonly publicKey: webcrypto.CryptoKey;
  readonly issuer: Issuer | 'self';
  readonly selfPrivateKey?: webcrypto.CryptoKey;
  readonly days: number;
  readonly ca: boolean;
  readonly keyUsage: number;
  readonly extKeyUsage?: readonly string[];
  readonly sanHosts?: readonly string[];
}

/**
 * Name ::= SEQUENCE OF RDN, one attribute per RDN (O, then CN). pkijs's own toSchema would put
 * all attributes into one multi-valued RDN ("O=… + CN=…"), so the DER is built here.
 */
function distinguishedName(commonName: string): pkijs.RelativeDistinguishedNames {
  const rdn = (type: string, value: string): asn1js.Set => new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()] });
  const name = new asn1js.Sequence({ value: [rdn(OID.organizationName, ORGANIZATION), rdn(OID.commonName, commonName)] });
  return pkijs.RelativeDistinguishedNames.fromBER(name.toBER(false));
}

/** One attribute of a subject: a short name (CN, O, OU, C, L, ST, STREET, DC, UID) or a dotted OID, and its value. */
export interface SubjectAttribute {
  readonly type: string;
  readonly value: string;
}

/** A Name from RDNs in DER order, each RDN one or more attributes (multi-valued), values as UTF8String. */
function nameOf(rdns: readonly (readonly SubjectAttribute[])[]): pkijs.RelativeDistinguishedNames {
  const set = (rdn: readonly SubjectAttribute[]): asn1js.Set =>
    new asn1js.Set({
      value: rdn.map((a) => {
        const type = SHORT_NAME_OIDS[a.type] ?? (/^\d+(\.\d+)+$/.test(a.type) ? a.type : undefined);
        if (!type) throw new Error(`unknown subject attribute type ${a.type}`);
        return new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value: a.value }) }).toSchema();
      }),
    });
  return pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: rdns.map(set) }).toBER(false));
}

/** IPv4 or IPv6 text → 4 or 16 bytes. */
export function ipToBytes(ip: string): Uint8Array {
  const kind = isIP(ip);
  if (kind === 4) return new Uint8Array(ip.split('.').map((p) => Number(p)));
  if (kind !== 6) throw new Error(`not an IP address: ${ip}`);
  let text = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map((p) => Number(p)) as [number, number, number, number];
    text = text.slice(0, -v4[0].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  const parse = (s: string | undefined): number[] => (s ? s.split(':').map((h) => parseInt(h, 16)) : []);
  const left = parse(halves[0]);
  const right = parse(halves[1]);
  const groups = halves.length === 1 ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

function randomSerial(): asn1js.Integer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01; // positive and non-zero, 16 bytes
  return new asn1js.Integer({ valueHex: arrayBufferOf(bytes) });
}

function keyUsageBits(bits: number): asn1js.BitString {
  let used = 8;
  while (used > 1 && (bits & (1 << (8 - used))) === 0) used--;
  return new asn1js.BitString({ valueHex: new Uint8Array([bits]).buffer, unusedBits: 8 - used });
}

function extension(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

async function buildCertificate(spec: CertSpec): Promise<pkijs.Certificate> {
  const crypto = getEngine();
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = randomSerial();
  cert.subject = spec.subject;
  cert.issuer = spec.issuer === 'self' ? spec.subject : spec.issuer.name;
  const now = Date.now();
  cert.notBefore.value = new Date(now - 5 * 60 * 1000);
  cert.notAfter.value = new Date(now + spec.days * 24 * 60 * 60 * 1000);
  await cert.subjectPublicKeyInfo.importKey(spec.publicKey, crypto);

  const spki = new Uint8Array(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  const keyId = new Uint8Array(createHash('sha1').update(spki).digest());
  const issuerKeyId = spec.issuer === 'self' ? keyId : spec.issuer.keyId;

  const extensions: pkijs.Extension[] = [
    extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: spec.ca }).toSchema()),
    extension(OID.keyUsage, true, keyUsageBits(spec.keyUsage)),
    extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: arrayBufferOf(keyId) })),
    extension(OID.authorityKeyIdentifier, false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: arrayBufferOf(issuerKeyId) }) }).toSchema()),
  ];
  if (spec.extKeyUsage) {
    extensions.push(extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [...spec.extKeyUsage] }).toSchema()));
  }
  if (spec.sanHosts && spec.sanHosts.length > 0) {
    const altNames = spec.sanHosts.map((h) =>
      isIP(h) ? new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: arrayBufferOf(ipToBytes(h)) }) }) : new pkijs.GeneralName({ type: 2, value: h }),
    );
    extensions.push(extension(OID.subjectAltName, false, new pkijs.AltName({ altNames }).toSchema()));
  }
  cert.extensions = extensions;

  const signingKey = spec.issuer === 'self' ? spec.selfPrivateKey : spec.issuer.privateKey;
  if (!signingKey) throw new Error('a self-signed certificate needs its private key');
  await cert.sign(signingKey, 'SHA-256', crypto);
  return cert;
}

function certPem(cert: pkijs.Certificate): string {
  return toPem('CERTIFICATE', cert.toSchema(true).toBER(false));
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

// ---------------------------------------------------------------------------------------------
// files

/** Write via a temporary file and rename, so a reader never sees a half-written file. */
async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function writePair(dir: string, base: string, cert: pkijs.Certificate, key: webcrypto.CryptoKey): Promise<CertKeyPaths> {
  const paths = { cert: join(dir, `${base}.pem`), key: join(dir, `${base}.key`) };
  await writeAtomic(paths.key, await keyPem(key), 0o600);
  await writeAtomic(paths.cert, certPem(cert), 0o644);
  return paths;
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || name === 'ca' || name === 'server') {
    throw new Error(`invalid client name ${JSON.stringify(name)}: use letters, digits, '.', '_', '-' (not "ca"/"server")`);
  }
}

function clientBase(name: string, isDefault: boolean): string {
  return isDefault ? 'client' : name;
}

// ---------------------------------------------------------------------------------------------
// public API

/** Generate a fresh CA, server certificate and client certificates into `dir` (overwriting). */
export async function generateDevCerts(dir: string, opts: DevCertOptions = {}): Promise<DevCertPaths> {
  const hosts = opts.hosts ?? DEFAULT_HOSTS;
  const clientNames = opts.clientNames ?? [DEFAULT_CLIENT_NAME];
  const days = opts.days ?? DEFAULT_DAYS;
  const keyType = opts.keyType ?? 'ec';
  if (clientNames.length === 0) throw new Error('at least one client name is required');
  clientNames.forEach(checkName);
  if (!(days > 0)) throw new Error('days must be positive');
  await mkdir(dir, { recursive: true });

  const caKeys = await generateKeyPair(keyType);
  const caSubject = distinguishedName(CA_NAME);
  const caCert = await buildCertificate({
    subject: caSubject,
    publicKey: caKeys.publicKey,
    issuer: 'self',
    selfPrivateKey: caKeys.privateKey,
    days,
    ca: true,
    keyUsage: KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN,
  });
  const issuer: Issuer = { name: caSubject, privateKey: caKeys.privateKey, keyId: subjectKeyId(caCert) };
  // Leaves first, CA last: ensureDevCerts treats ca.pem's presence as "complete set written".
  const server = await writeServerCert(dir, issuer, keyType, hosts, days);
  const clients: Record<string, CertKeyPaths> = {};
  for (const [i, name] of clientNames.entries()) clients[name] = await writeClientCert(dir, issuer, keyType, name, i === 0, days);
  const ca = await writePair(dir, 'ca', caCert, caKeys.privateKey);
  const client = clients[clientNames[0] as string] as CertKeyPaths;
  return { dir, ca, server, client, clients };
}

/** The paths generateDevCerts writes, without touching the disk. */
export function devCertPaths(dir: string, clientNames: readonly string[] = [DEFAULT_CLIENT_NAME]): DevCertPaths {
  const pair = (base: string): CertKeyPaths => ({ cert: join(dir, `${base}.pem`), key: join(dir, `${base}.key`) });
  const clients: Record<string, CertKeyPaths> = {};
  clientNames.forEach((n, i) => (clients[n] = pair(clientBase(n, i === 0))));
  return { dir, ca: pair('ca'), server: pair('server'), client: pair('client'), clients };
}

async function writeServerCert(dir: string, issuer: Issuer, keyType: DevKeyType, hosts: readonly string[], days: number): Promise<CertKeyPaths> {
  const keys = await generateKeyPair(keyType);
  const cert = await buildCertificate({
    subject: distinguishedName(hosts.find((h) => !isIP(h)) ?? hosts[0] ?? 'localhost'),
    publicKey: keys.publicKey,
    issuer,
    days,
    ca: false,
    keyUsage: leafUsage(keyType),
    extKeyUsage: [OID.serverAuth],
    sanHosts: hosts,
  });
  return writePair(dir, 'server', cert, keys.privateKey);
}

async function writeClientCert(dir: string, issuer: Issuer, keyType: DevKeyType, name: string, isDefault: boolean, days: number): Promise<CertKeyPaths> {
  const keys = await generateKeyPair(keyType);
  const cert = await buildClientCert(issuer, name, keys.publicKey, days, leafUsage(keyType));
  return writePair(dir, clientBase(name, isDefault), cert, keys.privateKey);
}

const leafUsage = (keyType: DevKeyType): number => KU_DIGITAL_SIGNATURE | (keyType === 'rsa' ? KU_KEY_ENCIPHERMENT : 0);

/** Is the certificate at `path` there, readable, and valid for at least one more day? */
async function usable(p: CertKeyPaths): Promise<boolean> {
  try {
    await stat(p.key);
    const cert = new X509Certificate(await readFile(p.cert));
    return new Date(cert.validTo).getTime() >= Date.now() + 24 * 60 * 60 * 1000;
  } catch {
    return false;
  }
}

/**
 * Generate the dev certificates in `dir` unless a complete, unexpired set is already there
 * (valid for at least one more day). Returns the paths either way.
 *
 * A usable CA (ca.pem and its key, valid for another day) is never replaced: only the server
 * and client certificates that are missing or expiring are issued again from it. The clients
 * it signed (`kms certs`) keep working when a leaf file is gone, e.g. in a folder restored
 * from a backup, which carries the CA and the server's pair but not the development client's.
 */
export async function ensureDevCerts(dir: string, opts: DevCertOptions = {}): Promise<DevCertPaths> {
  const paths = devCertPaths(dir, opts.clientNames);
  const clientNames = opts.clientNames ?? [DEFAULT_CLIENT_NAME];
  const leaves = [paths.server, ...Object.values(paths.clients)];
  const ok = await Promise.all(leaves.map(usable));
  const caOk = await usable(paths.ca);
  if (caOk && ok.every(Boolean)) return paths;
  const ca = caOk ? await loadIssuer(dir).catch(() => undefined) : undefined;
  if (!ca) return generateDevCerts(dir, opts);
  const days = opts.days ?? DEFAULT_DAYS;
  if (!ok[0]) await writeServerCert(dir, ca.issuer, ca.keyType, opts.hosts ?? DEFAULT_HOSTS, days);
  for (const [i, name] of clientNames.entries()) if (!ok[i + 1]) await writeClientCert(dir, ca.issuer, ca.keyType, name, i === 0, days);
  return paths;
}

/** The CA in `caDir` (ca.pem + ca.key) as an issuer; throws when the key is not the certificate's. */
async function loadIssuer(caDir: string): Promise<{ issuer: Issuer; keyType: DevKeyType }> {
  const caPem = await readFile(join(caDir, 'ca.pem'), 'utf8');
  const caKeyPem = await readFile(join(caDir, 'ca.key'), 'utf8');
  const privateKey = createPrivateKey(caKeyPem);
  if (!new X509Certificate(caPem).checkPrivateKey(privateKey)) throw new Error(`${join(caDir, 'ca.key')} is not the key of ${join(caDir, 'ca.pem')}`);
  const caCert = pkijs.Certificate.fromBER(fromPem('CERTIFICATE', caPem));
  const keyType: DevKeyType = privateKey.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec';
  const caPrivateKey = await webcrypto.subtle.importKey('pkcs8', fromPem('PRIVATE KEY', caKeyPem), keyAlgorithm(keyType), false, ['sign']);
  return { issuer: { name: caCert.subject, privateKey: caPrivateKey, keyId: subjectKeyId(caCert) }, keyType };
}

/**
 * Issue a client certificate (CN = name, EKU clientAuth) signed by the CA in `caDir`
 * (ca.pem + ca.key), writing `<name>.pem` and `<name>.key` into `outDir`. `subject` replaces
 * the usual O + CN subject: RDNs in DER order, each one or more attributes.
 */
export async function issueClientCert(caDir: string, name: string, outDir: string, opts: { days?: number; subject?: readonly (readonly SubjectAttribute[])[] } = {}): Promise<CertKeyPaths> {
  checkName(name);
  const { issuer, keyType } = await loadIssuer(caDir);
  const keys = await generateKeyPair(keyType);
  const usage = KU_DIGITAL_SIGNATURE | (keyType === 'rsa' ? KU_KEY_ENCIPHERMENT : 0);
  const cert = await buildClientCert(issuer, name, keys.publicKey, opts.days ?? DEFAULT_DAYS, usage, opts.subject && nameOf(opts.subject));
  await mkdir(outDir, { recursive: true });
  return writePair(outDir, name, cert, keys.privateKey);
}

function buildClientCert(
  issuer: Issuer,
  name: string,
  publicKey: webcrypto.CryptoKey,
  days: number,
  keyUsage: number,
  subject?: pkijs.RelativeDistinguishedNames,
): Promise<pkijs.Certificate> {
  return buildCertificate({
    subject: subject ?? distinguishedName(name),
    publicKey,
    issuer,
    days,
    ca: false,
    keyUsage,
    extKeyUsage: [OID.clientAuth],
  });
}

function subjectKeyId(cert: pkijs.Certificate): Uint8Array {
  const ext = cert.extensions?.find((e) => e.extnID === OID.subjectKeyIdentifier);
  if (ext) {
    const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
    if (parsed.result instanceof asn1js.OctetString) return new Uint8Array(parsed.result.valueBlock.valueHexView);
  }
  const spki = new Uint8Array(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  return new Uint8Array(createHash('sha1').update(spki).digest());
}
