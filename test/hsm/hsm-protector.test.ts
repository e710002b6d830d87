/**
 * The HSM-backed KeyProtector on SoftHSM2: uid binding, tamper detection, the KEK's
 * attributes as the token reports them (read with pkcs11js directly, not through our
 * backend), restart, KEK lookup rules, and the real server end to end with no key bytes in
 * its data folder.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, getPayload, keyMaterialOf, parseResponse, registerPayload, requestMessage, symmetricKeyObject, uniqueIdentifierOf } from '../../src/client/requests.js';
import { HsmProtector, KEK_LABEL_PREFIX, ensureKek } from '../../src/hsm/hsm-protector.js';
import { HsmError } from '../../src/hsm/key-backend.js';
import { ProtectorError } from '../../src/hsm/key-protector.js';
import { pkcs11js } from '../../src/hsm/pkcs11/module.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { SoftwareBackend } from '../../src/hsm/software/software-backend.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { startTestKms } from '../support/kms.js';
import { createSoftHsmToken } from './softhsm.js';

const token = createSoftHsmToken('kms-protector');
afterAll(() => token.cleanup());
const opts = { module: token.module, tokenLabel: token.label, pin: token.pin };

async function openProtector() {
  return HsmProtector.open(await Pkcs11Backend.open(opts));
}

async function tamperCode(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ProtectorError);
  return (e as ProtectorError).code;
}

/** Read the KEK's attributes straight from the token with pkcs11js. */
function tokenAttributes(label: string) {
  const P = pkcs11js();
  const p11 = new P.PKCS11();
  p11.load(token.module);
  try {
    p11.C_Initialize();
  } catch (e) {
    if ((e as Error).message !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw e;
  }
  const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === token.label)!;
  const s = p11.C_OpenSession(slot, P.CKF_SERIAL_SESSION);
  try {
    p11.C_Login(s, P.CKU_USER, token.pin);
  } catch (e) {
    if ((e as Error).message !== 'CKR_USER_ALREADY_LOGGED_IN') throw e;
  }
  try {
    p11.C_FindObjectsInit(s, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_LABEL, value: label },
    ]);
    const handles = p11.C_FindObjects(s, 10);
    p11.C_FindObjectsFinal(s);
    return handles.map((h) => {
      const a = p11.C_GetAttributeValue(s, h, [
        { type: P.CKA_TOKEN },
        { type: P.CKA_SENSITIVE },
        { type: P.CKA_EXTRACTABLE },
        { type: P.CKA_KEY_TYPE },
        { type: P.CKA_VALUE_LEN },
        { type: P.CKA_NEVER_EXTRACTABLE },
      ]);
      const bool = (i: number) => a[i]!.value[0] === 1;
      let valueReadable = true;
      try {
        p11.C_GetAttributeValue(s, h, [{ type: P.CKA_VALUE }]);
      } catch (e) {
        valueReadable = (e as Error).message !== 'CKR_ATTRIBUTE_SENSITIVE';
      }
      return {
        token: bool(0),
        sensitive: bool(1),
        extractable: bool(2),
        neverExtractable: bool(5),
        aes: Number(a[3]!.value.readBigUInt64LE(0)) === P.CKK_AES,
        bytes: Number(a[4]!.value.readBigUInt64LE(0)),
        valueReadable,
      };
    });
  } finally {
    p11.C_CloseSession(s);
  }
}

describe('HSM key protector (SoftHSM2)', () => {
  it('creates its KEK inside the token on first start: a sensitive, non-extractable AES-256 token object', async () => {
    const { protector, created } = await openProtector();
    try {
      expect(created).toBe(true);
      const label = protector.kekId.replace(/^hsm:/, '');
      expect(label.startsWith(KEK_LABEL_PREFIX)).toBe(true);
      expect(protector.description).toContain('kms-protector');
      expect(tokenAttributes(label)).toEqual([{ token: true, sensitive: true, extractable: false, neverExtractable: true, aes: true, bytes: 32, valueReadable: false }]);
    } finally {
      await protector.close();
    }
  });

  it('seal/open round trip; another uid, any flipped byte, a truncation or a wrong kekId fail', async () => {
    const { protector, created } = await openProtector();
    try {
      expect(created).toBe(false);
      const body = randomBytes(100);
      const sealed = Buffer.from(await protector.seal('uid-A', body));
      expect(sealed.subarray(0, 4)).toEqual(Buffer.from([0x4b, 0x48, 0x01, 0x0c]));
      expect(sealed.length).toBe(4 + 12 + 100 + 16);
      expect(sealed.includes(body.subarray(0, 16))).toBe(false);
      expect(Buffer.from(await protector.open('uid-A', sealed, protector.kekId))).toEqual(body);
      // fresh IV every time
      expect(Buffer.from(await protector.seal('uid-A', body)).equals(sealed)).toBe(false);
      expect(await tamperCode(protector.open('uid-B', sealed, protector.kekId))).toBe('TAMPERED');
      expect(await tamperCode(protector.open('uid-A\0', sealed, protector.kekId))).toBe('TAMPERED');
      for (let i = 0; i < sealed.length; i++) {
        const bad = Buffer.from(sealed);
        bad[i]! ^= 0x01;
        expect(await tamperCode(protector.open('uid-A', bad, protector.kekId)), `byte ${i}`).toBe('TAMPERED');
      }
      expect(await tamperCode(protector.open('uid-A', sealed.subarray(0, sealed.length - 1), protector.kekId))).toBe('TAMPERED');
      expect(await tamperCode(protector.open('uid-A', sealed.subarray(0, 20), protector.kekId))).toBe('TAMPERED');
      expect(await tamperCode(protector.open('uid-A', sealed, 'sw:0123456789abcdef'))).toBe('UNKNOWN_KEK');
      expect(await tamperCode(protector.open('uid-A', sealed, 'hsm:kms-kek-nothere'))).toBe('UNKNOWN_KEK');
      // empty bodies too
      const empty = await protector.seal('uid-E', new Uint8Array(0));
      expect((await protector.open('uid-E', empty, protector.kekId)).length).toBe(0);
    } finally {
      await protector.close();
    }
  });

  it('a restart (new backend instance, same token) opens what the previous one sealed', async () => {
    const first = await openProtector();
    const sealed = await first.protector.seal('uid-restart', Buffer.from('persisted body'));
    const kekId = first.protector.kekId;
    await first.protector.close();
    const second = await openProtector();
    try {
      expect(second.created).toBe(false);
      expect(second.protector.kekId).toBe(kekId);
      expect(Buffer.from(await second.protector.open('uid-restart', sealed, kekId)).toString()).toBe('persisted body');
    } finally {
      await second.protector.close();
    }
  });

  it('after a KEK rotation (a second labelled KEK) bodies sealed under the old one still open', async () => {
    const old = await openProtector();
    const sealed = await old.protector.seal('uid-rot', Buffer.from('old'));
    const oldId = old.protector.kekId;
    await old.protector.close();
    const rotated = await HsmProtector.open(await Pkcs11Backend.open(opts), { kekLabel: 'kms-kek-rotated' });
    try {
      expect(rotated.created).toBe(true);
      expect(rotated.protector.kekId).toBe('hsm:kms-kek-rotated');
      expect(Buffer.from(await rotated.protector.open('uid-rot', sealed, oldId)).toString()).toBe('old');
    } finally {
      await rotated.protector.close();
    }
    // Now two kms-kek-* keys: without a label the choice is refused, not guessed.
    const b = await Pkcs11Backend.open(opts);
    try {
      await expect(ensureKek(b)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    } finally {
      await b.close();
    }
  });

  it('refuses an extractable key as KEK', async () => {
    const b = new SoftwareBackend({ masterKey: randomBytes(32) });
    await b.generateKey({ type: 'AES', bits: 256, token: true, sensitive: false, extractable: true, usage: ['encrypt', 'decrypt'], label: 'kms-kek-weak' });
    await expect(ensureKek(b)).rejects.toBeInstanceOf(HsmError);
    await b.close();
  });

  it('end to end: the server with the HSM protector serves Register/Get, and no file in its data folder holds the key', async () => {
    const kms = await startTestKms({ hsm: { module: token.module, tokenLabel: token.label, pin: token.pin, kekLabel: 'kms-kek-e2e' } });
    try {
      expect(kms.kms.services.protector.kekId).toBe('hsm:kms-kek-e2e');
      const client = await kms.client();
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
      expect(Buffer.from(keyMaterialOf(got.items[0]!.payload)).equals(key)).toBe(true);
      await kms.stop();

      const files: string[] = [];
      const walk = (d: string) => {
        for (const n of readdirSync(d)) {
          const p = join(d, n);
          if (statSync(p).isDirectory()) walk(p);
          else files.push(p);
        }
      };
      walk(kms.dataDir);
      expect(files.some((f) => f.includes(`${join(kms.dataDir, 'db')}`))).toBe(true);
      expect(files.some((f) => f.endsWith('master.key'))).toBe(false); // the software protector was not used
      const needles = [key, Buffer.from(key.toString('hex')), Buffer.from(key.toString('base64')), key.subarray(0, 12), key.subarray(20)];
      for (const f of files) {
        const content = readFileSync(f);
        for (const n of needles) expect(content.includes(n), `${f} holds key bytes`).toBe(false);
      }
    } finally {
      await kms.dispose();
    }
  });
});
