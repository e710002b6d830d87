/**
 * Security regression: with logging at its most verbose, a Register and a Get of a known
 * key (and a failing request carrying one) leave neither its hex nor its base64 in the log
 * stream. The server never logs payloads.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { KmipClient } from '../../src/client/index.js';
import { attr, getPayload, keyMaterialOf, parseResponse, registerPayload, requestMessage, symmetricKeyObject, uniqueIdentifierOf } from '../../src/client/requests.js';
import { DEFAULT_CONFIG } from '../../src/config/config.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { startKms, type RunningKms } from '../../src/server/bootstrap.js';
import { t } from '../../src/ttlv/index.js';
import { CERTS, tlsFiles } from '../support/kms.js';

let kms: RunningKms | undefined;
afterAll(async () => kms?.close());

describe('key material never reaches the logs', () => {
  it('Register, Get and a refused request, logged at trace level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    kms = await startKms(
      { ...DEFAULT_CONFIG, port: 0, dataDir: mkdtempSync(join(tmpdir(), 'kms-sec-')), cert: join(CERTS, 'server.pem'), key: join(CERTS, 'server.key'), ca: join(CERTS, 'ca.pem') },
      { log: pino({ level: 'trace' }, sink) },
    );
    const client = await KmipClient.connect({ host: '127.0.0.1', port: kms.address.port, servername: 'localhost', ...tlsFiles() });
    const key = randomBytes(32);
    const v = { major: 2, minor: 1 };
    const reg = parseResponse(
      await client.send(
        requestMessage({
          version: v,
          batch: [{ operation: Operation.Register, payload: registerPayload(v, ObjectType.SymmetricKey, symmetricKeyObject(key, CryptographicAlgorithm.AES), [attr.cryptographicUsageMask(12)]) }],
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
