/**
 * Anchors: the audit trail's head kept OUTSIDE the data folder, so a trail cut back to one of
 * its own checkpoints (later entries deleted, the store's head rewritten) no longer verifies.
 *
 * At every checkpoint (and at `kms restore`'s restore record) the server writes one anchor
 * line, after the entry is durable, to:
 * - the log stream: pino message "audit checkpoint" with the line in `auditCheckpoint`;
 * - the anchor file (`audit.anchorFile`, default `<dataDir>.audit-anchor.jsonl`, which must be
 *   outside the data folder): appended and fsynced, one JSON object per line;
 * - with an HSM, a token data object (CKO_DATA, private, label `kms-anchor-<audit key>`)
 *   rewritten with the latest line; it is never moved back within one incarnation.
 *
 * A line names the entry (`seq`), that entry's link (SHA-256 of its stored bytes, which pins
 * it and, through the hash chain, everything before it) and the trail's incarnation (the link
 * of entry 1, or of the latest restore record before it: a restore starts a new incarnation,
 * so the lines of the backed-up server beyond the backup do not read as a cut). `anchorMac` is
 * HMAC-SHA-256 under the audit key over "kms-audit-anchor-v1\0" ‖ seq (8 bytes BE) ‖ link ‖
 * incarnation, so a line cannot be forged without the audit key; the checkpoint's own covers,
 * head and MAC ride along for the reader.
 *
 * `checkAnchors` (used by verify.ts) takes every line under this audit key: a line of the
 * trail's last incarnation must name an entry the trail holds, with the same link (else
 * TRUNCATED / REWRITTEN); a line of an earlier incarnation likewise within that incarnation's
 * span, beyond it it was superseded by the restore; a line of an incarnation the trail does
 * not hold means the trail was cut back past a restore (or another trail shares this audit key
 * and file). Lines under other audit keys are counted and left aside; a line under this key
 * whose MAC fails is reported as forged.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, relative, resolve, isAbsolute } from 'node:path';
import type { AuditLogReader } from '../store/object-store.js';
import type { AuditKey } from './audit-key.js';
import { decodeRecord, sha256 } from './record.js';
import { BINARY_MARKER, binaryKind } from './record-binary.js';

export const ANCHOR_FORMAT = 1;

export interface AnchorLine {
  readonly auditAnchor: typeof ANCHOR_FORMAT;
  /** The anchored entry: a checkpoint or a restore record. */
  readonly seq: number;
  readonly kind: 'checkpoint' | 'restore';
  /** Hex SHA-256 of entry `seq`'s stored bytes. */
  readonly link: string;
  /** Hex link of entry 1, or of the latest restore record at or before `seq`. */
  readonly incarnation: string;
  readonly keyId: string;
  readonly time: string;
  /** The checkpoint's (or restore record's) covers, head and MAC, for the reader. */
  readonly covers: number;
  readonly head: string;
  readonly mac: string;
  readonly anchorMac: string;
}

/** Where an anchor line came from ("anchor file /x", "token object kms-anchor-…", "log line 12 of /y"). */
export interface SourcedLine {
  readonly source: string;
  readonly line: AnchorLine;
}

export function anchorMacInput(seq: number, link: Uint8Array, incarnation: Uint8Array): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(seq), 0);
  return Buffer.concat([Buffer.from('kms-audit-anchor-v1\0'), b, link, incarnation]);
}

/** The default anchor file of a data folder: a sibling file, outside it. */
export function defaultAnchorFile(dataDir: string): string {
  return `${resolve(dataDir)}.audit-anchor.jsonl`;
}

/** True when `file` is inside `dir` (or is it). */
export function isInside(file: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(file));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function isLine(o: unknown): o is AnchorLine {
  const l = o as AnchorLine;
  return (
    typeof o === 'object' &&
    o !== null &&
    l.auditAnchor === ANCHOR_FORMAT &&
    Number.isSafeInteger(l.seq) &&
    l.seq >= 1 &&
    typeof l.link === 'string' &&
    typeof l.incarnation === 'string' &&
    typeof l.keyId === 'string' &&
    typeof l.anchorMac === 'string'
  );
}

/**
 * Anchor lines out of text: anchor files (one line per JSON object) and log streams (pino
 * lines whose `auditCheckpoint` holds one). Anything else is counted as skipped.
 */
export function parseAnchorText(text: string, source: string): { lines: SourcedLine[]; skipped: number } {
  const lines: SourcedLine[] = [];
  let skipped = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') continue;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch {
      skipped++;
      continue;
    }
    const cand = isLine(o) ? o : isLine((o as { auditCheckpoint?: unknown })?.auditCheckpoint) ? (o as { auditCheckpoint: AnchorLine }).auditCheckpoint : undefined;
    if (cand) lines.push({ source: `${source} line ${i + 1}`, line: cand });
    else skipped++;
  }
  return { lines, skipped };
}

export function readAnchorFile(path: string): { lines: SourcedLine[]; skipped: number } {
  return parseAnchorText(readFileSync(path, 'utf8'), path);
}

/** Make the anchor line for entry `seq` (a checkpoint or restore record) under `key`. */
export async function makeAnchorLine(
  key: AuditKey,
  entry: { seq: number; kind: 'checkpoint' | 'restore'; link: Uint8Array; covers: number; head: string; mac: string; time: string },
  incarnation: Uint8Array,
): Promise<AnchorLine> {
  const anchorMac = Buffer.from(await key.mac(anchorMacInput(entry.seq, entry.link, incarnation))).toString('hex');
  return {
    auditAnchor: ANCHOR_FORMAT,
    seq: entry.seq,
    kind: entry.kind,
    link: Buffer.from(entry.link).toString('hex'),
    incarnation: Buffer.from(incarnation).toString('hex'),
    keyId: key.id,
    time: entry.time,
    covers: entry.covers,
    head: entry.head,
    mac: entry.mac,
    anchorMac,
  };
}

/** Append one line and fsync the file (and, when it was just made, its folder). */
export async function appendAnchorLine(path: string, line: AnchorLine): Promise<void> {
  const existed = existsSync(path);
  const fh = await open(path, 'a+', 0o600);
  try {
    // A line torn by a crash is left as it is; the next one starts on a line of its own.
    const { size } = await fh.stat();
    let lead = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) lead = '\n';
    }
    await fh.appendFile(lead + JSON.stringify(line) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (!existed) syncDir(dirname(path));
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not every file system lets a folder be synced; the file itself is.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Check that the anchor file can be written (made if absent, mode 0600); throws otherwise. */
export function probeAnchorFile(path: string): void {
  const existed = existsSync(path);
  const fd = openSync(path, 'a', 0o600);
  try {
    if (!existed) writeSync(fd, '');
  } finally {
    closeSync(fd);
  }
  if (!existed) syncDir(dirname(path));
}

/**
 * Where the trail's incarnations start within entries [from, to]: entry 1, and every restore
 * record (id = that entry's link). Reads the entries; only restore records are decoded.
 */
/** Could these stored bytes be a restore record (format 2: its kind byte; format 1: its JSON text)? Only those are decoded. */
function mayBeRestore(bytes: Uint8Array): boolean {
  return bytes[0] === BINARY_MARKER ? binaryKind(bytes) === 'restore' : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('"kind":"restore"');
}

export async function trailIncarnations(reader: AuditLogReader, from = 1, to = Number.MAX_SAFE_INTEGER): Promise<{ seq: number; id: Buffer }[]> {
  const PAGE = 1000;
  const out: { seq: number; id: Buffer }[] = [];
  for (let at = from; at <= to;) {
    const page = await reader.read(at, Math.min(PAGE, to - at + 1));
    if (page.length === 0) break;
    for (const e of page) {
      if (e.seq > to) break;
      if (e.seq === 1) out.push({ seq: 1, id: sha256(e.bytes) });
      else if (mayBeRestore(e.bytes)) {
        try {
          if (decodeRecord(e.bytes).kind === 'restore') out.push({ seq: e.seq, id: sha256(e.bytes) });
        } catch {
          // verify reports it
        }
      }
    }
    at = page[page.length - 1]!.seq + 1;
  }
  return out;
}

/** What checkAnchors found, per source and in all. */
export interface AnchorCheck {
  readonly ok: boolean;
  /** Set when !ok: the most telling finding (a cut, a line of an incarnation the trail lacks, a rewrite, a forged line). */
  readonly failure?: { readonly kind: 'TRUNCATED' | 'REWRITTEN' | 'FORGED' | 'UNKNOWN INCARNATION'; readonly message: string };
  /** Lines under this audit key that were checked against the trail. */
  readonly checked: number;
  /** The highest entry an anchor line vouches for, and where it came from. */
  readonly latest?: { readonly seq: number; readonly time: string; readonly source: string };
  /** Lines of an earlier incarnation beyond its span (superseded by a restore). */
  readonly superseded: number;
  /** Lines under other audit keys (another server's, e.g. before a restore), left aside. */
  readonly otherKeys: number;
}

/** The trail as verify.ts saw it: links[seq] for every entry, and where each incarnation starts. */
export interface TrailShape {
  readonly entries: number;
  link(seq: number): Buffer | undefined;
  /** Incarnation starts in order: { seq, id } (id = link of entry seq). */
  readonly incarnations: readonly { readonly seq: number; readonly id: string }[];
}

export async function checkAnchors(trail: TrailShape, key: AuditKey, lines: readonly SourcedLine[]): Promise<AnchorCheck> {
  let checked = 0;
  let superseded = 0;
  let otherKeys = 0;
  let latest: AnchorCheck['latest'];
  let failure: AnchorCheck['failure'];
  const note = (f: NonNullable<AnchorCheck['failure']>) => {
    // The most telling failure wins (a cut over a rewrite over the rest), the latest line among equals.
    const rank = { TRUNCATED: 4, 'UNKNOWN INCARNATION': 3, REWRITTEN: 2, FORGED: 1 } as const;
    if (!failure || rank[f.kind] >= rank[failure.kind]) failure = f;
  };
  // In seq order, so the latest line of each kind is the one reported.
  for (const { source, line } of [...lines].sort((a, b) => a.line.seq - b.line.seq)) {
    if (line.keyId !== key.id) {
      otherKeys++;
      continue;
    }
    const link = Buffer.from(line.link, 'hex');
    const inc = Buffer.from(line.incarnation, 'hex');
    let ok = false;
    try {
      ok = link.length === 32 && inc.length === 32 && (await key.verify(anchorMacInput(line.seq, link, inc), Buffer.from(line.anchorMac, 'hex')));
    } catch {
      ok = false;
    }
    if (!ok) {
      note({ kind: 'FORGED', message: `${source}: an anchor line for entry ${line.seq} under audit key ${key.id} whose MAC does not verify: forged or damaged` });
      continue;
    }
    const i = trail.incarnations.findIndex((x) => x.id === line.incarnation);
    if (i < 0) {
      note({
        kind: trail.entries < line.seq ? 'TRUNCATED' : 'UNKNOWN INCARNATION',
        message: `${source} anchors entry ${line.seq} (${line.time}) of a trail incarnation this log does not hold (${line.incarnation.slice(0, 16)}…): the trail was cut back${trail.entries < line.seq ? ` (it ends at entry ${trail.entries})` : ' past a restore'}, or another data folder shares this audit key and anchor`,
      });
      continue;
    }
    const last = i === trail.incarnations.length - 1;
    const end = last ? trail.entries : trail.incarnations[i + 1]!.seq - 1;
    if (line.seq > end) {
      if (last) {
        note({
          kind: 'TRUNCATED',
          message: `the trail ends at entry ${trail.entries}, but ${source} anchors ${line.kind} entry ${line.seq} (${line.time}): entries ${trail.entries + 1}..${line.seq} at least were cut away`,
        });
      } else {
        superseded++;
      }
      continue;
    }
    const have = trail.link(line.seq);
    if (!have || !have.equals(link)) {
      note({ kind: 'REWRITTEN', message: `entry ${line.seq} is not the ${line.kind} ${source} anchors (${line.time}): the trail was cut back and written again` });
      continue;
    }
    checked++;
    if (!latest || line.seq > latest.seq) latest = { seq: line.seq, time: line.time, source };
  }
  return { ok: failure === undefined, ...(failure ? { failure } : {}), checked, ...(latest ? { latest } : {}), superseded, otherKeys };
}
