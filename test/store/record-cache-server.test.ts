/**
 * The record cache in a running server (real mTLS, LevelDB): reads are served from it, and a
 * change acknowledged to one client is what the next read sees, on any connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activatePayload, createSymmetricKeyPayload, destroyPayload, getPayload, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation, ResultStatus, RevocationReasonCode, State } from '../../src/kmip/generated/enums.gen.js';
import { RecordCache } from '../../src/store/record-cache.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1, failureReason, getAttributesPayload, readGetAttributes, revokePayload, single } from '../support/kmip-session.js';

describe('record cache in the server', () => {
  let srv: TestKms;
  beforeAll(async () => {
    srv = await startTestKms();
  });
  afterAll(async () => srv?.dispose());

  const stateOf = async (s: Session, uid: string): Promise<unknown> => {
    const n = single(readGetAttributes(V2_1, await s.ok(Operation.GetAttributes, getAttributesPayload(V2_1, uid, ['State']))), 'State');
    return n?.value;
  };

  it('Gets are served from the cache; Revoke then Get (another connection) sees the new state; Destroy then Get fails', async () => {
    const cache = srv.kms.services.store;
    expect(cache).toBeInstanceOf(RecordCache);
    const stats = () => (cache as RecordCache).stats();
    const a = new Session(await srv.client(), V2_1);
    const b = new Session(await srv.client(), V2_1);
    const uid = uniqueIdentifierOf(await a.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 })));
    await a.ok(Operation.Activate, activatePayload(uid));
    await b.ok(Operation.Get, getPayload(uid)); // clears Fresh: a change
    expect(await stateOf(b, uid)).toBe(State.Active);
    const hits = stats().hits;
    await b.ok(Operation.Get, getPayload(uid));
    expect(await stateOf(b, uid)).toBe(State.Active);
    expect(stats().hits).toBeGreaterThan(hits);
    expect(stats().entries).toBeGreaterThan(0);

    await a.ok(Operation.Revoke, revokePayload(uid, RevocationReasonCode.CessationOfOperation));
    expect(await stateOf(b, uid)).toBe(State.Deactivated);
    expect(await stateOf(a, uid)).toBe(State.Deactivated);

    await a.ok(Operation.Destroy, destroyPayload(uid));
    expect(await stateOf(b, uid)).toBe(State.Destroyed);
    const got = await b.call(Operation.Get, getPayload(uid));
    // A destroyed key's material is gone: the Get fails (it would succeed from a stale record).
    expect(got.status).toBe(ResultStatus.OperationFailed);
    expect(failureReason(got)).toBeDefined();
  });

  it('with a limit of 0 the server reads the store directly', async () => {
    const off = await startTestKms({ recordCache: { maxEntries: 0 } });
    try {
      expect(off.kms.services.store).toBe(off.kms.store);
      const s = new Session(await off.client(), V2_1);
      const uid = uniqueIdentifierOf(await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 12 })));
      await s.ok(Operation.Activate, activatePayload(uid));
      await s.ok(Operation.Revoke, revokePayload(uid, RevocationReasonCode.CessationOfOperation));
      expect(await stateOf(s, uid)).toBe(State.Deactivated);
    } finally {
      await off.dispose();
    }
  });
});
