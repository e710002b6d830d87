/**
 * `--identity dn`: the RFC 4514 string of the whole subject, so distinct subjects never
 * collide. Real client certificates issued by the project's pki code (src/pki/dev-certs.ts,
 * signed by the test CA), presented over real mutual TLS to a real server:
 * - CN="kms-client,O=evil" (one attribute holding a comma) and the two-RDN subject
 *   CN=kms-client, O=evil used to read as the same identity "CN=kms-client,O=evil", so one
 *   certificate read the other's keys; now they are `CN=kms-client\,O=evil` and
 *   `O=evil,CN=kms-client`, and each gets Object Not Found for the other's key;
 * - a multi-valued RDN (CN=x + O=y) stays one RDN, apart from the two RDNs CN=x, O=y;
 * - RFC 4514 escaping of the special characters;
 * - CN mode ignores O (documented): two certificates with the same CN are one identity.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, getPayload, KmipClient, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation, ResultReason } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { issueClientCert, type SubjectAttribute } from '../../src/pki/dev-certs.js';
import { principalFromCertificate } from '../../src/server/auth.js';
import { CERTS, startTestKms, type TestKms } from '../support/kms.js';
import { failureReason, Session, V2_1 } from '../support/kmip-session.js';

const out = mkdtempSync(join(tmpdir(), 'kms-dn-certs-'));
const a = (type: string, value: string): SubjectAttribute => ({ type, value });

/** Subjects in DER order (RDN by RDN). */
const SUBJECTS: Record<string, readonly (readonly SubjectAttribute[])[]> = {
  commaInCn: [[a('CN', 'kms-client,O=evil')]],
  twoRdns: [[a('CN', 'kms-client')], [a('O', 'evil')]],
  multiValued: [[a('CN', 'x'), a('O', 'y')]],
  twoRdnsXY: [[a('CN', 'x')], [a('O', 'y')]],
  special: [[a('C', 'DE')], [a('O', '#hash, "quoted" <a>;b+c\\d ')], [a('CN', ' lead')]],
  sameCnOrgA: [[a('O', 'org-a')], [a('CN', 'shared-cn')]],
  sameCnOrgB: [[a('O', 'org-b')], [a('CN', 'shared-cn')]],
  // The rotation scheduler's principal: reserved, whichever way the identity is read.
  reserved: [[a('CN', 'kms-rotation')]],
};

beforeAll(async () => {
  for (const [name, subject] of Object.entries(SUBJECTS)) await issueClientCert(CERTS, name, out, { subject });
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

const files = (name: string) => ({ ca: readFileSync(join(CERTS, 'ca.pem')), cert: readFileSync(join(out, `${name}.pem`)), key: readFileSync(join(out, `${name}.key`)) });

/** The certificate a real TLS server sees for a client presenting `name`'s certificate. */
async function peerCertOf(name: string): Promise<PeerCertificate> {
  const ca = readFileSync(join(CERTS, 'ca.pem'));
  const server = createServer({ cert: readFileSync(join(CERTS, 'server.pem')), key: readFileSync(join(CERTS, 'server.key')), ca, requestCert: true, rejectUnauthorized: true });
  const seen = new Promise<PeerCertificate>((resolve) =>
    server.on('secureConnection', (s) => {
      resolve(s.getPeerCertificate());
      s.end();
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, servername: 'localhost', ...files(name) });
  c.on('error', () => undefined);
  const cert = await seen;
  c.destroy();
  server.close();
  return cert;
}

describe('identity from the DN: RFC 4514, from the DER', () => {
  it('a comma inside the CN and two RDNs are different identities', async () => {
    expect(principalFromCertificate(await peerCertOf('commaInCn'), 'dn').id).toBe('CN=kms-client\\,O=evil');
    expect(principalFromCertificate(await peerCertOf('twoRdns'), 'dn').id).toBe('O=evil,CN=kms-client');
  });

  it('a multi-valued RDN is kept as one (joined with +), apart from the same attributes as two RDNs', async () => {
    expect(principalFromCertificate(await peerCertOf('multiValued'), 'dn').id).toBe('CN=x+O=y');
    expect(principalFromCertificate(await peerCertOf('twoRdnsXY'), 'dn').id).toBe('O=y,CN=x');
  });

  it('special characters are escaped (RFC 4514 §2.4)', async () => {
    expect(principalFromCertificate(await peerCertOf('special'), 'dn').id).toBe('CN=\\ lead,O=\\#hash\\, \\"quoted\\" \\<a\\>\\;b\\+c\\\\d\\ ,C=DE');
  });

  it('CN mode ignores O: the same CN under two organisations is one identity', async () => {
    expect(principalFromCertificate(await peerCertOf('sameCnOrgA'), 'cn').id).toBe('shared-cn');
    expect(principalFromCertificate(await peerCertOf('sameCnOrgB'), 'cn').id).toBe('shared-cn');
    expect(principalFromCertificate(await peerCertOf('sameCnOrgA'), 'dn').id).not.toBe(principalFromCertificate(await peerCertOf('sameCnOrgB'), 'dn').id);
  });

  it("a certificate naming the server's own principal (kms-rotation) is refused in CN mode", async () => {
    const cert = await peerCertOf('reserved');
    expect(() => principalFromCertificate(cert, 'cn')).toThrow(/"kms-rotation", which is reserved/);
    // In DN mode the identity is "CN=kms-rotation": a different string, not the server's principal.
    expect(principalFromCertificate(cert, 'dn').id).toBe('CN=kms-rotation');
  });
});

describe('a server does not let a client pass for its rotation scheduler', () => {
  let srv: TestKms;
  beforeAll(async () => {
    srv = await startTestKms();
  });
  afterAll(async () => {
    await srv?.dispose();
  });

  it('a kms-rotation certificate gets Authentication Not Successful, not an operation', async () => {
    const c = await KmipClient.connect({ host: '127.0.0.1', port: srv.port, servername: 'localhost', ...files('reserved'), timeoutMs: 10_000 });
    try {
      const s = new Session(c, V2_1);
      const r = await s.call(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt }));
      expect(failureReason(r)).toBe(ResultReason.AuthenticationNotSuccessful);
    } finally {
      await c.close();
    }
  });
});

describe('a server with --identity dn keeps the colliding subjects apart', () => {
  let srv: TestKms;
  beforeAll(async () => {
    srv = await startTestKms({ identity: 'dn' });
  });
  afterAll(async () => {
    await srv?.dispose();
  });

  const clientAs = (name: string) => KmipClient.connect({ host: '127.0.0.1', port: srv.port, servername: 'localhost', ...files(name), timeoutMs: 10_000 });

  it("one certificate cannot read the other's key, either way", async () => {
    const [evil, real] = await Promise.all([clientAs('commaInCn'), clientAs('twoRdns')]);
    try {
      const e = new Session(evil, V2_1);
      const r = new Session(real, V2_1);
      const create = () => createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt });
      const realKey = uniqueIdentifierOf(await r.ok(Operation.Create, create()));
      const evilKey = uniqueIdentifierOf(await e.ok(Operation.Create, create()));
      await r.ok(Operation.Get, getPayload(realKey));
      await e.ok(Operation.Get, getPayload(evilKey));
      expect(failureReason(await e.call(Operation.Get, getPayload(realKey)))).toBe(ResultReason.ObjectNotFound);
      expect(failureReason(await r.call(Operation.Get, getPayload(evilKey)))).toBe(ResultReason.ObjectNotFound);
    } finally {
      await Promise.all([evil.close(), real.close()]);
    }
  });
});
