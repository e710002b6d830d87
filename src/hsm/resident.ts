/**
 * HSM-resident keys in HSM terms: the residency policy's values, the token label of a resident
 * key, and the reference a record keeps to its token key (`ObjectRecord.hsmKey`). Which KMIP
 * object becomes resident, and how KMIP parameters become mechanisms, is decided above, in the
 * key-custody seam (src/custody/: residency.ts, hsm-custody.ts, hsm-mechanism.ts).
 *
 * Policy values:
 *   never      every key is generated in the host and stored sealed (the HSM holds the KEK only)
 *   requested  (default) a Create whose attributes say Extractable = false is made resident
 *   always     every key Create makes is resident (and gets Extractable = false)
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { KeyBackend, KeyRef } from './key-backend.js';

export type ResidencyPolicy = 'never' | 'requested' | 'always';
export const RESIDENCY_POLICIES: readonly ResidencyPolicy[] = ['never', 'requested', 'always'];

export interface ResidentKeys {
  readonly backend: KeyBackend;
  readonly policy: ResidencyPolicy;
}

/** Token label of a resident key: the prefix and the object's uid. */
export const RESIDENT_LABEL_PREFIX = 'kms-obj-';

export function encodeKeyRef(ref: KeyRef): string {
  return JSON.stringify(ref);
}

export function decodeKeyRef(s: string): KeyRef {
  const r = JSON.parse(s) as KeyRef;
  if (typeof r.id !== 'string' || !/^[0-9a-f]+$/.test(r.id)) throw new Error('malformed HSM key reference');
  return r;
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
