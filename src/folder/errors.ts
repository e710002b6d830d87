/**
 * Errors of the data-folder layer, by code (the CLI maps them to exit codes in one place,
 * src/cli/backup-options.ts `failure`):
 * - IN_USE: another process (a running server) holds the folder's lock;
 * - NO_DATABASE: the folder has no database (not a data folder, or its server never started);
 * - NOT_EMPTY: a folder that must be new or empty holds something;
 * - NO_RECOVERY: the folder has no usable recovery setup (recovery.json);
 * - IO: a file of the folder could not be read or written.
 * Key custody has its own error (CustodyError, custody.ts).
 */
export type FolderErrorCode = 'IN_USE' | 'NO_DATABASE' | 'NOT_EMPTY' | 'NO_RECOVERY' | 'IO';

export class FolderError extends Error {
  override readonly name = 'FolderError';
  constructor(
    readonly code: FolderErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
