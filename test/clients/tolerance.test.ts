/**
 * The tolerance catalogue (docs/tolerance.md), one replay per entry, each sent over mutual TLS
 * to a real server (LevelDB, software key protector). An entry is what a deployed client sends
 * that a strict reading of the spec might refuse; the replay asserts what we answer: accepted
 * when the spec allows it, otherwise refused with a Result Reason the client handles.
 * Entry ids (T1…) are the ones docs/tolerance.md uses.
 */
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activatePayload,
  attr,
  discoverVersionsPayload,
  findChild,
  findChildren,
  getPayload,
  locatePayload,
  parseResponse,
  queryPayload,
  requestMessage,
  symmetricKeyObject,
  type KmipClient,
  type KmipVersion,
} from '../../src/client/index.js';
import {
  AsynchronousIndicator,
  CredentialType,
  CryptographicAlgorithm,
  KeyFormatType,
  ObjectType,
  Operation,
  QueryFunction,
  ResultReason,
  ResultStatus,
  State,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { decode, encode, t, TtlvFramer, type StructureNode } from '../../src/ttlv/index.js';
import { startTestKms, tlsFiles, type TestKms } from '../support/kms.js';
import {
  addAttributePayload,
  attribute1x,
  attributeTag,
  custom,
  createWith,
  deleteAttributePayload,
  getAttributesPayload,
  modifyAttributePayload,
  registerWith,
  V1_2,
  V1_4,
  V2_0,
  V2_1,
} from '../support/kmip-session.js';
import { aes, createAes, createKeyPairPayload, ENCRYPT_DECRYPT, locateByName, pairUids, registerSecret, stateOf } from './payloads.js';
import { attributesOf, located, replay, v, valueOf, type Replay } from './replay.js';

const V1_0: KmipVersion = { major: 1, minor: 0 };
const V1_1: KmipVersion = { major: 1, minor: 1 };

let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

/** Each version's "no such attribute instance / already single-valued" reasons, as the client gets them. */
const singleValued = (ver: KmipVersion) => (ver.major >= 2 ? ResultReason.AttributeSingleValued : ResultReason.IllegalOperation);
const wrongState = (ver: KmipVersion) => (ver.major >= 2 ? ResultReason.WrongKeyLifecycleState : ResultReason.PermissionDenied);

/** T1: a Name in Create Key Pair's Common set (PyKMIP 0.10's create_key_pair demo; the real demo runs in pykmip-demo.test.ts). */
function commonName(ver: KmipVersion): Replay {
  const tag = `T1-${ver.major}.${ver.minor}`;
  const rsa = [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)];
  return {
    client: `a Name in the Common set of Create Key Pair at ${ver.major}.${ver.minor}`,
    version: ver,
    source: 'PyKMIP 0.10 kmip/demos/units/create_key_pair.py (the Name in the Common Template-Attribute, and in both specific ones)',
    basis: 'client source',
    steps: [
      {
        does: 'Create Key Pair, the Name in the Common set only',
        op: Operation.CreateKeyPair,
        payload: () =>
          createKeyPairPayload(ver, {
            common: [...rsa, attr.name(`${tag}-pair`)],
            priv: [attr.cryptographicUsageMask(CryptographicUsageMask.Sign)],
            pub: [attr.cryptographicUsageMask(CryptographicUsageMask.Verify)],
          }),
        check: (p, vars) => {
          const { priv, pub } = pairUids(p);
          vars.set('priv', priv);
          vars.set('pub', pub);
        },
      },
      {
        does: 'Locate by that Name finds the two keys of the pair',
        op: Operation.Locate,
        payload: () => locateByName(ver, `${tag}-pair`),
        check: (p, vars) => expect(located(p).sort()).toEqual([v(vars, 'priv'), v(vars, 'pub')].sort()),
      },
      {
        does: 'Locate by Name and Object Type Public Key finds the public key',
        op: Operation.Locate,
        payload: () => locateByName(ver, `${tag}-pair`, ObjectType.PublicKey),
        check: (p, vars) => expect(located(p)).toEqual([v(vars, 'pub')]),
      },
      {
        does: 'the Public Key carries the Name and its Link to the Private Key',
        op: Operation.GetAttributes,
        payload: (vars) => getAttributesPayload(ver, v(vars, 'pub'), ['Name', 'Link']),
        check: (p, vars) => {
          const view = attributesOf(ver, p);
          const name = view.get('Name')?.[0];
          expect(name?.type === 'Structure' && findChild(name, Tag.NameValue)?.value).toBe(`${tag}-pair`);
          const link = view.get('Link')?.[0];
          expect(link?.type === 'Structure' && findChild(link, Tag.LinkedObjectIdentifier)?.value).toBe(v(vars, 'priv'));
        },
      },
      {
        does: 'another pair (or any other object) with that Name is still refused',
        op: Operation.CreateKeyPair,
        payload: () => createKeyPairPayload(ver, { common: [...rsa, attr.name(`${tag}-pair`)] }),
        refused: ver.major >= 2 ? ResultReason.NonUniqueNameAttribute : ResultReason.InvalidField,
      },
      {
        does: 'Common Name plus a Name in the Public Key set: each key gets one (the specific set takes precedence)',
        op: Operation.CreateKeyPair,
        payload: () =>
          createKeyPairPayload(ver, {
            common: [...rsa, attr.name(`${tag}-common`)],
            priv: [attr.cryptographicUsageMask(CryptographicUsageMask.Sign)],
            pub: [attr.cryptographicUsageMask(CryptographicUsageMask.Verify), attr.name(`${tag}-public`)],
          }),
        check: (p, vars) => {
          const { priv, pub } = pairUids(p);
          vars.set('priv2', priv);
          vars.set('pub2', pub);
        },
      },
      {
        does: 'the Private Key has the Common Name',
        op: Operation.Locate,
        payload: () => locateByName(ver, `${tag}-common`),
        check: (p, vars) => expect(located(p)).toEqual([v(vars, 'priv2')]),
      },
      {
        does: 'the Public Key has its own Name only',
        op: Operation.Locate,
        payload: () => locateByName(ver, `${tag}-public`),
        check: (p, vars) => expect(located(p)).toEqual([v(vars, 'pub2')]),
      },
      {
        does: 'the same Name twice in one key’s set is refused',
        op: Operation.CreateKeyPair,
        payload: () => createKeyPairPayload(ver, { common: rsa, priv: [attr.name(`${tag}-twice`), attr.name(`${tag}-twice`)] }),
        refused: ver.major >= 2 ? ResultReason.NonUniqueNameAttribute : ResultReason.InvalidField,
      },
    ],
  };
}

/** T2: Add Attribute of an attribute the server had set by default. */
function addOverDefault(ver: KmipVersion): Replay {
  const mask = (m: number) => attr.cryptographicUsageMask(m);
  const created = ver.major >= 2 ? createAes(ver, [], { mask: null }) : createAes(ver);
  return {
    client: `a client that creates first and sets the usage afterwards (KMIP ${ver.major}.${ver.minor})`,
    version: ver,
    source: 'issue threads where Add Attribute of Cryptographic Usage Mask failed after a Create/Create Key Pair without one (Cosmian KMS, PyKMIP server)',
    basis: 'documentation',
    steps: [
      ...(ver.major >= 2
        ? [
            // 2.x: Create without a mask gets the policy default (2.1 §4.14 "always has a value").
            { does: 'Create without a Cryptographic Usage Mask', op: Operation.Create, payload: () => created, saveUid: 'key' },
            {
              does: 'Add Attribute Cryptographic Usage Mask: replaces the server default',
              op: Operation.AddAttribute,
              payload: (vars: Map<string, string>) => addAttributePayload(ver, v(vars, 'key'), mask(CryptographicUsageMask.Encrypt)),
            },
            {
              does: 'Get Attributes shows the client’s mask',
              op: Operation.GetAttributes,
              payload: (vars: Map<string, string>) => getAttributesPayload(ver, v(vars, 'key'), ['CryptographicUsageMask']),
              check: (p: StructureNode) => expect(valueOf(ver, p, 'CryptographicUsageMask')).toBe(CryptographicUsageMask.Encrypt),
            },
            {
              does: 'a second Add is refused: the value is the client’s now',
              op: Operation.AddAttribute,
              payload: (vars: Map<string, string>) => addAttributePayload(ver, v(vars, 'key'), mask(ENCRYPT_DECRYPT)),
              refused: singleValued(ver),
            },
          ]
        : []),
      {
        does: 'Create Key Pair without usage masks (server defaults Sign / Verify)',
        op: Operation.CreateKeyPair,
        payload: () => createKeyPairPayload(ver, { common: [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)] }),
        check: (p, vars) => vars.set('priv', pairUids(p).priv),
      },
      {
        does: 'Add Attribute Cryptographic Usage Mask Sign|Decrypt on the Private Key',
        op: Operation.AddAttribute,
        payload: (vars) => addAttributePayload(ver, v(vars, 'priv'), mask(CryptographicUsageMask.Sign | CryptographicUsageMask.Decrypt)),
        check: (p) => {
          if (ver.major >= 2) return;
          // 1.x answers the Attribute; the replaced default was instance 0, named as index 0
          // (as PyKMIP's integration suite reads it).
          const a = findChild(p, Tag.Attribute);
          expect(a && findChild(a, Tag.AttributeIndex)?.value).toBe(0);
        },
      },
      {
        does: 'the Private Key now holds the client’s mask, one instance',
        op: Operation.GetAttributes,
        payload: (vars) => getAttributesPayload(ver, v(vars, 'priv'), ['CryptographicUsageMask']),
        check: (p) => {
          expect(attributesOf(ver, p).get('CryptographicUsageMask')).toHaveLength(1);
          expect(valueOf(ver, p, 'CryptographicUsageMask')).toBe(CryptographicUsageMask.Sign | CryptographicUsageMask.Decrypt);
        },
      },
      { does: 'Create with the client’s own mask', op: Operation.Create, payload: () => createAes(ver), saveUid: 'own' },
      {
        does: 'Add Attribute over a value the client gave is refused as before',
        op: Operation.AddAttribute,
        payload: (vars) => addAttributePayload(ver, v(vars, 'own'), mask(CryptographicUsageMask.Encrypt)),
        refused: singleValued(ver),
      },
    ],
  };
}

/** T3: Attribute Index present (0) or absent where the spec lets it be either. */
const attributeIndex: Replay = {
  client: 'KMIP 1.x clients that always send Attribute Index 0 (and those that never send it)',
  version: V1_2,
  source: 'KMIP 1.2 §2.1.1 (Attribute Index optional, absent = 0); PyKMIP 0.10 attribute encoding',
  basis: 'documentation',
  steps: [
    {
      does: 'Create with Attribute Index 0 on every template attribute',
      op: Operation.Create,
      payload: () =>
        t.struct(Tag.RequestPayload, [
          t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
          t.struct(
            Tag.TemplateAttribute,
            [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(ENCRYPT_DECRYPT)].map(attrWithIndex0),
          ),
        ]),
      saveUid: 'key',
    },
    {
      does: 'Add Attribute Object Group (no index: the spec forbids one here)',
      op: Operation.AddAttribute,
      payload: (vars) => addAttributePayload(V1_2, v(vars, 'key'), attr.objectGroup('g1')),
    },
    { does: 'Modify Attribute without an index (= instance 0)', op: Operation.ModifyAttribute, payload: (vars) => modifyAttributePayload(V1_2, v(vars, 'key'), attr.objectGroup('g2')) },
    {
      does: 'Modify Attribute with Attribute Index 0',
      op: Operation.ModifyAttribute,
      payload: (vars) => t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, v(vars, 'key')), attrWithIndex0(attr.objectGroup('g3'))]),
    },
    {
      does: 'Get Attributes: one Object Group, the last value, instance 0 named as Attribute Index 0',
      op: Operation.GetAttributes,
      payload: (vars) => getAttributesPayload(V1_2, v(vars, 'key'), ['ObjectGroup']),
      check: (p) => {
        const as = findChildren(p, Tag.Attribute);
        expect(as).toHaveLength(1);
        expect(findChild(as[0], Tag.AttributeIndex)?.value).toBe(0);
        expect(valueOf(V1_2, p, 'ObjectGroup')).toBe('g3');
      },
    },
    { does: 'Delete Attribute with Attribute Index 0', op: Operation.DeleteAttribute, payload: (vars) => deleteAttributePayload(V1_2, v(vars, 'key'), 'ObjectGroup', { index: 0 }) },
    {
      does: 'Delete Attribute of an instance that is not there (no index): Item Not Found',
      op: Operation.DeleteAttribute,
      payload: (vars) => deleteAttributePayload(V1_2, v(vars, 'key'), 'ObjectGroup'),
      refused: ResultReason.ItemNotFound,
    },
    {
      does: 'Add Attribute with an index is refused Invalid Field (1.2 §4.14: SHALL NOT be specified)',
      op: Operation.AddAttribute,
      payload: (vars) => t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, v(vars, 'key')), attrWithIndex0(attr.objectGroup('g4'))]),
      refused: ResultReason.InvalidField,
    },
  ],
};

function attrWithIndex0(a: ReturnType<typeof attr.objectGroup>) {
  return addIndex(a, 0);
}
function addIndex(a: ReturnType<typeof attr.objectGroup>, index: number) {
  const name = t.text(Tag.AttributeName, specName(a.tag));
  return t.struct(Tag.Attribute, [name, t.int(Tag.AttributeIndex, index), { ...a, tag: Tag.AttributeValue } as typeof a]);
}
function specName(tag: number): string {
  const names: Record<number, string> = {
    [attributeTag('CryptographicAlgorithm')]: 'Cryptographic Algorithm',
    [attributeTag('CryptographicLength')]: 'Cryptographic Length',
    [attributeTag('CryptographicUsageMask')]: 'Cryptographic Usage Mask',
    [attributeTag('ObjectGroup')]: 'Object Group',
  };
  const n = names[tag];
  if (n === undefined) throw new Error('no spec name in this table');
  return n;
}

/** T4: Template-Attribute / Attributes forms. */
const templateForms: Replay[] = [
  {
    client: 'KMIP 1.x clients registering Secret Data with no attributes (TrueNAS through PyKMIP, scripts)',
    version: V1_2,
    source: 'PyKMIP 0.10 pie/client.py register (a template attribute only when the object has some)',
    basis: 'client source',
    steps: [
      {
        does: 'Register Secret Data, no Template-Attribute at all',
        op: Operation.Register,
        payload: () => t.struct(Tag.RequestPayload, [t.enum(Tag.ObjectType, ObjectType.SecretData), secretOnly()]),
        saveUid: 'a',
      },
      { does: 'Register Secret Data, an empty Template-Attribute', op: Operation.Register, payload: () => registerSecret(V1_2, Buffer.from('pw-2')), saveUid: 'b' },
      {
        does: 'both are stored Pre-Active',
        op: Operation.GetAttributes,
        payload: (vars) => stateOf(V1_2, v(vars, 'b')),
        check: (p) => expect(valueOf(V1_2, p, 'State')).toBe(State.PreActive),
      },
    ],
  },
  {
    client: 'KMIP 2.x clients registering with no Attributes structure',
    version: V2_0,
    source: 'KMIP 2.0 §6.1.40 (Attributes listed as required) against PyKMIP 0.10 at 2.0 (omits an empty one)',
    basis: 'client source',
    steps: [
      {
        does: 'Register Secret Data without Attributes',
        op: Operation.Register,
        payload: () => t.struct(Tag.RequestPayload, [t.enum(Tag.ObjectType, ObjectType.SecretData), secretOnly()]),
        saveUid: 's',
      },
      { does: 'Get returns it', op: Operation.Get, payload: (vars) => getPayload(v(vars, 's')), check: (p) => expect(findChild(p, Tag.SecretData)).toBeDefined() },
    ],
  },
  {
    client: 'KMIP 2.x clients that repeat the Object Type among the attributes',
    version: V2_1,
    source: 'KMIP 2.1 §6.1.7 (Object Type is a field of the request) against clients that also list it as an attribute',
    basis: 'documentation',
    steps: [
      {
        does: 'Create with Object Type inside Attributes too',
        op: Operation.Create,
        payload: () => createWith(V2_1, ObjectType.SymmetricKey, [attr.objectType(ObjectType.SymmetricKey), ...aes()]),
        saveUid: 'k',
      },
      {
        does: 'another Object Type there is refused',
        op: Operation.Create,
        payload: () => createWith(V2_1, ObjectType.SymmetricKey, [attr.objectType(ObjectType.SecretData), ...aes()]),
        refused: ResultReason.AttributeReadOnly,
      },
    ],
  },
  {
    client: 'KMIP 1.x clients that send Create Key Pair with only a Common Template-Attribute',
    version: V1_4,
    source: 'KMIP 1.4 §4.2 (every set optional); PyKMIP 0.10 create_key_pair without names or masks',
    basis: 'client source',
    steps: [
      {
        does: 'Create Key Pair, Common set only',
        op: Operation.CreateKeyPair,
        payload: () => createKeyPairPayload(V1_4, { common: [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)] }),
        check: (p) => expect(pairUids(p).priv).not.toBe(pairUids(p).pub),
      },
      {
        does: 'a Template-Attribute naming a Template that does not exist: Item Not Found',
        op: Operation.Create,
        payload: () => t.struct(Tag.RequestPayload, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), t.struct(Tag.TemplateAttribute, [attr.name('no-such-template')])]),
        refused: ResultReason.ItemNotFound,
      },
    ],
  },
  {
    client: 'a 1.x-form request at 2.0 (Template-Attribute where 2.x has Attributes)',
    version: V2_0,
    source: 'KMIP 2.0 §6.1.7: Template-Attribute no longer exists',
    basis: 'documentation',
    steps: [
      {
        does: 'Create with a Template-Attribute at 2.0: Invalid Field, the message names it',
        op: Operation.Create,
        payload: () => t.struct(Tag.RequestPayload, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), t.struct(Tag.TemplateAttribute, [])]),
        refused: ResultReason.InvalidField,
      },
    ],
  },
];

function secretOnly(): StructureNode {
  const p = registerSecret(V1_2, Buffer.from('pw-1'));
  const obj = p.value.find((n) => n.tag === Tag.SecretData);
  if (obj?.type !== 'Structure') throw new Error('no secret');
  return obj;
}

/** T5: register Pre-Active, Activate, then poll the State (MongoDB, vCenter, ONTAP). */
function preActiveThenPoll(ver: KmipVersion): Replay {
  return {
    client: `Pre-Active registration, Activate, state polling (KMIP ${ver.major}.${ver.minor})`,
    version: ver,
    source: 'MongoDB Enterprise KMIP options (activate keys at creation, poll the key state on an interval), vendor guides for vSphere and ONTAP',
    basis: 'documentation',
    steps: [
      {
        does: 'Register a 256-bit AES key',
        op: Operation.Register,
        payload: () => registerWith(ver, ObjectType.SymmetricKey, symmetricKeyObject(new Uint8Array(32).fill(7), CryptographicAlgorithm.AES), [attr.cryptographicUsageMask(ENCRYPT_DECRYPT)]),
        saveUid: 'k',
      },
      { does: 'poll: Pre-Active', op: Operation.GetAttributes, payload: (vars) => stateOf(ver, v(vars, 'k')), check: (p) => expect(valueOf(ver, p, 'State')).toBe(State.PreActive) },
      { does: 'Activate', op: Operation.Activate, payload: (vars) => activatePayload(v(vars, 'k')) },
      { does: 'poll: Active', op: Operation.GetAttributes, payload: (vars) => stateOf(ver, v(vars, 'k')), check: (p) => expect(valueOf(ver, p, 'State')).toBe(State.Active) },
      {
        does: 'poll again: still Active, same answer',
        op: Operation.GetAttributes,
        payload: (vars) => stateOf(ver, v(vars, 'k')),
        check: (p) => expect(valueOf(ver, p, 'State')).toBe(State.Active),
      },
      { does: 'Activate again: refused with the version’s lifecycle reason', op: Operation.Activate, payload: (vars) => activatePayload(v(vars, 'k')), refused: wrongState(ver) },
      {
        does: 'Create with an Activation Date in the past is Active at once',
        op: Operation.Create,
        payload: () => createAes(ver, [t.date(Tag.ActivationDate, 1_000_000_000n)]),
        saveUid: 'k2',
      },
      { does: 'poll: Active', op: Operation.GetAttributes, payload: (vars) => stateOf(ver, v(vars, 'k2')), check: (p) => expect(valueOf(ver, p, 'State')).toBe(State.Active) },
    ],
  };
}

/** T6: request header options deployed clients set. */
const probe = () => discoverVersionsPayload([]);
const headerOptions: Replay[] = [
  {
    client: 'header options at KMIP 1.2 (tape libraries, storage arrays)',
    version: V1_2,
    source: 'KMIP 1.2 §6 (message contents) and §7.2; PyKMIP 0.10 request header',
    basis: 'documentation',
    steps: [
      { does: 'Maximum Response Size large enough', op: Operation.DiscoverVersions, payload: probe, header: { maximumResponseSize: 1 << 20 } },
      {
        does: 'Maximum Response Size too small: Response Too Large',
        op: Operation.DiscoverVersions,
        payload: probe,
        header: { maximumResponseSize: 48 },
        refused: ResultReason.ResponseTooLarge,
      },
      { does: 'Asynchronous Indicator False', op: Operation.DiscoverVersions, payload: probe, header: { asynchronousIndicator: false } },
      {
        does: 'Asynchronous Indicator True ("able to accept" an asynchronous answer): answered synchronously',
        op: Operation.DiscoverVersions,
        payload: probe,
        header: { asynchronousIndicator: true },
        check: (_p, _v, res) => expect(res.items[0]!.asynchronousCorrelationValue).toBeUndefined(),
      },
      { does: 'Batch Order Option True', op: Operation.DiscoverVersions, payload: probe, header: { batchOrderOption: true } },
      { does: 'Time Stamp of now', op: Operation.DiscoverVersions, payload: probe, header: { timeStamp: new Date() } },
      { does: 'a stale Time Stamp (client clock off): still served', op: Operation.DiscoverVersions, payload: probe, header: { timeStamp: 1_000_000_000n } },
      { does: 'a Unique Batch Item ID on a one-item batch is echoed', op: Operation.DiscoverVersions, payload: probe, batchItemId: Uint8Array.of(0x01, 0x02, 0x03, 0x04) },
      {
        does: 'a Username/Password Credential beside the client certificate: identity stays the certificate’s',
        op: Operation.Create,
        payload: () => createAes(V1_2),
        header: {
          authentication: t.struct(Tag.Authentication, [
            t.struct(Tag.Credential, [
              t.enum(Tag.CredentialType, CredentialType.UsernameAndPassword),
              t.struct(Tag.CredentialValue, [t.text(Tag.Username, 'array-admin'), t.text(Tag.Password, 'not-a-secret')]),
            ]),
          ]),
        },
        saveUid: 'k',
      },
      { does: 'the key belongs to the certificate identity: a plain Get works', op: Operation.Get, payload: (vars) => getPayload(v(vars, 'k')) },
    ],
  },
  {
    client: 'header options at KMIP 1.4 and 2.0',
    version: V1_4,
    source: 'KMIP 1.4 §6.20-6.21 (Attestation Capable Indicator, Client Correlation Value)',
    basis: 'documentation',
    steps: [
      { does: 'Attestation Capable Indicator True (no attestation asked of it)', op: Operation.DiscoverVersions, payload: probe, header: { attestationCapableIndicator: true } },
      { does: 'Client Correlation Value', op: Operation.DiscoverVersions, payload: probe, header: { clientCorrelationValue: 'array-7/req-42' } },
    ],
  },
  {
    client: 'Asynchronous Indicator at KMIP 2.0 (an enumeration)',
    version: V2_0,
    source: 'KMIP 2.0 Asynchronous Indicator enumeration (Mandatory, Optional, Prohibited)',
    basis: 'documentation',
    steps: [
      { does: 'Optional: answered synchronously', op: Operation.DiscoverVersions, payload: probe, header: { asynchronousIndicator: AsynchronousIndicator.Optional } },
      { does: 'Prohibited: answered synchronously', op: Operation.DiscoverVersions, payload: probe, header: { asynchronousIndicator: AsynchronousIndicator.Prohibited } },
      {
        does: 'Mandatory in an Undo batch: Feature Not Supported (an Undo batch is never answered asynchronously; Mandatory alone is answered Pending: test/operations/async.test.ts)',
        op: Operation.DiscoverVersions,
        payload: probe,
        header: { asynchronousIndicator: AsynchronousIndicator.Mandatory, batchErrorContinuationOption: 3 },
        refused: ResultReason.FeatureNotSupported,
      },
    ],
  },
];

/** T8/T9: Discover Versions and Query as health probes. */
const versionsOf = (p: StructureNode) =>
  findChildren(p, Tag.ProtocolVersion).map((pv) => `${String(findChild(pv, Tag.ProtocolVersionMajor)?.value)}.${String(findChild(pv, Tag.ProtocolVersionMinor)?.value)}`);
const probes: Replay[] = [1, 0].map((minor): Replay => ({
  client: `health probes at KMIP 1.${minor} (load balancers, vCenter "check connection", ONTAP key-server status)`,
  version: { major: 1, minor },
  source: 'KMIP 1.1 §4.26 Discover Versions; vendor guides that test a key server with it; Query in the Baseline profile',
  basis: 'documentation',
  steps: [
    ...(minor >= 1
      ? [
          {
            does: 'Discover Versions, empty list: every version, newest first',
            op: Operation.DiscoverVersions,
            payload: probe,
            check: (p: StructureNode) => expect(versionsOf(p).slice(0, 2)).toEqual(['2.1', '2.0']),
          },
          {
            does: 'Discover Versions with the client’s list: the ones we share, in its order',
            op: Operation.DiscoverVersions,
            payload: () => discoverVersionsPayload([V1_1, V1_0, { major: 3, minor: 0 }]),
            check: (p: StructureNode) => expect(versionsOf(p)).toEqual(['1.1', '1.0']),
          },
        ]
      : []),
    {
      does: 'Query Operations and Objects',
      op: Operation.Query,
      payload: () => queryPayload([QueryFunction.QueryOperations, QueryFunction.QueryObjects]),
      check: (p: StructureNode) => {
        const ops = findChildren(p, Tag.Operation).map((n) => n.value);
        expect(ops).toEqual(expect.arrayContaining([Operation.Create, Operation.Get, Operation.Locate, Operation.Destroy]));
        expect(findChildren(p, Tag.ObjectType).map((n) => n.value)).toContain(ObjectType.SymmetricKey);
      },
    },
    {
      does: 'Query Server Information',
      op: Operation.Query,
      payload: () => queryPayload([QueryFunction.QueryServerInformation]),
      check: (p: StructureNode) => expect(findChild(p, Tag.VendorIdentification)).toBeDefined(),
    },
  ],
}));

/** T10: Locate with no attributes (every object the client may see), and paging by Maximum Items. */
const locateAll: Replay = {
  client: 'clients that list their keys with an empty Locate (PyKMIP locate(), Ceph RGW key listing, scripts)',
  version: V1_2,
  source: 'KMIP 1.2 §4.9 (no attributes: all objects); PyKMIP 0.10 locate()',
  basis: 'client source',
  steps: [
    { does: 'Create a key', op: Operation.Create, payload: () => createAes(V1_2), saveUid: 'k' },
    {
      does: 'Locate with nothing: the key is among the answers',
      op: Operation.Locate,
      payload: () => locatePayload(V1_2, []),
      check: (p, vars) => expect(located(p)).toContain(v(vars, 'k')),
    },
    {
      does: 'Locate with Maximum Items 1: one answer, the newest',
      op: Operation.Locate,
      payload: () => locatePayload(V1_2, [], { maximumItems: 1 }),
      check: (p, vars) => expect(located(p)).toEqual([v(vars, 'k')]),
    },
  ],
};

/** T16: a KMIP 1.0 client gets only the attributes 1.0 defines (Cosmian KMS issue 687: Fresh sent to a 1.0 client). */
const attributesOf10: Replay = {
  client: 'KMIP 1.0 clients that fail on an attribute name their version does not define',
  version: V1_0,
  source: 'Cosmian KMS issue 687 (a 1.0 client was sent Fresh, a 1.1 attribute)',
  basis: 'documentation',
  steps: [
    { does: 'Create an AES key', op: Operation.Create, payload: () => createAes(V1_0), saveUid: 'k' },
    {
      does: 'Get Attribute List names only 1.0 attributes (no Fresh, Original Creation Date, Random Number Generator, …)',
      op: Operation.GetAttributeList,
      payload: (vars) => t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, v(vars, 'k'))]),
      check: (p) => {
        const names = findChildren(p, Tag.AttributeName).map((n) => n.value);
        expect(names).toEqual(expect.arrayContaining(['Unique Identifier', 'Object Type', 'Cryptographic Algorithm', 'State', 'Initial Date']));
        for (const later of ['Fresh', 'Original Creation Date', 'Random Number Generator', 'Key Format Type', 'Sensitive', 'Extractable', 'Short Unique Identifier'])
          expect(names).not.toContain(later);
      },
    },
  ],
};

/** T11: Operation Policy Name (deprecated 1.3, removed 2.0), sent by Synology DSM and VAST Data. */
const operationPolicyName: Replay[] = [
  {
    client: 'Operation Policy Name at KMIP 1.2 (Synology DSM Register, VAST Add Attribute)',
    version: V1_2,
    source: 'Cosmian KMS issue 796 and its Synology / VAST integration pages',
    basis: 'documentation',
    steps: [
      {
        does: 'Register Secret Data with Operation Policy Name "default"',
        op: Operation.Register,
        payload: () => registerSecret(V1_2, Buffer.from('dsm-key-material-32-bytes-long!!'), [t.text(Tag.OperationPolicyName, 'default')]),
        saveUid: 's',
      },
      {
        does: 'it is stored and returned',
        op: Operation.GetAttributes,
        payload: (vars) => getAttributesPayload(V1_2, v(vars, 's'), ['OperationPolicyName']),
        check: (p) => expect(valueOf(V1_2, p, 'OperationPolicyName')).toBe('default'),
      },
    ],
  },
  {
    client: 'Operation Policy Name at KMIP 2.0 (no longer an attribute)',
    version: V2_0,
    source: 'KMIP 2.0 (Operation Policy Name removed)',
    basis: 'documentation',
    steps: [
      {
        does: 'Create with Operation Policy Name: Invalid Attribute',
        op: Operation.Create,
        payload: () => createWith(V2_0, ObjectType.SymmetricKey, [...aes(), t.text(Tag.OperationPolicyName, 'default')]),
        refused: ResultReason.InvalidAttribute,
      },
    ],
  },
];

describe('tolerance catalogue (docs/tolerance.md)', () => {
  it.each([
    ['1.2', V1_2],
    ['2.0', V2_0],
  ] as const)('T1 a Name in the Common set of Create Key Pair at KMIP %s', async (_label, ver) => {
    await replay(c, commonName(ver));
  });
  it.each([
    ['1.4', V1_4],
    ['2.1', V2_1],
  ] as const)('T2 Add Attribute of a server-defaulted attribute at KMIP %s', async (_label, ver) => {
    await replay(c, addOverDefault(ver));
  });
  it('T2 the server default stays replaceable across a restart (stored with the record)', async () => {
    const own = await startTestKms();
    try {
      const c1 = await own.client();
      const vars = await replay(c1, { ...addOverDefault(V2_1), steps: addOverDefault(V2_1).steps.slice(0, 1) });
      await own.stop();
      const again = await startTestKms({}, { dataDir: own.dataDir });
      try {
        const c2 = await again.client();
        await replay(c2, { ...addOverDefault(V2_1), steps: addOverDefault(V2_1).steps.slice(1, 4) }, { vars });
      } finally {
        await again.stop();
      }
    } finally {
      await own.dispose();
    }
  });
  it('T3 Attribute Index present or absent', async () => {
    await replay(c, attributeIndex);
  });
  it.each(templateForms.map((r) => [r.client, r] as const))('T4 %s', async (_name, r) => {
    await replay(c, r);
  });
  it.each([
    ['1.2', V1_2],
    ['2.1', V2_1],
  ] as const)('T5 Pre-Active registration, Activate, state polling at KMIP %s', async (_label, ver) => {
    await replay(c, preActiveThenPoll(ver));
  });
  it.each(headerOptions.map((r) => [r.client, r] as const))('T6 %s', async (_name, r) => {
    await replay(c, r);
  });
  it('T6 Client Correlation Value at 2.0 too', async () => {
    await replay(c, { ...headerOptions[1]!, version: V2_0 });
  });
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('T7 TLS session resumption (%s): the resumed session is served as the same identity', async (maxVersion) => {
    const files = tlsFiles();
    const opts = { host: '127.0.0.1', port: srv.port, servername: 'localhost', ...files, maxVersion };
    const exchange = async (socket: tls.TLSSocket, req: StructureNode) => {
      const framer = new TtlvFramer({ maxMessageBytes: 1 << 20 });
      const got = new Promise<Buffer>((resolve) => {
        socket.on('data', (chunk: Buffer) => {
          const frames = framer.push(chunk);
          if (frames[0]) resolve(frames[0]);
        });
      });
      socket.write(encode(req));
      return parseResponse(decode(await got));
    };
    const first = tls.connect(opts);
    let session: Buffer | undefined;
    first.on('session', (s: Buffer) => (session = s));
    await new Promise((r) => first.once('secureConnect', r));
    const created = await exchange(first, requestMessage({ version: V1_2, batch: [{ operation: Operation.Create, payload: createAes(V1_2) }] }));
    const uid = findChild(created.items[0]!.payload, Tag.UniqueIdentifier)?.value as string;
    await new Promise((r) => setTimeout(r, 50)); // TLS 1.3 tickets arrive after the handshake
    first.end();
    expect(session).toBeDefined();
    const second = tls.connect({ ...opts, session });
    await new Promise((r) => second.once('secureConnect', r));
    try {
      expect(second.isSessionReused()).toBe(true);
      // The key belongs to kms-client: a resumed session that lost the identity would get Item Not Found.
      const got = await exchange(second, requestMessage({ version: V1_2, batch: [{ operation: Operation.GetAttributes, payload: stateOf(V1_2, uid) }] }));
      expect(got.items[0]!.status).toBe(ResultStatus.Success);
    } finally {
      second.destroy();
    }
  });
  it.each(probes.map((r) => [r.client, r] as const))('T8/T9 %s', async (_name, r) => {
    await replay(c, r);
  });
  it('T10 Locate with no attributes, and Maximum Items', async () => {
    await replay(c, locateAll);
  });
  it('T15 one KMIP 1.0 batch: Query, Locate by x- attributes, Get (Opaque) and Get Attributes through the ID Placeholder (PyKMIP issue 459, a storage array)', async () => {
    const rid = custom('x', 'ResourceID', t.text(0, 'san01-pod1 351538/351539'));
    const sid = custom('x', 'SystemID', t.text(0, '351538'));
    const reg = parseResponse(
      await c.send(requestMessage({ version: V1_0, batch: [{ operation: Operation.Register, payload: registerSecret(V1_0, Buffer.from('0123456789abcdef0123456789abcdef'), [rid, sid]) }] })),
    );
    const uid = findChild(reg.items[0]!.payload, Tag.UniqueIdentifier)?.value;
    const res = parseResponse(
      await c.send(
        requestMessage({
          version: V1_0,
          batch: [
            {
              operation: Operation.Query,
              payload: queryPayload([QueryFunction.QueryOperations, QueryFunction.QueryObjects, QueryFunction.QueryServerInformation, QueryFunction.QueryApplicationNamespaces]),
            },
            { operation: Operation.Locate, payload: t.struct(Tag.RequestPayload, [attribute1x(rid), attribute1x(sid)]) },
            { operation: Operation.Get, payload: getPayload(undefined, { keyFormatType: KeyFormatType.Opaque }) },
            {
              operation: Operation.GetAttributes,
              payload: t.struct(
                Tag.RequestPayload,
                ['Unique Identifier', 'Object Type', 'Initial Date', 'State'].map((n) => t.text(Tag.AttributeName, n)),
              ),
            },
          ],
        }),
      ),
    );
    expect(res.items.map((i) => i.status)).toEqual([ResultStatus.Success, ResultStatus.Success, ResultStatus.Success, ResultStatus.Success]);
    expect(located(res.items[1]!.payload!)).toEqual([uid]);
    // Get and Get Attributes gave no identifier: both used the one Locate found.
    expect(findChild(res.items[2]!.payload, Tag.UniqueIdentifier)?.value).toBe(uid);
    expect(findChild(findChild(findChild(res.items[2]!.payload, Tag.SecretData), Tag.KeyBlock), Tag.KeyFormatType)?.value).toBe(KeyFormatType.Opaque);
    expect(valueOf(V1_0, res.items[3]!.payload!, 'State')).toBe(State.PreActive);
    // A symmetric key asked for as Opaque: Key Format Type Not Supported, the spec's reason for a conversion the server does not make.
    const key = parseResponse(await c.send(requestMessage({ version: V1_0, batch: [{ operation: Operation.Create, payload: createAes(V1_0) }] })));
    const keyUid = findChild(key.items[0]!.payload, Tag.UniqueIdentifier)?.value as string;
    const opaque = parseResponse(
      await c.send(requestMessage({ version: V1_0, batch: [{ operation: Operation.Get, payload: getPayload(keyUid, { keyFormatType: KeyFormatType.Opaque }) }] })),
    );
    expect(opaque.items[0]!.reason).toBe(ResultReason.KeyFormatTypeNotSupported);
  });
  it.each(operationPolicyName.map((r) => [r.client, r] as const))('T11 %s', async (_name, r) => {
    await replay(c, r);
  });
  it('T16 a KMIP 1.0 client is named only 1.0 attributes', async () => {
    await replay(c, attributesOf10);
  });
});
