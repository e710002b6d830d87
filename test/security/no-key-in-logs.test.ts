/**
 * Security regression: with logging at its most verbose, a Register and a Get of a known
 * key (and a failing request carrying one) leave neither its hex nor its base64 in the log
 * stream. The server never logs payloads.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, getPayload, keyMaterialOf, parseResponse, registerPayload, requestMessage, symmetricKeyObject, uniqueIdentifierOf } from '../../src/client/requests.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';

let srv: TestKms | undefined;
afterAll(async () => srv?.dispose());

describe('key material never reaches the logs', () => {
  it('Register, Get and a refused request, logged at trace level', async () => {
    const lines: string[] = [];
    srv = await startTestKms({}, { captureLog: lines });
    const client = await srv.client();
    const key = randomBytes(32);
    const v = { major: 2, minor: 1 };
    const reg = parseResponse(
      await client.send(
        requestMessage({
          version: v,
          batch: [
            { operation: Operation.Register, payload: registerPayload(v, ObjectType.SymmetricKey, symmetricKeyObject(key, CryptographicAlgorithm.AES), [attr.cryptographicUsageMask(12)]) },
          ],
        }),
      ),
    );
    expect(reg.items[0]!.status).toBe(ResultStatus.Success);
    const uid = uniqueIdentifierOf(reg.items[0]!.payload);
    const got = parseResponse(await client.send(requestMessage({ version: v, batch: [{ operation: Operation.Get, payload: getPayload(uid) }] })));
    expect(got.items[0]!.status).toBe(ResultStatus.Success);
    // The key really came back (so the test exercises the path that carries it).
    expect(Buffer.from(keyMaterialOf(got.items[0]!.payload)).equals(key)).toBe(true);
    // A malformed request that carries the key bytes: refused, and the bytes not echoed to the log.
    await client.send(requestMessage({ version: v, batch: [{ operation: Operation.Register, payload: t.struct(Tag.RequestPayload, [t.bytes(Tag.KeyMaterial, key)]) }] }));
    await client.close();

    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    for (const needle of [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url')]) {
      expect(log.includes(needle)).toBe(false);
    }
  });
});
