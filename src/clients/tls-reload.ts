/**
 * Server certificate renewal without downtime: the running server re-reads its certificate, key
 * and CA bundle (the --cert/--key/--ca files, or the data folder's development ones) on SIGHUP
 * and on `kms certs reload` (admin socket), checks them (the key is the certificate's, the
 * certificate and every CA certificate parse) and hands them to both listeners: new handshakes
 * use them, connections already open keep the ones they were made with. A set that does not
 * check out is refused and the old one stays in use.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TlsMaterial } from '../server/server.js';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** What a reload put in place (for the log and the CLI). */
export interface TlsReloaded {
  readonly subject: string;
  readonly fingerprint: string;
  readonly notAfter: string;
  readonly caCertificates: number;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;

/** Read and check the files; throws Error naming what is wrong. */
export function readTlsFiles(files: TlsFiles): { material: TlsMaterial; summary: TlsReloaded } {
  const cert = readFileSync(files.cert);
  const key = readFileSync(files.key);
  const ca = readFileSync(files.ca);
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`${files.cert}: not a certificate (${(e as Error).message})`);
  }
  let k;
  try {
    k = createPrivateKey(key);
  } catch (e) {
    throw new Error(`${files.key}: not a private key (${(e as Error).message})`);
  }
  if (!x.checkPrivateKey(k)) throw new Error(`${files.key} is not the key of ${files.cert}`);
  const cas = ca.toString('latin1').match(PEM_CERT) ?? [];
  if (cas.length === 0) throw new Error(`${files.ca}: no CA certificate in it`);
  for (const c of cas) {
    try {
      new X509Certificate(c);
    } catch (e) {
      throw new Error(`${files.ca}: a certificate in it does not parse (${(e as Error).message})`);
    }
  }
  return {
    material: { cert, key, ca },
    summary: { subject: x.subject.replace(/\n/g, ', '), fingerprint: x.fingerprint256, notAfter: new Date(x.validTo).toISOString(), caCertificates: cas.length },
  };
}
