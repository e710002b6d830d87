/**
 * Key custody of a data folder: `DATA/custody.json` records, at the folder's first start,
 * exactly which keys protect it, and from then on only those keys are used.
 *
 *   software: the master key's id (sw:…, a hash of DATA/master.key) and the audit key's id
 *   hsm:      the token (label, serial, manufacturer, model), every KEK of the folder (label,
 *             CKA_ID, since, current / retired / destroyed) and the audit key (label, CKA_ID)
 *
 * Rules (docs/custody.md):
 * - Keys are found by label AND CKA_ID. A key on the token the folder did not record (another
 *   folder's kms-kek-*, a key someone else labelled alike) is never used, never destroyed.
 * - A new folder gets new keys: a fresh KEK and audit key are generated, recorded first (label
 *   and the CKA_ID we choose, `made: false`) and then made, so a crash in between is finished
 *   at the next start by making exactly the recorded key.
 * - The configured protector must be the recorded one: software vs HSM, and for an HSM the
 *   same token (serial and label). Otherwise CustodyError MISMATCH (kms serve exits 6).
 * - Callers hold the folder's lock (the LevelDB store is open) before calling: nothing is
 *   made in a token for a folder another process holds.
 * - Folders made before custody records (no custody.json) are recorded at their first start
 *   from their own evidence only (`adoptLegacy`): the KEK that hsm-kek.json names, the KEKs
 *   their sealed records name (hsm:<label>), hsm.kekLabel when set, and the audit key their
 *   newest checkpoint names. Each must be on the token exactly once. A folder whose data
 *   names no KEK gets a new one; the token's other kms-kek-* keys are never adopted.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { HsmConfig } from '../config/config.js';
import { AUDIT_KEY_LABEL_PREFIX, HsmAuditKey, SoftwareAuditKey, type AuditKey } from '../audit/audit-key.js';
import { decodeRecord } from '../audit/record.js';
import type { ObjectStore } from '../store/object-store.js';
import { HsmProtector, KEK_LABEL_PREFIX } from '../hsm/hsm-protector.js';
import type { KeyRef } from '../hsm/key-backend.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { Pkcs11Backend } from '../hsm/pkcs11/pkcs11-backend.js';
import { resolvePin } from '../hsm/pkcs11/pin.js';
import { replaceFileDurably } from '../hsm/software/durable-file.js';
import { SoftwareProtector } from '../hsm/software/software-protector.js';
import { readKekMarker } from './kek-marker.js';
import { FOLDER_FILES, folderLayout } from './layout.js';

export interface RecordedKey {
  readonly label: string;
  /** CKA_ID, hex. */
  readonly id: string;
  /** False from recording the key until it is confirmed in the token. */
  readonly made: boolean;
}

export interface RecordedKek extends RecordedKey {
  readonly since: string;
  /** current: seals from now on; retired: still opens older bodies; destroyed: gone from the token. */
  readonly state: 'current' | 'retired' | 'destroyed';
  /**
   * Recorded from a legacy folder's evidence (no custody record yet): an older version may have
   * let another folder use the same key, so `rotate-kek --destroy-old` never destroys it.
   */
  readonly adopted?: true;
}

export interface TokenIdentity {
  readonly label: string;
  readonly serial: string;
  readonly manufacturer: string;
  readonly model: string;
}

export interface SoftwareCustody {
  readonly kind: 'software';
  readonly kekId: string;
  readonly auditKeyId: string;
}

export interface HsmCustody {
  readonly kind: 'hsm';
  /** The PKCS#11 library the folder was sealed with (informational: the token is what counts). */
  readonly module: string;
  readonly token: TokenIdentity;
  readonly keks: readonly RecordedKek[];
  readonly auditKey: RecordedKey;
}

export type ProtectorCustody = SoftwareCustody | HsmCustody;

/** A protector migration in progress (protector-migration.ts): where to, and how far. */
export interface MigrationRecord {
  readonly id: string;
  readonly started: string;
  readonly to: HsmCustody;
  /** rewrap: bodies are being resealed; anchored: the audit key switch is written. */
  readonly phase: 'rewrap' | 'anchored';
}

export interface CustodyRecord {
  readonly format: 1;
  readonly created: string;
  /** "new" (made at the folder's first start), or how a legacy folder's keys were adopted. */
  readonly origin: string;
  readonly protector: ProtectorCustody;
  readonly migration?: MigrationRecord;
  /** Earlier protectors, oldest first (after `kms protector migrate`). */
  readonly history?: readonly { readonly protector: ProtectorCustody; readonly until: string; readonly migration: string }[];
}

export type CustodyErrorCode =
  /** The configured protector is not the one the folder is sealed under. */
  | 'MISMATCH'
  /** A key the folder recorded is not there (token, master key file). */
  | 'MISSING_KEY'
  /** A key would have to be adopted or taken over that the folder did not record. */
  | 'UNRECORDED'
  /** A protector migration is in progress. */
  | 'MIGRATING'
  /** custody.json cannot be read. */
  | 'BAD_RECORD';

export class CustodyError extends Error {
  override readonly name = 'CustodyError';
  constructor(
    readonly code: CustodyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function custodyPath(dataDir: string): string {
  return folderLayout(dataDir).custody;
}

export function readCustody(dataDir: string): CustodyRecord | undefined {
  const path = custodyPath(dataDir);
  if (!existsSync(path)) return undefined;
  let c: CustodyRecord;
  try {
    c = JSON.parse(readFileSync(path, 'utf8')) as CustodyRecord;
  } catch (e) {
    throw new CustodyError('BAD_RECORD', `${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const p = c?.protector;
  const ok =
    c?.format === 1 &&
    (p?.kind === 'software'
      ? typeof p.kekId === 'string' && typeof p.auditKeyId === 'string'
      : p?.kind === 'hsm' &&
        Array.isArray(p.keks) &&
        p.keks.filter((k) => k.state === 'current').length === 1 &&
        typeof p.auditKey?.label === 'string' &&
        typeof p.token?.serial === 'string');
  if (!ok) throw new CustodyError('BAD_RECORD', `${path} is not a custody record this version understands`);
  return c;
}

/** Written atomically (temporary file, fsync, rename, fsync of the folder), mode 0600. */
export function writeCustody(dataDir: string, c: CustodyRecord): void {
  replaceFileDurably(custodyPath(dataDir), JSON.stringify(c, null, 2) + '\n');
}

/** One line naming a protector, for messages. */
export function describeCustody(p: ProtectorCustody): string {
  if (p.kind === 'software') return `the software master key (${p.kekId})`;
  const cur = p.keks.find((k) => k.state === 'current');
  return `KEK ${cur?.label ?? '?'} in PKCS#11 token "${p.token.label}" (serial ${p.token.serial})`;
}

function describeConfigured(hsm: HsmConfig | undefined, backend?: Pkcs11Backend): string {
  if (!hsm) return 'the software master key (no hsm section)';
  if (backend) return `PKCS#11 token "${backend.tokenInfo.label}" (serial ${backend.tokenInfo.serial})`;
  return `PKCS#11 token ${hsm.tokenLabel !== undefined ? `"${hsm.tokenLabel}"` : `in slot ${hsm.slot}`}`;
}

export const currentKek = (p: HsmCustody): RecordedKek => p.keks.find((k) => k.state === 'current')!;

/** label → id of every KEK that still opens bodies (current and retired). */
export function openableKeks(p: HsmCustody): Map<string, string> {
  return new Map(p.keks.filter((k) => k.state !== 'destroyed').map((k) => [k.label, k.id]));
}

export function sameToken(a: TokenIdentity, b: TokenIdentity): boolean {
  return a.serial === b.serial && a.label === b.label && a.manufacturer === b.manufacturer && a.model === b.model;
}

export async function openBackend(hsm: HsmConfig, opts: { pin?: string; log?: { warn(obj: object, msg: string): void } } = {}): Promise<Pkcs11Backend> {
  return Pkcs11Backend.open({
    module: hsm.module,
    ...(hsm.tokenLabel !== undefined ? { tokenLabel: hsm.tokenLabel } : {}),
    ...(hsm.slot !== undefined ? { slot: hsm.slot } : {}),
    pin: opts.pin ?? resolvePin(hsm, process.env),
    ...(hsm.maxSessions !== undefined ? { maxSessions: hsm.maxSessions } : {}),
    ...(hsm.refreshIntervalMs !== undefined ? { refreshIntervalMs: hsm.refreshIntervalMs } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

/** The opened keys of a data folder, as its custody record names them. */
export interface FolderKeys {
  readonly protector: KeyProtector;
  readonly auditKey: AuditKey;
  /** The token, for an HSM folder (resident keys, rotation). */
  readonly backend?: Pkcs11Backend;
  readonly custody: CustodyRecord;
  /** "new", "recorded" or "adopted" (a legacy folder recorded now). */
  readonly how: 'new' | 'recorded' | 'adopted';
  close(): Promise<void>;
}

export interface OpenFolderKeysOptions {
  readonly dataDir: string;
  readonly hsm?: HsmConfig;
  /** The folder's store, OPEN: its lock is held. Used to tell a new folder and to read a legacy folder's evidence. */
  readonly store: ObjectStore;
  /** false: a folder with no keys yet is an error (backup, audit verify); default true. */
  readonly create?: boolean;
  readonly pin?: string;
  readonly log?: { warn(obj: object, msg: string): void };
  /** Refuse a folder whose migration is in progress (default true). */
  readonly refuseMigrating?: boolean;
}

/** Open the protector and audit key of a data folder, recording them at its first start. */
export async function openFolderKeys(o: OpenFolderKeysOptions): Promise<FolderKeys> {
  const recorded = readCustody(o.dataDir);
  if (recorded?.migration && o.refuseMigrating !== false) {
    throw new CustodyError(
      'MIGRATING',
      `${o.dataDir}: a protector migration to ${describeCustody(recorded.migration.to)} is in progress (started ${recorded.migration.started}): finish it with kms protector migrate and the target configuration`,
    );
  }
  if (!o.hsm) return openSoftware(o, recorded);
  return openHsm(o, o.hsm, recorded);
}

/** What a folder without a custody record says about its own keys. */
interface Evidence {
  readonly empty: boolean;
  readonly masterKey: boolean;
  readonly marker?: string;
  /** kekId → sealed records. */
  readonly usage: Map<string, number>;
  /** The audit key id of the newest checkpoint or restore anchor. */
  readonly auditKeyId?: string;
}

async function evidence(dataDir: string, store: ObjectStore): Promise<Evidence> {
  const usage = new Map<string, number>();
  let after: string | undefined;
  for (;;) {
    const uids = await store.list(after, 256);
    if (uids.length === 0) break;
    for (const uid of uids) {
      const r = await store.get(uid);
      if (r?.sealedBody && r.kekId) usage.set(r.kekId, (usage.get(r.kekId) ?? 0) + 1);
    }
    after = uids[uids.length - 1];
  }
  const head = store.audit.head().seq;
  let auditKeyId: string | undefined;
  for (let to = head; to >= 1 && auditKeyId === undefined; to -= 1000) {
    const from = Math.max(1, to - 999);
    const page = await store.audit.read(from, to - from + 1);
    for (let i = page.length - 1; i >= 0; i--) {
      try {
        const r = decodeRecord(page[i]!.bytes);
        if ((r.kind === 'checkpoint' || r.kind === 'restore') && typeof r.keyId === 'string') {
          auditKeyId = r.keyId;
          break;
        }
      } catch {
        // a damaged entry is kms audit verify's business
      }
    }
  }
  const marker = readKekMarker(dataDir)?.label;
  return {
    empty: (await store.count()) === 0 && head === 0,
    masterKey: existsSync(folderLayout(dataDir).masterKey),
    ...(marker !== undefined && { marker }),
    usage,
    ...(auditKeyId !== undefined && { auditKeyId }),
  };
}

/** Which protector a folder without a custody record is sealed under, by its own evidence. */
function sealedUnder(e: Evidence): 'software' | 'hsm' | undefined {
  const ids = [...e.usage.keys(), ...(e.auditKeyId !== undefined ? [e.auditKeyId] : [])];
  if (ids.some((k) => k.startsWith('hsm:')) || e.marker !== undefined) return 'hsm';
  if (ids.some((k) => k.startsWith('sw:')) || e.masterKey) return 'software';
  return undefined;
}

function mismatch(dataDir: string, sealed: string, configured: string): CustodyError {
  return new CustodyError(
    'MISMATCH',
    `${dataDir} is sealed under ${sealed}, but the configuration gives ${configured}: the server would not open its keys. ` +
      `Put back the configuration the folder was sealed with, or move the folder with kms protector migrate (docs/custody.md).`,
  );
}

async function openSoftware(o: OpenFolderKeysOptions, recorded: CustodyRecord | undefined): Promise<FolderKeys> {
  const path = folderLayout(o.dataDir).masterKey;
  let how: FolderKeys['how'] = 'recorded';
  let origin = '';
  if (recorded) {
    if (recorded.protector.kind !== 'software') throw mismatch(o.dataDir, describeCustody(recorded.protector), describeConfigured(undefined));
    if (!existsSync(path))
      throw new CustodyError('MISSING_KEY', `${path} is missing: the folder recorded master key ${recorded.protector.kekId} (restore the file; a new key would open nothing)`);
  } else {
    const e = await evidence(o.dataDir, o.store);
    const sealed = sealedUnder(e);
    if (sealed === 'hsm')
      throw mismatch(o.dataDir, `a KEK in a PKCS#11 token (${e.marker ?? [...e.usage.keys()].find((k) => k.startsWith('hsm:')) ?? e.auditKeyId})`, describeConfigured(undefined));
    if (!e.masterKey && sealed === 'software') throw new CustodyError('MISSING_KEY', `${path} is missing, but the folder holds data sealed under a software master key`);
    if (!e.masterKey && !e.empty && o.create === false) throw new CustodyError('MISSING_KEY', `${path} is missing`);
    if (e.empty && !e.masterKey && o.create === false)
      throw new CustodyError('MISSING_KEY', `${o.dataDir} is not an initialised data folder (no ${FOLDER_FILES.masterKey}, no custody record)`);
    how = e.empty && !e.masterKey ? 'new' : 'adopted';
    origin = how === 'new' ? 'new' : `adopted ${new Date().toISOString()}: a folder without a custody record; its own ${FOLDER_FILES.masterKey}`;
  }
  const { protector } = SoftwareProtector.openOrCreate(path);
  const auditKey = SoftwareAuditKey.fromMasterKeyFile(path);
  const close = async () => {
    await auditKey.close();
    await protector.close();
  };
  try {
    let custody = recorded;
    if (recorded) {
      const p = recorded.protector as SoftwareCustody;
      if (p.kekId !== protector.kekId) throw new CustodyError('MISMATCH', `${path} is not the master key this folder recorded (${p.kekId}; the file holds ${protector.kekId})`);
    } else {
      custody = { format: 1, created: new Date().toISOString(), origin, protector: { kind: 'software', kekId: protector.kekId, auditKeyId: auditKey.id } };
      writeCustody(o.dataDir, custody);
    }
    return { protector, auditKey, custody: custody!, how, close };
  } catch (e) {
    await close();
    throw e;
  }
}

const hexId = () => randomBytes(16).toString('hex');

async function findRecorded(backend: Pkcs11Backend, k: { label: string; id: string }): Promise<KeyRef | undefined> {
  const found = await backend.findKeys({ label: k.label, id: Buffer.from(k.id, 'hex'), token: true });
  return found.length === 1 ? found[0] : undefined;
}

async function makeKek(backend: Pkcs11Backend, k: RecordedKey): Promise<KeyRef> {
  return backend.generateKey({ type: 'AES', bits: 256, token: true, sensitive: true, extractable: false, usage: ['encrypt', 'decrypt'], label: k.label, id: Buffer.from(k.id, 'hex') });
}

/** The recorded current KEK and audit key: found, or made when recorded but not yet made. Updates `made`. */
export async function realiseHsmKeys(backend: Pkcs11Backend, p: HsmCustody, where: string): Promise<{ custody: HsmCustody; kek: KeyRef; audit: HsmAuditKey; changed: boolean }> {
  let changed = false;
  const cur = currentKek(p);
  let kek = await findRecorded(backend, cur);
  let keks = p.keks;
  if (!kek) {
    if (cur.made) throw new CustodyError('MISSING_KEY', `${where}: the folder's KEK ${cur.label} (id ${cur.id}) is not in ${backend.description}`);
    await assertLabelFree(backend, cur.label);
    kek = await makeKek(backend, cur);
  }
  if (!cur.made) {
    keks = keks.map((k) => (k === cur ? { ...k, made: true } : k));
    changed = true;
  }
  let auditRef = await findRecorded(backend, p.auditKey);
  let auditKey = p.auditKey;
  let audit: HsmAuditKey;
  if (auditRef) audit = HsmAuditKey.fromRef(backend, auditRef);
  else {
    if (p.auditKey.made) throw new CustodyError('MISSING_KEY', `${where}: the folder's audit key ${p.auditKey.label} (id ${p.auditKey.id}) is not in ${backend.description}`);
    await assertLabelFree(backend, p.auditKey.label);
    audit = await HsmAuditKey.generate(backend, p.auditKey.label, Buffer.from(p.auditKey.id, 'hex'));
    auditRef = undefined;
  }
  if (!auditKey.made) {
    auditKey = { ...auditKey, made: true };
    changed = true;
  }
  return { custody: { ...p, keks, auditKey }, kek, audit, changed };
}

/** A label a new key is about to take must not be another key's already. */
async function assertLabelFree(backend: Pkcs11Backend, label: string): Promise<void> {
  const taken = await backend.findKeys({ label, token: true });
  if (taken.length > 0)
    throw new CustodyError('UNRECORDED', `the token already holds a key labelled ${label} that this data folder did not record: it is never adopted (choose another label)`);
}

/** A fresh HSM custody for a folder: new KEK and audit key labels and ids (not yet made). */
export function freshHsmCustody(backend: Pkcs11Backend, hsm: HsmConfig, kekLabel?: string): HsmCustody {
  const now = new Date().toISOString();
  return {
    kind: 'hsm',
    module: hsm.module,
    token: backend.tokenInfo,
    keks: [{ label: kekLabel ?? KEK_LABEL_PREFIX + randomBytes(4).toString('hex'), id: hexId(), made: false, since: now, state: 'current' }],
    auditKey: { label: AUDIT_KEY_LABEL_PREFIX + randomBytes(4).toString('hex'), id: hexId(), made: false },
  };
}

async function openHsm(o: OpenFolderKeysOptions, hsm: HsmConfig, recorded: CustodyRecord | undefined): Promise<FolderKeys> {
  if (recorded && recorded.protector.kind !== 'hsm') throw mismatch(o.dataDir, describeCustody(recorded.protector), describeConfigured(hsm));
  const backend = await openBackend(hsm, { ...(o.pin !== undefined && { pin: o.pin }), ...(o.log && { log: o.log }) });
  try {
    let custody: CustodyRecord;
    let how: FolderKeys['how'] = 'recorded';
    if (recorded) {
      const p = recorded.protector as HsmCustody;
      if (!sameToken(p.token, backend.tokenInfo)) throw mismatch(o.dataDir, describeCustody(p), describeConfigured(hsm, backend));
      if (hsm.kekLabel !== undefined && hsm.kekLabel !== currentKek(p).label) {
        throw new CustodyError('MISMATCH', `hsm.kekLabel is ${hsm.kekLabel}, but the folder's current KEK is ${currentKek(p).label} (${custodyPath(o.dataDir)}): remove hsm.kekLabel`);
      }
      custody = recorded;
    } else {
      const e = await evidence(o.dataDir, o.store);
      const sealed = sealedUnder(e);
      if (sealed === 'software')
        throw mismatch(o.dataDir, `the software master key (${e.masterKey ? folderLayout(o.dataDir).masterKey : [...e.usage.keys()][0]})`, describeConfigured(hsm, backend));
      if (e.empty && e.marker === undefined) {
        if (o.create === false) throw new CustodyError('MISSING_KEY', `${o.dataDir} is not an initialised data folder (no custody record, no data)`);
        how = 'new';
        custody = { format: 1, created: new Date().toISOString(), origin: 'new', protector: freshHsmCustody(backend, hsm, hsm.kekLabel) };
        if (hsm.kekLabel !== undefined) await assertLabelFree(backend, hsm.kekLabel);
      } else {
        how = 'adopted';
        custody = { format: 1, created: new Date().toISOString(), origin: '', protector: await adoptLegacy(o.dataDir, backend, hsm, e) };
        custody = { ...custody, origin: `adopted ${custody.created}: a folder without a custody record; ${adoptionNote(e, hsm)}` };
      }
      // Recorded before anything is made in the token.
      writeCustody(o.dataDir, custody);
    }
    const real = await realiseHsmKeys(backend, custody.protector as HsmCustody, o.dataDir);
    if (real.changed) {
      custody = { ...custody, protector: real.custody };
      writeCustody(o.dataDir, custody);
    }
    const protector = HsmProtector.fromRecorded(backend, real.kek, openableKeks(real.custody));
    return {
      protector,
      auditKey: real.audit,
      backend,
      custody,
      how,
      async close() {
        await real.audit.close();
        await protector.close(); // closes the backend
      },
    };
  } catch (e) {
    await backend.close();
    throw e;
  }
}

function adoptionNote(e: Evidence, hsm: HsmConfig): string {
  const parts: string[] = [];
  if (hsm.kekLabel !== undefined) parts.push(`hsm.kekLabel ${hsm.kekLabel}`);
  if (e.marker !== undefined) parts.push(`hsm-kek.json names ${e.marker}`);
  const hsmIds = [...e.usage].filter(([k]) => k.startsWith('hsm:'));
  if (hsmIds.length) parts.push(`sealed records name ${hsmIds.map(([k, n]) => `${k.slice(4)} (${n})`).join(', ')}`);
  if (e.auditKeyId?.startsWith('hsm:')) parts.push(`the newest audit checkpoint names ${e.auditKeyId.slice(4)}`);
  return parts.length ? parts.join('; ') : 'nothing in it named a key: new keys were made';
}

/**
 * A legacy HSM folder's keys, from its own evidence only. Each KEK it names must be on the
 * token exactly once; one it names only in hsm-kek.json and no record uses may be missing (a
 * rotation interrupted before the key was made) and is then made.
 */
async function adoptLegacy(dataDir: string, backend: Pkcs11Backend, hsm: HsmConfig, e: Evidence): Promise<HsmCustody> {
  const fresh = freshHsmCustody(backend, hsm);
  const used = [...e.usage.keys()].filter((k) => k.startsWith('hsm:')).map((k) => k.slice(4));
  const current = hsm.kekLabel ?? e.marker ?? (used.length === 1 ? used[0] : undefined);
  if (current === undefined && used.length > 1) {
    throw new CustodyError(
      'UNRECORDED',
      `${dataDir} has no custody record and its records are sealed under ${used.length} KEKs (${used.join(', ')}): name the current one with hsm.kekLabel for this first start`,
    );
  }
  const labels = [...new Set([...(current !== undefined ? [current] : []), ...used])];
  const now = new Date().toISOString();
  const keks: RecordedKek[] = [];
  for (const label of labels) {
    const found = await backend.findKeys({ label, token: true });
    if (found.length > 1) throw new CustodyError('UNRECORDED', `the token holds ${found.length} keys labelled ${label}: cannot tell which one this folder uses`);
    const state = label === current ? 'current' : 'retired';
    if (found.length === 0) {
      if (label === e.marker && !used.includes(label)) {
        keks.push({ label, id: hexId(), made: false, since: now, state });
        continue;
      }
      throw new CustodyError('MISSING_KEY', `${dataDir}: the KEK ${label} its data names is not in ${backend.description}`);
    }
    keks.push({ label, id: found[0]!.id, made: true, since: now, state, adopted: true });
  }
  if (keks.length === 0) keks.push(...fresh.keks);
  let auditKey = fresh.auditKey;
  if (e.auditKeyId?.startsWith('hsm:')) {
    const label = e.auditKeyId.slice(4);
    const found = await backend.findKeys({ label, token: true });
    if (found.length !== 1)
      throw new CustodyError(
        'MISSING_KEY',
        `${dataDir}: the audit key ${label} its newest checkpoint names is ${found.length ? 'on the token more than once' : `not in ${backend.description}`}`,
      );
    auditKey = { label, id: found[0]!.id, made: true };
  }
  return { ...fresh, keks, auditKey };
}
