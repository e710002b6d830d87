/**
 * `kms protector migrate`: move a data folder from the software master key to a KEK in a
 * PKCS#11 token, or from one token to another, on a running server (through its admin socket)
 * or on a stopped folder. Resumable: every step is recorded in custody.json first.
 *
 * 1. Checks: the target is another protector; no HSM-resident key (those cannot leave their
 *    token); the audit log verifies under the current audit key (a broken log is not vouched
 *    for under a new key).
 * 2. custody.json gets `migration: { to, phase: "rewrap" }`: the target token, and the labels
 *    and CKA_IDs of the new KEK and audit key, BEFORE they are made; then they are made.
 * 3. Every sealed body is rewrapped (kek-rotation.ts `rewrapAll`): opened under the old protector,
 *    sealed under the new KEK, committed with its revision. Bodies open under either meanwhile.
 *    An interruption leaves each body under the old or the new KEK; running again continues.
 * 4. The audit key changes: an anchor (the restore-anchor record, backup id "migration:<id>")
 *    under the NEW audit key seals the log's head, so the old key's checkpoints stay accepted
 *    by `kms audit verify` (verify.ts) without the old key. Phase "anchored".
 * 5. custody.json: the new protector becomes the folder's, the old one goes to `history`, the
 *    migration record is removed.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { HsmConfig, KmsConfig } from '../config/config.js';
import { openAnchors } from '../audit/anchor-config.js';
import type { AuditKey } from '../audit/audit-key.js';
import { decodeRecord } from '../audit/record.js';
import { writeRestoreAnchor } from '../audit/restore-anchor.js';
import { AuditTrail } from '../audit/trail.js';
import pino from 'pino';
import { verifyAuditLog } from '../audit/verify.js';
import { refuseOnClusterStore } from './store-choice.js';
import type { ObjectStore } from '../store/object-store.js';
import {
  CustodyError,
  currentKek,
  describeCustody,
  freshHsmCustody,
  openBackend,
  openableKeks,
  readCustody,
  realiseHsmKeys,
  sameToken,
  writeCustody,
  type CustodyRecord,
} from './custody.js';
import { HsmProtector } from '../hsm/hsm-protector.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { writeKekMarker } from './kek-marker.js';
import { rewrapAll, type RewrapProgress } from './kek-rotation.js';
import { BridgeProtector, type SwitchableAuditKey, type SwitchableProtector } from './switchable.js';

export const MIGRATION_ANCHOR_PREFIX = 'migration:';

export interface MigrationOptions {
  readonly dataDir: string;
  /** The audit section (anchor file) of the folder's config: a stopped folder's closing checkpoint is anchored like the server's. */
  readonly audit?: KmsConfig['audit'];
  /** Open: the folder's lock is held. */
  readonly store: ObjectStore;
  /** The folder's current protector and audit key (as custody.json names them). */
  readonly protector: KeyProtector;
  readonly auditKey: AuditKey;
  /** The target token. */
  readonly to: HsmConfig;
  readonly pin?: string;
  /** On a running server: its switchable protector, audit key and trail, pointed at the new keys. */
  readonly live?: { readonly protector: SwitchableProtector; readonly auditKey: SwitchableAuditKey; readonly trail: AuditTrail };
  readonly onProgress?: (p: RewrapProgress) => void;
  readonly actor?: string;
  readonly log?: Pick<Logger, 'info' | 'warn'>;
}

export interface MigrationResult {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly resumed: boolean;
  readonly rewrapped: number;
  readonly scanned: number;
  readonly auditKey: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/** Run (or resume) a migration. On success the new protector is open and, when `live`, in use; the caller owns its closing otherwise (returned). */
export async function migrateProtector(o: MigrationOptions): Promise<MigrationResult & { readonly newProtector: KeyProtector; readonly newAuditKey: AuditKey }> {
  try {
    refuseOnClusterStore(o.store, 'Protector migration');
  } catch (e) {
    throw new MigrationError((e as Error).message);
  }
  let custody = readCustody(o.dataDir);
  if (!custody) throw new MigrationError(`${o.dataDir} has no custody record: start the server once with its current configuration first`);
  const backend = await openBackend(o.to, { ...(o.pin !== undefined && { pin: o.pin }) });
  let handedOver = false;
  try {
    const from = custody.protector;
    const resumed = custody.migration !== undefined;
    if (custody.migration) {
      if (!sameToken(custody.migration.to.token, backend.tokenInfo)) {
        throw new MigrationError(
          `a migration to ${describeCustody(custody.migration.to)} is in progress; the configuration names token "${backend.tokenInfo.label}" (serial ${backend.tokenInfo.serial}): give that target to finish it`,
        );
      }
    } else {
      if (from.kind === 'hsm' && sameToken(from.token, backend.tokenInfo))
        throw new MigrationError(`${o.dataDir} is already sealed under token "${from.token.label}" (serial ${from.token.serial}): to change its KEK there, use kms hsm rotate-kek`);
      const resident = await residentCount(o.store);
      if (resident > 0) throw new MigrationError(`${resident} object(s) are HSM-resident keys of the current token (non-extractable): they cannot move to another token`);
      await checkAuditLog(o);
      const migration = { id: randomBytes(8).toString('hex'), started: new Date().toISOString(), to: freshHsmCustody(backend, o.to), phase: 'rewrap' as const };
      custody = { ...custody, migration };
      writeCustody(o.dataDir, custody); // recorded before anything is made in the target token
      await (o.live?.trail ?? quietTrail(o.store, o.auditKey)).commitAlone([
        event(o, migration.id, 'Started', `protector migration from ${describeCustody(from)} to ${describeCustody(migration.to)}`),
      ]);
    }
    const migration = custody.migration!;
    const real = await realiseHsmKeys(backend, migration.to, o.dataDir);
    if (real.changed) {
      custody = { ...custody, migration: { ...migration, to: real.custody } };
      writeCustody(o.dataDir, custody);
    }
    const to = real.custody;
    const newProtector = HsmProtector.fromRecorded(backend, real.kek, openableKeks(to));
    handedOver = true;
    const bridge = new BridgeProtector(o.protector, newProtector, new Set([...openableKeks(to).keys()].map((l) => `hsm:${l}`)));
    o.live?.protector.switchTo(bridge);
    let rewrap;
    try {
      rewrap = await rewrapAll(o.store, bridge, o.onProgress);
    } catch (e) {
      await o.live?.trail.commitAlone([event(o, migration.id, 'OperationFailed', `rewrap failed: ${(e as Error).message}; run kms protector migrate again`)]).catch(() => undefined);
      throw e;
    }
    if (custody.migration!.phase !== 'anchored') {
      await anchor(o, migration.id, real.audit, from.kind === 'software' ? from.auditKeyId : `hsm:${from.auditKey.label}`);
      custody = { ...custody, migration: { ...custody.migration!, phase: 'anchored' } };
      writeCustody(o.dataDir, custody);
    }
    // The running server keeps the bridge until its restart: a request that read a record before
    // its rewrap still opens it; everything new is sealed under the new KEK.
    const done: CustodyRecord = {
      format: 1,
      created: custody.created,
      origin: custody.origin,
      protector: to,
      history: [...(custody.history ?? []), { protector: from, until: new Date().toISOString(), migration: migration.id }],
    };
    writeCustody(o.dataDir, done);
    writeKekMarker(o.dataDir, currentKek(to).label);
    const result = { id: migration.id, from: describeCustody(from), to: describeCustody(to), resumed, rewrapped: rewrap.rewrapped, scanned: rewrap.scanned, auditKey: real.audit.id };
    const ok = event(o, migration.id, 'Success', `now sealed under ${result.to}; ${result.rewrapped} objects rewrapped; audit key ${result.auditKey}`);
    if (o.live) await o.live.trail.commitAlone([ok]);
    else {
      // A stopped folder ends sealed, as a server's shutdown leaves it: a checkpoint under the new key.
      const quiet = pino({ level: 'silent' });
      const t = new AuditTrail({
        store: o.store,
        key: real.audit,
        log: quiet,
        ...(o.audit?.recordFormat && { recordFormat: o.audit.recordFormat }),
        anchors: await openAnchors({ dataDir: o.dataDir, ...(o.audit && { audit: o.audit }) }, o.store.audit, real.audit, quiet),
      });
      await t.commitAlone([ok]);
      await t.checkpoint('shutdown');
      await t.anchored();
    }
    o.log?.info({ protectorMigration: result }, 'protector migration finished');
    return { ...result, newProtector, newAuditKey: real.audit };
  } finally {
    if (!handedOver) await backend.close();
  }
}

function quietTrail(store: ObjectStore, key: AuditKey): AuditTrail {
  return new AuditTrail({ store, key, log: pino({ level: 'silent' }) });
}

function event(o: MigrationOptions, id: string, status: string, message: string) {
  return { kind: 'op' as const, time: new Date().toISOString(), ref: `admin/protector-migrate/${id}`, client: o.actor ?? 'operator', op: 'ProtectorMigrate', status, message };
}

async function residentCount(store: ObjectStore): Promise<number> {
  let n = 0;
  let after: string | undefined;
  for (;;) {
    const uids = await store.list(after, 256);
    if (uids.length === 0) return n;
    for (const uid of uids) if ((await store.get(uid))?.hsmKey !== undefined) n++;
    after = uids[uids.length - 1];
  }
}

/** The log must verify under the current audit key before a new key vouches for it. */
async function checkAuditLog(o: MigrationOptions): Promise<void> {
  // A running server seals what it wrote so far first; the few entries after that are its own.
  if (o.live) await o.live.trail.checkpoint('interval');
  const r = await verifyAuditLog(o.store.audit, o.live ? o.live.auditKey.current : o.auditKey, undefined, 10_000, { allowUnsealedTail: o.live !== undefined });
  if (!r.ok)
    throw new MigrationError(
      `the audit log does not verify under the current audit key (${r.failure?.message ?? 'broken'} at position ${r.failure?.position}): not migrating (a folder whose server was killed: start and stop it once; otherwise see kms audit verify)`,
    );
}

/**
 * The anchor under the new audit key over the head. On a running server the trail switches
 * key first, so every checkpoint from then on is under the new key; a checkpoint under the old
 * key that was already being written may land after the anchor, so then another anchor follows.
 */
async function anchor(o: MigrationOptions, id: string, newKey: AuditKey, oldKeyId: string): Promise<void> {
  const backupId = MIGRATION_ANCHOR_PREFIX + id;
  o.live?.auditKey.switchTo(newKey);
  for (let i = 0; i < 5; i++) {
    const before = o.store.audit.head().seq;
    await writeRestoreAnchor(o.store, newKey, backupId, [oldKeyId]);
    if (!o.live) return;
    // Anything under the old key after our anchor?
    const after = await o.store.audit.read(before + 1, 1_000_000);
    const late = after.some((e) => {
      try {
        const r = decodeRecord(e.bytes);
        return (r.kind === 'checkpoint' || r.kind === 'restore') && r.keyId !== newKey.id;
      } catch {
        return false;
      }
    });
    if (!late) return;
  }
  throw new CustodyError('MIGRATING', 'the audit key switch did not settle: run kms protector migrate again');
}
