/**
 * Which new key becomes HSM-resident, in KMIP terms. By server policy (`hsm.residentKeys`,
 * values in hsm/resident.ts) or per object (Extractable false), with a PKCS#11 backend:
 *   - a secret key (Create, Re-key) is generated in the token as a sensitive, non-extractable
 *     token object when it is AES or HMAC-SHA1/224/256/384/512 of a length the token holds;
 *   - a key pair (Create Key Pair, Re-key Key Pair; the private key's attributes decide) is
 *     generated in the token when it is RSA 2048/3072/4096 (public exponent 65537) or EC
 *     P-256/P-384; only the private key stays there, the public key is an ordinary object.
 * What the token cannot hold is made in the host under `requested` (and never returned, as
 * Extractable false says), and refused under `always` (custody/index.ts).
 */
import { CryptographicAlgorithm } from '../kmip/generated/enums.gen.js';
import type { TtlvNode } from '../ttlv/node.js';
import type { EcCurve, KeyPairTemplate, KeyTemplate, KeyUsage } from '../hsm/key-backend.js';
import type { ResidentKeys } from '../hsm/resident.js';
import type { KeyPairSpec } from '../crypto/asymmetric.js';
import { hsmMacMechanism } from './hsm-mechanism.js';

/** Whether a new key with these attributes asks to be HSM-resident under the policy. */
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
