/**
 * #18 item 3: the `clients` config section is strict, each key is also a KMS_CLIENTS_* variable
 * (the variable wins over the file), and `kms serve --help` lists them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { clientsSettings, DEFAULT_CLIENTS } from '../../src/config/clients.js';
import { runKmsHere } from '../support/kms-process.js';

const dir = mkdtempSync(join(tmpdir(), 'kms-clients-config-'));
function file(o: unknown): string {
  const p = join(dir, `${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(o));
  return p;
}

describe('clients config section', () => {
  it('file, then environment; defaults for the rest', () => {
    const c = loadConfig({ file: file({ clients: { maxCertificates: 5, crlValidityHours: 12 } }), env: { KMS_CLIENTS_CRL_VALIDITY_HOURS: '48', KMS_CLIENTS_EXPIRY_WARNING_DAYS: '14' } });
    expect(clientsSettings(c.clients)).toEqual({ ...DEFAULT_CLIENTS, maxCertificates: 5, crlValidityHours: 48, expiryWarningDays: 14 });
    expect(clientsSettings(loadConfig({ env: {} }).clients)).toEqual({ maxCertificates: 10_000, crlValidityHours: 24, defaultDays: 825, expiryWarningDays: 30 });
  });

  it('refuses unknown keys and values out of range, naming them', () => {
    expect(() => loadConfig({ file: file({ clients: { maxCerts: 5 } }) })).toThrow(/unknown key clients\.maxCerts/);
    expect(() => loadConfig({ file: file({ clients: { crlValidityHours: 0 } }) })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file({ clients: { crlValidityHours: 721 } }) })).toThrow(/clients\.crlValidityHours must be a whole number from 1 to 720/);
    expect(() => loadConfig({ env: { KMS_CLIENTS_MAX_CERTIFICATES: 'lots' } })).toThrow(/environment KMS_CLIENTS_MAX_CERTIFICATES: clients\.maxCertificates/);
    expect(() => loadConfig({ file: file({ clients: [] }) })).toThrow(/clients must be an object/);
  });

  it('kms serve --help lists every key with its variable', async () => {
    const r = await runKmsHere(['serve', '--help']);
    for (const v of ['KMS_CLIENTS_MAX_CERTIFICATES', 'KMS_CLIENTS_CRL_VALIDITY_HOURS', 'KMS_CLIENTS_DEFAULT_DAYS', 'KMS_CLIENTS_EXPIRY_WARNING_DAYS', 'clients {maxCertificates'])
      expect(r.stdout).toContain(v);
  });
});
