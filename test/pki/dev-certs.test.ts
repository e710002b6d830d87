import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevCertPaths, ensureDevCerts, generateDevCerts, ipToBytes, issueClientCert } from '../../src/pki/dev-certs.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

let root: string;
let certs: DevCertPaths;
let otherCerts: DevCertPaths;

async function x509(path: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kms-devcerts-'));
  certs = await generateDevCerts(join(root, 'main'), { clientNames: ['kms-client', 'agent-7'] });
  otherCerts = await generateDevCerts(join(root, 'other'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('generateDevCerts', () => {
  it('writes the CA, server and client files with private keys at mode 0600', async () => {
    expect(certs.client).toEqual({ cert: join(certs.dir, 'client.pem'), key: join(certs.dir, 'client.key') });
    expect(certs.clients['agent-7']).toEqual({ cert: join(certs.dir, 'agent-7.pem'), key: join(certs.dir, 'agent-7.key') });
    for (const p of [certs.ca, certs.server, certs.client, certs.clients['agent-7']!]) {
      expect((await stat(p.key)).mode & 0o777).toBe(0o600);
      expect(await readFile(p.cert, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
      expect(await readFile(p.key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    }
  });

  it('makes a self-signed CA and leaves that verify against it', async () => {
    const ca = await x509(certs.ca.cert);
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    for (const p of [certs.server, certs.client, certs.clients['agent-7']!]) {
      const leaf = await x509(p.cert);
      expect(leaf.ca).toBe(false);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      const other = await x509(otherCerts.ca.cert);
      expect(leaf.checkIssued(other)).toBe(false);
      expect(leaf.verify(other.publicKey)).toBe(false);
    }
  });

  it('pairs each key file with its certificate', async () => {
    for (const p of [certs.ca, certs.server, certs.client]) {
      const pub = createPublicKey(createPrivateKey(await readFile(p.key))).export({ type: 'spki', format: 'der' });
      const certPub = (await x509(p.cert)).publicKey.export({ type: 'spki', format: 'der' });
      expect(Buffer.compare(pub, certPub)).toBe(0);
    }
  });

  it('gives the server serverAuth and the SANs, and clients clientAuth and CN = name', async () => {
    const server = await x509(certs.server.cert);
    expect(server.keyUsage).toEqual([SERVER_AUTH]);
    const sans = (server.subjectAltName ?? '').split(', ');
    expect(sans).toEqual(expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']));
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkHost('example.com')).toBeUndefined();

    const client = await x509(certs.client.cert);
    expect(client.keyUsage).toEqual([CLIENT_AUTH]);
    expect(client.subject).toContain('CN=kms-client');
    const agent = await x509(certs.clients['agent-7']!.cert);
    expect(agent.keyUsage).toEqual([CLIENT_AUTH]);
    expect(agent.subject).toContain('CN=agent-7');
  });

  it('uses custom hosts and validity', async () => {
    const dir = join(root, 'custom');
    const p = await generateDevCerts(dir, { hosts: ['kms.internal', '10.1.2.3'], days: 3 });
    const server = await x509(p.server.cert);
    expect(server.subjectAltName).toBe('DNS:kms.internal, IP Address:10.1.2.3');
    expect(server.subject).toContain('CN=kms.internal');
    const lifetime = new Date(server.validTo).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(2.9 * 86400e3);
    expect(lifetime).toBeLessThan(3.1 * 86400e3);
  });

  it('rejects client names that would clash with the CA or server files', async () => {
    await expect(generateDevCerts(join(root, 'bad'), { clientNames: ['server'] })).rejects.toThrow(/invalid client name/);
    await expect(generateDevCerts(join(root, 'bad'), { clientNames: ['../x'] })).rejects.toThrow(/invalid client name/);
  });

  it('can make RSA 2048 keys instead', async () => {
    const p = await generateDevCerts(join(root, 'rsa'), { keyType: 'rsa' });
    const server = await x509(p.server.cert);
    expect(server.publicKey.asymmetricKeyType).toBe('rsa');
    expect(server.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(server.verify((await x509(p.ca.cert)).publicKey)).toBe(true);
    expect(await handshake(p, p.client)).toMatchObject({ accepted: true, peerCN: 'kms-client' });
  });
});

describe('ipToBytes', () => {
  it('encodes IPv4 and IPv6 forms', () => {
    expect([...ipToBytes('127.0.0.1')]).toEqual([127, 0, 0, 1]);
    expect([...ipToBytes('::1')]).toEqual([...new Array(15).fill(0), 1]);
    expect(Buffer.from(ipToBytes('2001:db8::8:800:200c:417a')).toString('hex')).toBe('20010db80000000000080800200c417a');
    expect(Buffer.from(ipToBytes('::ffff:192.0.2.1')).toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(Buffer.from(ipToBytes('fe80::')).toString('hex')).toBe('fe800000000000000000000000000000');
    expect(() => ipToBytes('localhost')).toThrow();
  });
});

interface HandshakeResult {
  accepted: boolean;
  peerCN?: string;
  serverError?: string;
  /** Only with rejectUnauthorized false: why the server would have refused the client. */
  authorizationError?: string;
}

/**
 * A real mutual-TLS handshake: server with requestCert + rejectUnauthorized against p's CA.
 * With `reject` false the server lets the connection through and reports
 * `authorizationError`, which says *why* the strict server refuses (node's strict server just
 * destroys the socket, so its tlsClientError reads "socket hang up").
 */
async function handshake(p: DevCertPaths, client: { cert: string; key: string }, clientCa = p.ca.cert, reject = true): Promise<HandshakeResult> {
  const [ca, cert, key] = await Promise.all([readFile(p.ca.cert), readFile(p.server.cert), readFile(p.server.key)]);
  const [cCa, cCert, cKey] = await Promise.all([readFile(clientCa), readFile(client.cert), readFile(client.key)]);
  let serverError: string | undefined;
  let peerCN: string | undefined;
  let authorizationError: string | undefined;
  const server = tls.createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: reject, minVersion: 'TLSv1.2' }, (sock) => {
    if (!sock.authorized) {
      authorizationError = String(sock.authorizationError);
      sock.destroy();
      return;
    }
    const cn = sock.getPeerCertificate().subject?.CN;
    peerCN = Array.isArray(cn) ? cn.join(',') : cn;
    sock.end('ok');
  });
  server.on('tlsClientError', (err) => {
    serverError = err.message;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const received = await new Promise<string>((resolve) => {
      const sock = tls.connect({
        host: '127.0.0.1',
        port,
        ca: cCa,
        cert: cCert,
        key: cKey,
      });
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      sock.on('error', () => resolve(data));
      sock.on('close', () => resolve(data));
    });
    return {
      accepted: received === 'ok',
      ...(peerCN !== undefined && { peerCN }),
      ...(serverError !== undefined && { serverError }),
      ...(authorizationError !== undefined && { authorizationError }),
    };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('TLS with the dev certificates', () => {
  it('completes a mutual handshake for each client certificate', async () => {
    expect(await handshake(certs, certs.client)).toMatchObject({ accepted: true, peerCN: 'kms-client' });
    expect(await handshake(certs, certs.clients['agent-7']!)).toMatchObject({ accepted: true, peerCN: 'agent-7' });
  });

  it('rejects a client certificate without the clientAuth usage', async () => {
    // The server certificate is signed by the right CA but carries only serverAuth.
    const r = await handshake(certs, certs.server);
    expect(r.accepted).toBe(false);
    expect(r.peerCN).toBeUndefined();
    expect(r.serverError).toBeDefined();
    const why = await handshake(certs, certs.server, certs.ca.cert, false);
    expect(why).toMatchObject({ accepted: false, authorizationError: 'INVALID_PURPOSE' });
  });

  it('rejects a client certificate from another CA', async () => {
    const r = await handshake(certs, otherCerts.client);
    expect(r.accepted).toBe(false);
    expect(r.peerCN).toBeUndefined();
    expect(r.serverError).toBeDefined();
    const why = await handshake(certs, otherCerts.client, certs.ca.cert, false);
    expect(why).toMatchObject({ accepted: false, authorizationError: expect.stringMatching(/UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE/) });
  });

  it('lets the client refuse a server it does not trust', async () => {
    const r = await handshake(certs, certs.client, otherCerts.ca.cert);
    expect(r.accepted).toBe(false);
    expect(r.peerCN).toBeUndefined();
  });
});

describe('ensureDevCerts', () => {
  it('creates the set once and then leaves it alone', async () => {
    const dir = join(root, 'ensure');
    const first = await ensureDevCerts(dir);
    const before = await readFile(first.ca.cert, 'utf8');
    const second = await ensureDevCerts(dir);
    expect(second).toEqual(first);
    expect(await readFile(second.ca.cert, 'utf8')).toBe(before);
  });

  it('issues a missing leaf again from the same CA: the clients it signed keep working', async () => {
    const dir = join(root, 'ensure-missing');
    const first = await ensureDevCerts(dir);
    const before = await readFile(first.ca.cert, 'utf8');
    const serverBefore = await readFile(first.server.cert, 'utf8');
    const issued = await issueClientCert(dir, 'array-1', join(dir, 'clients'));
    await unlink(first.client.key);
    const second = await ensureDevCerts(dir);
    expect(await readFile(second.ca.cert, 'utf8')).toBe(before);
    expect(await readFile(second.server.cert, 'utf8')).toBe(serverBefore); // still good: not touched
    expect((await stat(second.client.key)).mode & 0o777).toBe(0o600);
    const ca = await x509(second.ca.cert);
    const client = await x509(second.client.cert);
    expect(client.checkIssued(ca) && client.verify(ca.publicKey)).toBe(true);
    expect(client.checkPrivateKey(createPrivateKey(await readFile(second.client.key)))).toBe(true);
    // A client certificate the CA signed before still connects to the server.
    expect(await handshake(second, issued)).toMatchObject({ accepted: true, peerCN: 'array-1' });
    await unlink(second.server.cert);
    const third = await ensureDevCerts(dir);
    expect(await readFile(third.ca.cert, 'utf8')).toBe(before);
    expect((await x509(third.server.cert)).verify(ca.publicKey)).toBe(true);
  });

  it("regenerates everything when the CA key is missing or is not the CA certificate's", async () => {
    const dir = join(root, 'ensure-no-ca-key');
    const first = await ensureDevCerts(dir);
    const before = await readFile(first.ca.cert, 'utf8');
    await unlink(first.ca.key);
    await unlink(first.client.key);
    const second = await ensureDevCerts(dir);
    const after = await readFile(second.ca.cert, 'utf8');
    expect(after).not.toBe(before);
    expect((await x509(second.client.cert)).verify((await x509(second.ca.cert)).publicKey)).toBe(true);
    // The CA key swapped for another folder's: not a usable CA, everything anew.
    await writeFile(second.ca.key, await readFile(otherCerts.ca.key));
    await unlink(second.server.key);
    const third = await ensureDevCerts(dir);
    expect(await readFile(third.ca.cert, 'utf8')).not.toBe(after);
    expect((await x509(third.ca.cert)).checkPrivateKey(createPrivateKey(await readFile(third.ca.key)))).toBe(true);
  });

  it('regenerates when the certificates are about to expire', async () => {
    const dir = join(root, 'ensure-expiring');
    await generateDevCerts(dir, { days: 0.5 });
    const before = await readFile(join(dir, 'ca.pem'), 'utf8');
    await ensureDevCerts(dir);
    expect(await readFile(join(dir, 'ca.pem'), 'utf8')).not.toBe(before);
  });
});

describe('issueClientCert', () => {
  it('issues a clientAuth certificate under an existing CA that the server accepts', async () => {
    const out = join(root, 'agents');
    const p = await issueClientCert(certs.dir, 'agent-42', out);
    expect(p).toEqual({ cert: join(out, 'agent-42.pem'), key: join(out, 'agent-42.key') });
    expect((await stat(p.key)).mode & 0o777).toBe(0o600);
    const leaf = await x509(p.cert);
    const ca = await x509(certs.ca.cert);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.keyUsage).toEqual([CLIENT_AUTH]);
    expect(leaf.subject).toContain('CN=agent-42');
    expect(await handshake(certs, p)).toMatchObject({ accepted: true, peerCN: 'agent-42' });
  });
});
