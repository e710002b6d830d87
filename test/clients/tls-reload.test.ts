/**
 * #18 item 3: server certificate renewal without downtime. A `kms serve` process re-reads its
 * --cert/--key/--ca files on SIGHUP and on `kms certs reload` (admin socket): a new connection
 * gets the new certificate, a connection opened before keeps working, and a broken set is
 * refused with the old certificate kept.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, KmipClient, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { generateDevCerts, type DevCertPaths } from '../../src/pki/dev-certs.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { runKms, startServeProcess, writeServeConfig, type ServeProcess } from '../support/kms-process.js';

const root = mkdtempSync(join(tmpdir(), 'kms-tls-reload-'));
let a: DevCertPaths;
let b: DevCertPaths;
let serve: ServeProcess;
let config: string;
let trust: Buffer;
const live = { cert: join(root, 'live-server.pem'), key: join(root, 'live-server.key'), ca: join(root, 'live-ca.pem') };

function install(set: DevCertPaths): void {
  copyFileSync(set.server.cert, live.cert);
  copyFileSync(set.server.key, live.key);
}

const fingerprint = (p: string) => new X509Certificate(readFileSync(p)).fingerprint256;

/** The server certificate a new connection is shown. */
function presented(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: serve.port, servername: 'localhost', ca: trust, cert: readFileSync(a.client.cert), key: readFileSync(a.client.key) }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

async function waitForLog(msg: string, from: number): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const hit = serve.lines.slice(from).find((l) => l.msg === msg);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log line "${msg}"`);
}

async function create(c: KmipClient): Promise<string> {
  return uniqueIdentifierOf(await new Session(c, V2_1).ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 })));
}

beforeAll(async () => {
  a = await generateDevCerts(join(root, 'a'), { clientNames: ['kms-client'] });
  b = await generateDevCerts(join(root, 'b'), { clientNames: ['kms-client'] });
  // Clients trust both CAs (the new server certificate comes from another CA); the server keeps A's for clients.
  trust = Buffer.concat([readFileSync(a.ca.cert), readFileSync(b.ca.cert)]);
  install(a);
  copyFileSync(a.ca.cert, live.ca);
  const dataDir = join(root, 'data');
  config = writeServeConfig(root, { dataDir, ...live, httpsPort: 0 });
  serve = await startServeProcess(config);
});
afterAll(async () => {
  await serve?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('server certificate reload', () => {
  it('SIGHUP: new connections get the new certificate, an open connection keeps working', async () => {
    expect(await presented()).toBe(fingerprint(a.server.cert));
    const before = await KmipClient.connect({
      host: '127.0.0.1',
      port: serve.port,
      servername: 'localhost',
      ca: trust,
      cert: readFileSync(a.client.cert),
      key: readFileSync(a.client.key),
      timeoutMs: 10_000,
    });
    await create(before);
    install(b);
    const from = serve.lines.length;
    serve.child.kill('SIGHUP');
    const line = await waitForLog('TLS certificate reloaded: new connections use it', from);
    expect((line.certificate as { fingerprint: string }).fingerprint).toBe(fingerprint(b.server.cert));
    expect(await presented()).toBe(fingerprint(b.server.cert));
    // The connection made before the reload goes on, with the certificate it was made with.
    await create(before);
    await before.close();
    // The server is still up (SIGHUP did not stop it).
    expect(serve.child.exitCode).toBeNull();
  });

  it('kms certs reload (admin socket) does the same; a broken set is refused and the old certificate stays', async () => {
    install(a);
    const r = await runKms(['certs', 'reload', '--config', config]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(fingerprint(a.server.cert));
    expect(await presented()).toBe(fingerprint(a.server.cert));
    // B's certificate with A's key: not a pair.
    copyFileSync(b.server.cert, live.cert);
    const bad = await runKms(['certs', 'reload', '--config', config]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('is not the key of');
    writeFileSync(live.key, 'not a key');
    const from = serve.lines.length;
    serve.child.kill('SIGHUP');
    await waitForLog('TLS certificate reload refused: the previous certificate stays in use', from);
    expect(await presented()).toBe(fingerprint(a.server.cert));
  });
});
