/** Exit codes of the `kms` command. Scripts may rely on them. */
export const ExitCode = {
  Ok: 0,
  /** The input was read but is not valid (malformed TTLV, XML or JSON). */
  InvalidInput: 1,
  /** Wrong flags or arguments. */
  Usage: 2,
  /** A file could not be read or written. */
  Io: 3,
  /**
   * Refused: the target folder is not empty or already initialised, or the credential does not
   * open the backup; or the server answered with a failure (kms keys through KMIP).
   */
  Refused: 4,
  /** The object asked for does not exist (kms keys show). */
  NotFound: 5,
  /**
   * Key custody: the configured key protector is not the one the data folder is sealed under
   * (software master key vs HSM, another token), a key the folder recorded is missing, or a
   * protector migration is unfinished (src/folder/custody.ts, docs/custody.md).
   */
  Custody: 6,
} as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}
