/**
 * #18 item 3: the client-certificate registry (src/clients/) over a real store and a real CA:
 * CSRs made by openssl are checked and signed, names are not overwritten without force,
 * revocation reaches the deny list and the CRL (parsed back with pkijs, signature verified
 * against the CA), the CRL number increases, and the expiry report finds short-lived ones.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCerts } from '../../src/pki/dev-certs.js';
import { MemoryStore } from '../../src/store/memory.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { DEFAULT_CRYPTO_POLICY, cryptoPolicyFrom } from '../../src/policy/crypto-policy.js';
import { ClientRegistry } from '../../src/clients/registry.js';
import { ClientsError } from '../../src/clients/errors.js';
import { CLIENT_AUTH_OID } from '../../src/server/auth.js';

const dir = mkdtempSync(join(tmpdir(), 'kms-clients-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A CSR made by openssl: key type, subject, and optional -addext lines. */
function opensslCsr(name: string, opts: { key?: string[]; subj?: string; addext?: string[]; digest?: string } = {}): { csr: string; key: string } {
  const key = join(dir, `${name}-${Math.random().toString(16).slice(2)}.key`);
  const csr = `${key}.csr`;
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-nodes',
      ...(opts.key ?? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']),
      `-${opts.digest ?? 'sha256'}`,
      '-subj',
      opts.subj ?? `/O=Example/CN=${name}`,
      ...(opts.addext ?? []).flatMap((a) => ['-addext', a]),
      '-keyout',
      key,
      '-out',
      csr,
    ],
    { stdio: 'pipe' },
  );
  return { csr: readFileSync(csr, 'utf8'), key };
}

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (e: unknown) => (e instanceof ClientsError ? e.code : `other: ${String(e)}`),
  );
}

describe('client registry', () => {
  let dataDir: string;
  let caPem: string;
  beforeAll(async () => {
    dataDir = join(dir, 'data');
    const paths = await generateDevCerts(join(dataDir, 'certs'));
    caPem = readFileSync(paths.ca.cert, 'utf8');
  });

  it('signs an openssl CSR: subject kept, clientAuth only, chains to the CA; recorded with fingerprint and serial', async () => {
    const store = new MemoryStore();
    await store.open();
    const reg = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY });
    const { csr } = opensslCsr('vcenter.example.com', { addext: ['subjectAltName=DNS:vcenter.example.com', 'extendedKeyUsage=clientAuth,serverAuth'] });
    const r = await reg.sign({ name: 'vcenter.example.com', csr, days: 30, actor: 'tester' });
    const x = new X509Certificate(r.certificate.pem);
    expect(x.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    expect(x.subject).toBe('O=Example\nCN=vcenter.example.com');
    expect(x.subjectAltName).toBe('DNS:vcenter.example.com');
    expect(x.keyUsage).toEqual([CLIENT_AUTH_OID]);
    expect(x.fingerprint256).toBe(r.record.fingerprint);
    expect(x.serialNumber).toBe(r.record.serial);
    expect(Date.parse(x.validTo) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(Date.parse(x.validTo) - Date.now()).toBeLessThan(31 * 86_400_000);
    expect(reg.list().map((c) => [c.name, c.via, c.issuedBy, c.fingerprint])).toEqual([['vcenter.example.com', 'sign', 'tester', x.fingerprint256]]);
    // Stored in the meta key space: a second registry over the same store sees it.
    const other = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY });
    expect(other.find(x.fingerprint256.replace(/:/g, '').toLowerCase())).toHaveLength(1);
    reg.close();
    other.close();
  });

  it('refuses CSRs: wrong CN (unless overridden), bad signature, weak key, SHA-1, no clientAuth in the EKU asked for', async () => {
    const store = new MemoryStore();
    await store.open();
    const reg = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY });
    const other = opensslCsr('someone-else');
    await expect(reg.sign({ name: 'array-1', csr: other.csr, actor: 't' })).rejects.toThrow(/CN is "someone-else", not the client name "array-1"/);
    const overridden = await reg.sign({ name: 'array-1', csr: other.csr, overrideCn: true, actor: 't' });
    expect(new X509Certificate(overridden.certificate.pem).subject).toBe('CN=array-1');
    // A flipped byte in the signature.
    const good = opensslCsr('array-2');
    const der = Buffer.from(good.csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] = der[der.length - 5]! ^ 0x01;
    expect(await code(reg.sign({ name: 'array-2', csr: der, actor: 't' }))).toBe('BAD_REQUEST');
    await expect(reg.sign({ name: 'array-2', csr: der, actor: 't' })).rejects.toThrow(/does not verify/);
    // RSA 1024 is below cryptoPolicy.rsaMinBits.
    const weak = opensslCsr('weak', { key: ['-newkey', 'rsa:1024'] });
    await expect(reg.sign({ name: 'weak', csr: weak.csr, actor: 't' })).rejects.toThrow(/rsaMinBits/);
    // P-256 refused when the policy allows only P-384.
    await expect((await ClientRegistry.open({ store, dataDir, policy: cryptoPolicyFrom({ ecCurves: [384] }) })).sign({ name: 'array-2', csr: good.csr, actor: 't' })).rejects.toThrow(
      /ecCurves/,
    );
    const sha1 = opensslCsr('sha1', { digest: 'sha1' });
    await expect(reg.sign({ name: 'sha1', csr: sha1.csr, actor: 't' })).rejects.toThrow(/sha1Signatures/);
    const serverOnly = opensslCsr('srv', { addext: ['extendedKeyUsage=serverAuth'] });
    await expect(reg.sign({ name: 'srv', csr: serverOnly.csr, actor: 't' })).rejects.toThrow(/without clientAuth/);
    expect(await code(reg.sign({ name: 'bad name', csr: good.csr, actor: 't' }))).toBe('BAD_REQUEST');
    expect(reg.list().map((c) => c.name)).toEqual(['array-1']);
  });

  it('issue refuses a name with a valid certificate without force; force supersedes (revokes) the old one', async () => {
    const store = new MemoryStore();
    await store.open();
    const reg = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const first = await reg.issue({ name: 'tape-lib-7', publicKey: k1.publicKey, actor: 'op' });
    expect(await code(reg.issue({ name: 'tape-lib-7', publicKey: k1.publicKey, actor: 'op' }))).toBe('EXISTS');
    expect(await code(reg.sign({ name: 'tape-lib-7', csr: opensslCsr('tape-lib-7').csr, actor: 'op' }))).toBe('EXISTS');
    expect(reg.denied({ fingerprint: first.record.fingerprint })).toBeUndefined();
    const second = await reg.issue({ name: 'tape-lib-7', publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, force: true, actor: 'op' });
    expect(second.superseded.map((c) => c.fingerprint)).toEqual([first.record.fingerprint]);
    expect(reg.denied({ fingerprint: first.record.fingerprint })?.reason).toBe('superseded');
    expect(reg.denied({ fingerprint: second.record.fingerprint })).toBeUndefined();
    expect(reg.find('tape-lib-7').map((c) => c.revokedAt === undefined)).toEqual([false, true]);
    // Once every certificate of a name is revoked, the name may be issued again without force.
    await reg.revoke({ target: 'tape-lib-7', reason: 'cessationOfOperation', actor: 'op' });
    expect((await reg.issue({ name: 'tape-lib-7', publicKey: k1.publicKey, actor: 'op' })).superseded).toEqual([]);
  });

  it('revoke by name or fingerprint: deny list at once, CRL regenerated with a higher number, signed by the CA, listing the serial', async () => {
    const store = new MemoryStore();
    await store.open();
    const reg = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY, config: { crlValidityHours: 12 } });
    const a = await reg.issue({ name: 'a', publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, actor: 'op' });
    const b = await reg.issue({ name: 'b', publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, actor: 'op' });
    const empty = await reg.crl();
    const n0 = await reg.crlNumber();
    expect(n0).toBe(1);
    expect(crlSerials(empty)).toEqual([]);
    expect(await reg.crl()).toEqual(empty); // fresh: served as stored
    expect(await code(reg.revoke({ target: 'nobody', actor: 'op' }))).toBe('NOT_FOUND');
    const revoked = await reg.revoke({ target: a.record.fingerprint.replace(/:/g, '').toLowerCase(), reason: 'keyCompromise', actor: 'op' });
    expect(revoked.map((c) => c.name)).toEqual(['a']);
    expect(reg.denied({ fingerprint: a.record.fingerprint })?.name).toBe('a');
    expect(reg.denied({ serial: a.record.serial })?.name).toBe('a');
    expect(reg.denied({ fingerprint: b.record.fingerprint })).toBeUndefined();
    expect(await reg.crlNumber()).toBe(2);
    const crl = await reg.crl();
    const parsed = pkijs.CertificateRevocationList.fromBER(crl);
    expect(crlSerials(crl)).toEqual([a.record.serial]);
    const reason = parsed.revokedCertificates![0]!.crlEntryExtensions!.extensions[0]!;
    expect(reason.extnID).toBe('2.5.29.21');
    expect((asn1js.fromBER(reason.extnValue.valueBlock.valueHexView).result as asn1js.Enumerated).valueBlock.valueDec).toBe(1);
    const numberExt = parsed.crlExtensions!.extensions.find((e) => e.extnID === '2.5.29.20')!;
    expect((asn1js.fromBER(numberExt.extnValue.valueBlock.valueHexView).result as asn1js.Integer).valueBlock.valueDec).toBe(2);
    const hours = (parsed.nextUpdate!.value.getTime() - parsed.thisUpdate.value.getTime()) / 3_600_000;
    expect(hours).toBe(12);
    const caCert = pkijs.Certificate.fromBER(new X509Certificate(caPem).raw);
    expect(await parsed.verify({ issuerCertificate: caCert })).toBe(true);
    expect(await code(reg.revoke({ target: 'a', actor: 'op' }))).toBe('NOT_FOUND'); // already revoked
    await reg.revoke({ target: 'b', actor: 'op' });
    expect(await reg.crlNumber()).toBe(3);
    expect(crlSerials(await reg.crl()).sort()).toEqual([a.record.serial, b.record.serial].sort());
  });

  it('the CRL is regenerated (number + 1) once half its validity has passed', async () => {
    const store = new MemoryStore();
    await store.open();
    let now = Date.now();
    const reg = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY, config: { crlValidityHours: 2 }, clock: () => now });
    const first = await reg.crl();
    now += 59 * 60_000;
    expect(await reg.crl()).toEqual(first);
    now += 2 * 60_000;
    const second = pkijs.CertificateRevocationList.fromBER(await reg.crl());
    expect(second.thisUpdate.value.getTime()).toBeGreaterThan(pkijs.CertificateRevocationList.fromBER(first).thisUpdate.value.getTime());
    expect(await reg.crlNumber()).toBe(2);
  });

  it('expiry report: unrevoked certificates ending within N days, soonest first', async () => {
    const store = new MemoryStore();
    await store.open();
    const reg = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY });
    const k = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    await reg.issue({ name: 'short', publicKey: k(), days: 3, actor: 'op' });
    await reg.issue({ name: 'medium', publicKey: k(), days: 20, actor: 'op' });
    await reg.issue({ name: 'long', publicKey: k(), days: 400, actor: 'op' });
    await reg.issue({ name: 'gone', publicKey: k(), days: 2, actor: 'op' });
    await reg.revoke({ target: 'gone', actor: 'op' });
    expect(reg.expiring(7).map((c) => c.name)).toEqual(['short']);
    expect(reg.expiring(30).map((c) => c.name)).toEqual(['short', 'medium']);
    expect(reg.expiring().map((c) => c.name)).toEqual(['short', 'medium']); // clients.expiryWarningDays 30
  });

  it('the registry limit refuses one more certificate (LIMIT); a deny list reload follows other writers (LevelDB)', async () => {
    const store = new LevelStore({ path: join(dir, 'db-limit') });
    await store.open();
    const reg = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY, config: { maxCertificates: 2 } });
    const watcher = await ClientRegistry.open({ store, dataDir, policy: DEFAULT_CRYPTO_POLICY, config: { maxCertificates: 2 } });
    const k = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const one = await reg.issue({ name: 'one', publicKey: k(), actor: 'op' });
    await reg.issue({ name: 'two', publicKey: k(), actor: 'op' });
    await expect(reg.issue({ name: 'three', publicKey: k(), actor: 'op' })).rejects.toThrow(/clients\.maxCertificates/);
    await reg.revoke({ target: 'one', actor: 'op' });
    // The other registry object learnt of it through the store's watch.
    await watcher.reload();
    expect(watcher.denied({ fingerprint: one.record.fingerprint })?.name).toBe('one');
    reg.close();
    watcher.close();
    await store.close();
  });
});

function crlSerials(der: Uint8Array): string[] {
  const crl = pkijs.CertificateRevocationList.fromBER(der);
  return (crl.revokedCertificates ?? []).map((r) =>
    Buffer.from(r.userCertificate.valueBlock.valueHexView)
      .toString('hex')
      .toUpperCase()
      .replace(/^(00)+(?=.)/, ''),
  );
}
