/**
 * The client-issuing CA: the data folder's CA (DIR/certs/ca.pem and ca.key, made by the first
 * `kms serve` without --cert/--key/--ca, or put there by the operator). Client certificates are
 * issued and signed by it and the CRL is signed by it. The server accepts them only if this CA
 * is in the bundle it verifies client certificates against (`--ca`; the development setup uses
 * it directly).
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { folderLayout } from '../folder/layout.js';
import { nameToString, readCertificate, type CertificateFacts } from '../pki/x509-read.js';
import { ClientsError } from './errors.js';

export interface IssuingCa {
  readonly certPem: string;
  readonly certDer: Uint8Array;
  readonly facts: CertificateFacts;
  /** RFC 4514 subject, for messages and the registry's issuedBy. */
  readonly subject: string;
  readonly key: KeyObject;
}

/** Where the folder's CA lives. */
export function caPaths(dataDir: string): { readonly dir: string; readonly cert: string; readonly key: string } {
  const dir = folderLayout(dataDir).certs;
  return { dir, cert: join(dir, 'ca.pem'), key: join(dir, 'ca.key') };
}

/** True when the folder has a CA that can sign (both files present). */
export function hasFolderCa(dataDir: string): boolean {
  const p = caPaths(dataDir);
  return existsSync(p.cert) && existsSync(p.key);
}

/** Load the folder's CA; ClientsError NO_CA when it is missing or unreadable. */
export function loadFolderCa(dataDir: string): IssuingCa {
  const p = caPaths(dataDir);
  if (!hasFolderCa(dataDir)) throw new ClientsError('NO_CA', `no CA in ${p.dir} (start 'kms serve --data-dir ${dataDir}' once to make it, or put ca.pem and ca.key there)`);
  try {
    const certPem = readFileSync(p.cert, 'utf8');
    const x = new X509Certificate(certPem);
    const certDer = new Uint8Array(x.raw);
    const key = createPrivateKey(readFileSync(p.key));
    if (!x.checkPrivateKey(key)) throw new Error('ca.key is not the key of ca.pem');
    const facts = readCertificate(certDer);
    return { certPem, certDer, facts, subject: nameToString(facts.subject), key };
  } catch (e) {
    throw new ClientsError('NO_CA', `the CA in ${p.dir} cannot be used: ${(e as Error).message}`);
  }
}

/** SHA-256 fingerprint of a DER certificate: upper-case hex, colon-separated (as node and openssl print it). */
export function fingerprintOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

const CANONICAL_FP = /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/;

/** A fingerprint as typed by an operator (any case, with or without colons) → the canonical form, or undefined. */
export function normalizeFingerprint(text: string): string | undefined {
  if (text.length === 95 && CANONICAL_FP.test(text)) return text; // node's fingerprint256 form already
  const hex = text.replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}
