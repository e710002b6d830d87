/**
 * Restart keeps everything: objects made through our client (Create, Register; standard and
 * custom attributes; Activate, Revoke, Destroy) read back identically from a new server on the
 * same data folder: every attribute (Get Attributes at 1.4 and 2.1), every State, the key bytes
 * (Get), the answers to a set of Locate queries, and the refusals for the destroyed object.
 *
 * Both servers run with the same fixed clock, so states that depend on the Activation and
 * Deactivation Dates read the same before and after.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attr,
  certificateObject,
  findChild,
  keyBlock,
  keyMaterialOf,
  symmetricKeyObject,
  uniqueIdentifierOf,
  uniqueIdentifiersOf,
  getPayload,
  activatePayload,
  destroyPayload,
  locatePayload,
  type KmipVersion,
} from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, RevocationReasonCode, SecretDataType, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, toHex, type StructureNode } from '../../src/ttlv/index.js';
import { devCertPaths } from '../../src/pki/dev-certs.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startTestKms, type TestKms } from '../support/kms.js';
import {
  canonical,
  createWith,
  custom,
  getAttributesPayload,
  getAttributeListPayload,
  readAttributeList,
  readGetAttributes,
  registerWith,
  revokePayload,
  Session,
  single,
  V1_4,
  V2_1,
} from '../support/kmip-session.js';

const NOW_MS = Date.UTC(2030, 0, 15, 12, 0, 0);
const NOW = BigInt(NOW_MS / 1000);
const clock = () => NOW_MS;
const ENC_DEC = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

interface Made {
  readonly uid: string;
  readonly state: number;
  /** Key/secret/opaque/certificate bytes as registered or first read, for those not destroyed. */
  bytes?: string;
}

interface Snapshot {
  readonly attributes: Record<string, { v14: Record<string, string[]>; v21: Record<string, string[]>; list14: string[]; list21: string[] }>;
  readonly states: Record<string, number>;
  readonly bytes: Record<string, string>;
  readonly locate: Record<string, string[]>;
  readonly refusals: Record<string, number | undefined>;
}

let srv: TestKms | undefined;
let dataDir: string;
const made: Record<string, Made> = {};
let before: Snapshot;
let afterSnap: Promise<Snapshot> | undefined;
/** The snapshot of the restarted server, taken once (before the write test changes anything). */
const after = (): Promise<Snapshot> => (afterSnap ??= snapshot(srv!));

/** The content bytes a Get returns: Key Material, Certificate Value or Opaque Data Value. */
function contentBytes(body: StructureNode): string {
  const cert = findChild(findChild(body, Tag.Certificate), Tag.CertificateValue);
  if (cert?.type === 'ByteString') return toHex(cert.value);
  const opaque = findChild(findChild(body, Tag.OpaqueObject), Tag.OpaqueDataValue);
  if (opaque?.type === 'ByteString') return toHex(opaque.value);
  return toHex(keyMaterialOf(body));
}

const certDer = (): Uint8Array => {
  // Any DER certificate will do: the dev CA certificate made by the global setup.
  const pem = readFileSync(devCertPaths(resolve('certs/dev')).ca.cert, 'utf8');
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
};

async function sessions(k: TestKms): Promise<{ s21: Session; s14: Session }> {
  return { s21: new Session(await k.client(), V2_1), s14: new Session(await k.client(), V1_4) };
}

const LOCATES: Record<string, (v: KmipVersion) => StructureNode> = {
  groupBlue: (v) => locatePayload(v, [attr.objectGroup('blue')]),
  active: (v) => locatePayload(v, [attr.state(State.Active)]),
  preActive: (v) => locatePayload(v, [attr.state(State.PreActive)]),
  deactivated: (v) => locatePayload(v, [attr.state(State.Deactivated)]),
  compromised: (v) => locatePayload(v, [attr.state(State.Compromised)]),
  destroyed: (v) => locatePayload(v, [attr.state(State.Destroyed)]),
  symmetricKeys: (v) => locatePayload(v, [attr.objectType(ObjectType.SymmetricKey)]),
  nameA: (v) => locatePayload(v, [attr.name('restart-A')]),
  all: (v) => locatePayload(v, []),
};

async function snapshot(k: TestKms): Promise<Snapshot> {
  const { s21, s14 } = await sessions(k);
  const snap: Snapshot = { attributes: {}, states: {}, bytes: {}, locate: {}, refusals: {} };
  for (const [key, m] of Object.entries(made)) {
    // Get first: the first Get turns Fresh false, so reading attributes after it keeps snapshots repeatable.
    const got = await s21.call(Operation.Get, getPayload(m.uid));
    if (got.payload && got.status === 0) snap.bytes[key] = contentBytes(got.payload);
    else snap.refusals[`get:${key}`] = got.reason;
    const a21 = readGetAttributes(V2_1, await s21.ok(Operation.GetAttributes, getAttributesPayload(V2_1, m.uid)));
    const a14 = readGetAttributes(V1_4, await s14.ok(Operation.GetAttributes, getAttributesPayload(V1_4, m.uid)));
    snap.attributes[key] = {
      v21: canonical(a21),
      v14: canonical(a14),
      list21: readAttributeList(V2_1, await s21.ok(Operation.GetAttributeList, getAttributeListPayload(m.uid))).sort(),
      list14: readAttributeList(V1_4, await s14.ok(Operation.GetAttributeList, getAttributeListPayload(m.uid))).sort(),
    };
    const st = single(a21, 'State');
    snap.states[key] = st?.type === 'Enumeration' ? st.value : -1;
  }
  for (const [name, q] of Object.entries(LOCATES)) {
    for (const s of [s21, s14]) {
      snap.locate[`${name}@${s.version.major}.${s.version.minor}`] = uniqueIdentifiersOf(await s.ok(Operation.Locate, q(s.version))).sort();
    }
  }
  snap.refusals['destroy:destroyedC'] = (await s21.call(Operation.Destroy, destroyPayload(made.destroyedC!.uid))).reason;
  snap.refusals['activate:deactivatedB'] = (await s21.call(Operation.Activate, activatePayload(made.deactivatedB!.uid))).reason;
  return snap;
}

beforeAll(async () => {
  srv = await startTestKms({}, { clock });
  dataDir = srv.dataDir;
  const { s21, s14 } = await sessions(srv);

  // A: created at 2.1 with a Name, an Object Group, Contact Information and a vendor attribute; activated.
  const a = uniqueIdentifierOf(
    await s21.ok(
      Operation.Create,
      createWith(V2_1, ObjectType.SymmetricKey, [
        attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
        attr.cryptographicLength(256),
        attr.cryptographicUsageMask(ENC_DEC),
        attr.name('restart-A'),
        attr.objectGroup('blue'),
        t.text(Tag.ContactInformation, 'ops@example.org'),
        custom('acme', 'tier', t.int(Tag.AttributeValue, 3)),
      ]),
    ),
  );
  await s21.ok(Operation.Activate, activatePayload(a));
  made.activeA = { uid: a, state: State.Active };

  // B: a symmetric key registered at 1.4 with a 1.x custom attribute "x-owner"; activated, then revoked (Deactivated).
  const keyB = randomBytes(32);
  const b = uniqueIdentifierOf(
    await s14.ok(
      Operation.Register,
      registerWith(V1_4, ObjectType.SymmetricKey, symmetricKeyObject(keyB, CryptographicAlgorithm.AES), [
        attr.cryptographicUsageMask(ENC_DEC),
        attr.name('restart-B'),
        attr.objectGroup('blue'),
        custom('x', 'owner', t.text(Tag.AttributeValue, 'team-b')),
      ]),
    ),
  );
  await s14.ok(Operation.Activate, activatePayload(b));
  await s14.ok(Operation.Revoke, revokePayload(b, RevocationReasonCode.CessationOfOperation, { message: 'rotated' }));
  made.deactivatedB = { uid: b, state: State.Deactivated, bytes: toHex(keyB) };

  // C: secret data registered at 2.1, destroyed while Pre-Active.
  const c = uniqueIdentifierOf(
    await s21.ok(
      Operation.Register,
      registerWith(V2_1, ObjectType.SecretData, t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(Buffer.from('hunter2'), KeyFormatType.Opaque)]), [
        attr.cryptographicUsageMask(CryptographicUsageMask.DeriveKey),
        attr.name('restart-C'),
      ]),
    ),
  );
  await s21.ok(Operation.Destroy, destroyPayload(c));
  made.destroyedC = { uid: c, state: State.Destroyed };

  // D: created at 1.4, revoked for key compromise while Pre-Active (Compromised).
  const d = uniqueIdentifierOf(
    await s14.ok(
      Operation.Create,
      createWith(V1_4, ObjectType.SymmetricKey, [
        attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
        attr.cryptographicLength(128),
        attr.cryptographicUsageMask(ENC_DEC),
        attr.name('restart-D'),
        custom('x', 'purpose', t.bytes(Tag.AttributeValue, Buffer.from([1, 2, 3]))),
      ]),
    ),
  );
  await s14.ok(Operation.Revoke, revokePayload(d, RevocationReasonCode.KeyCompromise, { compromiseOccurrenceDate: NOW - 86_400n }));
  made.compromisedD = { uid: d, state: State.Compromised };

  // E: an opaque object with an Activation Date a day ahead (Pre-Active under the fixed clock).
  const opaque = randomBytes(40);
  const e = uniqueIdentifierOf(
    await s21.ok(
      Operation.Register,
      registerWith(V2_1, ObjectType.OpaqueObject, t.struct(Tag.OpaqueObject, [t.enum(Tag.OpaqueDataType, 0x80000000), t.bytes(Tag.OpaqueDataValue, opaque)]), [
        attr.name('restart-E'),
        t.date(Tag.ActivationDate, NOW + 86_400n),
        t.date(Tag.DeactivationDate, NOW + 2n * 86_400n),
      ]),
    ),
  );
  made.preActiveE = { uid: e, state: State.PreActive, bytes: toHex(opaque) };

  // F: a certificate registered at 1.4 with an Activation Date an hour ago (so Active at once).
  const der = certDer();
  const f = uniqueIdentifierOf(
    await s14.ok(
      Operation.Register,
      registerWith(V1_4, ObjectType.Certificate, certificateObject(der), [
        attr.cryptographicUsageMask(CryptographicUsageMask.Verify),
        attr.name('restart-F'),
        attr.name('restart-F-alias'),
        t.date(Tag.ActivationDate, NOW - 3600n),
      ]),
    ),
  );
  made.activeF = { uid: f, state: State.Active, bytes: toHex(der) };

  before = await snapshot(srv);
  await srv.stop();
  srv = await startTestKms({}, { dataDir, clock });
});

afterAll(async () => {
  await srv?.dispose();
});

describe('a server restarted on the same data folder', () => {
  it('the objects were in the expected states before the restart', () => {
    for (const [key, m] of Object.entries(made)) expect({ key, state: before.states[key] }).toEqual({ key, state: m.state });
    expect(before.bytes.deactivatedB).toBe(made.deactivatedB!.bytes);
    expect(before.bytes.preActiveE).toBe(made.preActiveE!.bytes);
    expect(before.bytes.activeF).toBe(made.activeF!.bytes);
    expect(before.locate['groupBlue@2.1']).toEqual([made.activeA!.uid, made.deactivatedB!.uid].sort());
    expect(before.locate['nameA@1.4']).toEqual([made.activeA!.uid]);
  });

  it('custom attributes were kept in both the 1.x and 2.x forms', () => {
    const a = before.attributes.activeA!;
    expect(Object.keys(a.v21)).toContain('vendor:acme:tier');
    expect(Object.keys(before.attributes.deactivatedB!.v21)).toContain('vendor:x:owner');
    expect(Object.keys(before.attributes.deactivatedB!.v14)).toContain('x-owner');
    expect(Object.keys(before.attributes.compromisedD!.v14)).toContain('x-purpose');
  });

  it('every attribute reads back identically (Get Attributes, Get Attribute List, 1.4 and 2.1)', async () => {
    const a = await after();
    for (const key of Object.keys(made)) expect({ key, ...a.attributes[key] }).toEqual({ key, ...before.attributes[key] });
  });

  it('every State is unchanged', async () => {
    const a = await after();
    expect(a.states).toEqual(before.states);
  });

  it('key, secret, opaque and certificate bytes are unchanged (Get)', async () => {
    const a = await after();
    expect(a.bytes).toEqual(before.bytes);
    expect(Object.keys(a.bytes).sort()).toEqual(['activeA', 'compromisedD', 'deactivatedB', 'activeF', 'preActiveE'].sort());
  });

  it('Locate finds the same sets', async () => {
    const a = await after();
    expect(a.locate).toEqual(before.locate);
  });

  it('refusals are the same: Get and Destroy of the destroyed object, Activate of the deactivated one', async () => {
    const a = await after();
    expect(a.refusals).toEqual(before.refusals);
    for (const r of Object.values(a.refusals)) expect(r).toBeDefined();
  });

  it('the restarted server still serves writes: a new object and a change to an old one', async () => {
    const { s21 } = await sessions(srv!);
    await s21.ok(Operation.Destroy, destroyPayload(made.deactivatedB!.uid));
    const a = readGetAttributes(V2_1, await s21.ok(Operation.GetAttributes, getAttributesPayload(V2_1, made.deactivatedB!.uid, ['State'])));
    expect(single(a, 'State')).toMatchObject({ value: State.Destroyed });
    const fresh = uniqueIdentifierOf(
      await s21.ok(
        Operation.Create,
        createWith(V2_1, ObjectType.SymmetricKey, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(ENC_DEC)]),
      ),
    );
    expect(Object.values(made).map((m) => m.uid)).not.toContain(fresh);
  });

  it('restarted with the clock three days on, the dates take effect: E is Deactivated, and Locate agrees', async () => {
    await srv!.stop();
    const later = NOW_MS + 3 * 86_400_000;
    srv = await startTestKms({}, { dataDir, clock: () => later });
    const { s21, s14 } = await sessions(srv);
    for (const s of [s21, s14]) {
      const a = readGetAttributes(s.version, await s.ok(Operation.GetAttributes, getAttributesPayload(s.version, made.preActiveE!.uid, ['State', 'ActivationDate', 'DeactivationDate'])));
      expect(single(a, 'State')).toMatchObject({ value: State.Deactivated });
      expect(single(a, 'ActivationDate')).toMatchObject({ value: NOW + 86_400n });
      expect(single(a, 'DeactivationDate')).toMatchObject({ value: NOW + 2n * 86_400n });
      const deactivated = uniqueIdentifiersOf(await s.ok(Operation.Locate, LOCATES.deactivated!(s.version)));
      expect(deactivated).toContain(made.preActiveE!.uid);
      const preActive = uniqueIdentifiersOf(await s.ok(Operation.Locate, LOCATES.preActive!(s.version)));
      expect(preActive).not.toContain(made.preActiveE!.uid);
    }
    // Its bytes are still there.
    expect(contentBytes(await s21.ok(Operation.Get, getPayload(made.preActiveE!.uid)))).toBe(made.preActiveE!.bytes);
  });
});
