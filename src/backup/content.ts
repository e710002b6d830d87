/**
 * What a backup body holds, as frames (u8 type, u32 BE length, payload) inside the
 * encrypted chunk stream (format.ts):
 *
 *   'H' manifest   JSON: counts, audit head, the source's recovery setup (public keys)
 *   'O' object     u32 BE n ‖ the record without its sealed body (record-codec, n bytes)
 *                  ‖ u8 has-body ‖ the body in the clear (TTLV): opened with the source
 *                  server's key protector, protected here only by the backup's encryption
 *   'M' metadata   u16 BE n ‖ key (n bytes, printable ASCII) ‖ value: a server-metadata entry
 *                  under BACKED_UP_META (the client registry: its certificates, names, deny
 *                  list and CRL number). Not carried: what belongs to one store or node
 *                  (leases, readiness stamps, a cluster's custody record, migration state).
 *   'A' audit      u64 BE seq ‖ the entry's stored bytes, exactly as in the log
 *   'F' file       u16 BE n ‖ name (n bytes, UTF-8) ‖ content (the data folder's certs)
 *   'Z' end        JSON: the same counts and head again
 *
 * An HSM-resident key (record.hsmKey: a non-extractable token key) cannot be carried: its
 * record and metadata are, with the reference, but its value stays in the source HSM by
 * design. Such keys work after a restore only where the destination token holds the same
 * token keys (the HSM vendor's own replication); backup and restore count and report them.
 *
 * In this order: one H, the objects in ascending uid order, the metadata entries in ascending
 * key order, the audit entries 1…head, the files, one Z, nothing after. (Backups made before
 * metadata was carried have no M frames and no `meta` count: read as 0.) `scanBackup` checks all of it: the order, every record, the
 * audit hash chain from entry 1 to the head, the counts; so a backup that scans clean is
 * complete and consistent, not merely authentic.
 */
import { decodeRecord as decodeAuditRecord, sha256 } from '../audit/record.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { decodeRecord, encodeRecord } from '../store/record-codec.js';
import { compareUids } from '../store/index-keys.js';
import type { MetaEntry, StoreSnapshot } from '../store/object-store.js';
import { BackupError } from './errors.js';
import { ChunkWriter, DEFAULT_CHUNK, encodeHeader, newBackupId, newFileKey, type BackupFile, type BackupHeader } from './format.js';
import { wrapFileKey, type RecoveryConfig } from './recovery.js';

const enum F {
  Manifest = 0x48,
  Object = 0x4f,
  Meta = 0x4d,
  Audit = 0x41,
  File = 0x46,
  End = 0x5a,
}
const MAX_FRAME = 256 * 1024 * 1024;

/**
 * The server-metadata prefixes a backup carries: data a restored server must keep (the client
 * registry, src/clients/registry.ts CLIENTS_PREFIX; a revoked client must stay revoked). An
 * allow list: node- and store-local entries must not travel to another server.
 */
export const BACKED_UP_META: readonly string[] = ['clients/'];

export interface Manifest {
  readonly objects: number;
  /** Metadata entries (absent in backups made before they were carried). */
  readonly meta?: number;
  readonly auditEntries: number;
  /** Hex link of the last audit entry ("" when the log is empty). */
  readonly auditHead: string;
  readonly recovery: RecoveryConfig;
}

export interface BackupProgress {
  readonly phase: 'objects' | 'meta' | 'audit';
  readonly done: number;
  readonly total: number;
}

export interface BackupInput {
  readonly snapshot: StoreSnapshot;
  readonly protector: KeyProtector;
  readonly recovery: RecoveryConfig;
  readonly files?: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  readonly source?: Readonly<Record<string, string | number>>;
  readonly chunkSize?: number;
  readonly onProgress?: (p: BackupProgress) => void;
  /** Progress every this many items (default 1000). */
  readonly progressEvery?: number;
}

export interface BackupSummary {
  readonly id: string;
  readonly objects: number;
  readonly meta: number;
  readonly auditEntries: number;
  readonly auditHead: string;
  /** Bytes written (header and chunks). */
  readonly bytes: number;
  /** Objects whose value is a non-extractable HSM key: carried as a reference only. */
  readonly hsmResident: number;
}

function frame(type: F, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

/** Write a whole backup of `input.snapshot` to `sink`: the header, then the encrypted chunks. */
export async function writeBackup(input: BackupInput, sink: (b: Buffer) => Promise<void>): Promise<BackupSummary> {
  if (input.recovery.recipients.length === 0) throw new BackupError('NO_RECOVERY', 'no recovery keys: a backup nobody can open is refused');
  const snap = input.snapshot;
  const fileKey = newFileKey();
  try {
    const header: BackupHeader = {
      format: 1,
      id: newBackupId(),
      created: new Date().toISOString(),
      chunkSize: input.chunkSize ?? DEFAULT_CHUNK,
      cipher: 'AES-256-GCM',
      recipients: wrapFileKey(fileKey, input.recovery.recipients),
      source: input.source ?? {},
    };
    // The registry is small (one entry per client certificate and name): read before the manifest counts it.
    const meta: MetaEntry[] = [];
    for (const prefix of BACKED_UP_META) for await (const e of snap.metaEntries(prefix)) meta.push(e);
    const { bytes: headerBytes, hash } = encodeHeader(header);
    await sink(headerBytes);
    const w = new ChunkWriter(fileKey, hash, header.chunkSize, sink);
    const manifest: Manifest = {
      objects: snap.count,
      meta: meta.length,
      auditEntries: snap.auditHead.seq,
      auditHead: Buffer.from(snap.auditHead.link).toString('hex'),
      recovery: input.recovery,
    };
    await w.write(frame(F.Manifest, Buffer.from(JSON.stringify(manifest))));
    const every = input.progressEvery ?? 1000;
    let n = 0;
    let hsmResident = 0;
    for await (const rec of snap.records()) {
      if (rec.hsmKey !== undefined) hsmResident++;
      const { sealedBody, kekId, ...bare } = rec;
      const recBytes = encodeRecord(bare);
      let body: Uint8Array | undefined;
      if (sealedBody !== undefined) body = await input.protector.open(rec.uid, sealedBody, kekId ?? '');
      const lens = Buffer.alloc(5);
      lens.writeUInt32BE(recBytes.length, 0);
      lens[4] = body ? 1 : 0;
      const payload = Buffer.concat([lens.subarray(0, 4), recBytes, lens.subarray(4), body ?? new Uint8Array(0)]);
      body?.fill(0);
      await w.write(frame(F.Object, payload));
      payload.fill(0);
      n++;
      if (n % every === 0) input.onProgress?.({ phase: 'objects', done: n, total: snap.count });
    }
    if (n !== snap.count) throw new BackupError('IO', `the snapshot says ${snap.count} records but holds ${n}`);
    input.onProgress?.({ phase: 'objects', done: n, total: snap.count });
    for (const e of meta) {
      const key = Buffer.from(e.key, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(key.length);
      await w.write(frame(F.Meta, Buffer.concat([len, key, e.value])));
    }
    if (meta.length > 0) input.onProgress?.({ phase: 'meta', done: meta.length, total: meta.length });
    let a = 0;
    for await (const e of snap.auditEntries(1)) {
      const seq = Buffer.alloc(8);
      seq.writeBigUInt64BE(BigInt(e.seq));
      await w.write(frame(F.Audit, Buffer.concat([seq, e.bytes])));
      a++;
      if (a % (every * 10) === 0) input.onProgress?.({ phase: 'audit', done: a, total: snap.auditHead.seq });
    }
    input.onProgress?.({ phase: 'audit', done: a, total: snap.auditHead.seq });
    for (const f of input.files ?? []) {
      const name = Buffer.from(f.name, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(name.length);
      await w.write(frame(F.File, Buffer.concat([len, name, f.bytes])));
    }
    const end = { objects: n, meta: meta.length, auditEntries: a, auditHead: manifest.auditHead };
    await w.write(frame(F.End, Buffer.from(JSON.stringify(end))));
    await w.finish();
    return { id: header.id, objects: n, meta: meta.length, auditEntries: a, auditHead: manifest.auditHead, bytes: headerBytes.length + w.written, hsmResident };
  } finally {
    fileKey.fill(0);
  }
}

export type Frame =
  | { readonly type: 'manifest'; readonly manifest: Manifest }
  /** `record` has no sealedBody; `body` is the object's content in the clear. */
  | { readonly type: 'object'; readonly record: ObjectRecord; readonly body: Buffer | undefined }
  | { readonly type: 'meta'; readonly key: string; readonly value: Buffer }
  | { readonly type: 'audit'; readonly seq: number; readonly bytes: Buffer }
  | { readonly type: 'file'; readonly name: string; readonly bytes: Buffer };

/** Splits the decrypted chunk stream into frames. */
async function* frames(chunks: AsyncIterable<Buffer>): AsyncGenerator<{ type: number; payload: Buffer }> {
  let pending = Buffer.alloc(0);
  const it = chunks[Symbol.asyncIterator]();
  let ended = false;
  const need = async (n: number): Promise<boolean> => {
    while (pending.length < n && !ended) {
      const r = await it.next();
      if (r.done) ended = true;
      else pending = Buffer.concat([pending, r.value]);
    }
    return pending.length >= n;
  };
  for (;;) {
    if (!(await need(1))) return;
    if (!(await need(5))) throw new BackupError('TAMPERED', 'the body ends inside a frame header');
    const type = pending[0]!;
    const len = pending.readUInt32BE(1);
    if (len > MAX_FRAME) throw new BackupError('TAMPERED', `a frame of ${len} bytes`);
    if (!(await need(5 + len))) throw new BackupError('TAMPERED', 'the body ends inside a frame');
    const payload = Buffer.from(pending.subarray(5, 5 + len));
    pending.fill(0, 0, 5 + len);
    pending = pending.subarray(5 + len);
    yield { type, payload };
  }
}

function bad(msg: string): never {
  throw new BackupError('TAMPERED', msg);
}

export interface ScanResult {
  readonly manifest: Manifest;
  readonly objects: number;
  readonly meta: number;
  readonly auditEntries: number;
  readonly files: number;
  readonly hsmResident: number;
}

/**
 * Decrypt and check a whole backup (see the file comment), calling `visit` for each frame
 * in order. Throws BackupError TAMPERED at the first problem; `visit` sees only frames that
 * passed their checks, but a later frame may still fail, so a caller that writes must be
 * able to undo (restore writes into a staging folder).
 */
export async function scanBackup(
  file: BackupFile,
  fileKey: Buffer,
  visit?: (f: Frame) => Promise<void>,
  onProgress?: (p: BackupProgress) => void,
  progressEvery = 1000,
): Promise<ScanResult> {
  let manifest: Manifest | undefined;
  let objects = 0;
  let metas = 0;
  let lastKey: string | undefined;
  let audits = 0;
  let files = 0;
  let hsmResident = 0;
  let lastUid: string | undefined;
  let link: Buffer = Buffer.alloc(0);
  let ended = false;
  for await (const { type, payload } of frames(file.chunks(fileKey))) {
    if (ended) bad('frames after the end frame');
    if (manifest === undefined && type !== F.Manifest) bad('the body does not start with a manifest');
    switch (type) {
      case F.Manifest: {
        if (manifest !== undefined) bad('a second manifest');
        let m: Manifest;
        try {
          m = JSON.parse(payload.toString('utf8')) as Manifest;
        } catch {
          bad('the manifest is not JSON');
        }
        if (
          !Number.isSafeInteger(m.objects) ||
          (m.meta !== undefined && !Number.isSafeInteger(m.meta)) ||
          !Number.isSafeInteger(m.auditEntries) ||
          typeof m.auditHead !== 'string' ||
          !Array.isArray(m.recovery?.recipients)
        )
          bad('malformed manifest');
        manifest = m;
        await visit?.({ type: 'manifest', manifest: m });
        break;
      }
      case F.Object: {
        if (metas > 0 || audits > 0 || files > 0) bad('an object after the metadata or the audit log');
        if (payload.length < 5) bad('short object frame');
        const n = payload.readUInt32BE(0);
        if (4 + n + 1 > payload.length) bad('object frame lengths do not add up');
        let record: ObjectRecord;
        try {
          record = decodeRecord(payload.subarray(4, 4 + n));
        } catch (e) {
          bad(`object ${objects + 1}: ${(e as Error).message}`);
        }
        if (record.sealedBody !== undefined || record.kekId !== undefined) bad(`object ${record.uid} carries a sealed body`);
        const has = payload[4 + n];
        if (has !== 0 && has !== 1) bad(`object ${record.uid}: bad body flag`);
        if (has === 0 && payload.length !== 5 + n) bad(`object ${record.uid}: bytes after a bodiless record`);
        if (lastUid !== undefined && compareUids(lastUid, record.uid) >= 0) bad(`objects out of order at ${record.uid}`);
        lastUid = record.uid;
        if (record.hsmKey !== undefined) hsmResident++;
        const body = has === 1 ? Buffer.from(payload.subarray(5 + n)) : undefined;
        payload.fill(0);
        objects++;
        await visit?.({ type: 'object', record, body });
        if (objects % progressEvery === 0) onProgress?.({ phase: 'objects', done: objects, total: manifest!.objects });
        break;
      }
      case F.Meta: {
        if (audits > 0 || files > 0) bad('a metadata entry after the audit log');
        if (payload.length < 2) bad('short metadata frame');
        const n = payload.readUInt16BE(0);
        if (2 + n > payload.length) bad('metadata frame lengths do not add up');
        const key = payload.subarray(2, 2 + n).toString('utf8');
        if (!/^[\x20-\x7e]{1,1024}$/.test(key)) bad(`bad metadata key ${JSON.stringify(key)}`);
        if (!BACKED_UP_META.some((p) => key.startsWith(p))) bad(`metadata key ${JSON.stringify(key)} is not one a backup carries`);
        if (lastKey !== undefined && lastKey >= key) bad(`metadata out of order at ${JSON.stringify(key)}`);
        lastKey = key;
        metas++;
        await visit?.({ type: 'meta', key, value: Buffer.from(payload.subarray(2 + n)) });
        break;
      }
      case F.Audit: {
        if (files > 0) bad('an audit entry after the files');
        if (payload.length < 8) bad('short audit frame');
        const seq = Number(payload.readBigUInt64BE(0));
        if (seq !== audits + 1) bad(`audit entry ${seq} where ${audits + 1} was expected`);
        const bytes = Buffer.from(payload.subarray(8));
        let prev: string;
        let rseq: number;
        try {
          const r = decodeAuditRecord(bytes);
          prev = r.prev;
          rseq = r.seq;
        } catch (e) {
          bad(`audit entry ${seq}: ${(e as Error).message}`);
        }
        if (rseq !== seq || prev !== link.toString('hex')) bad(`audit entry ${seq} does not chain to entry ${seq - 1}`);
        link = sha256(bytes);
        audits++;
        await visit?.({ type: 'audit', seq, bytes });
        if (audits % (progressEvery * 10) === 0) onProgress?.({ phase: 'audit', done: audits, total: manifest!.auditEntries });
        break;
      }
      case F.File: {
        if (payload.length < 2) bad('short file frame');
        const n = payload.readUInt16BE(0);
        if (2 + n > payload.length) bad('file frame lengths do not add up');
        const name = payload.subarray(2, 2 + n).toString('utf8');
        if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) bad(`bad file name ${JSON.stringify(name)}`);
        files++;
        await visit?.({ type: 'file', name, bytes: Buffer.from(payload.subarray(2 + n)) });
        break;
      }
      case F.End: {
        let end: { objects: number; meta?: number; auditEntries: number; auditHead: string };
        try {
          end = JSON.parse(payload.toString('utf8')) as typeof end;
        } catch {
          bad('the end frame is not JSON');
        }
        const m = manifest!;
        if (end.objects !== objects || m.objects !== objects) bad(`the backup says ${m.objects} objects, it holds ${objects}`);
        if ((end.meta ?? 0) !== metas || (m.meta ?? 0) !== metas) bad(`the backup says ${m.meta ?? 0} metadata entries, it holds ${metas}`);
        if (end.auditEntries !== audits || m.auditEntries !== audits) bad(`the backup says ${m.auditEntries} audit entries, it holds ${audits}`);
        if (end.auditHead !== m.auditHead || m.auditHead !== link.toString('hex')) bad('the audit head does not match the last entry');
        ended = true;
        break;
      }
      default:
        bad(`unknown frame type ${type}`);
    }
  }
  if (!ended || !manifest) bad('the body has no end frame');
  onProgress?.({ phase: 'objects', done: objects, total: manifest.objects });
  onProgress?.({ phase: 'audit', done: audits, total: manifest.auditEntries });
  return { manifest, objects, meta: metas, auditEntries: audits, files, hsmResident };
}
