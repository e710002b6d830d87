/**
 * The crypto policy applied to every key (policy/key-policy.ts), at the points where keys enter
 * the server or are used to protect something:
 * - `checkNewKey`: Register and Import (after any unwrapping), on the plain content. Symmetric
 *   Keys: no single DES (nor a Triple DES bundle that is single DES), material of a size the
 *   algorithm has, HMAC keys of at least hmacMinBits. Public and Private Keys: the material must
 *   parse in its Key Format Type and be of the algorithm the object states; RSA of at least
 *   rsaMinBits with a public exponent of at least rsaMinPublicExponent; EC on an ecCurves curve;
 *   a key the server cannot read (DSA, PKCS#12, another curve) only with legacyKeys. Wrapped and
 *   metadata-only keys are checked as far as their attributes go (no single DES).
 * - `checkKeyForUse`: Encrypt, MAC, Sign, Certify's signing key, wrapping (and the MAC key of
 *   Encrypt-then-MAC), Derive Key's base key. Decrypt, Signature Verify, MAC Verify and unwrapping
 *   stay possible with a key the policy has since been tightened against (legacy use, SP 800-131A).
 *
 * Result Reasons: storing — malformed material: Invalid Field; refused by a setting: Invalid
 * Attribute Value (2.x) / Invalid Field (1.x), as Create's policy refusals. Using — Unsupported
 * Cryptographic Parameters (2.x) / Invalid Field (1.x), as the other use refusals of the policy
 * (cryptoPolicy.tripleDes, aesModes). The message names the setting (`cryptoPolicy.rsaMinBits`, …).
 */
import type { KeyObject } from 'node:crypto';
import { ObjectType, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import type { AttributeMap } from '../../objects/managed-object.js';
import { EC_CURVES, KeyFormatError, keyBlockOfBody, keyFromBlock } from '../../objects/key-formats.js';
import { readKeyBlock } from '../../objects/object-body.js';
import type { StructureNode } from '../../ttlv/node.js';
import { checkAsymmetricKey, checkSymmetricKey, checkUnreadableKey, type AsymmetricFacts, type KeyPolicy, type KeyRefusal } from '../../policy/key-policy.js';
import type { OperationContext } from '../context.js';
import { DEFAULT_CRYPTO_POLICY } from '../../policy/crypto-policy.js';
import { versionReason } from '../../kmip/version-rules.js';
import { attribute } from '../../objects/typed-attributes.js';

export function keyPolicyOf(ctx: OperationContext): KeyPolicy {
  return (ctx.services.cryptoPolicy ?? DEFAULT_CRYPTO_POLICY).keys;
}

/** What node:crypto tells about a key object. */
export function factsOf(key: KeyObject): AsymmetricFacts {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { kind: 'rsa', ...(d.modulusLength !== undefined && { bits: d.modulusLength }), ...(d.publicExponent !== undefined && { publicExponent: d.publicExponent }) };
    case 'ec': {
      const c = EC_CURVES.find((x) => x.node === d.namedCurve || ({ 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const)[x.node] === d.namedCurve);
      return { kind: 'ec', ...(c && { bits: c.bits, nistCurve: true }), curve: d.namedCurve ?? 'an unknown curve' };
    }
    case 'ed25519':
      return { kind: 'ed25519', bits: 256 };
    default:
      return { kind: 'other' };
  }
}

function storeError(ctx: OperationContext, r: KeyRefusal, operation: string): KmipError {
  if (r.malformed) return new KmipError(ResultReason.InvalidField, `${operation}: ${r.why}`);
  return new KmipError(versionReason(ctx.version, 'InvalidAttributeValue'), `${operation}: ${r.why}`);
}

function useError(ctx: OperationContext, r: KeyRefusal, uid: string): KmipError {
  return new KmipError(versionReason(ctx.version, 'UnsupportedCryptographicParameters'), `the key ${uid} may not be used to protect data: ${r.why}`);
}

/** The refusal for an asymmetric Key Block, if the policy refuses it. */
function asymmetricRefusal(p: KeyPolicy, objectType: number, kb: StructureNode, claimed: number | undefined): KeyRefusal | undefined {
  let key: KeyObject;
  try {
    key = keyFromBlock(objectType, kb);
  } catch (e) {
    if (!(e instanceof KeyFormatError)) throw e;
    if (e.code === 'MALFORMED') return { setting: 'keyMaterial', why: `the key material does not parse in its Key Format Type (${e.message})`, malformed: true };
    return checkUnreadableKey(p, e.message);
  }
  return checkAsymmetricKey(p, claimed, factsOf(key));
}

/**
 * Register / Import: the key about to be stored (`body`, plain or as registered) with its
 * attributes (`attrs`, the request's and what the content states). Throws the refusal.
 */
export function checkNewKey(ctx: OperationContext, objectType: number, attrs: AttributeMap, body: StructureNode, operation: string): void {
  const p = keyPolicyOf(ctx);
  const claimed = attribute(attrs, 'CryptographicAlgorithm');
  const kbNode = keyBlockOfBody(body);
  if (!kbNode) return;
  if (objectType === ObjectType.SymmetricKey) {
    const kb = readKeyBlock(kbNode, 'registered object');
    const r = checkSymmetricKey(p, kb.algorithm ?? claimed, kb.wrapped ? undefined : kb.material);
    if (r) throw storeError(ctx, r, operation);
    return;
  }
  if (objectType !== ObjectType.PublicKey && objectType !== ObjectType.PrivateKey) return;
  // Wrapped (stored as given) or metadata-only: nothing to read here.
  if (kbNode.value.some((c) => c.tag === Tag.KeyWrappingData) || !kbNode.value.some((c) => c.tag === Tag.KeyValue)) return;
  const r = asymmetricRefusal(p, objectType, kbNode, claimed);
  if (r) throw storeError(ctx, r, operation);
}

/** A symmetric key about to protect data (Encrypt, MAC, wrap, Derive Key base). */
export function checkSymmetricUse(ctx: OperationContext, uid: string, algorithm: number | undefined, material: Uint8Array | undefined): void {
  const r = checkSymmetricKey(keyPolicyOf(ctx), algorithm, material);
  if (r) throw useError(ctx, r, uid);
}

/** An RSA/EC/Ed25519 key about to protect data (Encrypt, Sign, wrap, Certify). */
export function checkAsymmetricUse(ctx: OperationContext, uid: string, algorithm: number | undefined, key: KeyObject): void {
  const r = checkAsymmetricKey(keyPolicyOf(ctx), algorithm, factsOf(key));
  if (r) throw useError(ctx, r, uid);
}
