/**
 * The key-custody seam: where a key lives and how it is used. Operations ask it instead of
 * branching on where a key is:
 *   - host-sealed (host-custody.ts): the key value is in the object's content, sealed under the
 *     key protector with the rest of the record; it is used in process by src/crypto;
 *   - HSM-resident (hsm-custody.ts): the key is a sensitive, non-extractable token object the
 *     record refers to (`ObjectRecord.hsmKey`); it is used through PKCS#11 mechanisms
 *     (hsm-mechanism.ts, hsm-signature.ts), and its value never reaches the host.
 * Which one holds an object is read from its record; which one makes a new key, from the
 * residency policy and the key's attributes (index.ts, residency.ts).
 *
 * The custody does not seal, store or check records: the operations load and check an object
 * (type, state, dates, usage mask: their error tables) and store what the custody made.
 * A UsableKey's operations fail with the mechanism errors of src/crypto (CryptoError,
 * AsymmetricError) for both custodies, so an operation turns either into the same Result Reason.
 */
import type { KeyObject } from 'node:crypto';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import type { KeyPairSpec, SignatureScheme, SignInput } from '../crypto/asymmetric.js';
import type { CipherInput, CryptoParams, Direction } from '../crypto/mechanism.js';
import type { CipherPolicy } from '../policy/crypto-policy.js';
import type { ResultReasonValue } from '../kmip/errors.js';

export type CustodyKind = 'host' | 'hsm';

export type AttrMap = Map<string, TtlvNode[]>;

/** A secret key to make (Create, Re-key). */
export interface SecretSpec {
  readonly uid: string;
  /** Cryptographic Algorithm (AES, Triple DES, HMAC-…). */
  readonly algorithm: number;
  readonly bits: number;
}

/** A key pair to make (Create Key Pair, Re-key Key Pair). */
export interface PairSpec {
  readonly privateUid: string;
  readonly algorithm: number;
  readonly bits: number;
  readonly spec: KeyPairSpec;
  /** The private key's Cryptographic Usage Mask: an RSA key with Decrypt or Unwrap Key may also decrypt in the HSM. */
  readonly usageMask: number;
}

/** A new secret key, ready to be stored; `discard` after a failed commit, `wipe` always. */
export interface MadeSecret {
  /** The Symmetric Key content to seal (without Key Value when the key is in the HSM). */
  readonly body: StructureNode;
  /** What the record refers to when the key lives in the HSM. */
  readonly hsmKey?: string;
  /** The attributes this custody decides: Digest (host) or Extractable false, Never Extractable true and no Digest (HSM). */
  stamp(attrs: AttrMap): void;
  /** Undo what was made outside the record (the token key) after its record failed to commit. */
  discard(): Promise<void>;
  /** Zero the host's copy of the key value (none for an HSM key). */
  wipe(): void;
}

/** A new key pair, ready to be stored. */
export interface MadePair {
  readonly privateBody: StructureNode;
  readonly publicBody: StructureNode;
  /** What the private key's record refers to when it lives in the HSM. */
  readonly hsmKey?: string;
  /** The private key's attributes this custody decides (HSM: Extractable false, Never Extractable true, no Digest). */
  stamp(priv: AttrMap): void;
  discard(): Promise<void>;
}

/** The checked host key value an operation hands over for a host-sealed object (never called for an HSM key). */
export interface HostKey {
  /** Cryptographic Algorithm from the Key Block, else the attribute. */
  readonly algorithm: number | undefined;
  /** Symmetric key bytes (Symmetric Key, Secret Data). */
  readonly material?: Uint8Array;
  /** Public and private keys as node KeyObjects. */
  readonly keyObject?: KeyObject;
}

export interface OpenOptions {
  /** Opens and checks the host key value: called only for a host-sealed object. */
  readonly host: () => Promise<HostKey>;
  /** The reason when the key lives in an HSM this server is not connected to. */
  readonly unavailable: ResultReasonValue;
}

/** A multi-part-capable cipher: `final` may be asynchronous (an HSM call). */
export interface KeyCipher {
  readonly generatedIv?: Uint8Array;
  update(data: Uint8Array): Uint8Array;
  final(tag?: Uint8Array): { readonly data: Uint8Array; readonly tag?: Uint8Array } | Promise<{ readonly data: Uint8Array; readonly tag?: Uint8Array }>;
  held?(): number;
}

export interface KeyMac {
  update(data: Uint8Array): void;
  digest(): Uint8Array | Promise<Uint8Array>;
  held?(): number;
}

/** A key opened for use, wherever it lives. */
export interface UsableKey {
  readonly custody: CustodyKind;
  readonly record: ObjectRecord;
  readonly objectType: number;
  readonly algorithm: number | undefined;
  /**
   * The asymmetric key as the host sees it: a host key's own KeyObject, or a resident private
   * key's public key. Signature schemes are chosen by it; undefined for secret keys.
   */
  readonly asymmetric?: KeyObject;
  /** The host value (host custody only): for the crypto policy's checks and the host-only features (wrapping, derivation). */
  readonly host?: HostKey;
  /** A symmetric cipher (Encrypt, Decrypt), one-shot or part by part. */
  openCipher(params: CryptoParams, dir: Direction, input: CipherInput, policy: CipherPolicy): KeyCipher;
  /** RSA encryption (public key) or decryption (private key), one-shot. */
  rsa(dir: Direction, params: CryptoParams, data: Uint8Array, policy: CipherPolicy): Promise<Uint8Array>;
  /** A MAC (MAC, MAC Verify). */
  openMac(params: CryptoParams): KeyMac;
  /** Sign with a private key. */
  sign(scheme: SignatureScheme, input: SignInput): Promise<Uint8Array>;
  /** Verify with a public key (or a resident private key's public half). */
  verify(scheme: SignatureScheme, input: SignInput, signature: Uint8Array): boolean;
}

export interface KeyCustody {
  readonly kind: CustodyKind;
  generate(spec: SecretSpec): Promise<MadeSecret>;
  generatePair(spec: PairSpec): Promise<MadePair>;
  /** Open a stored object's key for use (the record already checked by the operation). */
  open(record: ObjectRecord, opts: OpenOptions): Promise<UsableKey>;
  /**
   * Remove what the custody holds for an object no record refers to any more (the token key of
   * a destroyed or replaced HSM-resident key; nothing for a host key, whose value went with the
   * record's content).
   */
  destroy(record: Pick<ObjectRecord, 'uid' | 'hsmKey'>): Promise<void>;
}
