/**
 * The client registry's one coded error. Callers (the CLI, the admin socket, the console)
 * branch on `code`, never on the message; the message is safe to show to the operator.
 *
 *   NO_CA        the data folder has no usable CA (certs/ca.pem + ca.key)
 *   EXISTS       the name has a valid certificate already (issue/sign without force)
 *   NOT_FOUND    no certificate by that name or fingerprint
 *   BAD_REQUEST  the CSR does not verify, its CN is not the name, its key is outside the crypto
 *                policy, it asks for a key usage other than clientAuth; a bad name or argument
 *   LIMIT        the registry holds clients.maxCertificates certificates
 *   CONFLICT     another writer changed the same entry meanwhile (run the command again)
 */
export type ClientsErrorCode = 'NO_CA' | 'EXISTS' | 'NOT_FOUND' | 'BAD_REQUEST' | 'LIMIT' | 'CONFLICT';

export class ClientsError extends Error {
  override readonly name = 'ClientsError';
  constructor(
    readonly code: ClientsErrorCode,
    message: string,
  ) {
    super(message);
  }
}
