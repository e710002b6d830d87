/** Shared by the backup tests: populate a server, read keys back over mTLS, compare data folders, run the CLI. */
import { execFile, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { attr, findPath, getPayload, symmetricKeyObject, registerPayload, activatePayload, destroyPayload, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, ObjectType, Operation, RevocationReasonCode } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { createSymmetricKeyPayload } from '../../src/client/index.js';
import { encodeRecord } from '../../src/store/record-codec.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { ensureBuilt, KMS } from '../audit/helpers.js';
import { Session, V2_1, revokePayload } from '../support/kmip-session.js';
import { uniqueIdentifierOf } from '../../src/client/requests.js';

export { ensureBuilt };

/** The built CLI, synchronously (only when no in-process server must answer meanwhile). */
export function kmsSync(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [KMS, ...args], { timeout: 120_000, env: { ...process.env, KMS_CONFIG: '', ...env } });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** The built CLI, without blocking the event loop (an in-process server keeps serving). */
export async function kmsAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [KMS, ...args], { timeout: 120_000, env: { ...process.env, KMS_CONFIG: '', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/**
 * The CLI in this process (runCli from src/, same code as the binary): for the many
 * checks where a fresh process would only add seconds of start-up.
 */
export async function kmsHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { runCli } = await import('../../src/cli/main.js');
  let stdout = '';
  let stderr = '';
  const sink = (f: (s: string) => void) =>
    new Writable({
      write(chunk, _e, cb) {
        f(String(chunk));
        cb();
      },
    });
  const code = await runCli(args, { stdin: process.stdin, stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) });
  return { code, stdout, stderr };
}

/** An RSA and an EC P-256 recovery key pair as PEM files in `dir`. */
export function recoveryKeys(dir: string): { rsaPub: string; rsaKey: string; ecPub: string; ecKey: string } {
  const out = { rsaPub: join(dir, 'rsa.pub'), rsaKey: join(dir, 'rsa.key'), ecPub: join(dir, 'ec.pub'), ecKey: join(dir, 'ec.key') };
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(out.rsaPub, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(out.rsaKey, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(out.ecPub, ec.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(out.ecKey, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return out;
}

export async function createAes(s: Session, name?: string): Promise<string> {
  const p = createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12, ...(name !== undefined ? { name } : {}) });
  return uniqueIdentifierOf(await s.ok(Operation.Create, p));
}

/**
 * A mixed population: created AES keys (pre-active, active, revoked, destroyed, named),
 * and registered keys with known bytes. Returns every uid.
 */
export async function populate(c: KmipClient, n = 12): Promise<string[]> {
  const s = new Session(c, V2_1);
  const uids: string[] = [];
  for (let i = 0; i < n; i++) {
    const uid = await createAes(s, i % 3 === 0 ? `backup-key-${i}` : undefined);
    uids.push(uid);
    if (i % 4 === 1 || i % 4 === 2) await s.ok(Operation.Activate, activatePayload(uid));
    if (i % 4 === 2) await s.ok(Operation.Revoke, revokePayload(uid, RevocationReasonCode.CessationOfOperation));
    if (i % 6 === 0) await s.ok(Operation.Destroy, destroyPayload(uid));
  }
  for (let i = 0; i < 3; i++) {
    const reg = registerPayload(V2_1, ObjectType.SymmetricKey, symmetricKeyObject(randomBytes(32), CryptographicAlgorithm.AES), [
      attr.cryptographicUsageMask(12),
      attr.name(`registered-${i}`),
    ]);
    uids.push(uniqueIdentifierOf(await s.ok(Operation.Register, reg)));
  }
  return uids;
}

/** The key bytes of `uid` over mTLS (hex), or "failed:<reason>" when Get refuses (a destroyed key). */
export async function keyBytes(c: KmipClient, uid: string): Promise<string> {
  const item = await new Session(c, V2_1).call(Operation.Get, getPayload(uid));
  if (item.status !== 0) return `failed:${item.reason}`;
  const m = findPath(item.payload!, Tag.SymmetricKey, Tag.KeyBlock, Tag.KeyValue, Tag.KeyMaterial);
  if (m?.type !== 'ByteString') throw new Error('no key material');
  return Buffer.from(m.value).toString('hex');
}

/**
 * Every record of a stopped data folder, without what a restore legitimately changes (the
 * sealed body and KEK, which are re-made; the revision, which restarts at 1): uid → hex of
 * the rest (type, owner, state, every attribute instance in order).
 */
export async function recordsOf(dataDir: string): Promise<Map<string, string>> {
  const store = new LevelStore({ path: join(dataDir, 'db') });
  await store.open();
  try {
    const out = new Map<string, string>();
    const snap = await store.snapshot();
    for await (const r of snap.records()) {
      const { sealedBody: _s, kekId: _k, ...rest } = r;
      out.set(r.uid, `${r.sealedBody ? 'body' : 'nobody'}:${encodeRecord({ ...rest, revision: 1 }).toString('hex')}`);
    }
    await snap.close();
    return out;
  } finally {
    await store.close();
  }
}
