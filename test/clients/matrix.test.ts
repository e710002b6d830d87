/**
 * The compatibility matrix (docs/clients.md): every client's message sequence replayed over
 * mutual TLS against one real server, each client as its own enrolled identity would be (here
 * the test identities; docs/clients.md says how to enroll the real one). A replay names its
 * source and whether it is a capture or inferred from documentation (test/clients/replays.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { replay } from './replay.js';
import { CLIENT_REPLAYS, REPLAY_GRANTS } from './replays.js';

let srv: TestKms;
let c: KmipClient;

beforeAll(async () => {
  srv = await startTestKms({ access: { administrators: [], grants: REPLAY_GRANTS } });
  c = await srv.client();
});
afterAll(async () => srv?.dispose());

describe('client replays (docs/clients.md)', () => {
  it('every replay names its source and basis', () => {
    for (const r of CLIENT_REPLAYS) {
      expect(r.source.length, r.client).toBeGreaterThan(20);
      expect(['capture', 'documentation', 'client source']).toContain(r.basis);
      expect(r.steps.length, r.client).toBeGreaterThan(2);
    }
  });
  it.each(CLIENT_REPLAYS.map((r) => [`${r.client} (KMIP ${r.version.major}.${r.version.minor}, ${r.basis})`, r] as const))('%s', async (_name, r) => {
    await replay(c, r, { connect: (identity) => srv.client(identity) });
  });
});
