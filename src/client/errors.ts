/**
 * Client-side errors. Callers branch on `code` (or on `reason` for a failed operation),
 * never on message text. TTLV encoding/decoding problems are the codec's `TtlvError`.
 */

export type KmipClientErrorCode =
  | 'CONNECT' // TCP connect or TLS handshake failed (including server certificate checks)
  | 'TIMEOUT' // connect or a response took longer than timeoutMs
  | 'CLOSED' // the connection is closed (by us, by the peer, or after an earlier failure)
  | 'NETWORK' // a socket error after the connection was established
  | 'PROTOCOL' // the peer broke the one-request-one-response framing (e.g. unsolicited data)
  | 'BAD_RESPONSE' // a response that decodes as TTLV but is not a well-formed KMIP response
  | 'HTTP'; // KMIP over HTTPS: the server answered with an HTTP status other than 200 (`status`)

export class KmipClientError extends Error {
  override readonly name = 'KmipClientError';
  constructor(
    readonly code: KmipClientErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options);
    if (options?.status !== undefined) this.status = options.status;
  }

  /** For code HTTP: the HTTP status the server answered with. */
  readonly status?: number;
}

/** A batch item whose Result Status is not Success (see `expectSuccess`). */
export class KmipResultError extends Error {
  override readonly name = 'KmipResultError';
  constructor(
    /** Result Status value (ResultStatus.OperationFailed, …). */
    readonly status: number,
    /** Result Reason value, when the server gave one. */
    readonly reason: number | undefined,
    /** The server's Result Message, when it gave one. */
    readonly resultMessage: string | undefined,
    message: string,
  ) {
    super(message);
  }
}
