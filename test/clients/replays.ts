/**
 * The message sequences of the clients in docs/clients.md, as replays for the harness in
 * replay.ts. Each names the public source it follows (vendor integration guides, the OASIS
 * profile a product implements, a client library's source) and whether it is a capture or
 * inferred from documentation; nothing is copied from those sources. Where a guide lists the
 * operations but not every attribute, the attribute choice here is ours and the `source` says
 * so. Names and values are made up; uids are saved per step (`saveUid`) and used by later ones.
 */
import { activatePayload, attr, destroyPayload, discoverVersionsPayload, getPayload, locatePayload, queryPayload, symmetricKeyObject, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, QueryFunction, ResultReason, RevocationReasonCode, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode } from '../../src/ttlv/index.js';
import { expect } from 'vitest';
import { findChild, keyMaterialOf } from '../../src/client/index.js';
import { addAttributePayload, custom, getAttributesPayload, modifyAttributePayload, registerWith, revokePayload, V1_2, V1_4, V2_0 } from '../support/kmip-session.js';
import { applicationSpecificInformation, createAes, createKeyPairPayload, ENCRYPT_DECRYPT, locateByName, pairUids, registerSecret, secretDataObject, stateOf } from './payloads.js';
import { located, v, valueOf, type Replay, type Step } from './replay.js';

export const V1_0: KmipVersion = { major: 1, minor: 0 };
/** The enrolled identities the replays use beside the default one, and their grants (matrix.test.ts configures them). */
export const RGW_IDENTITY = 'alice';
export const RGW_GROUP = 'ceph-rgw';
export const SECOND_LIBRARY = 'bob';
export const TAPE_GROUP = 'tape-pool-1';
export const REPLAY_GRANTS = [
  { identity: RGW_IDENTITY, objectGroup: RGW_GROUP, operations: ['Get', 'Locate'] },
  { identity: SECOND_LIBRARY, objectGroup: TAPE_GROUP, operations: ['Get', 'Locate', 'GetAttributes'] },
];
export const V1_1: KmipVersion = { major: 1, minor: 1 };

/** Steps several clients share. */
const steps = {
  discover: (): Step => ({ does: 'Discover Versions (connection check)', op: Operation.DiscoverVersions, payload: () => discoverVersionsPayload([]) }),
  query: (): Step => ({
    does: 'Query Operations and Objects (capability check)',
    op: Operation.Query,
    payload: () => queryPayload([QueryFunction.QueryOperations, QueryFunction.QueryObjects]),
  }),
  activate: (uid: string): Step => ({ does: 'Activate', op: Operation.Activate, payload: (vars) => activatePayload(v(vars, uid)) }),
  getKey: (uid: string, bytes = 32): Step => ({
    does: 'Get the key',
    op: Operation.Get,
    payload: (vars) => getPayload(v(vars, uid)),
    check: (p) => expect(keyMaterialOf(p)).toHaveLength(bytes),
  }),
  state: (ver: KmipVersion, uid: string, state: number): Step => ({
    does: `Get Attributes State: ${Object.entries(State).find(([, n]) => n === state)?.[0] ?? state}`,
    op: Operation.GetAttributes,
    payload: (vars) => stateOf(ver, v(vars, uid)),
    check: (p) => expect(valueOf(ver, p, 'State')).toBe(state),
  }),
  revoke: (uid: string, code: number = RevocationReasonCode.CessationOfOperation): Step => ({
    does: 'Revoke',
    op: Operation.Revoke,
    payload: (vars) => revokePayload(v(vars, uid), code),
  }),
  destroy: (uid: string): Step => ({ does: 'Destroy', op: Operation.Destroy, payload: (vars) => destroyPayload(v(vars, uid)) }),
  locateName: (ver: KmipVersion, name: string, expected: string): Step => ({
    does: `Locate by Name ${name}`,
    op: Operation.Locate,
    payload: () => locateByName(ver, name),
    check: (p, vars) => expect(located(p)).toEqual([v(vars, expected)]),
  }),
};

const aesKey = (byte: number) => symmetricKeyObject(new Uint8Array(32).fill(byte), CryptographicAlgorithm.AES);

export const CLIENT_REPLAYS: readonly Replay[] = [
  {
    client: 'VMware vSphere / vCenter (Standard Key Provider)',
    version: V1_1,
    source:
      'VMware vSphere Security guide (Standard Key Provider: vCenter is the KMIP client, asks the KMS to create keys and fetches them for hosts); Cosmian KMS vCenter integration page (KMIP 1.1, AES-256; operations Create, Get, Activate, Revoke, Locate)',
    basis: 'documentation',
    steps: [
      steps.query(),
      { does: 'Create the key encryption key (AES-256, Encrypt|Decrypt)', op: Operation.Create, payload: () => createAes(V1_1), saveUid: 'kek' },
      steps.activate('kek'),
      { ...steps.state(V1_1, 'kek', State.Active), does: 'Get Attributes State before using the key (PyKMIP issue 218 shows vCenter sending it)' },
      steps.getKey('kek'),
      { does: 'Get again at a VM power-on (key fetched per host)', op: Operation.Get, payload: (vars) => getPayload(v(vars, 'kek'), { keyFormatType: KeyFormatType.Raw }) },
      { ...steps.revoke('kek'), does: 'key removed from the provider: Revoke' },
      steps.state(V1_1, 'kek', State.Deactivated),
    ],
  },
  {
    client: 'NetApp ONTAP (external key manager)',
    version: V1_2,
    source:
      'NetApp ONTAP external key management docs (KMIP server on 5696, client certificate per cluster, keys restored after node replacement); attribute names are ours (the docs do not list them)',
    basis: 'documentation',
    steps: [
      steps.discover(),
      steps.query(),
      {
        does: 'Create an authentication key, named, grouped by cluster',
        op: Operation.Create,
        payload: () => createAes(V1_2, [attr.name('ontap-cluster1-ak-0001'), attr.objectGroup('ontap-cluster1')]),
        saveUid: 'ak',
      },
      steps.activate('ak'),
      {
        does: 'restore: Locate the cluster’s keys by Object Group',
        op: Operation.Locate,
        payload: () => locatePayload(V1_2, [attr.objectGroup('ontap-cluster1')]),
        check: (p, vars) => expect(located(p)).toContain(v(vars, 'ak')),
      },
      steps.getKey('ak'),
    ],
  },
  {
    client: 'Dell PowerMax / PowerStore (external key manager)',
    version: V1_4,
    source: 'Dell PowerMax and PowerStore external key management guides (KMIP, one key per array/drive, certificate enrolment); operation order inferred',
    basis: 'documentation',
    steps: [
      steps.discover(),
      { does: 'Create a data-at-rest key, named by array and slot', op: Operation.Create, payload: () => createAes(V1_4, [attr.name('pmax-000197900123-dae1-slot4')]), saveUid: 'k' },
      steps.activate('k'),
      steps.state(V1_4, 'k', State.Active),
      steps.locateName(V1_4, 'pmax-000197900123-dae1-slot4', 'k'),
      steps.getKey('k'),
      { ...steps.revoke('k'), does: 'drive removed: Revoke (Cessation of Operation)' },
      steps.destroy('k'),
    ],
  },
  {
    client: 'HPE (Alletra / Nimble arrays, Cryptsoft-based KMIP client)',
    version: V1_2,
    source: 'HPE array administration guide, External Key Manager (master key stored on the KMIP server, certificate mutual authentication, Cryptsoft KMIP library)',
    basis: 'documentation',
    steps: [
      steps.discover(),
      {
        does: 'Register the array master key (AES-256), named',
        op: Operation.Register,
        payload: () => registerWith(V1_2, ObjectType.SymmetricKey, aesKey(0x11), [attr.cryptographicUsageMask(ENCRYPT_DECRYPT), attr.name('hpe-array-7-master')]),
        saveUid: 'mk',
      },
      steps.activate('mk'),
      { ...steps.locateName(V1_2, 'hpe-array-7-master', 'mk'), does: 'boot: Locate the master key by Name' },
      steps.getKey('mk'),
    ],
  },
  tapeLibrary('IBM tape libraries (TS4300 / TS4500, LTO drives)', V1_2, 'IBM-TS4500', 'A00001L8'),
  tapeLibrary('Quantum tape libraries (Scalar i3 / i6 / i6000)', V1_0, 'QTM-I6', 'Q00007L9'),
  {
    client: 'MongoDB Enterprise (encrypted storage engine, KMIP master key)',
    version: V1_2,
    source:
      'MongoDB Enterprise KMIP docs (master key created on the KMIP server when no key id is given, keys activated at creation, key state polled on an interval, legacy 1.0 protocol option)',
    basis: 'documentation',
    steps: [
      steps.discover(),
      { does: 'Create the master key (no key id configured)', op: Operation.Create, payload: () => createAes(V1_2), saveUid: 'mk' },
      steps.activate('mk'),
      steps.getKey('mk'),
      steps.state(V1_2, 'mk', State.Active),
      steps.state(V1_2, 'mk', State.Active),
      { ...steps.revoke('mk', RevocationReasonCode.KeyCompromise), does: 'operator revokes the key' },
      { ...steps.state(V1_2, 'mk', State.Compromised), does: 'next poll sees the key is no longer Active (mongod then stops)' },
    ],
  },
  {
    client: 'MongoDB drivers (client-side field level encryption, libmongocrypt KMIP provider)',
    version: V1_0,
    source: 'MongoDB driver KMIP provider docs (a 96-byte Secret Data object is registered when no key id is given, then fetched)',
    basis: 'documentation',
    steps: [
      {
        does: 'Register a 96-byte Secret Data customer master key',
        op: Operation.Register,
        payload: () => registerWith(V1_0, ObjectType.SecretData, secretDataObject(new Uint8Array(96).fill(0x5a)), []),
        saveUid: 'cmk',
      },
      steps.activate('cmk'),
      { does: 'Get the Secret Data', op: Operation.Get, payload: (vars) => getPayload(v(vars, 'cmk')), check: (p) => expect(keyMaterialOf(p)).toHaveLength(96) },
    ],
  },
  {
    client: 'Percona Server for MongoDB',
    version: V1_2,
    source:
      'Percona Server for MongoDB KMIP docs (tested against PyKMIP and Vault; optional key identifier: the server creates one; master key rotation; key state polling since 6.0.17 / 7.0.14)',
    basis: 'documentation',
    steps: [
      steps.discover(),
      { does: 'Create the master key', op: Operation.Create, payload: () => createAes(V1_2), saveUid: 'mk' },
      steps.activate('mk'),
      steps.getKey('mk'),
      { does: 'rotation: Create a new master key', op: Operation.Create, payload: () => createAes(V1_2), saveUid: 'mk2' },
      steps.activate('mk2'),
      steps.getKey('mk2'),
      steps.state(V1_2, 'mk2', State.Active),
    ],
  },
  {
    client: 'MySQL Enterprise keyring (keyring_okv / KMIP component)',
    version: V1_1,
    source: 'MySQL Enterprise keyring_okv docs and the Cosmian KMS MySQL integration page (KMIP 1.1, mTLS, master key rotation creates a new key); operations and names inferred',
    basis: 'documentation',
    steps: [
      {
        does: 'Create the InnoDB master key, named by server uuid and sequence',
        op: Operation.Create,
        payload: () => createAes(V1_1, [attr.name('INNODBKey-3b1f0c9e-0001')]),
        saveUid: 'mk',
      },
      steps.activate('mk'),
      { ...steps.locateName(V1_1, 'INNODBKey-3b1f0c9e-0001', 'mk'), does: 'startup: Locate the master key by Name' },
      steps.getKey('mk'),
      { does: 'ALTER INSTANCE ROTATE INNODB MASTER KEY: a new named key', op: Operation.Create, payload: () => createAes(V1_1, [attr.name('INNODBKey-3b1f0c9e-0002')]), saveUid: 'mk2' },
      steps.activate('mk2'),
      steps.getKey('mk2'),
    ],
  },
  {
    client: 'Veeam Backup & Replication (KMS key, v12+)',
    version: V1_4,
    source:
      'Veeam help center "How KMS Works" (asymmetric KMS key per job: public key kept by Veeam, private key used for decryption) and the Cosmian KMS Veeam integration page (KMIP 1.4: Locate, Create Key Pair RSA-2048, Activate, Get public and private key, Destroy)',
    basis: 'documentation',
    steps: [
      { does: 'Locate the job’s key by Name: none yet', op: Operation.Locate, payload: () => locateByName(V1_4, 'veeam-job-17'), check: (p) => expect(located(p)).toEqual([]) },
      {
        does: 'Create Key Pair RSA-2048, named',
        op: Operation.CreateKeyPair,
        payload: () =>
          createKeyPairPayload(V1_4, {
            common: [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048), attr.name('veeam-job-17')],
            priv: [attr.cryptographicUsageMask(CryptographicUsageMask.Decrypt)],
            pub: [attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt)],
          }),
        check: (p, vars) => {
          const { priv, pub } = pairUids(p);
          vars.set('priv', priv);
          vars.set('pub', pub);
        },
      },
      steps.activate('priv'),
      steps.activate('pub'),
      {
        does: 'Get the public key: the Key Value holds key material only',
        op: Operation.Get,
        payload: (vars) => getPayload(v(vars, 'pub')),
        check: (p) => {
          const kv = findChild(findChild(findChild(p, Tag.PublicKey), Tag.KeyBlock), Tag.KeyValue);
          expect(kv?.type === 'Structure' && kv.value.map((c) => c.tag)).toEqual([Tag.KeyMaterial]);
        },
      },
      {
        does: 'restore: Get the private key, Key Value without attributes',
        op: Operation.Get,
        payload: (vars) => getPayload(v(vars, 'priv')),
        check: (p) => {
          const kv = findChild(findChild(findChild(p, Tag.PrivateKey), Tag.KeyBlock), Tag.KeyValue);
          expect(kv?.type === 'Structure' && kv.value.map((c) => c.tag)).toEqual([Tag.KeyMaterial]);
        },
      },
      {
        does: 'next run: Locate by Name and Object Type Public Key finds the job’s public key',
        op: Operation.Locate,
        payload: () => locateByName(V1_4, 'veeam-job-17', ObjectType.PublicKey),
        check: (p, vars) => expect(located(p)).toEqual([v(vars, 'pub')]),
      },
      steps.revoke('priv'),
      steps.destroy('priv'),
    ],
  },
  {
    client: 'VAST Data (external key manager)',
    version: V1_4,
    source:
      'Cosmian KMS VAST Data integration page (sequence observed in production logs: Discover Versions, Create, Add Attribute x3 for Name / Object Group / Operation Policy Name, Activate, Locate, Get, Get Attributes polled, Re-key, Revoke, Destroy)',
    basis: 'capture',
    steps: [
      steps.discover(),
      { does: 'Create AES-256, Encrypt|Decrypt', op: Operation.Create, payload: () => createAes(V1_4), saveUid: 'k' },
      { does: 'Add Attribute Name', op: Operation.AddAttribute, payload: (vars) => addAttributePayload(V1_4, v(vars, 'k'), attr.name('VAST_EKM_KEY_2_0f4c_0')) },
      { does: 'Add Attribute Object Group', op: Operation.AddAttribute, payload: (vars) => addAttributePayload(V1_4, v(vars, 'k'), attr.objectGroup('vast-tenant-1')) },
      {
        does: 'Add Attribute Operation Policy Name (deprecated in 1.3, still defined in 1.4)',
        op: Operation.AddAttribute,
        payload: (vars) => addAttributePayload(V1_4, v(vars, 'k'), t.text(Tag.OperationPolicyName, 'default')),
      },
      steps.activate('k'),
      steps.locateName(V1_4, 'VAST_EKM_KEY_2_0f4c_0', 'k'),
      steps.getKey('k'),
      {
        does: 'poll Get Attributes State and Activation Date',
        op: Operation.GetAttributes,
        payload: (vars) => getAttributesPayload(V1_4, v(vars, 'k'), ['State', 'ActivationDate']),
        check: (p) => {
          expect(valueOf(V1_4, p, 'State')).toBe(State.Active);
          expect(typeof valueOf(V1_4, p, 'ActivationDate')).toBe('bigint');
        },
      },
      {
        does: 'Re-key: new material, new Unique Identifier',
        op: Operation.ReKey,
        payload: (vars) => t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, v(vars, 'k'))]),
        saveUid: 'k2',
        check: (_p, vars) => expect(v(vars, 'k2')).not.toBe(v(vars, 'k')),
      },
      steps.revoke('k'),
      steps.destroy('k'),
    ],
  },
  {
    client: 'Synology DSM (Encryption Key Manager, remote KMIP server)',
    version: V1_2,
    source:
      'Cosmian KMS Synology DSM integration page (KMIP 1.2; Discover Versions, Query, Locate, Register Secret Data with Operation Policy Name, Activate, Modify Attribute of the Name, Get Attributes, Get, Locate after reboot, Revoke, Destroy)',
    basis: 'capture',
    steps: [
      steps.discover(),
      {
        does: 'Query (six functions)',
        op: Operation.Query,
        payload: () =>
          queryPayload([
            QueryFunction.QueryOperations,
            QueryFunction.QueryObjects,
            QueryFunction.QueryServerInformation,
            QueryFunction.QueryApplicationNamespaces,
            QueryFunction.QueryExtensionList,
            QueryFunction.QueryExtensionMap,
          ]),
      },
      { does: 'Locate the volume key: none yet', op: Operation.Locate, payload: () => locateByName(V1_2, 'dsm-vol-7f3a'), check: (p) => expect(located(p)).toEqual([]) },
      {
        does: 'Register 32 bytes as Secret Data with a temporary Name and Operation Policy Name "default"',
        op: Operation.Register,
        payload: () => registerSecret(V1_2, new Uint8Array(32).fill(0x42), [attr.name('dsm-tmp-1'), t.text(Tag.OperationPolicyName, 'default')]),
        saveUid: 'vk',
      },
      steps.activate('vk'),
      {
        does: 'Modify Attribute: rename the key to the volume uuid',
        op: Operation.ModifyAttribute,
        payload: (vars) => modifyAttributePayload(V1_2, v(vars, 'vk'), attr.name('dsm-vol-7f3a')),
      },
      {
        does: 'Get Attributes State and Object Type',
        op: Operation.GetAttributes,
        payload: (vars) => getAttributesPayload(V1_2, v(vars, 'vk'), ['State', 'ObjectType']),
        check: (p) => {
          expect(valueOf(V1_2, p, 'State')).toBe(State.Active);
          expect(valueOf(V1_2, p, 'ObjectType')).toBe(ObjectType.SecretData);
        },
      },
      steps.getKey('vk'),
      { ...steps.locateName(V1_2, 'dsm-vol-7f3a', 'vk'), does: 'after reboot: Locate by the volume Name' },
      steps.revoke('vk'),
      steps.destroy('vk'),
    ],
  },
  {
    client: 'TrueNAS Enterprise (KMIP: ZFS dataset keys and SED passwords)',
    version: V1_2,
    source: 'TrueNAS KMIP docs and its middleware, which drives PyKMIP (ProxyKmipClient: register Secret Data, get, revoke, destroy)',
    basis: 'client source',
    steps: [
      { does: 'Register a dataset key as Secret Data', op: Operation.Register, payload: () => registerSecret(V1_2, new Uint8Array(32).fill(0x33)), saveUid: 'ds' },
      steps.activate('ds'),
      steps.getKey('ds'),
      { does: 'Register an SED password as Secret Data', op: Operation.Register, payload: () => registerSecret(V1_2, Buffer.from('sed-pass-disk-5')), saveUid: 'sed' },
      steps.activate('sed'),
      { does: 'key changed: Revoke the old one', op: Operation.Revoke, payload: (vars) => revokePayload(v(vars, 'ds'), RevocationReasonCode.Superseded) },
      steps.destroy('ds'),
    ],
  },
  {
    client: 'Ceph RGW (SSE-KMS with the KMIP backend)',
    version: V1_4,
    source: 'Ceph RGW KMIP integration docs (keys created in the KMS beforehand; RGW finds the key by a Name made from a template and the S3 key id, then gets it)',
    basis: 'documentation',
    steps: [
      {
        does: 'the key administrator creates the bucket key in RGW’s Object Group, named from the template',
        op: Operation.Create,
        payload: () => createAes(V1_4, [attr.name('rgw-bucket1-key'), attr.objectGroup(RGW_GROUP)]),
        saveUid: 'k',
      },
      steps.activate('k'),
      { ...steps.locateName(V1_4, 'rgw-bucket1-key', 'k'), does: 'RGW: Locate by the templated Name (through its grant)', as: RGW_IDENTITY },
      { ...steps.getKey('k'), does: 'RGW: Get the key to encrypt the object (through its grant)', as: RGW_IDENTITY },
      {
        does: 'RGW may not destroy it: the grant is Get and Locate only',
        op: Operation.Destroy,
        payload: (vars) => destroyPayload(v(vars, 'k')),
        as: RGW_IDENTITY,
        refused: ResultReason.ItemNotFound,
      },
    ],
  },
  {
    client: 'PyKMIP 0.10 (ProxyKmipClient)',
    version: V1_2,
    source:
      'PyKMIP 0.10 pie/client.py (create with name, activate, get, get_attribute_list, get_attributes by name, locate by name, revoke, destroy); the real PyKMIP runs against us in test/interop/',
    basis: 'client source',
    steps: [
      { does: 'create(AES, 256, name=…)', op: Operation.Create, payload: () => createAes(V1_2, [attr.name('pykmip-demo')]), saveUid: 'k' },
      steps.activate('k'),
      steps.getKey('k'),
      {
        does: 'get_attribute_list',
        op: Operation.GetAttributeList,
        payload: (vars) => t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, v(vars, 'k'))]),
        check: (p) => expect(p.value.length).toBeGreaterThan(5),
      },
      {
        does: 'get_attributes(uid, ["State", "Name"])',
        op: Operation.GetAttributes,
        payload: (vars) => getAttributesPayload(V1_2, v(vars, 'k'), ['State', 'Name']),
        check: (p) => expect(valueOf(V1_2, p, 'State')).toBe(State.Active),
      },
      steps.locateName(V1_2, 'pykmip-demo', 'k'),
      steps.revoke('k'),
      steps.destroy('k'),
    ],
  },
  {
    client: 'PyKMIP 0.10 at KMIP 2.0',
    version: V2_0,
    source: 'PyKMIP 0.10 pie/client.py with kmip_version=KMIP_2_0 (Attributes instead of Template-Attribute)',
    basis: 'client source',
    steps: [
      { does: 'create(AES, 256, name=…)', op: Operation.Create, payload: () => createAes(V2_0, [attr.name('pykmip-20-demo')]), saveUid: 'k' },
      steps.activate('k'),
      steps.getKey('k'),
      steps.state(V2_0, 'k', State.Active),
      steps.locateName(V2_0, 'pykmip-20-demo', 'k'),
    ],
  },
];

/** The Tape Library profile sequence (OASIS KMIP Tape Library Profile; its TL-M test cases). */
function tapeLibrary(client: string, ver: KmipVersion, lib: string, barcode: string): Replay {
  const kad = `${lib}-${barcode}-KAD`;
  const asi = applicationSpecificInformation('LIBRARY-LTO', `${Buffer.from(barcode).toString('hex').toUpperCase()}00000000`);
  return {
    client,
    version: ver,
    source:
      'OASIS KMIP Tape Library Profile and its TL-M test cases (Create with Name, Application Specific Information namespace LIBRARY-LTO, x- vendor attributes; Get at write; Locate by Application Specific Information at read)',
    basis: 'documentation',
    steps: [
      {
        does: 'cartridge write: Create the key with Name, Application Specific Information, x-Barcode',
        op: Operation.Create,
        payload: () => createAes(ver, [attr.name(kad), asi, custom('x', 'Barcode', t.text(0, barcode)), attr.objectGroup(TAPE_GROUP)]),
        saveUid: 'k',
      },
      steps.getKey('k'),
      {
        does: 'cartridge read: Locate by Application Specific Information',
        op: Operation.Locate,
        payload: () => locatePayload(ver, [asi]),
        check: (p, vars) => expect(located(p)).toEqual([v(vars, 'k')]),
      },
      steps.getKey('k'),
      {
        does: 'the cartridge in a second library: Locate by Application Specific Information through its grant',
        op: Operation.Locate,
        payload: () => locatePayload(ver, [asi]),
        check: (p, vars) => expect(located(p)).toEqual([v(vars, 'k')]),
        as: SECOND_LIBRARY,
      },
      { ...steps.getKey('k'), does: 'second library: Get the key', as: SECOND_LIBRARY },
      {
        does: 'Get Attributes x-Barcode',
        op: Operation.GetAttributes,
        payload: (vars) => t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, v(vars, 'k')), t.text(Tag.AttributeName, 'x-Barcode')]),
        check: (p) => expect((findChild(findChild(p, Tag.Attribute), Tag.AttributeValue) as StructureNode | undefined)?.value).toBe(barcode),
      },
    ],
  };
}
