/** Certificate operations: Certify and Re-certify (certificate-support.ts holds what they share). */
import type { OperationHandler } from './context.js';
import { certify } from './certify.js';
import { reCertify } from './re-certify.js';

export const CERTIFICATE_HANDLERS: readonly OperationHandler[] = [certify, reCertify];
