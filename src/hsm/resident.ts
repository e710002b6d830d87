/**
 * HSM-resident keys. By server policy (`hsm.residentKeys`) or per object (Extractable false),
 * Create generates a symmetric key inside the HSM as a token object, sensitive and
 * non-extractable. The KMIP record keeps only its reference (`ObjectRecord.hsmKey`); Encrypt,
 * Decrypt, MAC and MAC Verify with it run in the HSM (crypto/hsm-mechanism.ts); Get of its value
 * is refused (Extractable is false: Not Extractable); Destroy destroys the token object.
 *
 * Policy values:
 *   never      every key is generated in the host and stored sealed (the HSM holds the KEK only)
 *   requested  (default) a Create whose attributes say Extractable = false is made resident
 *   always     every symmetric key Create makes is resident (and gets Extractable = false)
 * Resident keys exist only with a PKCS#11 backend, for AES and HMAC-SHA1/224/256/384/512.
 *
 * Private keys (Create Key Pair, the private key's attributes deciding, or `always`): RSA
 * 2048/3072/4096 and EC P-256/P-384 pairs are generated in the token; the private key is a
 * sensitive, non-extractable token object labelled kms-obj-<uid>, its record holds the reference
 * with the public key (encodePairRef) and a Key Block without Key Value; the public key is an
 * ordinary Public Key object. Sign with it runs in the HSM (operations/crypto/hsm-signature.ts);
 * Signature Verify uses the public key in the host. An RSA private key whose Cryptographic Usage
 * Mask has Decrypt (or Unwrap Key) may also decrypt in the HSM, RSA-OAEP one-shot, with the OAEP
 * hashes the token offers (SoftHSM2: SHA-1 only; others: Unsupported Cryptographic Parameters).
 * Re-key Key Pair of a resident pair makes a resident pair; Certify with one is refused. Under `always`,
 * Ed25519 and P-521 pairs are refused; under `requested` they are made in the host.
 */
import { CryptographicAlgorithm } from '../kmip/generated/enums.gen.js';
import type { TtlvNode } from '../ttlv/node.js';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { EcCurve, KeyBackend, KeyPairTemplate, KeyRef, KeyTemplate, KeyUsage } from './key-backend.js';
import { hsmMacMechanism } from '../crypto/hsm-mechanism.js';
import type { KeyPairSpec } from '../crypto/asymmetric.js';

export type ResidencyPolicy = 'never' | 'requested' | 'always';
export const RESIDENCY_POLICIES: readonly ResidencyPolicy[] = ['never', 'requested', 'always'];

export interface ResidentKeys {
  readonly backend: KeyBackend;
  readonly policy: ResidencyPolicy;
}

export const RESIDENT_LABEL_PREFIX = 'kms-obj-';

/** Whether a Create with these attributes makes an HSM-resident key. */
export function wantsResident(r: ResidentKeys | undefined, attrs: ReadonlyMap<string, readonly TtlvNode[]>): boolean {
  if (!r || r.policy === 'never') return false;
  if (r.policy === 'always') return true;
  const x = attrs.get('Extractable')?.[0];
  return x?.type === 'Boolean' && x.value === false;
}

/** The token key template for a KMIP algorithm and length, or why the HSM cannot hold it. */
export function residentTemplate(r: ResidentKeys, algorithm: number, bits: number): { template: KeyTemplate } | { why: string } {
  const caps = r.backend.capabilities();
  const base = { token: true, sensitive: true, extractable: false } as const;
  if (algorithm === CryptographicAlgorithm.AES) {
    if (!caps.aesKeyBits.includes(bits)) return { why: `the HSM does not hold AES-${bits} keys` };
    return { template: { ...base, type: 'AES', bits, usage: ['encrypt', 'decrypt'] satisfies KeyUsage[] } };
  }
  const mac = hsmMacMechanism(algorithm);
  if (mac) {
    const m = caps.macs.find((x) => x.mechanism === mac);
    const g = caps.genericSecretBits;
    if (!m || !g || bits < Math.max(m.minKeyBits, g.min) || bits > Math.min(m.maxKeyBits, g.max)) return { why: `the HSM does not hold ${bits}-bit keys for ${mac}` };
    return { template: { ...base, type: 'GENERIC_SECRET', bits, usage: ['sign', 'verify'] } };
  }
  return { why: 'HSM-resident keys are AES or HMAC-SHA1/224/256/384/512' };
}

export function encodeKeyRef(ref: KeyRef): string {
  return JSON.stringify(ref);
}

export function decodeKeyRef(s: string): KeyRef {
  const r = JSON.parse(s) as KeyRef;
  if (typeof r.id !== 'string' || !/^[0-9a-f]+$/.test(r.id)) throw new Error('malformed HSM key reference');
  return r;
}

/**
 * The token key pair template for a Create Key Pair choice (RSA 2048/3072/4096, EC P-256/P-384),
 * or why the HSM cannot hold it. Only the private key lives in the token; the public key is an
 * ordinary Public Key object.
 */
export function residentPairTemplate(r: ResidentKeys, spec: KeyPairSpec): { template: KeyPairTemplate } | { why: string } {
  const caps = r.backend.capabilities();
  const base = { token: true, sensitive: true, extractable: false } as const;
  if (spec.kind === 'rsa') {
    if (spec.publicExponent !== undefined && spec.publicExponent !== 65537) return { why: 'HSM-resident RSA keys use the public exponent 65537' };
    if (!caps.rsaKeyBits.includes(spec.bits)) return { why: `the HSM does not hold RSA-${spec.bits} keys` };
    return { template: { ...base, type: 'RSA', bits: spec.bits } };
  }
  if (spec.kind === 'ec') {
    const curve = spec.curve as EcCurve | 'P-521';
    if (curve === 'P-521' || !caps.ecCurves.includes(curve)) return { why: `the HSM does not hold EC ${spec.curve} keys` };
    return { template: { ...base, type: 'EC', curve } };
  }
  return { why: 'HSM-resident private keys are RSA 2048/3072/4096 or EC P-256/P-384' };
}

/** A resident private key's reference with its public key (SubjectPublicKeyInfo, base64): what signature schemes are chosen by. */
export function encodePairRef(ref: KeyRef, spki: Uint8Array): string {
  return JSON.stringify({ ...ref, publicKey: Buffer.from(spki).toString('base64') });
}

/** The public key kept with a resident private key's reference (undefined for secret keys). */
export function residentPublicKey(hsmKey: string): KeyObject | undefined {
  const r = JSON.parse(hsmKey) as { publicKey?: unknown };
  return typeof r.publicKey === 'string' ? createPublicKey({ key: Buffer.from(r.publicKey, 'base64'), format: 'der', type: 'spki' }) : undefined;
}
