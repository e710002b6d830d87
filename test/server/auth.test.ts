/**
 * Client certificate → identity, on real certificates parsed by node:tls's own
 * X509Certificate → PeerCertificate shape (via a real handshake's getPeerCertificate).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { AuthError, principalFromCertificate } from '../../src/server/auth.js';
import { CERTS } from '../support/kms.js';

/** The certificate a real TLS server sees for a client presenting `name`'s certificate. */
async function peerCertOf(certFile: string, keyFile: string): Promise<PeerCertificate> {
  const ca = readFileSync(join(CERTS, 'ca.pem'));
  const server = createServer({ cert: readFileSync(join(CERTS, 'server.pem')), key: readFileSync(join(CERTS, 'server.key')), ca, requestCert: true, rejectUnauthorized: false });
  const seen = new Promise<PeerCertificate>((resolve) =>
    server.on('secureConnection', (s) => {
      resolve(s.getPeerCertificate());
      s.end();
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const c = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, cert: readFileSync(certFile), key: readFileSync(keyFile) });
  c.on('error', () => undefined);
  const cert = await seen;
  c.destroy();
  server.close();
  return cert;
}

describe('client identity from the certificate', () => {
  it('CN by default; the full DN on request', async () => {
    const cert = await peerCertOf(join(CERTS, 'alice.pem'), join(CERTS, 'alice.key'));
    expect(principalFromCertificate(cert).id).toBe('alice');
    expect(principalFromCertificate(cert, 'cn').id).toBe('alice');
    expect(principalFromCertificate(cert, 'dn').id).toMatch(/CN=alice/);
  });

  it('SAN: the first DNS/email/URI name; a certificate without one is refused', async () => {
    // The server certificate carries SANs (localhost, …) but only serverAuth: it is refused for
    // lack of clientAuth before any identity is read.
    const server = await peerCertOf(join(CERTS, 'server.pem'), join(CERTS, 'server.key'));
    expect(() => principalFromCertificate(server, 'san')).toThrow(/clientAuth/);
    const fake = { ...server, ext_key_usage: ['1.3.6.1.5.5.7.3.2'] } as PeerCertificate;
    expect(principalFromCertificate(fake, 'san').id).toBe('localhost');
    const alice = await peerCertOf(join(CERTS, 'alice.pem'), join(CERTS, 'alice.key'));
    expect(() => principalFromCertificate({ ...alice, subjectaltname: undefined } as unknown as PeerCertificate, 'san')).toThrow(AuthError);
  });

  it('no certificate at all is an AuthError', () => {
    expect(() => principalFromCertificate({} as PeerCertificate)).toThrow(/no client certificate/);
    expect(() => principalFromCertificate(undefined)).toThrow(AuthError);
  });
});
