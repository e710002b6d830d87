/**
 * PKCS#11 mechanisms for the backend: what the token offers (probed once from
 * C_GetMechanismList / C_GetMechanismInfo into BackendCapabilities, with the known SoftHSM2
 * quirks), and the CK_MECHANISM (with its parameters) for each backend call: AES ciphers (GCM,
 * CBC, CBC_PAD, CTR, ECB), key wraps (RFC 3394, RFC 5649, GCM), HMACs, RSA PKCS#1 v1.5 / PSS and
 * ECDSA signatures over a digest, RSA-OAEP decryption.
 */
import {
  HsmError,
  DIGEST_INFO_PREFIX,
  type AsymmetricDecryptParams,
  type AsymmetricSignMechanism,
  type AsymmetricSignParams,
  type BackendCapabilities,
  type BackendQuirk,
  type CipherMechanism,
  type CipherParams,
  type DigestHash,
  type EcCurve,
  type MacMechanism,
  type WrapMechanism,
  type WrapParams,
} from '../key-backend.js';
import type { Pkcs11, Pkcs11Lib } from './module.js';
import { CURVES } from './templates.js';

/** The token's mechanism numbers for what the backend offers. */
export interface Mechs {
  readonly cipher: Partial<Record<CipherMechanism, number>>;
  readonly wrap: Partial<Record<WrapMechanism, number>>;
  readonly mac: Partial<Record<MacMechanism, number>>;
  readonly asym: Partial<Record<AsymmetricSignMechanism, number>>;
}

type GcmParameter = { type: number; iv: Buffer; ivBits: number; aad?: Buffer; tagBits: number };

export function cipherMechanism(P: Pkcs11Lib, mechs: Mechs, p: CipherParams, description: string): { mechanism: number; parameter?: Buffer | GcmParameter } {
  const m = mechs.cipher[p.mechanism];
  if (m === undefined) throw new HsmError('NOT_SUPPORTED', `${p.mechanism} is not offered by ${description}`);
  switch (p.mechanism) {
    case 'AES_GCM':
      return { mechanism: m, parameter: gcmParams(P, p.iv, p.aad, p.tagBits ?? 128) };
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

function gcmParams(P: Pkcs11Lib, iv: Uint8Array, aad: Uint8Array | undefined, tagBits: number): GcmParameter {
  return { type: P.CK_PARAMS_AES_GCM, iv: Buffer.from(iv), ivBits: iv.length * 8, ...(aad ? { aad: Buffer.from(aad) } : {}), tagBits };
}

export function wrapMechanism(P: Pkcs11Lib, mechs: Mechs, p: WrapParams, description: string): { mechanism: number; parameter?: GcmParameter } {
  const m = mechs.wrap[p.mechanism];
  if (m === undefined) throw new HsmError('NOT_SUPPORTED', `wrapping with ${p.mechanism} is not offered by ${description}`);
  return p.mechanism === 'AES_GCM' ? { mechanism: m, parameter: gcmParams(P, p.iv, p.aad, 128) } : { mechanism: m };
}

export function macMechanism(mechs: Mechs, m: MacMechanism, description: string): number {
  const v = mechs.mac[m];
  if (v === undefined) throw new HsmError('NOT_SUPPORTED', `${String(m)} is not offered by ${description}`);
  return v;
}

const PSS_HASH: Readonly<
  Record<DigestHash, { hash: 'CKM_SHA224' | 'CKM_SHA256' | 'CKM_SHA384' | 'CKM_SHA512'; mgf: 'CKG_MGF1_SHA224' | 'CKG_MGF1_SHA256' | 'CKG_MGF1_SHA384' | 'CKG_MGF1_SHA512' }>
> = {
  sha224: { hash: 'CKM_SHA224', mgf: 'CKG_MGF1_SHA224' },
  sha256: { hash: 'CKM_SHA256', mgf: 'CKG_MGF1_SHA256' },
  sha384: { hash: 'CKM_SHA384', mgf: 'CKG_MGF1_SHA384' },
  sha512: { hash: 'CKM_SHA512', mgf: 'CKG_MGF1_SHA512' },
};

/** PKCS#11 CKZ_DATA_SPECIFIED (the OAEP label source; pkcs11js has no constant for it). */
const CKZ_DATA_SPECIFIED = 0x00000001;

const OAEP_HASH: Readonly<
  Record<AsymmetricDecryptParams['hash'], { hash: 'CKM_SHA_1' | (typeof PSS_HASH)[DigestHash]['hash']; mgf: 'CKG_MGF1_SHA1' | (typeof PSS_HASH)[DigestHash]['mgf'] }>
> = {
  sha1: { hash: 'CKM_SHA_1', mgf: 'CKG_MGF1_SHA1' },
  ...PSS_HASH,
};

/**
 * A signature over a digest: RSA_PKCS1 is CKM_RSA_PKCS over DigestInfo (the input returned),
 * RSA_PSS CKM_RSA_PKCS_PSS with CK_RSA_PKCS_PSS_PARAMS, ECDSA CKM_ECDSA (r ‖ s).
 */
export function signMechanism(
  P: Pkcs11Lib,
  mechs: Mechs,
  p: AsymmetricSignParams,
  digest: Uint8Array,
): { mech: { mechanism: number; parameter?: { type: number; hashAlg: number; mgf: number; saltLen: number } }; input: Buffer } {
  const m = mechs.asym[p.mechanism]!;
  const input = Buffer.from(digest);
  if (p.mechanism === 'RSA_PSS') {
    const h = PSS_HASH[p.hash];
    return { mech: { mechanism: m, parameter: { type: P.CK_PARAMS_RSA_PSS, hashAlg: P[h.hash], mgf: P[h.mgf], saltLen: p.saltLength } }, input };
  }
  if (p.mechanism === 'RSA_PKCS1') return { mech: { mechanism: m }, input: Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[p.hash], 'hex'), input]) };
  return { mech: { mechanism: m }, input };
}

/**
 * CKM_RSA_PKCS_OAEP with CK_RSA_PKCS_OAEP_PARAMS: hashAlg the label hash, mgf CKG_MGF1_<MGF1 hash>
 * (PKCS#11 carries the two separately), source CKZ_DATA_SPECIFIED with the label as its data.
 */
export function oaepMechanism(P: Pkcs11Lib, p: AsymmetricDecryptParams) {
  return {
    mechanism: P.CKM_RSA_PKCS_OAEP,
    parameter: {
      type: P.CK_PARAMS_RSA_OAEP,
      hashAlg: P[OAEP_HASH[p.hash].hash],
      mgf: P[OAEP_HASH[p.mgfHash ?? p.hash].mgf],
      source: CKZ_DATA_SPECIFIED,
      ...(p.label !== undefined && p.label.length > 0 && { sourceData: Buffer.from(p.label) }),
    },
  };
}

/** What the token offers, from C_GetMechanismList / C_GetMechanismInfo. */
export function probe(
  p11: Pkcs11,
  P: Pkcs11Lib,
  slot: Buffer,
  manufacturer: string,
  fw: { major: number; minor: number },
): { mechs: Mechs; caps: Omit<BackendCapabilities, 'token' | 'maxSessions'> } {
  const list = new Set(p11.C_GetMechanismList(slot));
  const info = (m: number) => (list.has(m) ? p11.C_GetMechanismInfo(slot, m) : undefined);
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
