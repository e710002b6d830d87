/** The symmetric cryptographic operations (Encrypt, Decrypt, MAC, MAC Verify, Hash, RNG Retrieve, RNG Seed, Derive Key). */
import type { OperationHandler } from './context.js';
import { decrypt } from './decrypt.js';
import { deriveKey } from './derive-key.js';
import { encrypt } from './encrypt.js';
import { hash } from './hash.js';
import { mac } from './mac.js';
import { macVerify } from './mac-verify.js';
import { rngRetrieve } from './rng-retrieve.js';
import { rngSeed } from './rng-seed.js';

export const CRYPTO_HANDLERS: readonly OperationHandler[] = [encrypt, decrypt, mac, macVerify, hash, rngRetrieve, rngSeed, deriveKey];
