/**
 * The KeyBackend contract on a real PKCS#11 token (SoftHSM2 in a temporary folder), plus
 * session recovery: sessions closed or the module finalised behind the backend's back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HsmError } from '../../src/hsm/key-backend.js';
import { pkcs11js } from '../../src/hsm/pkcs11/module.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { keyBackendContract } from './contract.js';
import { createSoftHsmToken, type SoftHsmToken } from './softhsm.js';

const token: SoftHsmToken = createSoftHsmToken('kms-contract');
afterAll(() => token.cleanup());
const opts = { module: token.module, tokenLabel: token.label, pin: token.pin, maxSessions: 4 };

keyBackendContract('pkcs11 (SoftHSM2)', {
  open: () => Pkcs11Backend.open(opts),
  reopen: () => Pkcs11Backend.open(opts),
});

/** A separate pkcs11js handle on the same library, as another part of the process would have. */
function sideChannel() {
  const P = pkcs11js();
  const p11 = new P.PKCS11();
  p11.load(token.module);
  try {
    p11.C_Initialize();
  } catch (e) {
    if ((e as Error).message !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw e;
  }
  const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === token.label);
  if (!slot) throw new Error('token not found');
  return { P, p11, slot };
}

describe('PKCS#11 login', () => {
  // Login state is per application and token: this must run while no backend is logged in.
  it('a wrong PIN is CKR_PIN_INCORRECT and leaves nothing open', async () => {
    await expect(Pkcs11Backend.open({ ...opts, pin: '00000000' })).rejects.toMatchObject({ code: 'CKR_PIN_INCORRECT' });
    const ok = await Pkcs11Backend.open(opts);
    expect(ok.sessionsOpen).toBe(1);
    await ok.close();
  });
});

describe('PKCS#11 backend on SoftHSM2', () => {
  let b: Pkcs11Backend;
  const warnings: object[] = [];
  beforeAll(async () => {
    b = await Pkcs11Backend.open({ ...opts, log: { warn: (o) => warnings.push(o) } });
  });
  afterAll(async () => {
    await b?.close();
  });

  it('reports what SoftHSM2 offers, and its known deviations', () => {
    const c = b.capabilities();
    expect(c.kind).toBe('pkcs11');
    expect(c.aesKeyBits).toEqual([128, 192, 256]);
    expect([...c.ciphers].sort()).toEqual(['AES_CBC', 'AES_CBC_PAD', 'AES_CTR', 'AES_ECB', 'AES_GCM']);
    expect([...c.wraps].sort()).toEqual(['AES_KEY_WRAP', 'AES_KEY_WRAP_PAD']);
    expect(c.macs.map((m) => m.mechanism)).toContain('HMAC_SHA256');
    expect(c.quirks).toEqual(expect.arrayContaining(['GCM_AUTH_FAILURE_IS_GENERAL_ERROR', 'KWP_WRAP_PADS_UNALIGNED_KEYS']));
    expect(c.maxSessions).toBe(4);
    expect(b.description).toContain('kms-contract');
  });

  it('closing a second backend on the same module leaves this one logged in (no recovery needed)', async () => {
    const before = b.recoveries;
    const other = await Pkcs11Backend.open(opts);
    await other.close();
    const k = await b.generateKey({ type: 'AES', bits: 128, token: true, sensitive: true, extractable: false, usage: ['encrypt'] });
    await b.destroyKey(k);
    expect(b.recoveries).toBe(before);
  });

  it('an unknown token is MODULE_UNAVAILABLE', async () => {
    await expect(Pkcs11Backend.open({ ...opts, tokenLabel: 'no-such-token' })).rejects.toMatchObject({ code: 'MODULE_UNAVAILABLE' });
    // the shared module is still usable by the open backend
    expect((await b.random(8)).length).toBe(8);
  });

  it('recovers after C_CloseAllSessions behind its back: token keys keep working, the call is retried once', async () => {
    const k = await b.generateKey({ type: 'AES', bits: 256, token: true, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'], label: 'recover-me' });
    const iv = Buffer.alloc(12, 1);
    const ct = await b.encrypt({ mechanism: 'AES_GCM', iv }, k, Buffer.from('before'));
    const before = b.recoveries;
    const { p11, slot } = sideChannel();
    p11.C_CloseAllSessions(slot);
    expect(Buffer.from(await b.decrypt({ mechanism: 'AES_GCM', iv }, k, ct)).toString()).toBe('before');
    expect(b.recoveries).toBe(before + 1);
    expect(warnings.at(-1)).toMatchObject({ code: 'CKR_SESSION_HANDLE_INVALID' });
    // logged in again: private token objects are visible, new token keys can be made
    expect((await b.findKeys({ label: 'recover-me' })).length).toBe(1);
    const k2 = await b.generateKey({ type: 'AES', bits: 128, token: true, sensitive: true, extractable: false, usage: ['encrypt'] });
    await b.destroyKey(k2);
    await b.destroyKey(k);
  });

  it('recovers in the middle of concurrent work', async () => {
    const k = await b.generateKey({ type: 'AES', bits: 256, token: true, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'] });
    const { p11, slot } = sideChannel();
    const jobs = Array.from({ length: 40 }, async (_, i) => {
      if (i === 20) p11.C_CloseAllSessions(slot);
      const iv = Buffer.alloc(12, i);
      const ct = await b.encrypt({ mechanism: 'AES_GCM', iv }, k, Buffer.from(`m${i}`));
      return Buffer.from(await b.decrypt({ mechanism: 'AES_GCM', iv }, k, ct)).toString();
    });
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
    await b.destroyKey(k);
  });

  it('recovers after the module is finalised behind its back (CKR_CRYPTOKI_NOT_INITIALIZED): re-initialises, logs in, retries', async () => {
    const k = await b.generateKey({ type: 'AES', bits: 128, token: true, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'], label: 'survives-finalize' });
    const before = b.recoveries;
    const { p11 } = sideChannel();
    p11.C_Finalize();
    const iv = Buffer.alloc(12, 2);
    const ct = await b.encrypt({ mechanism: 'AES_GCM', iv }, k, Buffer.from('after finalize'));
    expect(b.recoveries).toBe(before + 1);
    expect(warnings.at(-1)).toMatchObject({ code: 'CKR_CRYPTOKI_NOT_INITIALIZED', moduleReinitialised: true });
    expect(Buffer.from(await b.decrypt({ mechanism: 'AES_GCM', iv }, k, ct)).toString()).toBe('after finalize');
    await b.destroyKey(k);
  });

  it('a session key lost with its session is KEY_NOT_FOUND, not a crash', async () => {
    const k = await b.generateKey({ type: 'AES', bits: 128, token: false, sensitive: true, extractable: false, usage: ['encrypt'] });
    sideChannel().p11.C_CloseAllSessions(sideChannel().slot);
    const e = await b.encrypt({ mechanism: 'AES_ECB' }, k, Buffer.alloc(16)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HsmError);
    expect((e as HsmError).code).toBe('KEY_NOT_FOUND');
  });

  it('keeps to its session pool', async () => {
    const k = await b.generateKey({ type: 'AES', bits: 128, token: false, sensitive: true, extractable: false, usage: ['encrypt'] });
    await Promise.all(Array.from({ length: 50 }, () => b.encrypt({ mechanism: 'AES_ECB' }, k, Buffer.alloc(1024))));
    expect(b.sessionsOpen).toBeLessThanOrEqual(4 + 1);
  });
});
