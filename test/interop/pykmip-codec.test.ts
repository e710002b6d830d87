/**
 * Our TTLV codec and request builders against PyKMIP 0.10's own encoder (an independent
 * implementation): test/interop/pykmip_encode.py builds real requests and responses with
 * PyKMIP's message/payload classes at KMIP 1.2 and 2.0, from inputs this test generates
 * (key bytes, a certificate). For every message we
 *   1. decode it with `decode` and check facts we know independently (operation, object
 *      type, the key/certificate bytes we fed in, texts);
 *   2. re-encode it and require PyKMIP's exact bytes;
 *   3. where we have a builder, build the same request ourselves and require the same bytes.
 *
 * 2.0 coverage, as PyKMIP 0.10 allows: Create and Register requests use the 2.0 Attributes
 * structure and Locate requests the 2.0 Attributes form (PyKMIP converts its 1.x
 * Template-Attribute when writing at 2.0). Get, Query, Destroy and the responses have no
 * structural 2.0 change that PyKMIP 0.10 can emit, so their 2.0 forms differ from 1.2 only in
 * the header's Protocol Version (asserted below, so a 2.0-specific difference would show).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attr,
  certificateObject,
  createSymmetricKeyPayload,
  destroyPayload,
  findChild,
  findChildren,
  findPath,
  getPayload,
  keyMaterialOf,
  locatePayload,
  parseResponse,
  queryPayload,
  registerPayload,
  requestMessage,
  uniqueIdentifierOf,
  uniqueIdentifiersOf,
  type KmipVersion,
} from '../../src/client/index.js';
import { CertificateType, CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, QueryFunction, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { decode, encode, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';

const SCRIPT = fileURLToPath(new URL('./pykmip_encode.py', import.meta.url));
const TIME_STAMP = 1_700_000_000n;
const VERSIONS: Record<string, KmipVersion> = { '1.2': { major: 1, minor: 2 }, '2.0': { major: 2, minor: 0 } };

interface Inputs {
  symmetricKey: Buffer;
  rsaPkcs1: Buffer;
  rsaPkcs8: Buffer;
  certificate: Buffer;
}

let inputs: Inputs;
let messages: Record<string, Buffer>;

beforeAll(() => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  inputs = {
    symmetricKey: randomBytes(32),
    rsaPkcs1: privateKey.export({ type: 'pkcs1', format: 'der' }),
    rsaPkcs8: privateKey.export({ type: 'pkcs8', format: 'der' }),
    certificate: new X509Certificate(readFileSync('certs/dev/server.pem')).raw,
  };
  const stdout = execFileSync('/usr/bin/python3', [SCRIPT], {
    input: JSON.stringify({
      symmetricKey: inputs.symmetricKey.toString('hex'),
      rsaPkcs1: inputs.rsaPkcs1.toString('hex'),
      rsaPkcs8: inputs.rsaPkcs8.toString('hex'),
      certificate: inputs.certificate.toString('hex'),
      timeStamp: Number(TIME_STAMP),
    }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = JSON.parse(stdout) as { pykmip: string; messages: Record<string, string> };
  expect(out.pykmip).toBe('0.10.0');
  messages = Object.fromEntries(Object.entries(out.messages).map(([k, v]) => [k, Buffer.from(v, 'hex')]));
});

function msg(name: string): Buffer {
  const m = messages[name];
  if (!m) throw new Error(`PyKMIP produced no message named ${name}`);
  return m;
}

/** Decode, require the exact PyKMIP bytes back from encode, and return the tree. */
function roundTrip(name: string): StructureNode {
  const bytes = msg(name);
  const node = decode(bytes);
  expect(Buffer.from(encode(node)).equals(bytes), `${name}: encode(decode(bytes)) differs from PyKMIP`).toBe(true);
  expect(node.type).toBe('Structure');
  return node as StructureNode;
}

function requestParts(node: StructureNode, v: KmipVersion): StructureNode[] {
  expect(node.tag).toBe(Tag.RequestMessage);
  const header = findChild(node, Tag.RequestHeader);
  expect(findPath(header, Tag.ProtocolVersion, Tag.ProtocolVersionMajor)).toMatchObject({ type: 'Integer', value: v.major });
  expect(findPath(header, Tag.ProtocolVersion, Tag.ProtocolVersionMinor)).toMatchObject({ type: 'Integer', value: v.minor });
  const items = findChildren(node, Tag.BatchItem) as StructureNode[];
  expect(findChild(header, Tag.BatchCount)).toMatchObject({ type: 'Integer', value: items.length });
  return items;
}

function requestPayloadOf(item: StructureNode, operation: number): StructureNode {
  expect(findChild(item, Tag.Operation)).toEqual({ tag: Tag.Operation, type: 'Enumeration', value: operation });
  const p = findChild(item, Tag.RequestPayload);
  expect(p?.type).toBe('Structure');
  return p as StructureNode;
}

/** 1.x: the Attribute Value of the Attribute named `name` in a list of Attribute structures. */
function v1Attribute(parent: TtlvNode | undefined, name: string): TtlvNode | undefined {
  const a = findChildren(parent, Tag.Attribute).find((n) => findChild(n, Tag.AttributeName)?.value === name);
  return findChild(a, Tag.AttributeValue);
}

/** The bytes of a ByteString child, as hex (so Buffer/Uint8Array views compare equal). */
function bytesHex(parent: TtlvNode | undefined, tag: number): string | undefined {
  const n = findChild(parent, tag);
  return n?.type === 'ByteString' ? Buffer.from(n.value).toString('hex') : undefined;
}

function sameBytes(ours: StructureNode, name: string): void {
  expect(Buffer.from(encode(ours)).toString('hex'), `our builder vs PyKMIP for ${name}`).toBe(msg(name).toString('hex'));
}

for (const [vs, v] of Object.entries(VERSIONS)) {
  const v2 = v.major >= 2;

  describe(`PyKMIP ${vs} messages`, () => {
    it('Create request (AES-256 symmetric key with attributes)', () => {
      const node = roundTrip(`create-request@${vs}`);
      const [item] = requestParts(node, v);
      expect(bytesHex(item, Tag.UniqueBatchItemID)).toBe('01');
      const p = requestPayloadOf(item!, Operation.Create);
      expect(findChild(p, Tag.ObjectType)).toMatchObject({ type: 'Enumeration', value: ObjectType.SymmetricKey });
      const mask = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
      if (v2) {
        expect(findChild(p, Tag.TemplateAttribute)).toBeUndefined();
        const attrs = findChild(p, Tag.Attributes);
        expect(findChild(attrs, Tag.CryptographicAlgorithm)).toMatchObject({ type: 'Enumeration', value: CryptographicAlgorithm.AES });
        expect(findChild(attrs, Tag.CryptographicLength)).toMatchObject({ type: 'Integer', value: 256 });
        expect(findChild(attrs, Tag.CryptographicUsageMask)).toMatchObject({ type: 'Integer', value: mask });
        expect(findPath(attrs, Tag.Name, Tag.NameValue)).toMatchObject({ type: 'TextString', value: 'interop-key-1' });
      } else {
        expect(findChild(p, Tag.Attributes)).toBeUndefined();
        const ta = findChild(p, Tag.TemplateAttribute);
        expect(v1Attribute(ta, 'Cryptographic Algorithm')).toMatchObject({ type: 'Enumeration', value: CryptographicAlgorithm.AES });
        expect(v1Attribute(ta, 'Cryptographic Length')).toMatchObject({ type: 'Integer', value: 256 });
        expect(v1Attribute(ta, 'Cryptographic Usage Mask')).toMatchObject({ type: 'Integer', value: mask });
        expect(findChild(v1Attribute(ta, 'Name'), Tag.NameValue)).toMatchObject({ type: 'TextString', value: 'interop-key-1' });
      }
      sameBytes(
        requestMessage({
          version: v,
          batch: [
            {
              operation: Operation.Create,
              uniqueBatchItemId: new Uint8Array([1]),
              payload: createSymmetricKeyPayload(v, {
                algorithm: CryptographicAlgorithm.AES,
                length: 256,
                usageMask: mask,
                name: 'interop-key-1',
              }),
            },
          ],
        }),
        `create-request@${vs}`,
      );
    });

    it('Create response', () => {
      const node = roundTrip(`create-response@${vs}`);
      const r = parseResponse(node);
      expect(r.header).toEqual({ version: v, timeStamp: TIME_STAMP, batchCount: 1 });
      expect(r.items[0]).toMatchObject({ operation: Operation.Create, status: ResultStatus.Success });
      expect(Buffer.from(r.items[0]!.uniqueBatchItemId!).toString('hex')).toBe('01');
      expect(findChild(r.items[0]?.payload, Tag.ObjectType)).toMatchObject({ value: ObjectType.SymmetricKey });
      expect(uniqueIdentifierOf(r.items[0]?.payload)).toBe('uid-sym-1');
    });

    it('Get request', () => {
      const node = roundTrip(`get-request@${vs}`);
      const p = requestPayloadOf(requestParts(node, v)[0]!, Operation.Get);
      expect(findChild(p, Tag.UniqueIdentifier)).toMatchObject({ type: 'TextString', value: 'uid-sym-1' });
      expect(findChild(p, Tag.KeyFormatType)).toMatchObject({ type: 'Enumeration', value: KeyFormatType.Raw });
      sameBytes(
        requestMessage({
          version: v,
          batch: [{ operation: Operation.Get, payload: getPayload('uid-sym-1', { keyFormatType: KeyFormatType.Raw }) }],
        }),
        `get-request@${vs}`,
      );
    });

    it('Get response with a symmetric key: the 32 key bytes we fed PyKMIP', () => {
      const r = parseResponse(roundTrip(`get-response-symmetric@${vs}`));
      const item = r.items[0]!;
      expect(item).toMatchObject({ operation: Operation.Get, status: ResultStatus.Success });
      expect(findChild(item.payload, Tag.ObjectType)).toMatchObject({ value: ObjectType.SymmetricKey });
      expect(Buffer.from(keyMaterialOf(item.payload)).equals(inputs.symmetricKey)).toBe(true);
      const block = findPath(item.payload, Tag.SymmetricKey, Tag.KeyBlock);
      expect(findChild(block, Tag.KeyFormatType)).toMatchObject({ value: KeyFormatType.Raw });
      expect(findChild(block, Tag.CryptographicAlgorithm)).toMatchObject({ value: CryptographicAlgorithm.AES });
      expect(findChild(block, Tag.CryptographicLength)).toMatchObject({ type: 'Integer', value: 256 });
    });

    for (const [fmt, kft] of [
      ['pkcs1', KeyFormatType.PKCS_1],
      ['pkcs8', KeyFormatType.PKCS_8],
    ] as const) {
      it(`Get response with an RSA private key as ${fmt.toUpperCase()} DER`, () => {
        const r = parseResponse(roundTrip(`get-response-rsa-${fmt}@${vs}`));
        const item = r.items[0]!;
        expect(findChild(item.payload, Tag.ObjectType)).toMatchObject({ value: ObjectType.PrivateKey });
        const der = fmt === 'pkcs1' ? inputs.rsaPkcs1 : inputs.rsaPkcs8;
        expect(Buffer.from(keyMaterialOf(item.payload)).equals(der)).toBe(true);
        const block = findPath(item.payload, Tag.PrivateKey, Tag.KeyBlock);
        expect(findChild(block, Tag.KeyFormatType)).toMatchObject({ value: kft });
        expect(findChild(block, Tag.CryptographicAlgorithm)).toMatchObject({ value: CryptographicAlgorithm.RSA });
        expect(findChild(block, Tag.CryptographicLength)).toMatchObject({ value: 2048 });
      });
    }

    it('Locate request by Object Type and Name', () => {
      const node = roundTrip(`locate-request@${vs}`);
      const p = requestPayloadOf(requestParts(node, v)[0]!, Operation.Locate);
      expect(findChild(p, Tag.MaximumItems)).toMatchObject({ type: 'Integer', value: 10 });
      if (v2) {
        expect(findChildren(p, Tag.Attribute)).toHaveLength(0);
        const attrs = findChild(p, Tag.Attributes);
        expect(findChild(attrs, Tag.ObjectType)).toMatchObject({ value: ObjectType.SymmetricKey });
        expect(findPath(attrs, Tag.Name, Tag.NameValue)).toMatchObject({ value: 'interop-key-1' });
      } else {
        expect(findChild(p, Tag.Attributes)).toBeUndefined();
        expect(v1Attribute(p, 'Object Type')).toMatchObject({ type: 'Enumeration', value: ObjectType.SymmetricKey });
        expect(findChild(v1Attribute(p, 'Name'), Tag.NameValue)).toMatchObject({ value: 'interop-key-1' });
      }
      sameBytes(
        requestMessage({
          version: v,
          batch: [
            {
              operation: Operation.Locate,
              payload: locatePayload(v, [attr.objectType(ObjectType.SymmetricKey), attr.name('interop-key-1')], { maximumItems: 10 }),
            },
          ],
        }),
        `locate-request@${vs}`,
      );
    });

    it('Locate response', () => {
      const r = parseResponse(roundTrip(`locate-response@${vs}`));
      const item = r.items[0]!;
      expect(item).toMatchObject({ operation: Operation.Locate, status: ResultStatus.Success });
      expect(findChild(item.payload, Tag.LocatedItems)).toMatchObject({ type: 'Integer', value: 2 });
      expect(uniqueIdentifiersOf(item.payload)).toEqual(['uid-sym-1', 'uid-sym-2']);
    });

    it('Register request for an X.509 certificate (the DER we fed PyKMIP)', () => {
      const node = roundTrip(`register-certificate-request@${vs}`);
      const p = requestPayloadOf(requestParts(node, v)[0]!, Operation.Register);
      expect(findChild(p, Tag.ObjectType)).toMatchObject({ value: ObjectType.Certificate });
      expect(findPath(p, Tag.Certificate, Tag.CertificateType)).toMatchObject({ value: CertificateType.X_509 });
      const value = findPath(p, Tag.Certificate, Tag.CertificateValue);
      expect(value?.type).toBe('ByteString');
      expect(Buffer.from(value!.value as Uint8Array).equals(inputs.certificate)).toBe(true);
      if (v2) expect(findChild(findChild(p, Tag.Attributes), Tag.CryptographicUsageMask)).toMatchObject({ value: CryptographicUsageMask.Verify });
      else expect(v1Attribute(findChild(p, Tag.TemplateAttribute), 'Cryptographic Usage Mask')).toMatchObject({ value: CryptographicUsageMask.Verify });
      sameBytes(
        requestMessage({
          version: v,
          batch: [
            {
              operation: Operation.Register,
              payload: registerPayload(v, ObjectType.Certificate, certificateObject(inputs.certificate), [
                attr.cryptographicUsageMask(CryptographicUsageMask.Verify),
                attr.name('interop-cert-1'),
              ]),
            },
          ],
        }),
        `register-certificate-request@${vs}`,
      );
    });

    it('Register response', () => {
      const r = parseResponse(roundTrip(`register-response@${vs}`));
      expect(r.items[0]).toMatchObject({ operation: Operation.Register, status: ResultStatus.Success });
      expect(uniqueIdentifierOf(r.items[0]?.payload)).toBe('uid-cert-1');
    });

    it('Query request', () => {
      const node = roundTrip(`query-request@${vs}`);
      const p = requestPayloadOf(requestParts(node, v)[0]!, Operation.Query);
      const fns = [QueryFunction.QueryOperations, QueryFunction.QueryObjects, QueryFunction.QueryServerInformation];
      expect(findChildren(p, Tag.QueryFunction).map((n) => n.value)).toEqual(fns);
      sameBytes(requestMessage({ version: v, batch: [{ operation: Operation.Query, payload: queryPayload(fns) }] }), `query-request@${vs}`);
    });

    it('Query response', () => {
      const r = parseResponse(roundTrip(`query-response@${vs}`));
      const p = r.items[0]?.payload;
      expect(findChildren(p, Tag.Operation).map((n) => n.value)).toEqual([Operation.Create, Operation.Get, Operation.Locate, Operation.Destroy, Operation.Query]);
      expect(findChildren(p, Tag.ObjectType).map((n) => n.value)).toEqual([ObjectType.SymmetricKey, ObjectType.Certificate]);
      expect(findChild(p, Tag.VendorIdentification)).toMatchObject({ type: 'TextString', value: 'PyKMIP interop vendor' });
    });

    it('a two-item batch (Get, Destroy) with Unique Batch Item IDs', () => {
      const node = roundTrip(`batch-get-destroy-request@${vs}`);
      const items = requestParts(node, v);
      expect(items).toHaveLength(2);
      expect(bytesHex(items[0], Tag.UniqueBatchItemID)).toBe('0a');
      expect(bytesHex(items[1], Tag.UniqueBatchItemID)).toBe('0b');
      requestPayloadOf(items[0]!, Operation.Get);
      expect(findChild(requestPayloadOf(items[1]!, Operation.Destroy), Tag.UniqueIdentifier)).toMatchObject({ value: 'uid-sym-1' });
      sameBytes(
        requestMessage({
          version: v,
          batch: [
            { operation: Operation.Get, payload: getPayload('uid-sym-1'), uniqueBatchItemId: new Uint8Array([0x0a]) },
            { operation: Operation.Destroy, payload: destroyPayload('uid-sym-1'), uniqueBatchItemId: new Uint8Array([0x0b]) },
          ],
        }),
        `batch-get-destroy-request@${vs}`,
      );
    });
  });
}

describe('PyKMIP 1.2 vs 2.0 forms', () => {
  /** Replace the header's Protocol Version so two messages can be compared past it. */
  function withoutVersion(name: string): string {
    const node = decode(msg(name)) as StructureNode;
    const [header, ...rest] = node.value as StructureNode[];
    const h = { ...header!, value: header!.value.filter((c) => c.tag !== Tag.ProtocolVersion) };
    return Buffer.from(encode({ ...node, value: [h, ...rest] })).toString('hex');
  }

  it('differ in structure for Create, Locate and Register requests', () => {
    for (const name of ['create-request', 'locate-request', 'register-certificate-request']) {
      expect(withoutVersion(`${name}@2.0`), name).not.toBe(withoutVersion(`${name}@1.2`));
    }
  });

  it('differ only in the header version for payloads PyKMIP 0.10 writes the same way', () => {
    for (const name of ['get-request', 'get-response-symmetric', 'locate-response', 'query-request', 'query-response', 'register-response']) {
      expect(withoutVersion(`${name}@2.0`), name).toBe(withoutVersion(`${name}@1.2`));
    }
  });
});
