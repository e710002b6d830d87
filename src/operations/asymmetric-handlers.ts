/** Asymmetric-key operations: Create Key Pair, Sign, Signature Verify, Re-key Key Pair; and Re-key (its sibling). */
import type { OperationHandler } from './context.js';
import { createKeyPair } from './create-key-pair.js';
import { reKey } from './re-key.js';
import { reKeyKeyPair } from './re-key-key-pair.js';
import { sign } from './sign.js';
import { signatureVerify } from './signature-verify.js';

export const ASYMMETRIC_HANDLERS: readonly OperationHandler[] = [createKeyPair, sign, signatureVerify, reKey, reKeyKeyPair];
