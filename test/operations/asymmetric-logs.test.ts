/**
 * Security regression for the asymmetric paths: at trace level, Create Key Pair, Get of the private
 * key (PKCS#8 and Transparent RSA Private Key), Sign, and a refused Register of a malformed key
 * leave no private-key bytes (hex, base64) in the log stream.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { attr } from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyFormatType, ObjectType, Operation } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, V2_1 } from './object-kit.js';
import { bigHex, getKeyBlock, keyPairPayload, materialBytes, materialStruct, pairUids } from './asymmetric-kit.js';

let srv: TestKms | undefined;
afterAll(async () => srv?.dispose());

describe('asymmetric key material never reaches the logs', () => {
  it('Create Key Pair, Get (PKCS#8, Transparent), Sign, a refused Register', async () => {
    const lines: string[] = [];
    srv = await startTestKms({}, { captureLog: lines });
    const c = await srv.client();
    const v = V2_1;
    const { priv } = pairUids(await ok(c, v, Operation.CreateKeyPair, keyPairPayload(v, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)])));
    await ok(c, v, Operation.Activate, [uidNode(priv)]);
    const pkcs8 = materialBytes(await getKeyBlock(c, v, priv, Tag.PrivateKey, KeyFormatType.PKCS_8));
    const d = bigHex(materialStruct(await getKeyBlock(c, v, priv, Tag.PrivateKey, KeyFormatType.TransparentRSAPrivateKey)), Tag.PrivateExponent);
    await ok(c, v, Operation.Sign, [uidNode(priv), t.bytes(Tag.Data, Buffer.from('hello'))]);
    const bad = Buffer.concat([pkcs8.subarray(0, 100), Buffer.alloc(16)]);
    await fails(c, v, Operation.Register, [
      t.enum(Tag.ObjectType, ObjectType.PrivateKey),
      attrs(v, [attr.cryptographicUsageMask(1)]),
      t.struct(Tag.PrivateKey, [t.struct(Tag.KeyBlock, [t.enum(Tag.KeyFormatType, KeyFormatType.PKCS_8), t.struct(Tag.KeyValue, [t.bytes(Tag.KeyMaterial, bad)])])]),
    ]);
    await c.close();

    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    const secret = pkcs8.subarray(pkcs8.length - 64); // inside the private key structure
    for (const needle of [secret.toString('hex'), secret.toString('base64'), pkcs8.toString('base64'), d.slice(0, 64)]) {
      expect(log.includes(needle)).toBe(false);
    }
  });
});
