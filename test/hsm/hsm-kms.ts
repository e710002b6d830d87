/**
 * One test server on a fresh SoftHSM2 token for a test file: makes the token, starts the
 * server with `hsm` pointing at it (plus `overrides`) before the file's tests, hands the server
 * and a client to `ready`, and disposes of both afterwards.
 */
import { afterAll, beforeAll } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import type { KmsConfig } from '../../src/config/config.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { createSoftHsmToken, type SoftHsmToken } from './softhsm.js';

export interface HsmTestSetup {
  readonly token: SoftHsmToken;
  readonly hsm: { readonly module: string; readonly tokenLabel: string; readonly pin: string };
}

export function useHsmTestKms(label: string, ready: (srv: TestKms, client: KmipClient) => void, overrides: Partial<KmsConfig> = {}): HsmTestSetup {
  const token = createSoftHsmToken(label);
  const hsm = { module: token.module, tokenLabel: token.label, pin: token.pin };
  let srv: TestKms | undefined;
  beforeAll(async () => {
    srv = await startTestKms({ hsm, ...overrides });
    ready(srv, await srv.client());
  });
  afterAll(async () => {
    await srv?.dispose();
    token.cleanup();
  });
  return { token, hsm };
}
