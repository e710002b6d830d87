/** The symmetric cryptographic operations (Encrypt, Decrypt, MAC, MAC Verify, Hash, RNG Retrieve, RNG Seed). */
import type { OperationHandler } from './context.js';
import { decrypt } from './decrypt.js';
import { encrypt } from './encrypt.js';

export const CRYPTO_HANDLERS: readonly OperationHandler[] = [encrypt, decrypt];
