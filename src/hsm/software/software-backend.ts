/**
 * The KeyBackend on node:crypto. THIS IS NOT AN HSM: key values live in this process's
 * memory, and persistent ("token") keys are written to a key file, each value sealed with
 * AES-256-GCM under a 256-bit master key file (mode 0600) whose associated data binds the
 * key's id and attributes, so editing the file (say, flipping `extractable`) makes the key
 * fail to load. Anyone who can read both files has every key.
 *
 * It mirrors PKCS#11 semantics and return codes where the contract suite checks them:
 * sensitive or non-extractable values cannot be read (CKR_ATTRIBUTE_SENSITIVE), a
 * non-extractable key cannot be wrapped (CKR_KEY_UNEXTRACTABLE), usage flags are enforced
 * (CKR_KEY_FUNCTION_NOT_PERMITTED), a GCM authentication failure is CKR_ENCRYPTED_DATA_INVALID.
 */
import {
  constants as CC,
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  generateKeyPairSync,
  privateDecrypt,
  privateEncrypt,
  randomBytes,
  timingSafeEqual,
  type CipherGCM,
  type DecipherGCM,
} from 'node:crypto';
import { decodeSig, ecdsaSignDigest } from '../../crypto/ecdsa-prehash.js';
import { pssSignDigest } from '../../crypto/pss.js';
import { oaepDecrypt } from '../../crypto/oaep.js';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createFileDurably } from './durable-file.js';
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
  type AsymmetricSignParams,
  type BackendCapabilities,
  type CipherParams,
  type GeneratedKeyPair,
  type KeyPairTemplate,
  type KeyType,
  type FindQuery,
  type KeyBackend,
  type KeyRef,
  type KeyTemplate,
  type KeyUsage,
  type MacMechanism,
  type SecretKeyType,
  type UnwrapTemplate,
  type WrapParams,
} from '../key-backend.js';

interface SoftKey {
  readonly ref: KeyRef;
  readonly value: Buffer;
}

interface StoredKey {
  id: string;
  label?: string;
  type: KeyType;
  bits: number;
  sensitive: boolean;
  extractable: boolean;
  usage: KeyUsage[];
  iv: string;
  sealed: string;
}

const HMAC_HASH: Record<MacMechanism, string> = {
  HMAC_SHA1: 'sha1',
  HMAC_SHA224: 'sha224',
  HMAC_SHA256: 'sha256',
  HMAC_SHA384: 'sha384',
  HMAC_SHA512: 'sha512',
};

const KEY_FILE_VERSION = 1;

/** Read a 32-byte master key file, creating it (mode 0600, durably: durable-file.ts) when absent. */
export function loadOrCreateMasterKey(path: string): Buffer {
  if (!existsSync(path)) createFileDurably(path, randomBytes(32));
  if (statSync(path).mode & 0o077) chmodSync(path, 0o600);
  const key = readFileSync(path);
  if (key.length !== 32) throw new HsmError('BAD_ARGUMENT', `master key file ${path} must hold 32 bytes, it holds ${key.length}`);
  return key;
}

function attrAad(k: Omit<StoredKey, 'iv' | 'sealed'>): Buffer {
  // Fixed field order: the AAD is the canonical attribute record.
  const canonical = JSON.stringify([k.id, k.label ?? null, k.type, k.bits, k.sensitive, k.extractable, [...k.usage].sort()]);
  return Buffer.concat([Buffer.from('kms-soft-key-v1\0'), Buffer.from(canonical)]);
}

export interface SoftwareBackendOptions {
  /** The 32-byte master key; see loadOrCreateMasterKey. */
  readonly masterKey: Uint8Array;
  /** Where token keys persist. Without it token keys last as long as the process. */
  readonly keyFile?: string;
}

export class SoftwareBackend implements KeyBackend {
  readonly description: string;
  private readonly keys = new Map<string, SoftKey>();
  private readonly master: Buffer;
  private closed = false;
  private readonly caps: BackendCapabilities;

  constructor(private readonly opts: SoftwareBackendOptions) {
    if (opts.masterKey.length !== 32) throw new HsmError('BAD_ARGUMENT', 'master key must be 32 bytes');
    this.master = Buffer.from(opts.masterKey);
    this.description = `SOFTWARE key backend (NOT AN HSM: keys in process memory${opts.keyFile ? `, persisted in ${opts.keyFile} under a master key file` : ''})`;
    this.caps = {
      kind: 'software',
      token: this.description,
      aesKeyBits: [128, 192, 256],
      genericSecretBits: { min: 8, max: 4096 },
      ciphers: ['AES_GCM', 'AES_CBC', 'AES_CBC_PAD', 'AES_CTR', 'AES_ECB'],
      wraps: ['AES_KEY_WRAP', 'AES_KEY_WRAP_PAD', 'AES_GCM'],
      macs: (Object.keys(HMAC_HASH) as MacMechanism[]).map((mechanism) => ({ mechanism, minKeyBits: 8, maxKeyBits: 8192 * 8 })),
      importKeys: true,
      persistentKeys: opts.keyFile !== undefined,
      maxSessions: Number.POSITIVE_INFINITY,
      quirks: [],
      rsaKeyBits: [2048, 3072, 4096],
      ecCurves: ['P-256', 'P-384'],
      asymmetricSigns: ['RSA_PKCS1', 'RSA_PSS', 'ECDSA'],
      asymmetricDecrypts: ['RSA_OAEP'],
      oaepHashes: ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'],
      oaepMixedHashes: true,
      oaepLabels: true,
    };
    if (opts.keyFile && existsSync(opts.keyFile)) this.load(opts.keyFile);
  }

  /** Open with a master key file (created when absent) and a key file beside it. */
  static open(paths: { masterKeyFile: string; keyFile?: string }): SoftwareBackend {
    return new SoftwareBackend({ masterKey: loadOrCreateMasterKey(paths.masterKeyFile), keyFile: paths.keyFile });
  }

  capabilities(): BackendCapabilities {
    return this.caps;
  }

  async generateKey(t: KeyTemplate): Promise<KeyRef> {
    this.open();
    checkTemplate(t, this.caps);
    return this.add(t, randomBytes(t.bits / 8));
  }

  async importKey(t: KeyTemplate, value: Uint8Array): Promise<KeyRef> {
    this.open();
    checkImport(t, value, this.caps);
    return this.add(t, Buffer.from(value));
  }

  async exportKey(ref: KeyRef): Promise<Uint8Array> {
    const k = this.get(ref);
    if (k.ref.sensitive || !k.ref.extractable) throw new HsmError('CKR_ATTRIBUTE_SENSITIVE', 'the key is sensitive or not extractable; its value cannot be read');
    return Buffer.from(k.value);
  }

  async wrapKey(p: WrapParams, wrappingRef: KeyRef, ref: KeyRef): Promise<Uint8Array> {
    const w = this.get(wrappingRef);
    const k = this.get(ref);
    this.need(w, 'wrap', 'AES');
    if (!k.ref.extractable) throw new HsmError('CKR_KEY_UNEXTRACTABLE', 'the key is not extractable');
    const kek = w.value;
    switch (p.mechanism) {
      case 'AES_KEY_WRAP': {
        if (k.value.length % 8 !== 0 || k.value.length < 16) throw new HsmError('CKR_KEY_SIZE_RANGE', 'RFC 3394 wraps keys of 16 bytes or more in 8-byte steps; use AES_KEY_WRAP_PAD');
        return run(() => cipherOnce(createCipheriv(`id-aes${kek.length * 8}-wrap`, kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex')), k.value));
      }
      case 'AES_KEY_WRAP_PAD':
        return run(() => cipherOnce(createCipheriv(`id-aes${kek.length * 8}-wrap-pad`, kek, Buffer.from('A65959A6', 'hex')), k.value));
      case 'AES_GCM':
        return gcmEncrypt(kek, p.iv, p.aad, 16, k.value);
      default:
        throw new HsmError('NOT_SUPPORTED', `unknown wrap mechanism ${String((p as { mechanism: unknown }).mechanism)}`);
    }
  }

  async unwrapKey(p: WrapParams, unwrappingRef: KeyRef, wrapped: Uint8Array, t: UnwrapTemplate): Promise<KeyRef> {
    checkUnwrapTemplate(t);
    const w = this.get(unwrappingRef);
    this.need(w, 'unwrap', 'AES');
    const kek = w.value;
    let value: Buffer;
    try {
      switch (p.mechanism) {
        case 'AES_KEY_WRAP':
          value = cipherOnce(createDecipheriv(`id-aes${kek.length * 8}-wrap`, kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex')), wrapped);
          break;
        case 'AES_KEY_WRAP_PAD':
          value = cipherOnce(createDecipheriv(`id-aes${kek.length * 8}-wrap-pad`, kek, Buffer.from('A65959A6', 'hex')), wrapped);
          break;
        case 'AES_GCM':
          value = gcmDecrypt(kek, p.iv, p.aad, 16, wrapped);
          break;
        default:
          throw new HsmError('NOT_SUPPORTED', `unknown wrap mechanism ${String((p as { mechanism: unknown }).mechanism)}`);
      }
    } catch (e) {
      if (e instanceof HsmError && e.code === 'NOT_SUPPORTED') throw e;
      throw new HsmError('CKR_WRAPPED_KEY_INVALID', 'the wrapped key failed to unwrap', { cause: e });
    }
    const full: KeyTemplate = { ...t, bits: value.length * 8 };
    if (t.type === 'AES' && !this.caps.aesKeyBits.includes(full.bits)) {
      value.fill(0);
      throw new HsmError('CKR_WRAPPED_KEY_LEN_RANGE', `an unwrapped AES key must be 16, 24 or 32 bytes, not ${full.bits / 8}`);
    }
    return this.add(full, value);
  }

  async encrypt(p: CipherParams, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    checkCipherParams(p);
    const k = this.get(ref);
    this.need(k, 'encrypt', 'AES');
    return this.cipher(p, k.value, data, true);
  }

  async decrypt(p: CipherParams, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    checkCipherParams(p);
    const k = this.get(ref);
    this.need(k, 'decrypt', 'AES');
    return this.cipher(p, k.value, data, false);
  }

  async sign(mechanism: MacMechanism, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    const k = this.get(ref);
    this.need(k, 'sign', 'GENERIC_SECRET');
    return createHmac(hashOf(mechanism), k.value).update(data).digest();
  }

  async verify(mechanism: MacMechanism, ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const k = this.get(ref);
    this.need(k, 'verify', 'GENERIC_SECRET');
    const mac = createHmac(hashOf(mechanism), k.value).update(data).digest();
    return mac.length === signature.length && timingSafeEqual(mac, signature);
  }

  async random(length: number): Promise<Uint8Array> {
    this.open();
    checkRandomLength(length);
    return randomBytes(length);
  }

  /** The private key is kept as PKCS#8 DER, sealed at rest like a secret key's value. */
  async generateKeyPair(t: KeyPairTemplate): Promise<GeneratedKeyPair> {
    this.open();
    checkKeyPairTemplate(t, this.caps);
    const pair = t.type === 'RSA' ? generateKeyPairSync('rsa', { modulusLength: t.bits }) : generateKeyPairSync('ec', { namedCurve: t.curve });
    const ref = this.store(t, t.type === 'RSA' ? t.bits : t.curve === 'P-256' ? 256 : 384, [...(t.usage ?? ['sign'])], pair.privateKey.export({ format: 'der', type: 'pkcs8' }));
    return { privateKey: ref, publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }) };
  }

  async signDigest(p: AsymmetricSignParams, ref: KeyRef, digest: Uint8Array): Promise<Uint8Array> {
    const k = this.get(ref);
    checkSignDigest(p, k.ref, digest, this.caps);
    const key = createPrivateKey({ key: k.value, format: 'der', type: 'pkcs8' });
    const once = (f: () => Buffer): Buffer => {
      try {
        return f();
      } catch (e) {
        throw e instanceof HsmError ? e : new HsmError('CKR_FUNCTION_FAILED', `${p.mechanism} signing failed`, { cause: e });
      }
    };
    return once(() => {
      switch (p.mechanism) {
        case 'RSA_PKCS1':
          return privateEncrypt({ key, padding: CC.RSA_PKCS1_PADDING }, Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[p.hash], 'hex'), digest]));
        case 'RSA_PSS':
          return Buffer.from(pssSignDigest(key, p.hash, digest, p.saltLength));
        case 'ECDSA': {
          const rs = decodeSig(ecdsaSignDigest(key, digest));
          if (!rs) throw new HsmError('CKR_GENERAL_ERROR', 'ECDSA signing failed');
          const n = Math.ceil(k.ref.bits / 8);
          const fixed = (v: bigint) => Buffer.from(v.toString(16).padStart(n * 2, '0'), 'hex');
          return Buffer.concat([fixed(rs.r), fixed(rs.s)]);
        }
      }
    });
  }

  async decryptAsymmetric(p: AsymmetricDecryptParams, ref: KeyRef, data: Uint8Array): Promise<Uint8Array> {
    const k = this.get(ref);
    checkDecryptAsymmetric(p, k.ref, this.caps);
    const key = createPrivateKey({ key: k.value, format: 'der', type: 'pkcs8' });
    const mgfHash = p.mgfHash ?? p.hash;
    try {
      // Equal hashes: OpenSSL's OAEP; an MGF1 hash of its own: the EME-OAEP codec over raw RSA.
      if (mgfHash !== p.hash) return oaepDecrypt(key, { hash: p.hash, mgfHash, ...(p.label && { label: p.label }) }, data);
      return privateDecrypt({ key, padding: CC.RSA_PKCS1_OAEP_PADDING, oaepHash: p.hash, ...(p.label && p.label.length > 0 && { oaepLabel: Buffer.from(p.label) }) }, data);
    } catch (e) {
      throw new HsmError('CKR_ENCRYPTED_DATA_INVALID', 'OAEP decryption failed', { cause: e });
    }
  }

  async destroyKey(ref: KeyRef): Promise<void> {
    const k = this.get(ref);
    this.keys.delete(k.ref.id);
    k.value.fill(0);
    if (k.ref.token) this.persist();
  }

  async findKeys(q: FindQuery): Promise<KeyRef[]> {
    this.open();
    const id = q.id ? hex(q.id) : undefined;
    return [...this.keys.values()]
      .map((k) => k.ref)
      .filter((r) => (q.label === undefined || r.label === q.label) && (id === undefined || r.id === id) && (q.token === undefined || r.token === q.token));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const k of this.keys.values()) k.value.fill(0);
    this.keys.clear();
    this.master.fill(0);
  }

  // --- internals ---

  private open(): void {
    if (this.closed) throw new HsmError('CLOSED', 'the key backend is closed');
  }

  private get(ref: KeyRef): SoftKey {
    this.open();
    const k = this.keys.get(ref.id);
    if (!k) throw new HsmError('KEY_NOT_FOUND', `no key with id ${ref.id}`);
    return k;
  }

  private need(k: SoftKey, usage: KeyUsage, type: SecretKeyType): void {
    if (k.ref.type !== type) throw new HsmError('CKR_KEY_TYPE_INCONSISTENT', `this operation needs a ${type} key, not ${k.ref.type}`);
    if (!k.ref.usage.includes(usage)) throw new HsmError('CKR_KEY_FUNCTION_NOT_PERMITTED', `the key does not allow ${usage}`);
  }

  private add(t: KeyTemplate, value: Buffer): KeyRef {
    return this.store(t, value.length * 8, [...t.usage], value);
  }

  /** A new key under a fresh (or the template's) CKA_ID; token keys are persisted at once. */
  private store(
    t: { id?: Uint8Array; label?: string; token: boolean; type: KeyRef['type']; sensitive: boolean; extractable: boolean },
    bits: number,
    usage: KeyUsage[],
    value: Buffer,
  ): KeyRef {
    const id = t.id ? hex(t.id) : randomBytes(16).toString('hex');
    if (this.keys.has(id)) throw new HsmError('BAD_ARGUMENT', `a key with id ${id} exists`);
    const ref: KeyRef = { id, ...(t.label !== undefined ? { label: t.label } : {}), token: t.token, type: t.type, bits, sensitive: t.sensitive, extractable: t.extractable, usage };
    this.keys.set(id, { ref, value });
    if (t.token) this.persist();
    return ref;
  }

  private cipher(p: CipherParams, key: Buffer, data: Uint8Array, enc: boolean): Buffer {
    const bits = key.length * 8;
    switch (p.mechanism) {
      case 'AES_GCM': {
        const tagBytes = (p.tagBits ?? 128) / 8;
        return enc ? gcmEncrypt(key, p.iv, p.aad, tagBytes, data) : gcmDecrypt(key, p.iv, p.aad, tagBytes, data);
      }
      case 'AES_CBC':
      case 'AES_ECB': {
        if (data.length % 16 !== 0) throw new HsmError(enc ? 'CKR_DATA_LEN_RANGE' : 'CKR_ENCRYPTED_DATA_LEN_RANGE', 'data must be whole 16-byte blocks');
        const name = `aes-${bits}-${p.mechanism === 'AES_CBC' ? 'cbc' : 'ecb'}`;
        const iv = p.mechanism === 'AES_CBC' ? p.iv : null;
        const c = enc ? createCipheriv(name, key, iv) : createDecipheriv(name, key, iv);
        c.setAutoPadding(false);
        return cipherOnce(c, data);
      }
      case 'AES_CBC_PAD': {
        if (!enc && (data.length === 0 || data.length % 16 !== 0)) throw new HsmError('CKR_ENCRYPTED_DATA_LEN_RANGE', 'data must be whole 16-byte blocks');
        const c = enc ? createCipheriv(`aes-${bits}-cbc`, key, p.iv) : createDecipheriv(`aes-${bits}-cbc`, key, p.iv);
        try {
          return cipherOnce(c, data);
        } catch (e) {
          throw new HsmError('CKR_ENCRYPTED_DATA_INVALID', 'bad CBC padding', { cause: e });
        }
      }
      case 'AES_CTR': {
        if ((p.counterBits ?? 128) !== 128) throw new HsmError('NOT_SUPPORTED', 'the software backend counts with the whole 128-bit block');
        const c = enc ? createCipheriv(`aes-${bits}-ctr`, key, p.counterBlock) : createDecipheriv(`aes-${bits}-ctr`, key, p.counterBlock);
        return cipherOnce(c, data);
      }
    }
  }

  private persist(): void {
    const file = this.opts.keyFile;
    if (!file) return;
    const keys: StoredKey[] = [];
    for (const k of this.keys.values()) {
      if (!k.ref.token) continue;
      const meta = {
        id: k.ref.id,
        ...(k.ref.label !== undefined ? { label: k.ref.label } : {}),
        type: k.ref.type,
        bits: k.ref.bits,
        sensitive: k.ref.sensitive,
        extractable: k.ref.extractable,
        usage: [...k.ref.usage],
      };
      const iv = randomBytes(12);
      const sealed = gcmEncrypt(this.master, iv, attrAad(meta), 16, k.value);
      keys.push({ ...meta, iv: iv.toString('base64'), sealed: sealed.toString('base64') });
    }
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ v: KEY_FILE_VERSION, keys }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }

  private load(file: string): void {
    let parsed: { v?: unknown; keys?: unknown };
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
    } catch (e) {
      throw new HsmError('BAD_ARGUMENT', `key file ${file} cannot be read`, { cause: e });
    }
    if (parsed.v !== KEY_FILE_VERSION || !Array.isArray(parsed.keys)) throw new HsmError('BAD_ARGUMENT', `key file ${file} has an unknown format`);
    for (const s of parsed.keys as StoredKey[]) {
      const meta = { id: s.id, ...(s.label !== undefined ? { label: s.label } : {}), type: s.type, bits: s.bits, sensitive: s.sensitive, extractable: s.extractable, usage: s.usage };
      let value: Buffer;
      try {
        value = gcmDecrypt(this.master, Buffer.from(s.iv, 'base64'), attrAad(meta), 16, Buffer.from(s.sealed, 'base64'));
      } catch (e) {
        throw new HsmError('CKR_ENCRYPTED_DATA_INVALID', `key ${s.id} in ${file} failed authentication (edited, or another master key)`, { cause: e });
      }
      this.keys.set(s.id, { ref: { ...meta, token: true, usage: [...s.usage] }, value });
    }
  }
}

function hashOf(m: MacMechanism): string {
  const h = HMAC_HASH[m];
  if (!h) throw new HsmError('NOT_SUPPORTED', `unknown MAC mechanism ${String(m)}`);
  return h;
}

function cipherOnce(c: { update(d: Uint8Array): Buffer; final(): Buffer }, data: Uint8Array): Buffer {
  return Buffer.concat([c.update(data), c.final()]);
}

function run(f: () => Buffer): Buffer {
  try {
    return f();
  } catch (e) {
    throw new HsmError('CKR_FUNCTION_FAILED', 'wrap failed', { cause: e });
  }
}

function gcmEncrypt(key: Buffer, iv: Uint8Array, aad: Uint8Array | undefined, tagBytes: number, data: Uint8Array): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, iv, { authTagLength: tagBytes }) as CipherGCM;
  if (aad) c.setAAD(aad);
  return Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
}

function gcmDecrypt(key: Buffer, iv: Uint8Array, aad: Uint8Array | undefined, tagBytes: number, data: Uint8Array): Buffer {
  if (data.length < tagBytes) throw new HsmError('CKR_ENCRYPTED_DATA_LEN_RANGE', 'GCM input is shorter than its tag');
  const d = createDecipheriv(`aes-${key.length * 8}-gcm` as 'aes-256-gcm', key, iv, { authTagLength: tagBytes }) as DecipherGCM;
  if (aad) d.setAAD(aad);
  d.setAuthTag(data.subarray(data.length - tagBytes));
  try {
    return Buffer.concat([d.update(data.subarray(0, data.length - tagBytes)), d.final()]);
  } catch (e) {
    throw new HsmError('CKR_ENCRYPTED_DATA_INVALID', 'GCM authentication failed', { cause: e });
  }
}
