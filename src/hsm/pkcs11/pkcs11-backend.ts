/**
 * The KeyBackend on a PKCS#11 token, through pkcs11js.
 *
 * Sessions
 *   - One "anchor" session is opened first and logged in (C_Login once: PKCS#11 login state is
 *     per application and token, so every later session shares it). The anchor also owns every
 *     session object (CKA_TOKEN false), so they live as long as the backend, not as long as
 *     whichever pooled session happened to create them. Anchor calls are serialised.
 *   - Operations borrow a session from a pool bounded by min(configured maxSessions, the
 *     token's ulMaxSessionCount / ulMaxRwSessionCount minus the anchor). A session on which a
 *     call failed is closed, never reused (a failed C_*Init/C_* pair can leave an operation
 *     active on it).
 *
 * Recovery
 *   A call that fails with CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED or
 *   CKR_USER_NOT_LOGGED_IN drops every idle session, re-opens (and logs in) the anchor if it
 *   is gone, and is retried once. CKR_CRYPTOKI_NOT_INITIALIZED re-initialises the module;
 *   CKR_DEVICE_REMOVED / CKR_TOKEN_NOT_PRESENT finalise and re-initialise it and look the
 *   token up again by label. Key handles are cached per "generation" and looked up again by
 *   CKA_ID after a recovery, so a KeyRef stays valid; session keys do not survive the loss of
 *   the anchor (KEY_NOT_FOUND). A second failure, or a failed recovery, is SESSION_LOST.
 *   Only one retry: a call is never repeated after it may have taken effect, because the
 *   recoverable codes all mean the call was refused before it ran.
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
import { createPublicKey, randomBytes } from 'node:crypto';
import {
  HsmError,
  checkCipherParams,
  checkDecryptAsymmetric,
  checkImport,
  checkKeyPairTemplate,
  checkRandomLength,
  checkSignDigest,
  DIGEST_INFO_PREFIX,
  checkTemplate,
  checkUnwrapTemplate,
  hex,
  type AsymmetricDecryptParams,
  type AsymmetricSignMechanism,
  type AsymmetricSignParams,
  type BackendCapabilities,
  type BackendQuirk,
  type DigestHash,
  type EcCurve,
  type GeneratedKeyPair,
  type KeyPairTemplate,
  type CipherMechanism,
  type CipherParams,
  type FindQuery,
  type HsmErrorCode,
  type KeyBackend,
  type KeyRef,
  type KeyTemplate,
  type KeyUsage,
  type MacMechanism,
  type SecretKeyType,
  type UnwrapTemplate,
  type WrapMechanism,
  type WrapParams,
} from '../key-backend.js';
import { acquireModule, ckrCode, ckrName, pkcs11js, reinitialize, releaseModule, type Pkcs11 } from './module.js';

export interface Pkcs11Options {
  /** Path of the PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  readonly module: string;
  /** The token, by label (preferred) or by slot id. */
  readonly tokenLabel?: string;
  readonly slot?: number;
  /** The user PIN (see resolvePin for where it comes from). */
  readonly pin: string;
  /** Cap on pooled sessions (default 8), further bounded by the token. */
  readonly maxSessions?: number;
  /** Told about recoveries and other events worth a log line. */
  readonly log?: { warn(obj: object, msg: string): void };
}

const SESSION_CODES = new Set(['CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_USER_NOT_LOGGED_IN']);
const MODULE_CODES = new Set(['CKR_CRYPTOKI_NOT_INITIALIZED', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT']);
const CK_UNAVAILABLE = 0xffffffff;
/** Session states (PKCS#11 §5.7; pkcs11js does not export them). */
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;
const DEFAULT_MAX_SESSIONS = 8;
/** Room for the largest output: input + a GCM tag or a CBC padding block. */
const OUT_SLACK = 32;
const MAX_WRAPPED = 8192 + 64;

interface Session {
  readonly h: Buffer;
  readonly gen: number;
}

interface Mechs {
  readonly cipher: Partial<Record<CipherMechanism, number>>;
  readonly wrap: Partial<Record<WrapMechanism, number>>;
  readonly mac: Partial<Record<MacMechanism, number>>;
  readonly asym: Partial<Record<AsymmetricSignMechanism, number>>;
}

/** Named curves: OID (DER) for CKA_EC_PARAMS, and node's JWK name. */
const CURVES: Readonly<Record<EcCurve, { der: string; bytes: number }>> = {
  'P-256': { der: '06082a8648ce3d030107', bytes: 32 },
  'P-384': { der: '06052b81040022', bytes: 48 },
};

export class Pkcs11Backend implements KeyBackend {
  readonly description: string;
  /** Which token this is (CK_TOKEN_INFO, trimmed): what a data folder's custody record names. */
  readonly tokenInfo: { readonly label: string; readonly serial: string; readonly manufacturer: string; readonly model: string };
  private readonly P = pkcs11js();
  private p11: Pkcs11;
  private slot: Buffer;
  private anchor: Buffer | undefined;
  private anchorChain: Promise<unknown> = Promise.resolve();
  private readonly idle: Session[] = [];
  private count = 0;
  private readonly waiters: Array<() => void> = [];
  private generation = 0;
  private readonly handles = new Map<string, { gen: number; h: Buffer }>();
  private closed = false;
  private readonly caps: BackendCapabilities;
  private readonly mechs: Mechs;
  private readonly cap: number;
  /** How many recoveries have run (for tests and metrics). */
  recoveries = 0;

  private constructor(private readonly opts: Pkcs11Options) {
    if (opts.tokenLabel === undefined && opts.slot === undefined) throw new HsmError('BAD_ARGUMENT', 'give the token label or the slot');
    this.p11 = acquireModule(opts.module);
    try {
      this.slot = this.findSlot();
      const info = this.p11.C_GetTokenInfo(this.slot);
      const limit = (n: number) => (n === 0 || n >= CK_UNAVAILABLE ? Number.POSITIVE_INFINITY : n);
      const tokenMax = Math.min(limit(info.maxSessionCount), limit(info.maxRwSessionCount));
      this.cap = Math.max(1, Math.min(opts.maxSessions ?? DEFAULT_MAX_SESSIONS, tokenMax - 1));
      const label = info.label.trim();
      const manufacturer = info.manufacturerID.trim();
      this.description = `PKCS#11 token "${label}" (${manufacturer} ${info.model.trim()}, serial ${info.serialNumber.trim()}) via ${opts.module}`;
      this.tokenInfo = { label, serial: info.serialNumber.trim(), manufacturer, model: info.model.trim() };
      const probed = this.probe(manufacturer, info.firmwareVersion);
      this.mechs = probed.mechs;
      this.caps = { ...probed.caps, token: this.description, maxSessions: this.cap };
      this.openAnchor();
    } catch (e) {
      releaseModule(opts.module);
      throw e;
    }
  }

  /** Load the module, find the token, log in. Blocks the event loop for these few calls. */
  static async open(opts: Pkcs11Options): Promise<Pkcs11Backend> {
    return new Pkcs11Backend(opts);
  }

  capabilities(): BackendCapabilities {
    return this.caps;
  }

  async generateKey(t: KeyTemplate): Promise<KeyRef> {
    this.assertOpen();
    checkTemplate(t, this.caps);
    const P = this.P;
    const id = t.id ? Buffer.from(t.id) : randomBytes(16);
    const mech = t.type === 'AES' ? P.CKM_AES_KEY_GEN : P.CKM_GENERIC_SECRET_KEY_GEN;
    const template = [...this.keyTemplate(t, id), { type: P.CKA_VALUE_LEN, value: t.bits / 8 }];
    await this.onObjectSession(t.token, 'C_GenerateKey', async (s) => {
      const h = await this.p11.C_GenerateKeyAsync(s, { mechanism: mech }, template);
      this.handles.set(hex(id), { gen: this.generation, h });
    });
    return refOf(t, id, t.bits);
  }

  async importKey(t: KeyTemplate, value: Uint8Array): Promise<KeyRef> {
    this.assertOpen();
    checkImport(t, value, this.caps);
    const id = t.id ? Buffer.from(t.id) : randomBytes(16);
    const template = [...this.keyTemplate(t, id), { type: this.P.CKA_VALUE, value: Buffer.from(value) }];
    await this.onObjectSession(t.token, 'C_CreateObject', async (s) => {
      const h = this.p11.C_CreateObject(s, template);
      this.handles.set(hex(id), { gen: this.generation, h });
    });
    return refOf(t, id, value.length * 8);
  }

  async exportKey(ref: KeyRef): Promise<Uint8Array> {
    return this.withSession('C_GetAttributeValue', (s) => {
      const h = this.handle(s, ref);
      const [a] = this.p11.C_GetAttributeValue(s, h, [{ type: this.P.CKA_VALUE }]);
      if (!a) throw new HsmError('CKR_GENERAL_ERROR', 'no CKA_VALUE returned');
      return Buffer.from(a.value);
    });
  }

  async wrapKey(p: WrapParams, wrappingRef: KeyRef, ref: KeyRef): Promise<Uint8Array> {
    const mech = this.wrapMechanism(p);
    return this.withSession('C_WrapKey', async (s) => {
      const w = this.handle(s, wrappingRef);
      const k = this.handle(s, ref);
      return Buffer.from(await this.p11.C_WrapKeyAsync(s, mech, w, k, Buffer.alloc(MAX_WRAPPED)));
    });
  }

  async unwrapKey(p: WrapParams, unwrappingRef: KeyRef, wrapped: Uint8Array, t: UnwrapTemplate): Promise<KeyRef> {
    this.assertOpen();
    checkUnwrapTemplate(t);
    const mech = this.wrapMechanism(p);
    const id = t.id ? Buffer.from(t.id) : randomBytes(16);
    const template = this.keyTemplate(t, id);
    let bits = 0;
    await this.onObjectSession(t.token, 'C_UnwrapKey', async (s) => {
      const w = this.handle(s, unwrappingRef);
      const h = await this.p11.C_UnwrapKeyAsync(s, mech, w, Buffer.from(wrapped), template);
      this.handles.set(hex(id), { gen: this.generation, h });
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
    const mech = this.cipherMechanism(p);
    return this.withSession('C_Encrypt', async (s) => {
      this.p11.C_EncryptInit(s, mech, this.handle(s, ref));
      const out = Buffer.alloc(data.length + OUT_SLACK);
      // pkcs11js passes an empty input as NULL, which C_Encrypt refuses: finish with C_EncryptFinal.
      if (data.length === 0) return Buffer.from(await this.p11.C_EncryptFinalAsync(s, out));
      return Buffer.from(await this.p11.C_EncryptAsync(s, Buffer.from(data), out));
    });
  }

  async decrypt(p: CipherParams, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    checkCipherParams(p);
    const mech = this.cipherMechanism(p);
    const gcmQuirk = p.mechanism === 'AES_GCM' && this.caps.quirks.includes('GCM_AUTH_FAILURE_IS_GENERAL_ERROR');
    try {
      return await this.withSession('C_Decrypt', async (s) => {
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
    const mech = this.macMechanism(mechanism);
    return this.withSession('C_Sign', async (s) => {
      this.p11.C_SignInit(s, { mechanism: mech }, this.handle(s, ref));
      return Buffer.from(await this.p11.C_SignAsync(s, Buffer.from(data), Buffer.alloc(64)));
    });
  }

  async verify(mechanism: MacMechanism, ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const mech = this.macMechanism(mechanism);
    try {
      return await this.withSession('C_Verify', async (s) => {
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
    this.assertOpen();
    checkKeyPairTemplate(t, this.caps);
    const P = this.P;
    const id = t.id ? Buffer.from(t.id) : randomBytes(16);
    const rsa = t.type === 'RSA';
    const usage = t.usage ?? ['sign'];
    const pubTemplate = [
      { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_VERIFY, value: true },
      { type: P.CKA_ENCRYPT, value: usage.includes('decrypt') },
      { type: P.CKA_WRAP, value: false },
      ...(t.type === 'RSA'
        ? [
            { type: P.CKA_MODULUS_BITS, value: t.bits },
            { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          ]
        : [{ type: P.CKA_EC_PARAMS, value: Buffer.from(CURVES[t.curve].der, 'hex') }]),
    ];
    const privTemplate = [
      { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
      { type: P.CKA_TOKEN, value: t.token },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: t.sensitive },
      { type: P.CKA_EXTRACTABLE, value: t.extractable },
      { type: P.CKA_ID, value: id },
      ...(t.label !== undefined ? [{ type: P.CKA_LABEL, value: t.label }] : []),
      { type: P.CKA_SIGN, value: usage.includes('sign') },
      { type: P.CKA_DECRYPT, value: usage.includes('decrypt') },
      { type: P.CKA_UNWRAP, value: false },
      { type: P.CKA_DERIVE, value: false },
    ];
    const mechanism = rsa ? P.CKM_RSA_PKCS_KEY_PAIR_GEN : P.CKM_EC_KEY_PAIR_GEN;
    let spki: Buffer | undefined;
    await this.onObjectSession(t.token, 'C_GenerateKeyPair', async (s) => {
      const keys = await this.p11.C_GenerateKeyPairAsync(s, { mechanism }, pubTemplate, privTemplate);
      try {
        spki = this.readPublicKey(s, keys.publicKey, t);
      } catch (e) {
        this.destroyQuietly(s, keys.privateKey);
        throw e;
      } finally {
        this.destroyQuietly(s, keys.publicKey);
      }
      this.handles.set(hex(id), { gen: this.generation, h: keys.privateKey });
    });
    const privateKey: KeyRef = {
      id: hex(id),
      ...(t.label !== undefined ? { label: t.label } : {}),
      token: t.token,
      type: t.type,
      bits: t.type === 'RSA' ? t.bits : CURVES[t.curve].bytes * 8,
      sensitive: t.sensitive,
      extractable: t.extractable,
      usage: [...usage],
    };
    return { privateKey, publicKey: spki! };
  }

  /** RSA_PKCS1: CKM_RSA_PKCS over DigestInfo; RSA_PSS: CKM_RSA_PKCS_PSS with CK_RSA_PKCS_PSS_PARAMS; ECDSA: CKM_ECDSA (r ‖ s). */
  async signDigest(p: AsymmetricSignParams, ref: KeyRef, digest: Uint8Array): Promise<Uint8Array> {
    checkSignDigest(p, ref, digest, this.caps);
    const P = this.P;
    const m = this.mechs.asym[p.mechanism]!;
    let mech: { mechanism: number; parameter?: { type: number; hashAlg: number; mgf: number; saltLen: number } };
    let input = Buffer.from(digest);
    if (p.mechanism === 'RSA_PSS') {
      const h = PSS_HASH[p.hash];
      mech = { mechanism: m, parameter: { type: P.CK_PARAMS_RSA_PSS, hashAlg: P[h.hash], mgf: P[h.mgf], saltLen: p.saltLength } };
    } else {
      mech = { mechanism: m };
      if (p.mechanism === 'RSA_PKCS1') input = Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[p.hash], 'hex'), input]);
    }
    return this.withSession('C_Sign', async (s) => {
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
    const P = this.P;
    const mech = {
      mechanism: P.CKM_RSA_PKCS_OAEP,
      parameter: {
        type: P.CK_PARAMS_RSA_OAEP,
        hashAlg: P[OAEP_HASH[p.hash].hash],
        mgf: P[OAEP_HASH[p.mgfHash ?? p.hash].mgf],
        source: CKZ_DATA_SPECIFIED,
        ...(p.label !== undefined && p.label.length > 0 && { sourceData: Buffer.from(p.label) }),
      },
    };
    try {
      return await this.withSession('C_Decrypt', async (s) => {
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

  /** SubjectPublicKeyInfo DER of a generated public key object. */
  private readPublicKey(s: Buffer, h: Buffer, t: KeyPairTemplate): Buffer {
    const P = this.P;
    const b64 = (b: Buffer) => b.toString('base64url');
    if (t.type === 'RSA') {
      const [n, e] = this.p11.C_GetAttributeValue(s, h, [{ type: P.CKA_MODULUS }, { type: P.CKA_PUBLIC_EXPONENT }]);
      if (!n || !e) throw new HsmError('CKR_GENERAL_ERROR', 'the token returned no modulus or exponent');
      return createPublicKey({ key: { kty: 'RSA', n: b64(n.value), e: b64(e.value) }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
    }
    const [pt] = this.p11.C_GetAttributeValue(s, h, [{ type: P.CKA_EC_POINT }]);
    if (!pt) throw new HsmError('CKR_GENERAL_ERROR', 'the token returned no EC point');
    // CKA_EC_POINT is DER OCTET STRING { 04 ‖ x ‖ y } (some tokens give the raw point).
    const size = CURVES[t.curve].bytes;
    let q = pt.value;
    if (q[0] === 0x04 && q.length !== 1 + 2 * size) q = q.subarray(q[1]! & 0x80 ? 2 + (q[1]! & 0x7f) : 2);
    if (q[0] !== 0x04 || q.length !== 1 + 2 * size) throw new HsmError('CKR_GENERAL_ERROR', 'the token returned a malformed EC point');
    return createPublicKey({ key: { kty: 'EC', crv: t.curve, x: b64(q.subarray(1, 1 + size)), y: b64(q.subarray(1 + size)) }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
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
    return this.withSession('C_GenerateRandom', (s) => Buffer.from(this.p11.C_GenerateRandom(s, Buffer.alloc(length))));
  }

  async destroyKey(ref: KeyRef): Promise<void> {
    await this.withSession('C_DestroyObject', (s) => {
      this.p11.C_DestroyObject(s, this.handle(s, ref));
      this.handles.delete(ref.id);
    });
  }

  async findKeys(q: FindQuery): Promise<KeyRef[]> {
    const P = this.P;
    return this.withSession('C_FindObjects', (s) => {
      const t: { type: number; value: number | boolean | string | Buffer }[] = [];
      if (q.label !== undefined) t.push({ type: P.CKA_LABEL, value: q.label });
      if (q.id !== undefined) t.push({ type: P.CKA_ID, value: Buffer.from(q.id) });
      if (q.token !== undefined) t.push({ type: P.CKA_TOKEN, value: q.token });
      const out: KeyRef[] = [];
      const secret = this.find(s, [{ type: P.CKA_CLASS, value: P.CKO_SECRET_KEY }, ...t]).map((h) => ({ h, priv: false }));
      const priv = this.find(s, [{ type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }, ...t]).map((h) => ({ h, priv: true }));
      for (const { h, priv: isPriv } of [...secret, ...priv]) {
        const r = isPriv ? this.readPrivateRef(s, h) : this.readRef(s, h);
        if (r) {
          out.push(r);
          this.handles.set(r.id, { gen: this.generation, h });
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
    return this.withSession('C_GetAttributeValue', (s) =>
      this.find(s, [{ type: P.CKA_CLASS, value: P.CKO_DATA }, { type: P.CKA_TOKEN, value: true }, { type: P.CKA_LABEL, value: label }]).flatMap((h) => {
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
    await this.withSession('C_CreateObject', (s) => {
      const old = this.find(s, [{ type: P.CKA_CLASS, value: P.CKO_DATA }, { type: P.CKA_TOKEN, value: true }, { type: P.CKA_LABEL, value: label }]);
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
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    await this.anchorChain.catch(() => undefined);
    for (const s of this.idle.splice(0)) this.closeQuietly(s.h);
    if (this.anchor) {
      // No C_Logout: login state is per application, so it would log out another backend on
      // the same module too. The token logs out by itself when the application's last session closes.
      this.closeQuietly(this.anchor);
      this.anchor = undefined;
    }
    this.handles.clear();
    releaseModule(this.opts.module);
  }

  /** Sessions open now: the anchor plus the pool (for tests). */
  get sessionsOpen(): number {
    return this.count + (this.anchor ? 1 : 0);
  }

  // --- sessions -------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new HsmError('CLOSED', 'the key backend is closed');
  }

  private findSlot(): Buffer {
    const slots = this.p11.C_GetSlotList(true);
    for (const s of slots) {
      if (this.opts.tokenLabel !== undefined) {
        if (this.p11.C_GetTokenInfo(s).label.trim() === this.opts.tokenLabel) return s;
      } else if (slotNumber(s) === this.opts.slot) {
        return s;
      }
    }
    const what = this.opts.tokenLabel !== undefined ? `token labelled "${this.opts.tokenLabel}"` : `slot ${this.opts.slot}`;
    throw new HsmError('MODULE_UNAVAILABLE', `no ${what} in ${this.opts.module}`);
  }

  private openSession(): Buffer {
    const P = this.P;
    return this.p11.C_OpenSession(this.slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
  }

  private openAnchor(): void {
    const P = this.P;
    const h = this.openSession();
    try {
      this.p11.C_Login(h, P.CKU_USER, this.opts.pin);
    } catch (e) {
      if (ckrName(e) !== 'CKR_USER_ALREADY_LOGGED_IN') {
        this.closeQuietly(h);
        throw toHsmError(e, 'C_Login');
      }
    }
    this.anchor = h;
  }

  private closeQuietly(h: Buffer): void {
    try {
      this.p11.C_CloseSession(h);
    } catch {
      // already gone
    }
  }

  private async acquire(): Promise<Session> {
    for (;;) {
      this.assertOpen();
      if (!this.anchor) this.openAnchor();
      const s = this.idle.pop();
      if (s) {
        if (s.gen === this.generation) return s;
        this.closeQuietly(s.h);
        this.count--;
        continue;
      }
      if (this.count < this.cap) {
        this.count++;
        try {
          return { h: this.openSession(), gen: this.generation };
        } catch (e) {
          this.count--;
          throw e;
        }
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private release(s: Session, discard: boolean): void {
    if (discard || s.gen !== this.generation || this.closed) {
      this.closeQuietly(s.h);
      this.count--;
    } else {
      this.idle.push(s);
    }
    this.waiters.shift()?.();
  }

  /** Run fn on a pooled session; recover and retry once after a session or module failure. */
  private async withSession<T>(fn: string, body: (s: Buffer) => T | Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const gen = this.generation;
      let s: Session | undefined;
      try {
        s = await this.acquire();
        const out = await body(s.h);
        this.release(s, false);
        return out;
      } catch (e) {
        if (s) this.release(s, true);
        if (!this.retryAfter(e, gen, attempt, fn)) throw toHsmError(e, fn);
      }
    }
  }

  /** Objects: token objects on a pooled session; session objects on the anchor (serialised), so they live as long as the backend. */
  private async onObjectSession(token: boolean, fn: string, body: (s: Buffer) => Promise<void>): Promise<void> {
    if (token) return this.withSession(fn, body);
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        const gen = this.generation;
        try {
          this.assertOpen();
          if (!this.anchor) this.openAnchor();
          await body(this.anchor!);
          return;
        } catch (e) {
          if (!this.retryAfter(e, gen, attempt, fn)) throw toHsmError(e, fn);
        }
      }
    };
    const p = this.anchorChain.then(run, run);
    this.anchorChain = p.catch(() => undefined);
    return p;
  }

  /** true when the error was a lost session/module, recovery worked, and one retry is left. */
  private retryAfter(e: unknown, gen: number, attempt: number, fn: string): boolean {
    const code = ckrName(e);
    if (code === undefined || (!SESSION_CODES.has(code) && !MODULE_CODES.has(code))) return false;
    if (attempt > 0) throw new HsmError('SESSION_LOST', `${fn} failed with ${code} again after recovering the session`, { cause: e, ckr: ckrCode(e), fn });
    try {
      this.recover(code, gen);
    } catch (re) {
      throw new HsmError('SESSION_LOST', `${fn} failed with ${code} and the session could not be recovered`, { cause: re, ckr: ckrCode(e), fn });
    }
    return true;
  }

  /** Synchronous, so it runs whole before any other call starts; a no-op if another call already recovered this generation. */
  private recover(code: string, gen: number): void {
    if (this.closed) throw new HsmError('CLOSED', 'the key backend is closed');
    if (gen !== this.generation) return;
    this.generation++;
    this.recoveries++;
    this.handles.clear();
    for (const s of this.idle.splice(0)) {
      this.closeQuietly(s.h);
      this.count--;
    }
    const moduleLevel = MODULE_CODES.has(code);
    if (moduleLevel) {
      this.anchor = undefined;
      reinitialize(this.p11, code !== 'CKR_CRYPTOKI_NOT_INITIALIZED');
      this.slot = this.findSlot();
    } else if (this.anchor && !this.alive(this.anchor)) {
      this.closeQuietly(this.anchor);
      this.anchor = undefined;
    }
    if (!this.anchor) this.openAnchor();
    this.opts.log?.warn({ code, generation: this.generation, moduleReinitialised: moduleLevel }, 'PKCS#11 session recovered; retrying the call once');
  }

  private alive(h: Buffer): boolean {
    try {
      const st = this.p11.C_GetSessionInfo(h).state;
      return st === CKS_RO_USER_FUNCTIONS || st === CKS_RW_USER_FUNCTIONS;
    } catch {
      return false;
    }
  }

  // --- objects --------------------------------------------------------------------------

  private handle(s: Buffer, ref: KeyRef): Buffer {
    const c = this.handles.get(ref.id);
    if (c && c.gen === this.generation) return c.h;
    const P = this.P;
    const found = this.find(s, [
      { type: P.CKA_CLASS, value: ref.type === 'RSA' || ref.type === 'EC' ? P.CKO_PRIVATE_KEY : P.CKO_SECRET_KEY },
      { type: P.CKA_ID, value: Buffer.from(ref.id, 'hex') },
    ]);
    if (found.length !== 1 || !found[0]) {
      throw new HsmError('KEY_NOT_FOUND', found.length === 0 ? `no key with id ${ref.id} on the token` : `${found.length} keys share id ${ref.id}`);
    }
    this.handles.set(ref.id, { gen: this.generation, h: found[0] });
    return found[0];
  }

  private find(s: Buffer, template: { type: number; value: number | boolean | string | Buffer }[]): Buffer[] {
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

  private readRef(s: Buffer, h: Buffer): KeyRef | undefined {
    const P = this.P;
    const want = [P.CKA_ID, P.CKA_LABEL, P.CKA_TOKEN, P.CKA_KEY_TYPE, P.CKA_VALUE_LEN, P.CKA_SENSITIVE, P.CKA_EXTRACTABLE];
    const usageAttrs: [KeyUsage, number][] = [
      ['encrypt', P.CKA_ENCRYPT],
      ['decrypt', P.CKA_DECRYPT],
      ['wrap', P.CKA_WRAP],
      ['unwrap', P.CKA_UNWRAP],
      ['sign', P.CKA_SIGN],
      ['verify', P.CKA_VERIFY],
    ];
    const got = this.p11.C_GetAttributeValue(s, h, [...want, ...usageAttrs.map(([, a]) => a)].map((type) => ({ type })));
    const v = new Map(got.map((a) => [a.type, a.value]));
    const id = v.get(P.CKA_ID);
    const keyType = ulong(v.get(P.CKA_KEY_TYPE));
    const type: SecretKeyType | undefined = keyType === P.CKK_AES ? 'AES' : keyType === P.CKK_GENERIC_SECRET ? 'GENERIC_SECRET' : undefined;
    if (!id || id.length === 0 || !type) return undefined; // not a key this backend manages
    const label = v.get(P.CKA_LABEL);
    return {
      id: id.toString('hex'),
      ...(label && label.length > 0 ? { label: label.toString('utf8') } : {}),
      token: bool(v.get(P.CKA_TOKEN)),
      type,
      bits: ulong(v.get(P.CKA_VALUE_LEN)) * 8,
      sensitive: bool(v.get(P.CKA_SENSITIVE)),
      extractable: bool(v.get(P.CKA_EXTRACTABLE)),
      usage: usageAttrs.filter(([, a]) => bool(v.get(a))).map(([u]) => u),
    };
  }

  /** A private key's reference (RSA: the modulus size; EC: the curve size from CKA_EC_PARAMS). */
  private readPrivateRef(s: Buffer, h: Buffer): KeyRef | undefined {
    const P = this.P;
    const [id, label, token, kt, sens, extr, sign, dec] = this.p11.C_GetAttributeValue(s, h, [P.CKA_ID, P.CKA_LABEL, P.CKA_TOKEN, P.CKA_KEY_TYPE, P.CKA_SENSITIVE, P.CKA_EXTRACTABLE, P.CKA_SIGN, P.CKA_DECRYPT].map((type) => ({ type })));
    const keyType = ulong(kt?.value);
    const type = keyType === P.CKK_RSA ? 'RSA' : keyType === P.CKK_EC ? 'EC' : undefined;
    if (!id?.value.length || !type) return undefined;
    let bits = 0;
    if (type === 'RSA') {
      const [n] = this.p11.C_GetAttributeValue(s, h, [{ type: P.CKA_MODULUS }]);
      const m = n?.value ?? Buffer.alloc(0);
      bits = (m.length - (m[0] === 0 ? 1 : 0)) * 8;
    } else {
      const [ep] = this.p11.C_GetAttributeValue(s, h, [{ type: P.CKA_EC_PARAMS }]);
      const hexParams = ep?.value.toString('hex');
      const c = (Object.keys(CURVES) as EcCurve[]).find((k) => CURVES[k].der === hexParams);
      bits = c ? CURVES[c].bytes * 8 : 0;
    }
    return {
      id: id.value.toString('hex'),
      ...(label && label.value.length > 0 ? { label: label.value.toString('utf8') } : {}),
      token: bool(token?.value),
      type,
      bits,
      sensitive: bool(sens?.value),
      extractable: bool(extr?.value),
      usage: [...(bool(sign?.value) ? (['sign'] as const) : []), ...(bool(dec?.value) ? (['decrypt'] as const) : [])],
    };
  }

  private keyTemplate(t: UnwrapTemplate, id: Buffer): { type: number; value: number | boolean | string | Buffer }[] {
    const P = this.P;
    const has = (u: KeyUsage) => t.usage.includes(u);
    return [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: t.type === 'AES' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
      { type: P.CKA_TOKEN, value: t.token },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: t.sensitive },
      { type: P.CKA_EXTRACTABLE, value: t.extractable },
      { type: P.CKA_ID, value: id },
      ...(t.label !== undefined ? [{ type: P.CKA_LABEL, value: t.label }] : []),
      { type: P.CKA_ENCRYPT, value: has('encrypt') },
      { type: P.CKA_DECRYPT, value: has('decrypt') },
      { type: P.CKA_WRAP, value: has('wrap') },
      { type: P.CKA_UNWRAP, value: has('unwrap') },
      { type: P.CKA_SIGN, value: has('sign') },
      { type: P.CKA_VERIFY, value: has('verify') },
      { type: P.CKA_DERIVE, value: false },
    ];
  }

  // --- mechanisms -----------------------------------------------------------------------

  private cipherMechanism(p: CipherParams): { mechanism: number; parameter?: Buffer | { type: number; iv: Buffer; ivBits: number; aad?: Buffer; tagBits: number } } {
    const m = this.mechs.cipher[p.mechanism];
    if (m === undefined) throw new HsmError('NOT_SUPPORTED', `${p.mechanism} is not offered by ${this.description}`);
    switch (p.mechanism) {
      case 'AES_GCM':
        return { mechanism: m, parameter: this.gcmParams(p.iv, p.aad, p.tagBits ?? 128) };
      case 'AES_CBC':
      case 'AES_CBC_PAD':
        return { mechanism: m, parameter: Buffer.from(p.iv) };
      case 'AES_CTR': {
        // CK_AES_CTR_PARAMS { CK_ULONG ulCounterBits; CK_BYTE cb[16]; }, CK_ULONG being 8 bytes on LP64 (4 on Windows).
        const ulong = process.platform === 'win32' ? 4 : 8;
        const b = Buffer.alloc(ulong + 16);
        if (ulong === 8) b.writeBigUInt64LE(BigInt(p.counterBits ?? 128), 0);
        else b.writeUInt32LE(p.counterBits ?? 128, 0);
        Buffer.from(p.counterBlock).copy(b, ulong);
        return { mechanism: m, parameter: b };
      }
      case 'AES_ECB':
        return { mechanism: m };
    }
  }

  private gcmParams(iv: Uint8Array, aad: Uint8Array | undefined, tagBits: number) {
    return { type: this.P.CK_PARAMS_AES_GCM, iv: Buffer.from(iv), ivBits: iv.length * 8, ...(aad ? { aad: Buffer.from(aad) } : {}), tagBits };
  }

  private wrapMechanism(p: WrapParams): { mechanism: number; parameter?: { type: number; iv: Buffer; ivBits: number; aad?: Buffer; tagBits: number } } {
    const m = this.mechs.wrap[p.mechanism];
    if (m === undefined) throw new HsmError('NOT_SUPPORTED', `wrapping with ${p.mechanism} is not offered by ${this.description}`);
    return p.mechanism === 'AES_GCM' ? { mechanism: m, parameter: this.gcmParams(p.iv, p.aad, 128) } : { mechanism: m };
  }

  private macMechanism(m: MacMechanism): number {
    const v = this.mechs.mac[m];
    if (v === undefined) throw new HsmError('NOT_SUPPORTED', `${String(m)} is not offered by ${this.description}`);
    return v;
  }

  /** What the token offers, from C_GetMechanismList / C_GetMechanismInfo. */
  private probe(manufacturer: string, fw: { major: number; minor: number }): { mechs: Mechs; caps: Omit<BackendCapabilities, 'token' | 'maxSessions'> } {
    const P = this.P;
    const list = new Set(this.p11.C_GetMechanismList(this.slot));
    const info = (m: number) => (list.has(m) ? this.p11.C_GetMechanismInfo(this.slot, m) : undefined);
    const can = (m: number, flag: number) => ((info(m)?.flags ?? 0) & flag) !== 0;
    // AES and HMAC key sizes are reported in bytes by SoftHSM2 and most tokens; a token that
    // reports bits (values above 64 for AES) is read as such.
    const aesInfo = info(P.CKM_AES_KEY_GEN);
    const aesKeyBits = aesInfo
      ? [128, 192, 256].filter((b) => {
          const [lo, hi] = aesInfo.maxKeySize > 64 ? [aesInfo.minKeySize, aesInfo.maxKeySize] : [aesInfo.minKeySize * 8, aesInfo.maxKeySize * 8];
          return b >= lo && b <= hi;
        })
      : [];
    const cipher: Partial<Record<CipherMechanism, number>> = {};
    const C: [CipherMechanism, number][] = [
      ['AES_GCM', P.CKM_AES_GCM],
      ['AES_CBC', P.CKM_AES_CBC],
      ['AES_CBC_PAD', P.CKM_AES_CBC_PAD],
      ['AES_CTR', P.CKM_AES_CTR],
      ['AES_ECB', P.CKM_AES_ECB],
    ];
    for (const [name, m] of C) if (can(m, P.CKF_ENCRYPT) && can(m, P.CKF_DECRYPT)) cipher[name] = m;
    const wrap: Partial<Record<WrapMechanism, number>> = {};
    const both = P.CKF_WRAP | P.CKF_UNWRAP;
    const wraps = (m: number) => ((info(m)?.flags ?? 0) & both) === both;
    if (wraps(P.CKM_AES_KEY_WRAP)) wrap.AES_KEY_WRAP = P.CKM_AES_KEY_WRAP;
    // RFC 5649: CKM_AES_KEY_WRAP_KWP (0x210B, PKCS#11 3.0) when offered, else CKM_AES_KEY_WRAP_PAD
    // (0x210A), which SoftHSM2 implements as RFC 5649 (see the KWP quirk).
    const KWP = 0x210b;
    if (wraps(KWP)) wrap.AES_KEY_WRAP_PAD = KWP;
    else if (wraps(P.CKM_AES_KEY_WRAP_PAD)) wrap.AES_KEY_WRAP_PAD = P.CKM_AES_KEY_WRAP_PAD;
    if (wraps(P.CKM_AES_GCM)) wrap.AES_GCM = P.CKM_AES_GCM;
    const mac: Partial<Record<MacMechanism, number>> = {};
    const macs: { mechanism: MacMechanism; minKeyBits: number; maxKeyBits: number }[] = [];
    const M: [MacMechanism, number][] = [
      ['HMAC_SHA1', P.CKM_SHA_1_HMAC],
      ['HMAC_SHA224', P.CKM_SHA224_HMAC],
      ['HMAC_SHA256', P.CKM_SHA256_HMAC],
      ['HMAC_SHA384', P.CKM_SHA384_HMAC],
      ['HMAC_SHA512', P.CKM_SHA512_HMAC],
    ];
    for (const [name, m] of M) {
      const i = info(m);
      if (!i || !can(m, P.CKF_SIGN) || !can(m, P.CKF_VERIFY)) continue;
      mac[name] = m;
      macs.push({ mechanism: name, minKeyBits: Math.max(8, i.minKeySize * 8), maxKeyBits: Math.min(i.maxKeySize, 8192) * 8 });
    }
    const gen = info(P.CKM_GENERIC_SECRET_KEY_GEN);
    const asym: Partial<Record<AsymmetricSignMechanism, number>> = {};
    const A: [AsymmetricSignMechanism, number][] = [
      ['RSA_PKCS1', P.CKM_RSA_PKCS],
      ['RSA_PSS', P.CKM_RSA_PKCS_PSS],
      ['ECDSA', P.CKM_ECDSA],
    ];
    for (const [name, m] of A) if (can(m, P.CKF_SIGN)) asym[name] = m;
    const rsaGen = info(P.CKM_RSA_PKCS_KEY_PAIR_GEN);
    const rsaKeyBits = rsaGen ? [2048, 3072, 4096].filter((b) => b >= rsaGen.minKeySize && b <= rsaGen.maxKeySize) : [];
    const ecGen = info(P.CKM_EC_KEY_PAIR_GEN);
    const ecCurves: EcCurve[] = ecGen ? (['P-256', 'P-384'] as const).filter((c) => CURVES[c].bytes * 8 >= ecGen.minKeySize && CURVES[c].bytes * 8 <= ecGen.maxKeySize) : [];
    const quirks: BackendQuirk[] = [];
    if (manufacturer === 'SoftHSM project' && (fw.major < 2 || (fw.major === 2 && fw.minor <= 6))) {
      quirks.push('GCM_AUTH_FAILURE_IS_GENERAL_ERROR', 'UNWRAP_LEAVES_VALUE_LEN_ZERO');
      if (wrap.AES_KEY_WRAP_PAD === P.CKM_AES_KEY_WRAP_PAD) quirks.push('KWP_WRAP_PADS_UNALIGNED_KEYS');
    }
    return {
      mechs: { cipher, wrap, mac, asym },
      caps: {
        kind: 'pkcs11',
        aesKeyBits,
        ...(gen ? { genericSecretBits: { min: Math.max(8, Math.ceil(gen.minKeySize / 8) * 8), max: Math.min(4096, Math.max(8, gen.maxKeySize)) } } : {}),
        ciphers: Object.keys(cipher) as CipherMechanism[],
        wraps: Object.keys(wrap) as WrapMechanism[],
        macs,
        importKeys: true,
        persistentKeys: true,
        quirks,
        rsaKeyBits: asym.RSA_PKCS1 !== undefined || asym.RSA_PSS !== undefined ? rsaKeyBits : [],
        ecCurves: asym.ECDSA !== undefined ? ecCurves : [],
        asymmetricSigns: Object.keys(asym) as AsymmetricSignMechanism[],
        asymmetricDecrypts: can(P.CKM_RSA_PKCS_OAEP, P.CKF_DECRYPT) && rsaKeyBits.length > 0 ? ['RSA_OAEP'] : [],
        // SoftHSM2 refuses any OAEP hash but SHA-1, any MGF but CKG_MGF1_SHA1 and any source data
        // (CKR_ARGUMENTS_BAD from C_DecryptInit).
        oaepHashes: manufacturer === 'SoftHSM project' ? ['sha1'] : ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'],
        oaepMixedHashes: manufacturer !== 'SoftHSM project',
        oaepLabels: manufacturer !== 'SoftHSM project',
      },
    };
  }
}

const PSS_HASH: Readonly<Record<DigestHash, { hash: 'CKM_SHA224' | 'CKM_SHA256' | 'CKM_SHA384' | 'CKM_SHA512'; mgf: 'CKG_MGF1_SHA224' | 'CKG_MGF1_SHA256' | 'CKG_MGF1_SHA384' | 'CKG_MGF1_SHA512' }>> = {
  sha224: { hash: 'CKM_SHA224', mgf: 'CKG_MGF1_SHA224' },
  sha256: { hash: 'CKM_SHA256', mgf: 'CKG_MGF1_SHA256' },
  sha384: { hash: 'CKM_SHA384', mgf: 'CKG_MGF1_SHA384' },
  sha512: { hash: 'CKM_SHA512', mgf: 'CKG_MGF1_SHA512' },
};

/** PKCS#11 CKZ_DATA_SPECIFIED (the OAEP label source; pkcs11js has no constant for it). */
const CKZ_DATA_SPECIFIED = 0x00000001;

const OAEP_HASH: Readonly<Record<AsymmetricDecryptParams['hash'], { hash: 'CKM_SHA_1' | (typeof PSS_HASH)[DigestHash]['hash']; mgf: 'CKG_MGF1_SHA1' | (typeof PSS_HASH)[DigestHash]['mgf'] }>> = {
  sha1: { hash: 'CKM_SHA_1', mgf: 'CKG_MGF1_SHA1' },
  ...PSS_HASH,
};

function refOf(t: UnwrapTemplate, id: Buffer, bits: number): KeyRef {
  return {
    id: id.toString('hex'),
    ...(t.label !== undefined ? { label: t.label } : {}),
    token: t.token,
    type: t.type,
    bits,
    sensitive: t.sensitive,
    extractable: t.extractable,
    usage: [...t.usage],
  };
}

function bool(b: Buffer | undefined): boolean {
  return b !== undefined && b.length > 0 && b[0] !== 0;
}

function ulong(b: Buffer | undefined): number {
  if (!b || b.length === 0) return 0;
  return b.length >= 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
}

function slotNumber(s: Buffer): number {
  return s.length >= 8 ? Number(s.readBigUInt64LE(0)) : s.readUInt32LE(0);
}

/** PKCS#11 failures become coded HsmErrors; HsmErrors pass through. */
export function toHsmError(e: unknown, fn: string): HsmError {
  if (e instanceof HsmError) return e;
  const name = ckrName(e);
  if (name) return new HsmError(name as HsmErrorCode, `${fn}: ${name}`, { cause: e, ckr: ckrCode(e), fn });
  if (e instanceof TypeError) return new HsmError('BAD_ARGUMENT', `${fn}: ${e.message}`, { cause: e, fn });
  return new HsmError('CKR_GENERAL_ERROR', `${fn}: ${(e as Error)?.message ?? String(e)}`, { cause: e, fn });
}
