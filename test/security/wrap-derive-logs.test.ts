/**
 * Security regression for key wrapping and Derive Key: with logging at its most verbose, wrapping a
 * key on Get, registering a wrapped key (the server unwraps it), a tampered wrapped key (refused),
 * and a PBKDF2 / HMAC derivation leave none of the secrets — the KEK, the wrapped key, the
 * password, the derived bytes — in the log stream, as hex or base64.
 */
import { createCipheriv, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { keyBlock, type KmipVersion } from '../../src/client/index.js';
import {
  BlockCipherMode,
  CryptographicAlgorithm,
  DerivationMethod,
  EncodingOption,
  HashingAlgorithm,
  KeyFormatType,
  KeyWrapType,
  ObjectType,
  Operation,
  ResultReason,
  SecretDataType,
  WrappingMethod,
} from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, fails, ok, uidNode, uidOf } from '../operations/object-kit.js';
import { cryptoParams, registerKey } from '../operations/crypto-kit.js';

const { WrapKey, UnwrapKey, Encrypt, Decrypt, DeriveKey } = CryptographicUsageMask;
const v: KmipVersion = { major: 2, minor: 1 };
let srv: TestKms | undefined;
afterAll(async () => srv?.dispose());

const kwInfo = (kek: string): StructureNode => t.struct(Tag.EncryptionKeyInformation, [uidNode(kek), cryptoParams({ mode: BlockCipherMode.NISTKeyWrap })]);

describe('wrapping and derivation secrets never reach the logs', () => {
  it('Get wrapped, Register wrapped (and tampered), Derive Key PBKDF2 and HMAC, logged at trace level', async () => {
    const lines: string[] = [];
    srv = await startTestKms({}, { captureLog: lines });
    const c = await srv.client();
    const kekBytes = randomBytes(32);
    const keyBytes = randomBytes(32);
    const password = randomBytes(24);
    const hmacKey = randomBytes(32);
    const secrets: Buffer[] = [kekBytes, keyBytes, password, hmacKey];

    const kek = await registerKey(c, v, kekBytes, CryptographicAlgorithm.AES, WrapKey | UnwrapKey, { extra: [cryptoParams({ mode: BlockCipherMode.NISTKeyWrap })] });
    const key = await registerKey(c, v, keyBytes, CryptographicAlgorithm.AES, Encrypt | Decrypt);
    await ok(c, v, Operation.Get, [uidNode(key), t.struct(Tag.KeyWrappingSpecification, [t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt), kwInfo(kek)])]);

    const e = createCipheriv('id-aes256-wrap', kekBytes, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    const wrapped = Buffer.concat([e.update(keyBytes), e.final()]);
    const wrappedObject = (bytes: Uint8Array): StructureNode =>
      t.struct(Tag.SymmetricKey, [
        t.struct(Tag.KeyBlock, [
          t.enum(Tag.KeyFormatType, KeyFormatType.Raw),
          t.bytes(Tag.KeyValue, bytes),
          t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
          t.int(Tag.CryptographicLength, 256),
          t.struct(Tag.KeyWrappingData, [t.enum(Tag.WrappingMethod, WrappingMethod.Encrypt), kwInfo(kek), t.enum(Tag.EncodingOption, EncodingOption.NoEncoding)]),
        ]),
      ]);
    const reg = await registerKey(c, v, new Uint8Array(0), 0, Encrypt, { object: wrappedObject(wrapped) });
    await ok(c, v, Operation.Get, [uidNode(reg), t.enum(Tag.KeyWrapType, KeyWrapType.NotWrapped)]);
    const tampered = Buffer.from(wrapped);
    tampered[3] = tampered[3]! ^ 0xff;
    const refused = await fails(c, v, Operation.Register, [t.enum(Tag.ObjectType, ObjectType.SymmetricKey), attrs(v, [t.int(Tag.CryptographicUsageMask, Encrypt)]), wrappedObject(tampered)]);
    expect(refused.reason).toBe(ResultReason.CryptographicFailure);

    const pw = await registerKey(c, v, password, 0, DeriveKey, {
      objectType: ObjectType.SecretData,
      object: t.struct(Tag.SecretData, [t.enum(Tag.SecretDataType, SecretDataType.Password), keyBlock(password, KeyFormatType.Opaque)]),
    });
    const salt = randomBytes(16);
    const derived1 = uidOf(
      await ok(c, v, Operation.DeriveKey, [
        t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
        uidNode(pw),
        t.enum(Tag.DerivationMethod, DerivationMethod.PBKDF2),
        t.struct(Tag.DerivationParameters, [cryptoParams({ hashing: HashingAlgorithm.SHA_256 }), t.bytes(Tag.Salt, salt), t.int(Tag.IterationCount, 1000)]),
        attrs(v, [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES), t.int(Tag.CryptographicLength, 256)]),
      ]),
    );
    secrets.push(pbkdf2Sync(password, salt, 1000, 32, 'sha256'));
    const hk = await registerKey(c, v, hmacKey, CryptographicAlgorithm.HMAC_SHA256, DeriveKey);
    const data = randomBytes(16);
    await ok(c, v, Operation.DeriveKey, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      uidNode(hk),
      t.enum(Tag.DerivationMethod, DerivationMethod.HMAC),
      t.struct(Tag.DerivationParameters, [t.bytes(Tag.DerivationData, data)]),
      attrs(v, [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES), t.int(Tag.CryptographicLength, 256)]),
    ]);
    secrets.push(createHmac('sha256', hmacKey).update(data).digest());
    await ok(c, v, Operation.Get, [uidNode(derived1)]);
    await c.close();

    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    for (const s of secrets) {
      for (const needle of [s.toString('hex'), s.toString('hex').toUpperCase(), s.toString('base64'), s.toString('base64url')]) {
        expect(log.includes(needle), 'a secret appears in the log').toBe(false);
      }
    }
  });
});
