/**
 * Recovery: how the per-backup file key is found again on a NEW server (another machine,
 * another HSM, nothing of the old server's secrets).
 *
 * The data folder's recovery.json (written by `kms init`; src/folder/recovery-setup.ts) lists
 * recipients, public keys only:
 *   - `rsa-oaep-sha256`: an operator's RSA key (≥ 2048 bits); the file key is encrypted with
 *     RSA-OAEP, SHA-256 and MGF1-SHA-256, OAEP label "kms-backup-file-key-v1".
 *   - `ecies-p256`: a P-256 key. For each backup an ephemeral P-256 key pair is drawn;
 *     Z = ECDH(ephemeral, recipient); KEK = HKDF-SHA-256(Z, salt = ephemeral point ‖
 *     recipient point, info "kms-backup-ecies-p256-v1"); the file key is sealed with
 *     AES-256-GCM under KEK, associated data "kms-backup-file-key-v1\0" ‖ key id.
 *     Either an operator's own P-256 key, or one made by `kms init --shares N --threshold M`:
 *     its private scalar is split into N Shamir shares (GF(256)) for custodians and then
 *     forgotten; the server keeps only the public key, so it can make backups that no one
 *     on the server can read.
 * A recipient's key id is the SHA-256 of its SubjectPublicKeyInfo (DER), hex, first 32
 * digits; the backup header names the recipients by it.
 */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  constants,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { combine, split, type Share } from './shamir.js';
import { BackupError } from './errors.js';
import type { Recipient, RecipientKind, RecoveryConfig } from '../folder/recovery-setup.js';

// The recovery setup's format belongs to the data folder (src/folder/recovery-setup.ts).
export type { Recipient, RecipientKind, RecoveryConfig };

const OAEP_LABEL = Buffer.from('kms-backup-file-key-v1');
const ECIES_INFO = 'kms-backup-ecies-p256-v1';
const FILE_KEY_AAD = 'kms-backup-file-key-v1\0';

/** A recipient entry in a backup header: the file key, wrapped. */
export type WrappedKey =
  | { readonly kind: 'rsa-oaep-sha256'; readonly keyId: string; readonly wrapped: string }
  | { readonly kind: 'ecies-p256'; readonly keyId: string; readonly ephemeral: string; readonly iv: string; readonly wrapped: string };

export function keyIdOf(pub: KeyObject): string {
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 32);
}

/** A recipient from a public key (or certificate-less private key) PEM. Refuses weak or unsupported keys. */
/** The recovery public keys in PEM files, as recipients; an unreadable file is IO, an unusable key BAD_KEY. */
export function recipientsFromFiles(files: readonly string[]): Recipient[] {
  return files.map((f) => {
    let pem: Buffer;
    try {
      pem = readFileSync(f);
    } catch (e) {
      throw new BackupError('IO', `cannot read ${f}: ${(e as Error).message}`);
    }
    try {
      return recipientFromPem(pem);
    } catch (e) {
      throw new BackupError('BAD_KEY', `${f}: ${(e as Error).message}`);
    }
  });
}

export function recipientFromPem(pem: string | Buffer): Recipient {
  let pub: KeyObject;
  try {
    pub = createPublicKey(pem);
  } catch (e) {
    throw new BackupError('BAD_KEY', `not a public key PEM: ${(e as Error).message}`);
  }
  return recipientFromKey(pub);
}

function recipientFromKey(pub: KeyObject): Recipient {
  const d = pub.asymmetricKeyDetails ?? {};
  const publicKey = pub.export({ type: 'spki', format: 'pem' }).toString();
  if (pub.asymmetricKeyType === 'rsa') {
    if ((d.modulusLength ?? 0) < 2048) throw new BackupError('BAD_KEY', `RSA recovery keys need at least 2048 bits (got ${d.modulusLength})`);
    return { kind: 'rsa-oaep-sha256', keyId: keyIdOf(pub), publicKey };
  }
  if (pub.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1') return { kind: 'ecies-p256', keyId: keyIdOf(pub), publicKey };
  throw new BackupError('BAD_KEY', `recovery keys must be RSA (≥ 2048 bits) or EC P-256, not ${pub.asymmetricKeyType}${d.namedCurve ? ` ${d.namedCurve}` : ''}`);
}

/** A share as handed to a custodian (one JSON file each). */
export interface ShareFile {
  readonly kmsBackupShare: 1;
  readonly set: string;
  readonly keyId: string;
  readonly threshold: number;
  readonly total: number;
  readonly index: number;
  /** Hex of the share bytes. */
  readonly share: string;
}

/**
 * A fresh P-256 recovery key split into `total` shares (any `threshold` recover it). The
 * private key is not kept: only the recipient (public) and the share files come back.
 */
export function makeSharedRecipient(threshold: number, total: number): { recipient: Recipient; shares: ShareFile[] } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const d = Buffer.from(jwk.d as string, 'base64url');
  try {
    const set = randomBytes(8).toString('hex');
    const base = recipientFromKey(publicKey);
    const recipient: Recipient = { ...base, shares: { set, threshold, total } };
    const shares = split(d, threshold, total).map((s) => ({
      kmsBackupShare: 1 as const,
      set,
      keyId: recipient.keyId,
      threshold,
      total,
      index: s.index,
      share: Buffer.from(s.value).toString('hex'),
    }));
    return { recipient, shares };
  } finally {
    d.fill(0);
  }
}

export function parseShareFile(text: string, from: string): ShareFile {
  let o: ShareFile;
  try {
    o = JSON.parse(text) as ShareFile;
  } catch {
    throw new BackupError('BAD_KEY', `${from}: not a share file`);
  }
  const ok =
    o?.kmsBackupShare === 1 &&
    typeof o.set === 'string' &&
    typeof o.keyId === 'string' &&
    Number.isInteger(o.threshold) &&
    Number.isInteger(o.total) &&
    Number.isInteger(o.index) &&
    o.index >= 1 &&
    o.index <= o.total &&
    typeof o.share === 'string' &&
    /^[0-9a-f]{64}$/.test(o.share);
  if (!ok) throw new BackupError('BAD_KEY', `${from}: not a share file`);
  return o;
}

/** The recovery private key from custodians' shares; refuses too few, mixed or wrong shares. */
export function privateKeyFromShares(files: readonly ShareFile[]): KeyObject {
  const first = files[0];
  if (!first) throw new BackupError('WRONG_CREDENTIAL', 'no shares given');
  if (files.some((f) => f.set !== first.set || f.keyId !== first.keyId)) throw new BackupError('WRONG_CREDENTIAL', 'the shares belong to different recovery keys');
  const distinct = new Set(files.map((f) => f.index));
  if (distinct.size < first.threshold) {
    throw new BackupError('WRONG_CREDENTIAL', `${distinct.size} distinct share(s) given, ${first.threshold} of ${first.total} are needed`);
  }
  const shares: Share[] = [...distinct].map((i) => ({ index: i, value: Buffer.from(files.find((f) => f.index === i)!.share, 'hex') }));
  const d = Buffer.from(combine(shares));
  try {
    const ecdh = createECDH('prime256v1');
    try {
      ecdh.setPrivateKey(d);
    } catch {
      throw new BackupError('WRONG_CREDENTIAL', 'the shares do not reconstruct a valid recovery key');
    }
    const point = ecdh.getPublicKey();
    const key = createPrivateKey({
      format: 'jwk',
      key: { kty: 'EC', crv: 'P-256', d: d.toString('base64url'), x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    });
    if (keyIdOf(createPublicKey(key)) !== first.keyId)
      throw new BackupError('WRONG_CREDENTIAL', 'the shares do not reconstruct the recovery key (a share is wrong, or too few were combined)');
    return key;
  } finally {
    d.fill(0);
  }
}

export function privateKeyFromPem(pem: string | Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new BackupError('BAD_KEY', `not a private key PEM: ${(e as Error).message}`);
  }
}

function point(pub: KeyObject): Buffer {
  const jwk = pub.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')]);
}

function eciesKek(z: Buffer, eph: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', z, Buffer.concat([eph, recipient]), ECIES_INFO, 32));
}

/** Wrap the file key to every recipient. */
export function wrapFileKey(fileKey: Uint8Array, recipients: readonly Recipient[]): WrappedKey[] {
  return recipients.map((r) => {
    const pub = createPublicKey(r.publicKey);
    if (r.kind === 'rsa-oaep-sha256') {
      const wrapped = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: OAEP_LABEL }, fileKey);
      return { kind: r.kind, keyId: r.keyId, wrapped: wrapped.toString('base64') };
    }
    const eph = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const z = diffieHellman({ privateKey: eph.privateKey, publicKey: pub });
    const ephPoint = point(eph.publicKey);
    const kek = eciesKek(z, ephPoint, point(pub));
    z.fill(0);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, iv);
    c.setAAD(Buffer.from(FILE_KEY_AAD + r.keyId));
    const wrapped = Buffer.concat([c.update(fileKey), c.final(), c.getAuthTag()]);
    kek.fill(0);
    return { kind: r.kind, keyId: r.keyId, ephemeral: ephPoint.toString('base64'), iv: iv.toString('base64'), wrapped: wrapped.toString('base64') };
  });
}

/** The file key, with a recovery private key that is one of the backup's recipients. */
export function unwrapFileKey(wrapped: readonly WrappedKey[], privateKey: KeyObject): Buffer {
  const pub = createPublicKey(privateKey);
  const keyId = keyIdOf(pub);
  const w = wrapped.find((x) => x.keyId === keyId);
  if (!w) throw new BackupError('WRONG_CREDENTIAL', `this recovery key (${keyId}) is not a recipient of the backup (recipients: ${wrapped.map((x) => x.keyId).join(', ')})`);
  try {
    if (w.kind === 'rsa-oaep-sha256') {
      if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('not an RSA key');
      const k = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: OAEP_LABEL }, Buffer.from(w.wrapped, 'base64'));
      if (k.length !== 32) throw new Error('bad file key length');
      return k;
    }
    const eph = Buffer.from(w.ephemeral, 'base64');
    const ephKey = createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', x: eph.subarray(1, 33).toString('base64url'), y: eph.subarray(33).toString('base64url') } });
    if (eph.length !== 65 || eph[0] !== 4) throw new Error('bad ephemeral point');
    const z = diffieHellman({ privateKey, publicKey: ephKey });
    const kek = eciesKek(z, eph, point(pub));
    z.fill(0);
    const body = Buffer.from(w.wrapped, 'base64');
    const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(w.iv, 'base64'));
    d.setAAD(Buffer.from(FILE_KEY_AAD + w.keyId));
    d.setAuthTag(body.subarray(body.length - 16));
    const k = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
    kek.fill(0);
    if (k.length !== 32) throw new Error('bad file key length');
    return k;
  } catch (e) {
    throw new BackupError('TAMPERED', `the file key for recipient ${keyId} does not unwrap: the header was altered`, { cause: e });
  }
}
