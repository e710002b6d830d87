/**
 * The one error type of the KMIP layer. Operations throw it with the Result Reason the
 * spec names; the dispatcher maps it to a failed batch item, in one place. `message` is
 * safe to send to the client; `cause` (if any) is logged, never sent.
 */
import type { ResultReason } from './generated/enums.gen.js';

export type ResultReasonValue = (typeof ResultReason)[keyof typeof ResultReason];

export class KmipError extends Error {
  override readonly name = 'KmipError';
  constructor(
    readonly reason: ResultReasonValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
