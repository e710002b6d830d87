/**
 * The real PyKMIP 0.10 client (kmip.pie.client.ProxyKmipClient, Debian python3-pykmip) drives
 * our server over mutual TLS, at KMIP 1.2, 1.4 and 2.0.
 *
 * test/interop/pykmip_client.py runs one scenario per version and prints each step's result as
 * JSON; every step below asserts on one of them, so a failure names the step. Every step runs
 * at every version. Where PyKMIP 0.10 itself cannot do something at a version, the test says
 * so by asserting PyKMIP's own behaviour (e.g. its Set Attribute refuses to encode for 1.x).
 *
 * The script reads no PyKMIP configuration from /etc or ~ (config_file is an empty temp file
 * and every setting is passed explicitly) and runs in its own process group, which afterAll
 * stops if it is still running.
 */
import { PykmipScripts } from './pykmip-scripts.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestKms, type TestKms } from '../support/kms.js';

interface StepError {
  readonly type: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message: string;
  readonly trace?: string;
}
type Step = { readonly step: string; readonly ok: true; readonly value: unknown } | { readonly step: string; readonly ok: false; readonly error: StepError };
interface ScenarioResult {
  readonly pykmip: string;
  readonly kmipVersion: string;
  readonly ids: Readonly<Record<string, string>>;
  readonly steps: readonly Step[];
}
interface AttributeView {
  readonly name: string;
  readonly index: number | null;
  readonly value: unknown;
}

let kms: TestKms;
let scripts: PykmipScripts;

/** Run the scenario at `version` against our server; the parsed JSON (or an error with stderr). */
function runScenario(version: string): Promise<ScenarioResult> {
  return scripts.run<ScenarioResult>({ script: 'pykmip_client.py', port: kms.port, args: ['--version', version], tag: `pykmip-${version}-${process.pid}-${Date.now()}`, timeoutMs: 90_000 });
}

beforeAll(async () => {
  scripts = await PykmipScripts.create('pykmip-client');
  kms = await startTestKms();
});

afterAll(async () => {
  await scripts?.dispose();
  await kms?.dispose();
});

function stepIn(run: ScenarioResult, name: string): Step {
  const s = run.steps.find((x) => x.step === name);
  if (!s) throw new Error(`the scenario has no step ${name}`);
  return s;
}

/** The step's value; fails with the step's name and PyKMIP's error when it did not succeed. */
function okValue<T>(run: ScenarioResult, name: string): T {
  const s = stepIn(run, name);
  if (!s.ok) expect.fail(`step ${name} failed: ${JSON.stringify(s.error, null, 1)}`);
  return s.value as T;
}

/** The step's error; fails when the step succeeded. */
function failed(run: ScenarioResult, name: string): StepError {
  const s = stepIn(run, name);
  if (s.ok) expect.fail(`step ${name} was expected to fail but returned ${JSON.stringify(s.value)}`);
  return s.error;
}

const valuesOf = (attrs: readonly AttributeView[], name: string) => attrs.filter((a) => a.name === name).map((a) => a.value);

for (const version of ['1.2', '1.4', '2.0'] as const) {
  const v2 = version === '2.0';
  describe(`PyKMIP 0.10 client against our server, KMIP ${version}`, () => {
    let run: ScenarioResult;
    let id: Readonly<Record<string, string>>;
    beforeAll(async () => {
      run = await runScenario(version);
      id = run.ids;
    }, 120_000);

    it('is PyKMIP 0.10 at the requested version, and connects over mutual TLS', () => {
      expect(run.pykmip).toBe('0.10.0');
      expect(run.kmipVersion).toBe(version);
      expect(okValue(run, 'open')).toBe(true);
    });

    it('create: an AES-256 key', () => {
      expect(okValue<string>(run, 'create')).toMatch(/\S/);
    });

    it('register: a symmetric key, secret data, an opaque object and an X.509 certificate', () => {
      const uids = ['register_symmetric_key', 'register_secret_data', 'register_opaque_object', 'register_certificate'].map((s) => okValue<string>(run, s));
      expect(new Set([...uids, okValue<string>(run, 'create')]).size).toBe(5);
    });

    it('get: the created key is a 256-bit AES key', () => {
      expect(okValue(run, 'get_created')).toEqual({ objectType: 'SYMMETRIC_KEY', algorithm: 'AES', length: 256, valueBytes: 32 });
    });

    it('get: each registered object comes back with the bytes that were registered', () => {
      expect(okValue(run, 'get_symmetric_key')).toEqual({ objectType: 'SYMMETRIC_KEY', equal: true, valueBytes: 16, algorithm: 'AES', length: 128 });
      expect(okValue(run, 'get_secret_data')).toMatchObject({ objectType: 'SECRET_DATA', equal: true, dataType: 'PASSWORD' });
      expect(okValue(run, 'get_opaque_object')).toMatchObject({ objectType: 'OPAQUE_DATA', equal: true, opaqueType: 'NONE' });
      expect(okValue(run, 'get_certificate')).toMatchObject({ objectType: 'CERTIFICATE', equal: true, certificateType: 'X_509' });
    });

    it('get_attributes: all attributes of the registered key', () => {
      const got = okValue<{ uid: string; attributes: AttributeView[] }>(run, 'get_attributes');
      expect(got.uid).toBe(id.symmetric);
      const a = got.attributes;
      expect(valuesOf(a, 'Unique Identifier')).toEqual([id.symmetric]);
      expect(valuesOf(a, 'Object Type')).toEqual(['SYMMETRIC_KEY']);
      expect(valuesOf(a, 'Cryptographic Algorithm')).toEqual(['AES']);
      expect(valuesOf(a, 'Cryptographic Length')).toEqual([128]);
      expect(valuesOf(a, 'Cryptographic Usage Mask')).toEqual([4 | 8]);
      expect(valuesOf(a, 'State')).toEqual(['PRE_ACTIVE']);
      expect(valuesOf(a, 'Name')).toEqual([{ name: expect.stringMatching(/-symmetric$/), type: 'UNINTERPRETED_TEXT_STRING' }]);
      expect(valuesOf(a, 'Initial Date')).toHaveLength(1);
    });

    it('get_attributes: only the attributes asked for', () => {
      const got = okValue<{ uid: string; attributes: AttributeView[] }>(run, 'get_attributes_named');
      expect(got.uid).toBe(id.symmetric);
      expect(got.attributes.map((x) => [x.name, x.value])).toEqual(
        expect.arrayContaining([
          ['Cryptographic Algorithm', 'AES'],
          ['Cryptographic Length', 128],
          ['State', 'PRE_ACTIVE'],
        ]),
      );
      expect(got.attributes).toHaveLength(3);
    });

    it('get_attribute_list: the names of the attributes the key has', () => {
      const names = okValue<string[]>(run, 'get_attribute_list');
      expect(names).toEqual(
        expect.arrayContaining(['Cryptographic Algorithm', 'Cryptographic Length', 'Cryptographic Usage Mask', 'Initial Date', 'Name', 'Object Type', 'State', 'Unique Identifier']),
      );
      expect(new Set(names).size).toBe(names.length);
    });

    it('activate: Pre-Active → Active', () => {
      expect(okValue(run, 'state_before_activate')).toBe('PRE_ACTIVE');
      expect(okValue(run, 'activate')).toBe(true);
      expect(okValue(run, 'state_after_activate')).toBe('ACTIVE');
      expect(okValue(run, 'activate_symmetric')).toBe(true);
    });

    it('check: an active key with a usage mask it allows', () => {
      expect(okValue(run, 'check')).toBe(id.created);
    });

    it('destroy: refused while Active (1.4 §4.21, §11.22 Permission Denied; 2.0 §6.1.15 Wrong Key Lifecycle State)', () => {
      const e = failed(run, 'destroy_active_refused');
      expect(e.type).toBe('KmipOperationFailure');
      expect(e.reason).toBe(v2 ? 'WRONG_KEY_LIFECYCLE_STATE' : 'PERMISSION_DENIED');
    });

    it('revoke: cessation of operation → Deactivated; key compromise → Compromised', () => {
      expect(okValue(run, 'revoke')).toBe(true);
      expect(okValue(run, 'state_after_revoke')).toBe('DEACTIVATED');
      expect(okValue(run, 'revoke_compromise')).toBe(true);
      expect(okValue(run, 'state_after_compromise')).toBe('COMPROMISED');
    });

    it('destroy: a Deactivated key, after which Get fails', () => {
      expect(okValue(run, 'destroy')).toBe(true);
      const e = failed(run, 'get_after_destroy');
      expect(e.type).toBe('KmipOperationFailure');
      // 2.0 has Object Destroyed (2.0 §11); 1.x has no reason for it, so any failure the client can read.
      if (v2) expect(e.reason).toBe('OBJECT_DESTROYED');
      else expect(e.reason).toMatch(/^[A-Z_]+$/);
    });

    it('locate: by name, a name nobody has, by object type, by state, by state and name', () => {
      expect(okValue(run, 'locate_by_name')).toEqual([id.opaque]);
      expect(okValue(run, 'locate_by_name_missing')).toEqual([]);
      const opaque = okValue<string[]>(run, 'locate_by_object_type');
      expect(opaque).toContain(id.opaque);
      for (const other of [id.created, id.symmetric, id.secret, id.certificate]) expect(opaque).not.toContain(other);
      const active = okValue<string[]>(run, 'locate_by_state');
      expect(active).toContain(id.created);
      for (const other of [id.symmetric, id.secret, id.opaque, id.certificate]) expect(active).not.toContain(other);
      expect(okValue(run, 'locate_by_state_and_name')).toEqual([id.certificate]);
    });

    it('locate: Maximum Items 1 returns one identifier', () => {
      expect(okValue<string[]>(run, 'locate_maximum_items')).toHaveLength(1);
    });

    if (v2) {
      it('set_attribute (2.0): Contact Information is set', () => {
        expect(okValue(run, 'set_attribute')).toBe(id.opaque);
        expect(okValue(run, 'contact_after_set')).toEqual([expect.stringMatching(/^set@/)]);
      });
      it('modify_attribute (2.0, Current + New Attribute): Contact Information changes', () => {
        expect(okValue(run, 'modify_attribute')).toEqual({ uid: id.opaque, attribute: null });
        expect(okValue(run, 'contact_after_modify')).toEqual([expect.stringMatching(/^modified@/)]);
      });
      it('delete_attribute (2.0, Current Attribute): Contact Information is gone', () => {
        expect(okValue(run, 'delete_attribute')).toEqual({ uid: id.opaque, attribute: null });
        expect(okValue(run, 'contact_after_delete')).toEqual([]);
      });
      it('delete_attribute (2.0, PyKMIP\'s Attribute Reference {Vendor Identification "", Attribute Name}): an answer PyKMIP can read', () => {
        expect(okValue(run, 'set_attribute_again')).toBe(id.opaque);
        // PyKMIP 0.10 names a standard attribute by its spec name with an empty Vendor
        // Identification. The server may accept it or refuse it, but PyKMIP must be able to read
        // the answer: it decodes Text Strings byte by byte, so any non-ASCII Result Message
        // (e.g. "§") makes it raise UnicodeDecodeError instead of KmipOperationFailure.
        const s = stepIn(run, 'delete_attribute_by_reference');
        if (s.ok) {
          expect(s.value).toBe(id.opaque);
          expect(okValue(run, 'contact_after_delete_by_reference')).toEqual([]);
        } else {
          expect({ type: s.error.type, message: s.error.message }).toMatchObject({ type: 'OperationFailure' });
          expect(okValue(run, 'contact_after_delete_by_reference')).toEqual([expect.stringMatching(/^again@/)]);
        }
      });
      it('a refusal PyKMIP provokes comes back readable: Attribute Reference with Vendor Identification "a-b" → Invalid Field', () => {
        const e = failed(run, 'delete_attribute_bad_vendor');
        expect({ type: e.type, reason: e.reason }).toEqual({ type: 'OperationFailure', reason: 'INVALID_FIELD' });
      });
    } else {
      it(`set_attribute: PyKMIP 0.10 encodes Set Attribute only for 2.0, so at ${version} it refuses before sending`, () => {
        const e = failed(run, 'set_attribute');
        expect(e.type).toBe('VersionNotSupported');
        expect(e.message).toBe(`KMIP ${version} does not support the SetAttribute operation.`);
        expect(okValue(run, 'contact_after_set')).toEqual([]);
      });
      it(`modify_attribute (${version}, Attribute with index): the Name changes and Locate finds the new one`, () => {
        const got = okValue<{ uid: string; attribute: AttributeView[] }>(run, 'modify_attribute');
        expect(got.uid).toBe(id.opaque);
        // The Attribute Index may be omitted for index 0 (1.4 §2.1.1).
        expect(got.attribute).toEqual([
          { name: 'Name', index: got.attribute[0]?.index === null ? null : 0, value: { name: expect.stringMatching(/-opaque-renamed$/), type: 'UNINTERPRETED_TEXT_STRING' } },
        ]);
        expect(okValue(run, 'locate_after_modify')).toEqual([id.opaque]);
      });
      it(`delete_attribute (${version}, Attribute Name + Index): the Name is gone`, () => {
        expect(okValue<{ uid: string }>(run, 'delete_attribute').uid).toBe(id.opaque);
        expect(okValue(run, 'names_after_delete')).toEqual([]);
      });
    }

    it('close', () => {
      expect(okValue(run, 'close')).toBe(true);
    });
  });
}
