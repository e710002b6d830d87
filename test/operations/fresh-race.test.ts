/**
 * First Gets of a Fresh key that share one group commit with each other: every Get succeeds.
 * The first Get of a key clears Fresh (a synced write). When several such commits for one key
 * wait in the store's queue behind another write (here: the first Get of another key), they
 * are planned in one group: the first is accepted, the others conflict with it while its batch
 * is still being written and synced. A loser re-reads the key to see whether it is still Fresh;
 * it must see the winner's record, never the one before it, or it fails with General Failure
 * "the object was changed concurrently" (seen in the bench's warm-up, issue 16). Over LevelDB
 * and over PostgreSQL (one group, one transaction: the losers are told after it has committed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import type { KmsConfig } from '../../src/config/config.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { sharedPostgres } from '../support/postgres.js';
import { ok, uidNode, uidOf, V2_1 } from './object-kit.js';

describe.each([
  ['LevelDB', async (): Promise<Partial<KmsConfig>> => ({})],
  ['PostgreSQL', async (): Promise<Partial<KmsConfig>> => ({ store: await (await sharedPostgres()).newDatabase() })],
])('first Gets of a Fresh key in one group commit (%s)', (_name, config) => {
  let srv: TestKms;
  let clients: KmipClient[];
  beforeAll(async () => {
    srv = await startTestKms(await config());
    clients = await Promise.all(Array.from({ length: 12 }, () => srv.client()));
  });
  afterAll(() => srv?.dispose());

  const create = async () =>
    uidOf(
      await ok(clients[0]!, V2_1, Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt }).value),
    );

  it('every Get succeeds', async () => {
    for (let round = 0; round < 6; round++) {
      const [x, y] = [await create(), await create()];
      const results = await Promise.allSettled(clients.map((c, i) => ok(c, V2_1, Operation.Get, [uidNode(i === 0 ? x : y)])));
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    }
  });
});
