/**
 * Errors of the backup layer, by code:
 * - TAMPERED: the file is not what was written (a flipped byte, truncation, reordering,
 *   anything that fails authentication or parsing);
 * - WRONG_CREDENTIAL: the recovery key or shares given do not open this backup;
 * - BAD_KEY: a key or share file that cannot be used at all;
 * - NOT_EMPTY: the target data folder already holds something;
 * - NO_RECOVERY: the data folder has no recovery setup (kms init);
 * - IO: a file or socket could not be read or written.
 */
export type BackupErrorCode = 'TAMPERED' | 'WRONG_CREDENTIAL' | 'BAD_KEY' | 'NOT_EMPTY' | 'NO_RECOVERY' | 'IO';

export class BackupError extends Error {
  override readonly name = 'BackupError';
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
