/**
 * What a Destroyed or Destroyed Compromised object answers, per protocol version: one place for
 * the decision, which docs/destroyed-objects.md sets out as a table and
 * test/operations/destroyed-objects.test.ts checks at every version.
 *
 * The spec text it rests on:
 * - KMIP 1.4 §4.21 Destroy: "the key material for the specified Managed Object SHALL be
 *   destroyed. The meta-data for the key material MAY be retained by the server". 1.0-1.3 say the
 *   same (§4.19/§4.21). 1.4 §3.22 (State): a Destroyed object "SHALL NOT be used for any
 *   cryptographic purpose".
 * - KMIP 2.1 §6.1.15 Destroy: the key material "SHALL be destroyed or rendered inaccessible. The
 *   meta-data for the key material SHALL be retained by the server"; 2.1 §11 adds the Result
 *   Reason Object Destroyed ("Object exists, but has already been destroyed"), which 2.0 has too.
 *
 * The decision:
 * - The metadata stays at every version (the record keeps its attributes, State, Destroy Date;
 *   the audit report still names the key): Get Attributes and Get Attribute List answer as for
 *   any object, with State Destroyed / Destroyed Compromised.
 * - Locate leaves destroyed objects out unless asked: 2.x by the Storage Status Mask's Destroyed
 *   Storage bit (2.1 §6.1.28 "SHALL NOT return unique identifiers for objects that are destroyed
 *   unless the Storage Status Mask field includes the Destroyed Storage indicator"); 1.x, which has
 *   no such bit, by a State filter naming Destroyed or Destroyed Compromised (locate.ts).
 * - What needs the key material (Get, Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify,
 *   Derive Key): 2.x Object Destroyed (test case BL-M-8-21 for Get; Derive Key keeps Key Value
 *   Not Present, which its 2.1 error table lists); 1.x Item Not Found. 1.x defines no reason for
 *   a destroyed object and its Get error table (1.4 §11.12) has no row for one; the Managed Object
 *   whose value was asked for no longer exists, and deployed 1.x clients read exactly that: PyKMIP
 *   0.10's integration suite (test_symmetric_key_create_get_destroy, run at 1.2) asserts Item Not
 *   Found for a Get after Destroy, as its reference server answers. Key Value Not Present (1.2+)
 *   stays what it means in 1.2 §3.x: a key whose value is held elsewhere (Key Value Location).
 * - Lifecycle requests (Activate, Revoke, Destroy) follow the transition table
 *   (objects/lifecycle.ts REFUSALS): Destroy again is Permission Denied (1.4 §11.22 "Object
 *   exists, but has already been destroyed") / Object Destroyed (2.x); Activate is Permission
 *   Denied / Wrong Key Lifecycle State; Revoke with a compromise reason moves Destroyed to
 *   Destroyed Compromised (transition 10), any other Revoke is Illegal Operation / Wrong Key
 *   Lifecycle State.
 */
import { versionReason } from '../../kmip/version-rules.js';
import { KmipError, type ResultReasonValue } from '../../kmip/errors.js';
import type { KmipVersion } from '../../kmip/spec-types.js';

/** The operations that need a destroyed object's key material. */
export type ValueUse = 'Get' | 'Crypto' | 'DeriveKey';

/** The Result Reason for `use` of a destroyed object's key material at `version`. */
export function destroyedValueReason(version: KmipVersion, use: ValueUse): ResultReasonValue {
  return versionReason(version, use === 'DeriveKey' ? 'DestroyedDerivationBase' : 'ObjectDestroyed');
}

/** The error for `use` of the destroyed object `uid`. */
export function destroyedValueError(version: KmipVersion, use: ValueUse, uid: string): KmipError {
  return new KmipError(destroyedValueReason(version, use), `object ${uid} has been destroyed; only its attributes remain`);
}
