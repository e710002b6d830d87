/**
 * Where the shared test data lives: `../shared/kmip-testcases` beside the repository (as CI
 * lays it out), or KMS_TESTCASES when set. Never an absolute path baked into a test. A
 * missing folder fails loudly here, so no corpus test can pass vacuously on zero files.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const TESTCASES = process.env.KMS_TESTCASES || resolve(REPO_ROOT, '../shared/kmip-testcases');

if (!existsSync(join(TESTCASES, 'MANIFEST.tsv'))) {
  throw new Error(`the OASIS test cases are not at ${TESTCASES} (expected ../shared/kmip-testcases beside the repository, or set KMS_TESTCASES)`);
}
