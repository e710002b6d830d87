/**
 * Request payloads the client replays need beyond src/client and test/support/kmip-session.ts:
 * Create Key Pair with its three attribute sets, Secret Data, Get Attributes of the State, and
 * the attribute lists real clients send. Written from the spec tables (KMIP 1.4 §4.2, §2.2.7;
 * 2.0 §6.1.9), independently of the server's code.
 */
import { attr, locatePayload, versionAtLeast, type KmipVersion } from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyFormatType, ObjectType, SecretDataType } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { attribute1x, attribute2x, createWith, getAttributesPayload, registerWith, type AnyAttribute } from '../support/kmip-session.js';

export const ENCRYPT_DECRYPT = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

/** AES key attributes: algorithm, length and (unless `mask` is null) a usage mask. */
export function aes(bits = 256, mask: number | null = ENCRYPT_DECRYPT): AnyAttribute[] {
  return [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(bits), ...(mask === null ? [] : [attr.cryptographicUsageMask(mask)])];
}

/** Create of an AES key with `extra` attributes. */
export function createAes(v: KmipVersion, extra: readonly AnyAttribute[] = [], opts: { bits?: number; mask?: number | null } = {}): StructureNode {
  return createWith(v, ObjectType.SymmetricKey, [...aes(opts.bits ?? 256, opts.mask === undefined ? ENCRYPT_DECRYPT : opts.mask), ...extra]);
}

/** Create Key Pair (1.4 §4.2 / 2.0 §6.1.9) with Common, Private Key and Public Key attribute sets; absent sets are left out. */
export function createKeyPairPayload(v: KmipVersion, sets: { common?: readonly AnyAttribute[]; priv?: readonly AnyAttribute[]; pub?: readonly AnyAttribute[] }): StructureNode {
  const v2 = versionAtLeast(v, 2, 0);
  const set = (tag1: number, tag2: number, attrs: readonly AnyAttribute[] | undefined): TtlvNode[] =>
    attrs === undefined
      ? []
      : [
          v2
            ? t.struct(tag2, attrs.map(attribute2x))
            : t.struct(
                tag1,
                attrs.map((a) => attribute1x(a)),
              ),
        ];
  return t.struct(Tag.RequestPayload, [
    ...set(Tag.CommonTemplateAttribute, Tag.CommonAttributes, sets.common),
    ...set(Tag.PrivateKeyTemplateAttribute, Tag.PrivateKeyAttributes, sets.priv),
    ...set(Tag.PublicKeyTemplateAttribute, Tag.PublicKeyAttributes, sets.pub),
  ]);
}

/** A Secret Data object (Opaque key format), e.g. a password or a wrapped data key. */
export function secretDataObject(bytes: Uint8Array, type: number = SecretDataType.Password): StructureNode {
  return t.struct(Tag.SecretData, [
    t.enum(Tag.SecretDataType, type),
    t.struct(Tag.KeyBlock, [t.enum(Tag.KeyFormatType, KeyFormatType.Opaque), t.struct(Tag.KeyValue, [t.bytes(Tag.KeyMaterial, bytes)])]),
  ]);
}

/** Register of Secret Data with `attrs`. */
export function registerSecret(v: KmipVersion, bytes: Uint8Array, attrs: readonly AnyAttribute[] = []): StructureNode {
  return registerWith(v, ObjectType.SecretData, secretDataObject(bytes), attrs);
}

/** Get Attributes of the State only (the poll clients such as MongoDB send). */
export function stateOf(v: KmipVersion, uid: string): StructureNode {
  return getAttributesPayload(v, uid, ['State']);
}

/** Locate by Name (and optionally Object Type). */
export function locateByName(v: KmipVersion, name: string, objectType?: number): StructureNode {
  return locatePayload(v, [attr.name(name), ...(objectType !== undefined ? [attr.objectType(objectType)] : [])]);
}

/** The Private and Public Key Unique Identifiers of a Create Key Pair answer. */
export function pairUids(body: StructureNode): { priv: string; pub: string } {
  const text = (tag: number) => {
    const n = body.value.find((c) => c.tag === tag);
    if (n?.type !== 'TextString') throw new Error('Create Key Pair answer lacks a key identifier');
    return n.value;
  };
  return { priv: text(Tag.PrivateKeyUniqueIdentifier), pub: text(Tag.PublicKeyUniqueIdentifier) };
}

/** An Application Specific Information value (Tape Library profile: namespace + data). */
export function applicationSpecificInformation(namespace: string, data: string): TtlvNode {
  return t.struct(Tag.ApplicationSpecificInformation, [t.text(Tag.ApplicationNamespace, namespace), t.text(Tag.ApplicationData, data)]);
}
