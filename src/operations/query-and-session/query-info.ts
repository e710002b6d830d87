/**
 * What Query states about this server beyond operations, object types and capabilities
 * (KMIP 1.3/1.4 §4.25, 2.1 §6.1.40). Kept as data beside the handlers, each entry true of this
 * server; a Query Function with nothing true to state answers nothing.
 *
 * - Profiles: the server profiles whose mandatory OASIS test cases this server passes at that
 *   protocol version (conformance/RESULTS.md). Server profiles only: no client, transport
 *   (HTTPS/JSON/XML), PKCS#11 or Suite B profile. KMIP 1.3/1.4 name a profile per version
 *   ("… KMIP v1.4"); KMIP 2.x names it once and gives the Profile Version. Versions without
 *   mandatory cases of a profile (Baseline at 1.3, 1.4 and 2.0; Tape Library at 1.3) claim none.
 *   AES XTS has no 1.x profile name.
 * - Client Registration Methods: none. The enumeration (2.1 Table 441) describes registration
 *   through the server (a PKCS#12 it returns, a certificate a client registers with it); here
 *   client certificates are issued out of band by the operator (`kms certs issue`).
 * - Validations: none (no validation certificate). Application Namespaces, Extensions: none.
 * - Storage Protection Masks (2.x): Software always (sealed by the key protector); Hardware as
 *   well when an HSM is configured (keys resident on the token), each an alternative.
 * - Defaults Information (2.x): Sensitive False and Extractable True, which the server sets on
 *   keys when the client gives none (objects/server-set.ts). Other defaults are policy-dependent
 *   (Lease Time is not a client-settable attribute) and not listed.
 */
import { is2x } from '../../kmip/version-rules.js';
import { ObjectType, ProfileName } from '../../kmip/generated/enums.gen.js';
import { ProtectionStorageMask } from '../../kmip/generated/masks.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { enumDef, isAvailable, specVersionOf } from '../../kmip/registry.js';
import type { KmipVersion } from '../../kmip/spec-types.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import { item } from '../../kmip/items.js';

/** Server profiles passed per protocol version (mandatory OASIS cases, conformance/RESULTS.md). */
export const SERVER_PROFILES: Readonly<Record<string, readonly ProfileName[]>> = {
  '1.3': [
    ProfileName.SymmetricKeyLifecycleServerKMIPV1_3,
    ProfileName.AsymmetricKeyLifecycleServerKMIPV1_3,
    ProfileName.RNGCryptographicServerKMIPV1_3,
    ProfileName.OpaqueManagedObjectStoreServerKMIPV1_3,
  ],
  '1.4': [
    ProfileName.TapeLibraryServerKMIPV1_4,
    ProfileName.SymmetricKeyLifecycleServerKMIPV1_4,
    ProfileName.AsymmetricKeyLifecycleServerKMIPV1_4,
    ProfileName.BasicCryptographicServerKMIPV1_4,
    ProfileName.AdvancedCryptographicServerKMIPV1_4,
    ProfileName.RNGCryptographicServerKMIPV1_4,
    ProfileName.SymmetricKeyFoundryServerKMIPV1_4,
    ProfileName.OpaqueManagedObjectStoreServerKMIPV1_4,
    ProfileName.StorageArrayWithSelfEncryptingDriveServerKMIPV1_4,
  ],
  '2.0': [
    ProfileName.RNGCryptographicServer,
    ProfileName.SymmetricKeyFoundryServer,
    ProfileName.OpaqueManagedObjectStoreServer,
    ProfileName.StorageArrayWithSelfEncryptingDriveServer,
    ProfileName.AESXTSServer,
    ProfileName.QuantumSafeServer,
  ],
  '2.1': [
    ProfileName.TapeLibraryServer,
    ProfileName.SymmetricKeyLifecycleServer,
    ProfileName.AsymmetricKeyLifecycleServer,
    ProfileName.BasicCryptographicServer,
    ProfileName.AdvancedCryptographicServer,
    ProfileName.RNGCryptographicServer,
    ProfileName.SymmetricKeyFoundryServer,
    ProfileName.OpaqueManagedObjectStoreServer,
    ProfileName.StorageArrayWithSelfEncryptingDriveServer,
    ProfileName.AESXTSServer,
    ProfileName.QuantumSafeServer,
    ProfileName.BaselineServer,
  ],
};

/** Profile Information items for protocol `v` (Profile Version from 2.0 on, where it exists). */
export function profileInformation(v: KmipVersion): StructureNode[] {
  const names = SERVER_PROFILES[specVersionOf(v) ?? ''] ?? [];
  const defs = enumDef('ProfileName')?.values ?? [];
  return names
    .filter((name) => defs.some((d) => d.value === name && isAvailable(d, v)))
    .map((name) => {
      const value: TtlvNode[] = [item('ProfileName', name)];
      if (is2x(v)) {
        value.push({
          tag: Tag.ProfileVersion,
          type: 'Structure',
          value: [item('ProfileVersionMajor', v.major), item('ProfileVersionMinor', v.minor)],
        });
      }
      return { tag: Tag.ProfileInformation, type: 'Structure', value };
    });
}

/** The Protection Storage Masks this server offers: Software, and Hardware with an HSM. */
export function protectionStorageMasks(hsmConfigured: boolean): StructureNode {
  const masks: number[] = [ProtectionStorageMask.Software];
  if (hsmConfigured) masks.push(ProtectionStorageMask.Hardware);
  return {
    tag: Tag.ProtectionStorageMasks,
    type: 'Structure',
    value: masks.map((m) => item('ProtectionStorageMask', m)),
  };
}

/** Key object types whose Sensitive / Extractable the server defaults (factory operations create them). */
const DEFAULTED_KEY_TYPES = [ObjectType.SymmetricKey, ObjectType.PublicKey, ObjectType.PrivateKey] as const;

/** Defaults Information (2.x): Sensitive False, Extractable True on keys the client gave none for. */
export function defaultsInformation(): StructureNode {
  return {
    tag: Tag.DefaultsInformation,
    type: 'Structure',
    value: DEFAULTED_KEY_TYPES.map((t) => ({
      tag: Tag.ObjectDefaults,
      type: 'Structure',
      value: [
        item('ObjectType', t),
        {
          tag: Tag.Attributes,
          type: 'Structure',
          value: [item('Sensitive', false), item('Extractable', true)],
        },
      ],
    })),
  };
}
