/**
 * Cryptography with an HSM-resident key: the same KMIP Cryptographic Parameters as the host's
 * mechanisms (src/crypto/mechanism.ts), turned into KeyBackend calls (PKCS#11 mechanisms), so the key value never leaves the token. A part-by-part
 * operation collects the data and runs one HSM call at the end (PKCS#11 single-part calls on a pooled session; a
 * PKCS#11 multi-part operation would pin a session across requests).
 *
 * Served: AES in ECB, CBC (PKCS5 or no padding), CTR and GCM; HMAC-SHA1/224/256/384/512. Other
 * modes (XTS, CMAC, ChaCha20) need the key value in the host and are refused as unsupported.
 */
import { BlockCipherMode, CryptographicAlgorithm } from '../kmip/generated/enums.gen.js';
import { HsmError, type AsymmetricDecryptParams, type CipherParams, type KeyBackend, type KeyRef, type MacMechanism } from '../hsm/key-backend.js';
import { CIPHER_POLICY, type CipherPolicy } from '../policy/crypto-policy.js';
import { CryptoError } from '../crypto/errors.js';
import { aeadTag, counterBlock, ivFor, padded, rsaDecryptScheme, type CipherInput, type CryptoParams, type Direction } from '../crypto/mechanism.js';

/** Data collected across parts before the one HSM call (a bound on memory per operation). */
export const HSM_MAX_DATA_BYTES = 16 * 1024 * 1024;

export interface HsmCipherStream {
  readonly generatedIv?: Uint8Array;
  update(data: Uint8Array): Uint8Array;
  final(tag?: Uint8Array): Promise<{ readonly data: Uint8Array; readonly tag?: Uint8Array }>;
  /** Bytes of data held until the end (the multi-part budgets count them). */
  held(): number;
}

export interface HsmDigestStream {
  update(data: Uint8Array): void;
  digest(): Promise<Uint8Array>;
  /** Bytes of data held until the end (the multi-part budgets count them). */
  held(): number;
}

const bad = (m: string) => new CryptoError('BAD_PARAMETERS', m);
const unsupported = (m: string) => new CryptoError('UNSUPPORTED', m);

function collector(): { add(d: Uint8Array): void; all(): Buffer; held(): number } {
  const parts: Uint8Array[] = [];
  let total = 0;
  return {
    add(d) {
      total += d.length;
      if (total > HSM_MAX_DATA_BYTES) throw new CryptoError('BAD_DATA', `an operation with an HSM-resident key is limited to ${HSM_MAX_DATA_BYTES} bytes`);
      parts.push(d);
    },
    all: () => Buffer.concat(parts),
    held: () => total,
  };
}

/** An HSM failure as a mechanism error: a bad GCM tag or padding is a cryptographic failure. */
function hsmFailure(e: unknown, dir: Direction): never {
  if (e instanceof HsmError) {
    if (dir === 'decrypt' && (e.code === 'CKR_ENCRYPTED_DATA_INVALID' || e.code === 'CKR_ENCRYPTED_DATA_LEN_RANGE')) {
      throw new CryptoError('FAILURE', 'decryption failed in the HSM (authentication tag or padding)', { cause: e });
    }
    if (e.code === 'CKR_DATA_LEN_RANGE') throw new CryptoError('BAD_DATA', 'the data length does not suit the mode', { cause: e });
  }
  throw new CryptoError('FAILURE', `the HSM operation failed: ${(e as Error).message}`, { cause: e });
}

export function openHsmCipher(
  backend: KeyBackend,
  key: KeyRef,
  algorithm: number,
  params: CryptoParams,
  dir: Direction,
  input: CipherInput,
  policy: CipherPolicy = CIPHER_POLICY,
): HsmCipherStream {
  if (algorithm !== CryptographicAlgorithm.AES) throw unsupported('an HSM-resident key is served for AES encryption only');
  const mode = params.blockCipherMode;
  if (mode === undefined) throw bad("Block Cipher Mode is required for AES (in the request or the key's Cryptographic Parameters)");
  if (!policy.aesModes.has(mode)) throw unsupported(`AES in Block Cipher Mode ${mode} is not allowed by the server crypto policy (cryptoPolicy.aesModes)`);
  if (input.aad && mode !== BlockCipherMode.GCM) throw bad('Authenticated Encryption Additional Data applies to GCM only');
  let p: CipherParams;
  let generated: Uint8Array | undefined;
  let tagBytes = 0;
  let blockAligned = false;
  switch (mode) {
    case BlockCipherMode.ECB:
      if (padded(params)) throw unsupported('ECB with padding is not served for HSM-resident keys');
      p = { mechanism: 'AES_ECB' };
      blockAligned = true;
      break;
    case BlockCipherMode.CBC: {
      const iv = ivFor(input, params, dir, 16);
      if (iv.iv.length !== 16) throw bad('a CBC IV is 16 bytes');
      generated = iv.generated;
      const pad = padded(params);
      p = { mechanism: pad ? 'AES_CBC_PAD' : 'AES_CBC', iv: iv.iv };
      blockAligned = !pad || dir === 'decrypt';
      break;
    }
    case BlockCipherMode.CTR: {
      const iv = ivFor(input, params, dir, 16);
      generated = iv.generated;
      p = { mechanism: 'AES_CTR', counterBlock: counterBlock(iv.iv, params.initialCounterValue) };
      break;
    }
    case BlockCipherMode.GCM: {
      tagBytes = aeadTag(params, policy);
      const iv = ivFor(input, params, dir, 12);
      if (iv.iv.length < policy.gcmMinIvBytes) throw bad(`a GCM IV must be at least ${policy.gcmMinIvBytes} bytes`);
      generated = iv.generated;
      p = { mechanism: 'AES_GCM', iv: iv.iv, ...(input.aad && { aad: input.aad }), tagBits: (tagBytes * 8) as 96 | 104 | 112 | 120 | 128 };
      break;
    }
    default:
      throw unsupported(`AES in Block Cipher Mode ${mode} needs the key value in the host; it is not served for an HSM-resident key`);
  }
  const data = collector();
  return {
    ...(generated && { generatedIv: generated }),
    held: data.held,
    update(d) {
      data.add(d);
      return new Uint8Array(0);
    },
    async final(tag) {
      const all = data.all();
      if (blockAligned && all.length % 16 !== 0) throw new CryptoError('BAD_DATA', 'the data must be a whole number of 16-byte blocks');
      if (p.mechanism === 'AES_GCM') {
        if (dir === 'encrypt') {
          let out: Uint8Array;
          try {
            out = await backend.encrypt(p, key, all);
          } catch (e) {
            hsmFailure(e, dir);
          }
          return { data: out.subarray(0, out.length - tagBytes), tag: out.subarray(out.length - tagBytes) };
        }
        if (!tag) throw bad('Authenticated Encryption Tag is required to decrypt');
        if (tag.length !== tagBytes) throw new CryptoError('FAILURE', `the Authenticated Encryption Tag must be ${tagBytes} bytes`);
        try {
          return { data: await backend.decrypt(p, key, Buffer.concat([all, tag])) };
        } catch (e) {
          hsmFailure(e, dir);
        }
      }
      try {
        return { data: dir === 'encrypt' ? await backend.encrypt(p, key, all) : await backend.decrypt(p, key, all) };
      } catch (e) {
        hsmFailure(e, dir);
      }
    },
  };
}

const HSM_MACS: ReadonlyMap<number, MacMechanism> = new Map([
  [CryptographicAlgorithm.HMAC_SHA1, 'HMAC_SHA1'],
  [CryptographicAlgorithm.HMAC_SHA224, 'HMAC_SHA224'],
  [CryptographicAlgorithm.HMAC_SHA256, 'HMAC_SHA256'],
  [CryptographicAlgorithm.HMAC_SHA384, 'HMAC_SHA384'],
  [CryptographicAlgorithm.HMAC_SHA512, 'HMAC_SHA512'],
]);

export function hsmMacMechanism(algorithm: number | undefined): MacMechanism | undefined {
  return algorithm === undefined ? undefined : HSM_MACS.get(algorithm);
}

export function openHsmMac(backend: KeyBackend, key: KeyRef, keyAlgorithm: number | undefined, params: CryptoParams): HsmDigestStream {
  const algorithm = params.cryptographicAlgorithm ?? keyAlgorithm;
  const mech = hsmMacMechanism(algorithm);
  if (!mech) throw unsupported(`Cryptographic Algorithm ${algorithm ?? '(none)'} is not served for MAC with an HSM-resident key (HMAC-SHA1/224/256/384/512)`);
  if (params.blockCipherMode !== undefined) throw bad('HMAC takes no Block Cipher Mode');
  const data = collector();
  return {
    held: data.held,
    update: (d) => data.add(d),
    async digest() {
      try {
        return await backend.sign(mech, key, data.all());
      } catch (e) {
        hsmFailure(e, 'encrypt');
      }
    },
  };
}

/**
 * RSA-OAEP decryption with an HSM-resident private key: the parameters as for a host key (label
 * hash, MGF1 hash, label), passed to the HSM as CK_RSA_PKCS_OAEP_PARAMS. What the token cannot
 * take (SoftHSM2: SHA-1 only, MGF1 over the label hash only, no label) is refused before the call
 * as Unsupported Cryptographic Parameters (2.x) / Invalid Field (1.x), never tried in the host.
 */
export async function hsmRsaDecrypt(backend: KeyBackend, key: KeyRef, params: CryptoParams, data: Uint8Array, policy: CipherPolicy = CIPHER_POLICY): Promise<Uint8Array> {
  const s = rsaDecryptScheme(params, policy);
  const caps = backend.capabilities();
  const hash = s.hash as AsymmetricDecryptParams['hash'];
  const mgfHash = s.mgfHash as AsymmetricDecryptParams['hash'];
  const offered = caps.oaepHashes.join(', ') || 'no hash';
  if (!caps.oaepHashes.includes(hash)) throw unsupported(`the HSM decrypts OAEP with ${offered} only, not ${hash}`);
  if (!caps.oaepHashes.includes(mgfHash)) throw unsupported(`the HSM decrypts OAEP with MGF1 over ${offered} only, not ${mgfHash}`);
  if (mgfHash !== hash && !caps.oaepMixedHashes) throw unsupported(`the HSM decrypts OAEP with MGF1 over the label hash only (asked: ${hash} label hash, MGF1 over ${mgfHash})`);
  if (s.label && !caps.oaepLabels) throw unsupported('the HSM decrypts OAEP with an empty label (P Source) only');
  try {
    return await backend.decryptAsymmetric({ mechanism: 'RSA_OAEP', hash, mgfHash, ...(s.label && { label: s.label }) }, key, data);
  } catch (e) {
    hsmFailure(e, 'decrypt');
  }
}
