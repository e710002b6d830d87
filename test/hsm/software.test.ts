/** The KeyBackend contract on the software backend (node:crypto, key file under a master key). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HsmError } from '../../src/hsm/key-backend.js';
import { SoftwareBackend } from '../../src/hsm/software/software-backend.js';
import { keyBackendContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'kms-softkeys-'));
const paths = { masterKeyFile: join(dir, 'master.key'), keyFile: join(dir, 'keys.json') };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

keyBackendContract('software', {
  open: async () => SoftwareBackend.open(paths),
  reopen: async () => SoftwareBackend.open(paths),
});

describe('software backend at rest', () => {
  it('the key file holds no key value, and an edited attribute makes the file fail to load', async () => {
    const p = { masterKeyFile: join(dir, 'm2.key'), keyFile: join(dir, 'k2.json') };
    const b = SoftwareBackend.open(p);
    const k = await b.importKey({ type: 'AES', bits: 256, token: true, sensitive: true, extractable: false, usage: ['encrypt'], label: 'at-rest' }, Buffer.alloc(32, 0x5a));
    await b.close();
    const text = readFileSync(p.keyFile, 'utf8');
    expect(text).not.toContain('5a5a5a5a');
    expect(text).not.toContain(Buffer.alloc(32, 0x5a).toString('base64'));
    expect(text).toContain(k.id);
    writeFileSync(p.keyFile, text.replace('"extractable":false', '"extractable":true'));
    expect(() => SoftwareBackend.open(p)).toThrow(HsmError);
  });

  it('a token private key is sealed in the key file like a secret key (its PKCS#8 never appears)', async () => {
    const p = { masterKeyFile: join(dir, 'm3.key'), keyFile: join(dir, 'k3.json') };
    const b = SoftwareBackend.open(p);
    const { privateKey } = await b.generateKeyPair({ type: 'RSA', bits: 2048, token: true, sensitive: false, extractable: true, label: 'pair-at-rest' });
    const pkcs8 = Buffer.from(await b.exportKey(privateKey));
    expect(pkcs8.length).toBeGreaterThan(1000);
    await b.close();
    const text = readFileSync(p.keyFile, 'utf8');
    expect(text).toContain(privateKey.id);
    expect(text).not.toContain(pkcs8.toString('base64').slice(40, 100));
    expect(text).not.toContain(pkcs8.toString('hex').slice(80, 200));
    const again = SoftwareBackend.open(p);
    expect(Buffer.from(await again.exportKey(privateKey))).toEqual(pkcs8);
    await again.close();
  });
});
