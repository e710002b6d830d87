/**
 * vitest globalSetup: make sure the development certificates exist in certs/dev (git-ignored)
 * before any test file runs, so tests can use them (`devCertPaths('certs/dev')`).
 */
import { ensureDevCerts } from '../src/pki/dev-certs.js';

export const DEV_CERTS_DIR = 'certs/dev';
/** Client identities the end-to-end tests use (owner, another identity, an administrator). */
export const TEST_CLIENTS = ['kms-client', 'alice', 'bob', 'admin'];

export default async function setup(): Promise<void> {
  await ensureDevCerts(DEV_CERTS_DIR, { clientNames: TEST_CLIENTS });
}
