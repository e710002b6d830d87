/**
 * Certificates through the real PyKMIP 0.10 client at KMIP 1.2, 1.4 and 2.0
 * (test/interop/pykmip_certificates.py; kept apart from the general scenario in
 * pykmip_client.py): a certificate made by Python's `cryptography` is registered, comes back from
 * Get byte-identical (and `cryptography` reads the same subject, issuer, serial and fingerprint
 * from it), and its server-derived attributes read through PyKMIP agree with `cryptography`.
 * The script runs in its own process group, stopped by afterAll if still running.
 */
import { PykmipScripts } from './pykmip-scripts.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestKms, type TestKms } from '../support/kms.js';

interface Facts {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly sha256: string;
  readonly keyBits: number;
  readonly length: number;
}
type Step =
  | { readonly step: string; readonly ok: true; readonly value: unknown }
  | { readonly step: string; readonly ok: false; readonly error: { type: string; message: string; reason?: string; raisedIn?: string } };
interface Run {
  readonly pykmip: string;
  readonly kmipVersion: string;
  readonly expected: Facts;
  readonly steps: readonly Step[];
}
interface Attr {
  readonly name: string;
  readonly value: unknown;
}

let kms: TestKms;
let scripts: PykmipScripts;

function run(version: string): Promise<Run> {
  return scripts.run<Run>({ script: 'pykmip_certificates.py', port: kms.port, args: ['--version', version], tag: `pykmip-cert-${version}-${process.pid}-${Date.now()}`, timeoutMs: 60_000 });
}

beforeAll(async () => {
  scripts = await PykmipScripts.create('pykmip-certs');
  kms = await startTestKms();
});

afterAll(async () => {
  await scripts?.dispose();
  await kms?.dispose();
});

function okValue<T>(r: Run, name: string): T {
  const s = r.steps.find((x) => x.step === name);
  if (!s) throw new Error(`no step ${name}`);
  if (!s.ok) expect.fail(`step ${name} failed: ${JSON.stringify(s.error, null, 1)}`);
  return s.value as T;
}

const valuesOf = (attrs: readonly Attr[], name: string) => attrs.filter((a) => a.name === name).map((a) => a.value);

for (const version of ['1.2', '1.4', '2.0'] as const) {
  describe(`PyKMIP 0.10: an X.509 certificate at KMIP ${version}`, () => {
    let r: Run;
    beforeAll(async () => {
      r = await run(version);
    }, 90_000);

    it('registers, and Get returns the very bytes (cryptography reads the same certificate)', () => {
      expect(r.pykmip).toBe('0.10.0');
      expect(okValue(r, 'open')).toBe(true);
      expect(okValue<string>(r, 'register')).toMatch(/\S/);
      const got = okValue<{ objectType: string; certificateType: string; identical: boolean; facts: Facts }>(r, 'get');
      expect(got).toEqual({ objectType: 'CERTIFICATE', certificateType: 'X_509', identical: true, facts: r.expected });
      expect(r.expected.subject).toMatch(/^CN=leaf-pykmip-cert-.*,O=PyKMIP Interop$/);
    });

    it('the attributes the server derived, read through PyKMIP, agree with cryptography', () => {
      const a = okValue<Attr[]>(r, 'get_attributes_named');
      if (version !== '2.0') expect(valuesOf(a, 'Certificate Type')).toEqual(['X_509']);
      expect(valuesOf(a, 'Certificate Length')).toEqual([r.expected.length]);
      expect(valuesOf(a, 'Cryptographic Algorithm')).toEqual(['RSA']);
      expect(valuesOf(a, 'Cryptographic Length')).toEqual([r.expected.keyBits]);
      expect(valuesOf(a, 'Digest')).toEqual([{ hashingAlgorithm: 'SHA_256', digestValue: { hex: r.expected.sha256 } }]);
    });

    it('Get Attribute List names the certificate attributes; Get Attributes (all) decodes in PyKMIP 0.10 (the default client profile)', () => {
      const names = okValue<string[]>(r, 'get_attribute_list');
      expect(names).toEqual(
        expect.arrayContaining([
          'Certificate Type',
          'Certificate Length',
          'Digest',
          'Digital Signature Algorithm',
          'X.509 Certificate Identifier',
          'X.509 Certificate Subject',
          'X.509 Certificate Issuer',
        ]),
      );
      // The deprecated 1.x forms exist up to 1.4; 2.0 has the Certificate Attributes instead.
      const v1Forms = ['Certificate Identifier', 'Certificate Subject', 'Certificate Issuer'];
      const v2Forms = ['Certificate Subject CN', 'Certificate Subject O', 'Certificate Issuer CN', 'Certificate Issuer O'];
      for (const n of v1Forms) expect(names.includes(n)).toBe(version !== '2.0');
      for (const n of v2Forms) expect(names.includes(n)).toBe(version === '2.0');
      // PyKMIP 0.10 cannot decode X.509 Certificate Identifier/Subject/Issuer, Certificate
      // Identifier/Subject/Issuer or Digital Signature Algorithm values (its attribute value factory
      // raises NotImplementedError), nor at 2.0 the Certificate Attributes (ValueError). The default
      // client profile (src/policy/client-profiles.ts) leaves exactly those out of a Get Attributes
      // naming none, so the call decodes; asked for by name they are still answered.
      const all = okValue<Attr[]>(r, 'get_attributes_all');
      const got = new Set(all.map((x) => x.name));
      for (const n of ['Unique Identifier', 'Object Type', 'Certificate Length', 'Digest', 'State', 'Initial Date', 'Last Change Date']) expect(got, n).toContain(n);
      if (version !== '2.0') expect(got).toContain('Certificate Type');
      for (const n of ['Digital Signature Algorithm', 'X.509 Certificate Identifier', 'X.509 Certificate Subject', ...v1Forms, ...v2Forms]) expect(got.has(n), n).toBe(false);
      expect(okValue(r, 'destroy')).toBe(true);
    });
  });
}
