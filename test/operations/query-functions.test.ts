/**
 * Query Functions beyond operations, objects and capabilities, over real mTLS: RNGs, Profiles,
 * Storage Protection Masks, Defaults Information, and the ones with nothing true to state
 * (Validations, Client Registration Methods, Application Namespaces, Extensions) — each only in
 * the versions that define it. A SoftHSM2-backed server states Hardware among its storage masks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import { attr } from '../../src/client/index.js';
import { CryptographicAlgorithm, DRBGAlgorithm, ObjectType, Operation, ProfileName, QueryFunction, RNGAlgorithm } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask, ProtectionStorageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import type { KmipVersion } from '../../src/kmip/spec-types.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/node.js';
import { createSoftHsmToken } from '../hsm/softhsm.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, ok, uidNode, uidOf, V1_2, V1_4, V2_0, V2_1 } from './object-kit.js';

let srv: TestKms;
let c: KmipClient;
beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

async function query(client: KmipClient, v: KmipVersion, ...fns: number[]): Promise<readonly TtlvNode[]> {
  const p = await ok(
    client,
    v,
    Operation.Query,
    fns.map((f) => t.enum(Tag.QueryFunction, f)),
  );
  return p.value;
}

const children = (n: TtlvNode | undefined): readonly TtlvNode[] => (n?.type === 'Structure' ? n.value : []);
const child = (n: TtlvNode | undefined, tag: number) => children(n).find((x) => x.tag === tag);
const tags = (items: readonly TtlvNode[]) => items.map((i) => i.tag);

describe('Query RNGs (1.3+)', () => {
  it.each([V1_4, V2_1])('at %o states the one DRBG: CTR DRBG over AES-256', async (v) => {
    const items = await query(c, v, QueryFunction.QueryRNGs);
    expect(tags(items)).toEqual([Tag.RNGParameters]);
    const rng = items[0] as StructureNode;
    expect(rng.value.map((n) => [n.tag, n.value])).toEqual([
      [Tag.RNGAlgorithm, RNGAlgorithm.DRBG],
      [Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES],
      [Tag.CryptographicLength, 256],
      [Tag.DRBGAlgorithm, DRBGAlgorithm.CTR],
    ]);
  });

  it('the Random Number Generator of a generated key names the same generator', async () => {
    const uid = uidOf(
      await ok(c, V2_1, Operation.Create, [
        t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
        attrs(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt)]),
      ]),
    );
    const p = await ok(c, V2_1, Operation.GetAttributes, [uidNode(uid), t.enum(Tag.AttributeReference, Tag.RandomNumberGenerator)]);
    const gen = child(child(p, Tag.Attributes), Tag.RandomNumberGenerator);
    const [rng] = await query(c, V2_1, QueryFunction.QueryRNGs);
    expect(children(gen).length).toBeGreaterThan(0);
    expect(children(rng).slice(0, children(gen).length)).toEqual(children(gen));
  });

  it('is not answered at 1.2 (RNG Parameters does not exist there)', async () => {
    expect(await query(c, V1_2, QueryFunction.QueryRNGs)).toEqual([]);
  });
});

describe('Query Profiles (1.3+)', () => {
  const names = (items: readonly TtlvNode[]) => items.map((i) => child(i, Tag.ProfileName)?.value);

  it('at 1.4 lists the v1.4 server profiles the server passes, no client, transport or Suite B one', async () => {
    const items = await query(c, V1_4, QueryFunction.QueryProfiles);
    expect(items.every((i) => i.tag === Tag.ProfileInformation)).toBe(true);
    expect(names(items)).toEqual([
      ProfileName.TapeLibraryServerKMIPV1_4,
      ProfileName.SymmetricKeyLifecycleServerKMIPV1_4,
      ProfileName.AsymmetricKeyLifecycleServerKMIPV1_4,
      ProfileName.BasicCryptographicServerKMIPV1_4,
      ProfileName.AdvancedCryptographicServerKMIPV1_4,
      ProfileName.RNGCryptographicServerKMIPV1_4,
      ProfileName.SymmetricKeyFoundryServerKMIPV1_4,
      ProfileName.OpaqueManagedObjectStoreServerKMIPV1_4,
      ProfileName.StorageArrayWithSelfEncryptingDriveServerKMIPV1_4,
    ]);
    // 1.x Profile Information has no Profile Version.
    expect(items.every((i) => child(i, Tag.ProfileVersion) === undefined)).toBe(true);
  });

  it('at 2.1 lists the 2.x server profiles with Profile Version 2.1', async () => {
    const items = await query(c, V2_1, QueryFunction.QueryProfiles);
    const got = names(items);
    expect(got).toContain(ProfileName.BaselineServer);
    expect(got).toContain(ProfileName.AESXTSServer);
    expect(got).toContain(ProfileName.QuantumSafeServer);
    expect(got).toHaveLength(12);
    for (const bad of [ProfileName.CompleteServer, ProfileName.HTTPSServer, ProfileName.JSONServer, ProfileName.XMLServer, ProfileName.PKCS_11Server, ProfileName.BaselineClient]) {
      expect(got).not.toContain(bad);
    }
    for (const i of items) {
      const pv = child(i, Tag.ProfileVersion);
      expect([child(pv, Tag.ProfileVersionMajor)?.value, child(pv, Tag.ProfileVersionMinor)?.value]).toEqual([2, 1]);
    }
  });

  it('at 2.0 claims only what passes there (no Baseline, Tape Library or lifecycle profile)', async () => {
    const got = names(await query(c, V2_0, QueryFunction.QueryProfiles));
    expect(got).toContain(ProfileName.SymmetricKeyFoundryServer);
    expect(got).not.toContain(ProfileName.BaselineServer);
    expect(got).not.toContain(ProfileName.TapeLibraryServer);
    expect(got).not.toContain(ProfileName.AsymmetricKeyLifecycleServer);
  });

  it('is not answered at 1.2', async () => {
    expect(await query(c, V1_2, QueryFunction.QueryProfiles)).toEqual([]);
  });
});

describe('Query Storage Protection Masks (2.x)', () => {
  const masks = (items: readonly TtlvNode[]) => children(items.find((i) => i.tag === Tag.ProtectionStorageMasks)).map((m) => [m.tag, m.value]);

  it('without an HSM: Software only', async () => {
    for (const v of [V2_0, V2_1]) {
      const items = await query(c, v, QueryFunction.QueryStorageProtectionMasks);
      expect(tags(items)).toEqual([Tag.ProtectionStorageMasks]);
      expect(masks(items)).toEqual([[Tag.ProtectionStorageMask, ProtectionStorageMask.Software]]);
    }
  });

  it('is not answered at 1.4, and the other functions of the request still are', async () => {
    const items = await query(c, V1_4, QueryFunction.QueryStorageProtectionMasks, QueryFunction.QueryDefaultsInformation, QueryFunction.QueryRNGs);
    expect(tags(items)).toEqual([Tag.RNGParameters]);
  });

  describe('with an HSM (SoftHSM2)', () => {
    const token = createSoftHsmToken('kms-query');
    let hsmSrv: TestKms;
    let hc: KmipClient;
    beforeAll(async () => {
      hsmSrv = await startTestKms({ hsm: { module: token.module, tokenLabel: token.label, pin: token.pin } });
      hc = await hsmSrv.client();
    });
    afterAll(async () => {
      await hsmSrv?.dispose();
      token.cleanup();
    });

    it('states Software and Hardware as alternatives', async () => {
      const items = await query(hc, V2_1, QueryFunction.QueryStorageProtectionMasks);
      expect(masks(items)).toEqual([
        [Tag.ProtectionStorageMask, ProtectionStorageMask.Software],
        [Tag.ProtectionStorageMask, ProtectionStorageMask.Hardware],
      ]);
    });
  });
});

describe('Query Defaults Information (2.x)', () => {
  it('states Sensitive False and Extractable True for keys, and a key created without them has them', async () => {
    const items = await query(c, V2_1, QueryFunction.QueryDefaultsInformation);
    expect(tags(items)).toEqual([Tag.DefaultsInformation]);
    const defaults = children(items[0]);
    expect(defaults.map((d) => child(d, Tag.ObjectType)?.value)).toEqual([ObjectType.SymmetricKey, ObjectType.PublicKey, ObjectType.PrivateKey]);
    for (const d of defaults) {
      expect(children(child(d, Tag.Attributes)).map((a) => [a.tag, a.value])).toEqual([
        [Tag.Sensitive, false],
        [Tag.Extractable, true],
      ]);
    }
    const uid = uidOf(
      await ok(c, V2_1, Operation.Create, [
        t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
        attrs(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(128), attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt)]),
      ]),
    );
    const p = await ok(c, V2_1, Operation.GetAttributes, [uidNode(uid), t.enum(Tag.AttributeReference, Tag.Sensitive), t.enum(Tag.AttributeReference, Tag.Extractable)]);
    const a = child(p, Tag.Attributes);
    expect([child(a, Tag.Sensitive)?.value, child(a, Tag.Extractable)?.value]).toEqual([false, true]);
  });

  it('is not answered at 1.4', async () => {
    expect(await query(c, V1_4, QueryFunction.QueryDefaultsInformation)).toEqual([]);
  });
});

describe('functions with nothing true to state', () => {
  it.each([V1_4, V2_1])('at %o: Validations, Client Registration Methods, Application Namespaces, Extension List/Map answer nothing', async (v) => {
    for (const fn of [
      QueryFunction.QueryValidations,
      QueryFunction.QueryClientRegistrationMethods,
      QueryFunction.QueryApplicationNamespaces,
      QueryFunction.QueryExtensionList,
      QueryFunction.QueryExtensionMap,
    ]) {
      expect(await query(c, v, fn)).toEqual([]);
    }
  });

  it('all functions at once at 2.1: the items come in the response table order', async () => {
    const all = Object.values(QueryFunction);
    const items = await query(c, V2_1, ...all);
    const order = [
      Tag.Operation,
      Tag.ObjectType,
      Tag.VendorIdentification,
      Tag.ServerInformation,
      Tag.RNGParameters,
      Tag.ProfileInformation,
      Tag.CapabilityInformation,
      Tag.DefaultsInformation,
      Tag.ProtectionStorageMasks,
    ];
    const seen = [...new Set(tags(items))];
    expect(seen).toEqual(order);
  });
});
