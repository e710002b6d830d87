/**
 * Token keys another process made, as cluster nodes on one SoftHSM2 token folder see them.
 * SoftHSM2 (file store) keeps a per-process index of the token's objects and re-reads the
 * folder only when the token's generation counter moved since this process last looked; a
 * write of this process moves the counter past another process's change without re-reading.
 * So: this process opens the token, another process makes a key, this process makes one of
 * its own, and then cannot find the other's key. With `refreshIntervalMs: 0` that is what the
 * backend reports (KEY_NOT_FOUND, nothing found); by default a miss re-reads the token once
 * (session-pool.ts) and the key is found and used.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyRef, KeyTemplate } from '../../src/hsm/key-backend.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { createSoftHsmToken, type SoftHsmToken } from './softhsm.js';

const token: SoftHsmToken = createSoftHsmToken('kms-cross-process');
afterAll(() => token.cleanup());
const opts = { module: token.module, tokenLabel: token.label, pin: token.pin };
const BACKEND = new URL('../../dist/src/hsm/pkcs11/pkcs11-backend.js', import.meta.url).href;

const aes = (label: string): KeyTemplate => ({ type: 'AES', bits: 256, token: true, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'], label });

/** Another process (the built backend) makes a token key labelled `label`; its reference. */
function makeInAnotherProcess(label: string): KeyRef {
  const script = `
    const { Pkcs11Backend } = await import(${JSON.stringify(BACKEND)});
    const b = await Pkcs11Backend.open(${JSON.stringify(opts)});
    const ref = await b.generateKey(${JSON.stringify(aes(label))});
    await b.close();
    process.stdout.write(JSON.stringify(ref));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: process.env, encoding: 'utf8' })) as KeyRef;
}

const BLOCK = Buffer.alloc(16, 0x5a);

describe('token keys made by another process after this one opened the token', () => {
  it('refreshIntervalMs 0: the key is not found after a write of this process (the SoftHSM2 behaviour)', async () => {
    const b = await Pkcs11Backend.open({ ...opts, refreshIntervalMs: 0 });
    try {
      await b.generateKey(aes('mine-before'));
      const theirs = makeInAnotherProcess('theirs-1');
      await b.generateKey(aes('mine-after'));
      expect(await b.findKeys({ label: 'theirs-1' })).toEqual([]);
      await expect(b.encrypt({ mechanism: 'AES_ECB' }, theirs, BLOCK)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
      expect(b.refreshes).toBe(0);
    } finally {
      await b.close();
    }
  });

  it('by default a miss re-reads the token once: the key is found and used, then a missing key costs no second re-read within the interval', async () => {
    const b = await Pkcs11Backend.open(opts);
    try {
      await b.generateKey(aes('mine-before-2'));
      const theirs = makeInAnotherProcess('theirs-2');
      await b.generateKey(aes('mine-after-2'));
      // Used by reference (CKA_ID) first: the lookup misses, the token is re-read, the call retried.
      const sealed = await b.encrypt({ mechanism: 'AES_ECB' }, theirs, BLOCK);
      expect(Buffer.from(await b.decrypt({ mechanism: 'AES_ECB' }, theirs, sealed)).equals(BLOCK)).toBe(true);
      expect(b.refreshes).toBe(1);
      // Found by label the same way (another key, made after the re-read and hidden again by a write of ours).
      const third = makeInAnotherProcess('theirs-3');
      await b.generateKey(aes('mine-after-3'));
      await new Promise((r) => setTimeout(r, 1100));
      const found = await b.findKeys({ label: 'theirs-3' });
      expect(found.map((k) => k.id)).toEqual([third.id]);
      expect(b.refreshes).toBe(2);
      // A key that does not exist: one re-read at most per interval, not one per request.
      expect(await b.findKeys({ label: 'nobody-made-this' })).toEqual([]);
      expect(await b.findKeys({ label: 'nobody-made-this' })).toEqual([]);
      expect(b.refreshes).toBe(2);
      // The backend's own keys survive the re-reads.
      const mine = await b.findKeys({ label: 'mine-before-2' });
      expect(mine).toHaveLength(1);
    } finally {
      await b.close();
    }
  });
});
