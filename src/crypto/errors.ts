/**
 * The coded error of the mechanism layer (src/crypto). It knows nothing of KMIP; the operations
 * translate each code to the Result Reason of the negotiated version (operations/crypto/key-use.ts).
 * Messages never hold key bytes, plaintext or ciphertext.
 */
export type CryptoErrorCode =
  /** The parameters do not fit the key or the mechanism (wrong IV length, a tag length GCM cannot give, …). */
  | 'BAD_PARAMETERS'
  /** A mechanism the server does not offer (policy, or not built). */
  | 'UNSUPPORTED'
  /** The mechanism needs an IV/Counter/Nonce and none was given nor may be generated. */
  | 'MISSING_IV'
  /** A Tag Length no AEAD mode served here can have (under 4 or over 16 bytes). */
  | 'INVALID_TAG_LENGTH'
  /** The data does not fit the mechanism (not whole blocks without padding, too short for XTS). */
  | 'BAD_DATA'
  /** The cryptographic computation failed: authentication tag mismatch, bad padding, RSA decryption error. */
  | 'FAILURE';

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
