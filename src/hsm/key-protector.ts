/**
 * Seals object content (key blocks, secret data, …) before it reaches the store, with
 * authenticated encryption whose associated data binds the object's uid: a sealed body
 * copied onto another object, or edited on disk, fails to open.
 *
 * This is the narrow interface the operations use. The software protector below is the
 * embedded default; the PKCS#11 backend (HSM-held key-encryption key) implements the same
 * interface.
 */
export type ProtectorErrorCode =
  | 'TAMPERED'
  | 'UNKNOWN_KEK'
  | 'BAD_KEY_FILE'
  | 'IO'
  /** The key store holding the KEK (an HSM) failed or could not be reached; the body may be fine. */
  | 'UNAVAILABLE';

export class ProtectorError extends Error {
  override readonly name = 'ProtectorError';
  constructor(
    readonly code: ProtectorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface KeyProtector {
  /**
   * Identifier of the key-encryption key that `seal` uses now. It may change (KEK rotation):
   * read it synchronously just before calling `seal`, which fixes its KEK before it awaits.
   */
  readonly kekId: string;
  /** A short human description for logs ("software master key at …", "PKCS#11 token …"). */
  readonly description: string;
  seal(uid: string, plaintext: Uint8Array): Promise<Uint8Array>;
  open(uid: string, sealed: Uint8Array, kekId: string): Promise<Uint8Array>;
  close(): Promise<void>;
  /**
   * Make a new KEK current (HSM protectors); bodies under older KEKs keep opening. With `id`
   * (CKA_ID, hex; custody.ts) the key is found by label and id or made with them, and a key
   * under that label with another id is refused.
   */
  rotate?(label: string, id?: string): Promise<{ previous: string; current: string }>;
  /** Destroy a retired KEK (never the current one). */
  destroyKek?(kekId: string): Promise<void>;
  /** The labels of the KEKs this protector can see (HSM protectors). */
  keks?(): Promise<string[]>;
  /** Drop anything held in memory for this object (a cache): its record changed or is gone. */
  forget?(uid: string): void;
}
