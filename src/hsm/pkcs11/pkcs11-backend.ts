/**
 * The KeyBackend on a PKCS#11 token, through pkcs11js: the operations. The parts it is built from:
 *   - session-pool.ts  the logged-in anchor session, the bounded session pool, recovery after a
 *                      lost session or module (one retry), the key handle cache;
 *   - templates.ts     the object templates keys are made with, and KeyRefs read back;
 *   - mechanisms.ts    what the token offers (probed once) and each call's CK_MECHANISM.
 * Keys are found by CKA_ID (a KeyRef's `id`), so a reference outlives sessions and recoveries.
 *
 * Event loop
 *   The calls that can take long on a real (network) HSM run on libuv's thread pool through
 *   pkcs11js's async forms: C_GenerateKey, C_WrapKey, C_UnwrapKey, C_Encrypt, C_Decrypt,
 *   C_Sign, C_Verify. pkcs11js has no async form of C_OpenSession, C_Login, C_FindObjects*,
 *   C_GetAttributeValue, C_CreateObject, C_DestroyObject, C_GenerateRandom or the C_*Init
 *   calls; these block the event loop for one token round trip each (microseconds on
 *   SoftHSM2, about 0.5–5 ms on a network HSM). Login and session opening happen once per
 *   pool slot and after recoveries; key lookups are cached. The thread pool (UV_THREADPOOL_SIZE,
 *   default 4) bounds concurrent async calls, whatever the session pool size. The library is
 *   initialised with CKF_OS_LOCKING_OK because of those threads.
 */
import { randomBytes } from 'node:crypto';
import {
  HsmError,
  checkCipherParams,
  checkDecryptAsymmetric,
  checkImport,
  checkKeyPairTemplate,
  checkRandomLength,
  checkSignDigest,
  checkTemplate,
  checkUnwrapTemplate,
  hex,
  type AsymmetricDecryptParams,
  type AsymmetricSignParams,
  type BackendCapabilities,
  type GeneratedKeyPair,
  type KeyPairTemplate,
  type CipherParams,
  type FindQuery,
  type KeyBackend,
  type KeyRef,
  type KeyTemplate,
  type MacMechanism,
  type UnwrapTemplate,
  type WrapParams,
} from '../key-backend.js';
import { pkcs11js, type Pkcs11 } from './module.js';
import { SessionPool, type SessionPoolOptions } from './session-pool.js';
import { keyTemplate, pairTemplates, privateRefOf, readPrivateRef, readPublicKey, readRef, refOf, ulong, type Attr } from './templates.js';
import { cipherMechanism, macMechanism, oaepMechanism, probe, signMechanism, wrapMechanism, type Mechs } from './mechanisms.js';

export { toHsmError } from './session-pool.js';

/** The library, the token (by label or slot), the PIN, the pool bound and a log (session-pool.ts). */
export type Pkcs11Options = SessionPoolOptions;

/** Room for the largest output: input + a GCM tag or a CBC padding block. */
const OUT_SLACK = 32;
const MAX_WRAPPED = 8192 + 64;

export class Pkcs11Backend implements KeyBackend {
  readonly description: string;
  /** Which token this is (CK_TOKEN_INFO, trimmed): what a data folder's custody record names. */
  readonly tokenInfo: { readonly label: string; readonly serial: string; readonly manufacturer: string; readonly model: string };
  private readonly P = pkcs11js();
  private readonly pool: SessionPool;
  private readonly caps: BackendCapabilities;
  private readonly mechs: Mechs;

  private constructor(opts: Pkcs11Options) {
    this.pool = new SessionPool(opts);
    try {
      const info = this.p11.C_GetTokenInfo(this.pool.slot);
      const label = info.label.trim();
      const manufacturer = info.manufacturerID.trim();
      this.description = `PKCS#11 token "${label}" (${manufacturer} ${info.model.trim()}, serial ${info.serialNumber.trim()}) via ${opts.module}`;
      this.tokenInfo = { label, serial: info.serialNumber.trim(), manufacturer, model: info.model.trim() };
      const probed = probe(this.p11, this.P, this.pool.slot, manufacturer, info.firmwareVersion);
      this.mechs = probed.mechs;
      this.caps = { ...probed.caps, token: this.description, maxSessions: this.pool.cap };
      this.pool.login();
    } catch (e) {
      this.pool.abandon();
      throw e;
    }
  }

  /** Load the module, find the token, log in. Blocks the event loop for these few calls. */
  static async open(opts: Pkcs11Options): Promise<Pkcs11Backend> {
    return new Pkcs11Backend(opts);
  }

  private get p11(): Pkcs11 {
    return this.pool.p11;
  }

  /** How many recoveries have run (for tests and metrics). */
  get recoveries(): number {
    return this.pool.recoveries;
  }

  /** How many times the token's objects were re-read after a key lookup missed (session-pool.ts). */
  get refreshes(): number {
    return this.pool.refreshes;
  }

  /** Sessions open now: the anchor plus the pool (for tests). */
  get sessionsOpen(): number {
    return this.pool.sessionsOpen;
  }

  capabilities(): BackendCapabilities {
    return this.caps;
  }

  async generateKey(t: KeyTemplate): Promise<KeyRef> {
    this.pool.assertOpen();
    checkTemplate(t, this.caps);
    const P = this.P;
    const id = t.id ? Buffer.from(t.id) : randomBytes(16);
    const mech = t.type === 'AES' ? P.CKM_AES_KEY_GEN : P.CKM_GENERIC_SECRET_KEY_GEN;
    const template = [...keyTemplate(this.P, t, id), { type: P.CKA_VALUE_LEN, value: t.bits / 8 }];
    await this.pool.onObjectSession(t.token, 'C_GenerateKey', async (s) => {
      const h = await this.p11.C_GenerateKeyAsync(s, { mechanism: mech }, template);
      this.pool.cacheHandle(hex(id), h);
    });
    return refOf(t, id, t.bits);
  }

  async importKey(t: KeyTemplate, value: Uint8Array): Promise<KeyRef> {
    this.pool.assertOpen();
    checkImport(t, value, this.caps);
    const id = t.id ? Buffer.from(t.id) : randomBytes(16);
    const template = [...keyTemplate(this.P, t, id), { type: this.P.CKA_VALUE, value: Buffer.from(value) }];
    await this.pool.onObjectSession(t.token, 'C_CreateObject', async (s) => {
      const h = this.p11.C_CreateObject(s, template);
      this.pool.cacheHandle(hex(id), h);
    });
    return refOf(t, id, value.length * 8);
  }

  async exportKey(ref: KeyRef): Promise<Uint8Array> {
    return this.pool.withSession('C_GetAttributeValue', (s) => {
      const h = this.handle(s, ref);
      const [a] = this.p11.C_GetAttributeValue(s, h, [{ type: this.P.CKA_VALUE }]);
      if (!a) throw new HsmError('CKR_GENERAL_ERROR', 'no CKA_VALUE returned');
      return Buffer.from(a.value);
    });
  }

  async wrapKey(p: WrapParams, wrappingRef: KeyRef, ref: KeyRef): Promise<Uint8Array> {
    const mech = wrapMechanism(this.P, this.mechs, p, this.description);
    return this.pool.withSession('C_WrapKey', async (s) => {
      const w = this.handle(s, wrappingRef);
      const k = this.handle(s, ref);
      return Buffer.from(await this.p11.C_WrapKeyAsync(s, mech, w, k, Buffer.alloc(MAX_WRAPPED)));
    });
  }

  async unwrapKey(p: WrapParams, unwrappingRef: KeyRef, wrapped: Uint8Array, t: UnwrapTemplate): Promise<KeyRef> {
    this.pool.assertOpen();
    checkUnwrapTemplate(t);
    const mech = wrapMechanism(this.P, this.mechs, p, this.description);
    const id = t.id ? Buffer.from(t.id) : randomBytes(16);
    const template = keyTemplate(this.P, t, id);
    let bits = 0;
    await this.pool.onObjectSession(t.token, 'C_UnwrapKey', async (s) => {
      const w = this.handle(s, unwrappingRef);
      const h = await this.p11.C_UnwrapKeyAsync(s, mech, w, Buffer.from(wrapped), template);
      this.pool.cacheHandle(hex(id), h);
      const [len] = this.p11.C_GetAttributeValue(s, h, [{ type: this.P.CKA_VALUE_LEN }]);
      bits = len ? ulong(len.value) * 8 : 0;
      if (bits === 0) {
        // SoftHSM2 leaves CKA_VALUE_LEN at 0 on unwrapped keys (quirk UNWRAP_LEAVES_VALUE_LEN_ZERO):
        // read the value when allowed, else take the length from the wrapping format (exact for
        // RFC 3394 and GCM; for RFC 5649 exact when the key is whole 8-byte blocks, as AES keys are).
        if (!t.sensitive && t.extractable) {
          const [v] = this.p11.C_GetAttributeValue(s, h, [{ type: this.P.CKA_VALUE }]);
          bits = (v?.value.length ?? 0) * 8;
        } else {
          bits = (wrapped.length - (p.mechanism === 'AES_GCM' ? 16 : 8)) * 8;
        }
      }
    });
    return refOf(t, id, bits);
  }

  async encrypt(p: CipherParams, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    checkCipherParams(p);
    const mech = cipherMechanism(this.P, this.mechs, p, this.description);
    return this.pool.withSession('C_Encrypt', async (s) => {
      this.p11.C_EncryptInit(s, mech, this.handle(s, ref));
      const out = Buffer.alloc(data.length + OUT_SLACK);
      // pkcs11js passes an empty input as NULL, which C_Encrypt refuses: finish with C_EncryptFinal.
      if (data.length === 0) return Buffer.from(await this.p11.C_EncryptFinalAsync(s, out));
      return Buffer.from(await this.p11.C_EncryptAsync(s, Buffer.from(data), out));
    });
  }

  async decrypt(p: CipherParams, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    checkCipherParams(p);
    const mech = cipherMechanism(this.P, this.mechs, p, this.description);
    const gcmQuirk = p.mechanism === 'AES_GCM' && this.caps.quirks.includes('GCM_AUTH_FAILURE_IS_GENERAL_ERROR');
    try {
      return await this.pool.withSession('C_Decrypt', async (s) => {
        this.p11.C_DecryptInit(s, mech, this.handle(s, ref));
        const out = Buffer.alloc(data.length + OUT_SLACK);
        if (data.length === 0) return Buffer.from(await this.p11.C_DecryptFinalAsync(s, out));
        return Buffer.from(await this.p11.C_DecryptAsync(s, Buffer.from(data), out));
      });
    } catch (e) {
      if (gcmQuirk && e instanceof HsmError && e.code === 'CKR_GENERAL_ERROR' && e.fn === 'C_Decrypt') {
        throw new HsmError('CKR_ENCRYPTED_DATA_INVALID', 'GCM authentication failed', { cause: e, fn: 'C_Decrypt' });
      }
      throw e;
    }
  }

  async sign(mechanism: MacMechanism, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    const mech = macMechanism(this.mechs, mechanism, this.description);
    return this.pool.withSession('C_Sign', async (s) => {
      this.p11.C_SignInit(s, { mechanism: mech }, this.handle(s, ref));
      return Buffer.from(await this.p11.C_SignAsync(s, Buffer.from(data), Buffer.alloc(64)));
    });
  }

  async verify(mechanism: MacMechanism, ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const mech = macMechanism(this.mechs, mechanism, this.description);
    try {
      return await this.pool.withSession('C_Verify', async (s) => {
        this.p11.C_VerifyInit(s, { mechanism: mech }, this.handle(s, ref));
        return await this.p11.C_VerifyAsync(s, Buffer.from(data), Buffer.from(signature));
      });
    } catch (e) {
      if (e instanceof HsmError && (e.code === 'CKR_SIGNATURE_INVALID' || e.code === 'CKR_SIGNATURE_LEN_RANGE')) return false;
      throw e;
    }
  }

  /**
   * C_GenerateKeyPair: the private key as the template says (CKA_SIGN only), the public key a
   * session object that is read (modulus and exponent, or EC point) and destroyed at once.
   */
  async generateKeyPair(t: KeyPairTemplate): Promise<GeneratedKeyPair> {
    this.pool.assertOpen();
    checkKeyPairTemplate(t, this.caps);
    const P = this.P;
    const id = t.id ? Buffer.from(t.id) : randomBytes(16);
    const rsa = t.type === 'RSA';
    const usage = t.usage ?? ['sign'];
    const { pub: pubTemplate, priv: privTemplate } = pairTemplates(P, t, id, usage);
    const mechanism = rsa ? P.CKM_RSA_PKCS_KEY_PAIR_GEN : P.CKM_EC_KEY_PAIR_GEN;
    let spki: Buffer | undefined;
    await this.pool.onObjectSession(t.token, 'C_GenerateKeyPair', async (s) => {
      const keys = await this.p11.C_GenerateKeyPairAsync(s, { mechanism }, pubTemplate, privTemplate);
      try {
        spki = readPublicKey(this.p11, P, s, keys.publicKey, t);
      } catch (e) {
        this.destroyQuietly(s, keys.privateKey);
        throw e;
      } finally {
        this.destroyQuietly(s, keys.publicKey);
      }
      this.pool.cacheHandle(hex(id), keys.privateKey);
    });
    const privateKey = privateRefOf(t, id, usage);
    return { privateKey, publicKey: spki! };
  }

  /** RSA_PKCS1: CKM_RSA_PKCS over DigestInfo; RSA_PSS: CKM_RSA_PKCS_PSS with CK_RSA_PKCS_PSS_PARAMS; ECDSA: CKM_ECDSA (r ‖ s). */
  async signDigest(p: AsymmetricSignParams, ref: KeyRef, digest: Uint8Array): Promise<Uint8Array> {
    checkSignDigest(p, ref, digest, this.caps);
    const { mech, input } = signMechanism(this.P, this.mechs, p, digest);
    return this.pool.withSession('C_Sign', async (s) => {
      this.p11.C_SignInit(s, mech, this.handle(s, ref));
      return Buffer.from(await this.p11.C_SignAsync(s, input, Buffer.alloc(1024)));
    });
  }

  /**
   * CKM_RSA_PKCS_OAEP with CK_RSA_PKCS_OAEP_PARAMS: hashAlg the label hash, mgf CKG_MGF1_<MGF1 hash>
   * (PKCS#11 carries the two separately), source CKZ_DATA_SPECIFIED with the label as its data.
   */
  async decryptAsymmetric(p: AsymmetricDecryptParams, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    checkDecryptAsymmetric(p, ref, this.caps);
    const mech = oaepMechanism(this.P, p);
    try {
      return await this.pool.withSession('C_Decrypt', async (s) => {
        this.p11.C_DecryptInit(s, mech, this.handle(s, ref));
        return Buffer.from(await this.p11.C_DecryptAsync(s, Buffer.from(data), Buffer.alloc(Math.max(512, data.length))));
      });
    } catch (e) {
      if (e instanceof HsmError && ['CKR_ENCRYPTED_DATA_INVALID', 'CKR_ENCRYPTED_DATA_LEN_RANGE', 'CKR_DATA_INVALID', 'CKR_FUNCTION_FAILED', 'CKR_GENERAL_ERROR'].includes(e.code)) {
        throw new HsmError('CKR_ENCRYPTED_DATA_INVALID', 'OAEP decryption failed', { cause: e, fn: 'C_Decrypt' });
      }
      throw e;
    }
  }

  private destroyQuietly(s: Buffer, h: Buffer): void {
    try {
      this.p11.C_DestroyObject(s, h);
    } catch {
      // a session object goes with its session anyway
    }
  }

  async random(length: number): Promise<Uint8Array> {
    checkRandomLength(length);
    if (length === 0) return new Uint8Array(0);
    return this.pool.withSession('C_GenerateRandom', (s) => Buffer.from(this.p11.C_GenerateRandom(s, Buffer.alloc(length))));
  }

  async destroyKey(ref: KeyRef): Promise<void> {
    await this.pool.withSession('C_DestroyObject', (s) => {
      this.p11.C_DestroyObject(s, this.handle(s, ref));
      this.pool.forgetHandle(ref.id);
    });
  }

  /**
   * Keys by label / CKA_ID. Nothing found for a query that names one: the token's objects are
   * re-read once (another process may have made it since this one last read them; session-pool.ts)
   * and the query asked again.
   */
  async findKeys(q: FindQuery): Promise<KeyRef[]> {
    const found = await this.findKeysOnce(q);
    if (found.length > 0 || (q.label === undefined && q.id === undefined) || !(await this.pool.refreshObjects())) return found;
    return this.findKeysOnce(q);
  }

  private async findKeysOnce(q: FindQuery): Promise<KeyRef[]> {
    const P = this.P;
    return this.pool.withSession('C_FindObjects', (s) => {
      const t: { type: number; value: number | boolean | string | Buffer }[] = [];
      if (q.label !== undefined) t.push({ type: P.CKA_LABEL, value: q.label });
      if (q.id !== undefined) t.push({ type: P.CKA_ID, value: Buffer.from(q.id) });
      if (q.token !== undefined) t.push({ type: P.CKA_TOKEN, value: q.token });
      const out: KeyRef[] = [];
      const secret = this.find(s, [{ type: P.CKA_CLASS, value: P.CKO_SECRET_KEY }, ...t]).map((h) => ({ h, priv: false }));
      const priv = this.find(s, [{ type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }, ...t]).map((h) => ({ h, priv: true }));
      for (const { h, priv: isPriv } of [...secret, ...priv]) {
        const r = isPriv ? readPrivateRef(this.p11, P, s, h) : readRef(this.p11, P, s, h);
        if (r) {
          out.push(r);
          this.pool.cacheHandle(r.id, h);
        }
      }
      return out;
    });
  }

  /**
   * The values of the private token data objects (CKO_DATA) labelled `label`: normally one, two
   * when a rewrite was cut short (see writeDataObject). For the audit anchor
   * (src/audit/anchor.ts); never key material.
   */
  async readDataObjects(label: string): Promise<Buffer[]> {
    const P = this.P;
    return this.pool.withSession('C_GetAttributeValue', (s) =>
      this.find(s, [
        { type: P.CKA_CLASS, value: P.CKO_DATA },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_LABEL, value: label },
      ]).flatMap((h) => {
        const [a] = this.p11.C_GetAttributeValue(s, h, [{ type: P.CKA_VALUE }]);
        return a ? [Buffer.from(a.value)] : [];
      }),
    );
  }

  /**
   * Replace the private token data object labelled `label` (readable after login only). Tokens
   * may keep CKA_VALUE read-only (SoftHSM2 does), so the new object is created first and the old
   * ones destroyed after: a crash in between leaves both, never none.
   */
  async writeDataObject(label: string, value: Uint8Array): Promise<void> {
    const P = this.P;
    await this.pool.withSession('C_CreateObject', (s) => {
      const old = this.find(s, [
        { type: P.CKA_CLASS, value: P.CKO_DATA },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_LABEL, value: label },
      ]);
      this.p11.C_CreateObject(s, [
        { type: P.CKA_CLASS, value: P.CKO_DATA },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_LABEL, value: label },
        { type: P.CKA_APPLICATION, value: 'kmip-kms' },
        { type: P.CKA_VALUE, value: Buffer.from(value) },
      ]);
      for (const h of old) this.p11.C_DestroyObject(s, h);
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  // --- objects --------------------------------------------------------------------------

  private handle(s: Buffer, ref: KeyRef): Buffer {
    const cached = this.pool.cachedHandle(ref.id);
    if (cached) return cached;
    const P = this.P;
    const found = this.find(s, [
      { type: P.CKA_CLASS, value: ref.type === 'RSA' || ref.type === 'EC' ? P.CKO_PRIVATE_KEY : P.CKO_SECRET_KEY },
      { type: P.CKA_ID, value: Buffer.from(ref.id, 'hex') },
    ]);
    if (found.length !== 1 || !found[0]) {
      throw new HsmError('KEY_NOT_FOUND', found.length === 0 ? `no key with id ${ref.id} on the token` : `${found.length} keys share id ${ref.id}`);
    }
    this.pool.cacheHandle(ref.id, found[0]);
    return found[0];
  }

  private find(s: Buffer, template: Attr[]): Buffer[] {
    this.p11.C_FindObjectsInit(s, template);
    const out: Buffer[] = [];
    try {
      for (;;) {
        const batch = this.p11.C_FindObjects(s, 64);
        out.push(...batch);
        if (batch.length < 64) break;
      }
    } finally {
      this.p11.C_FindObjectsFinal(s);
    }
    return out;
  }
}
