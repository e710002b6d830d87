/**
 * `kms audit verify` as data: gather the anchors, verify the trail, and say what was checked,
 * so a stopped folder (src/cli/audit.ts) and a running server (through its admin socket,
 * src/admin/queries.ts) produce the same outcome, printed by the same code.
 *
 * On a running server the trail keeps growing while it is read. `liveSnapshot` seals it first
 * (a checkpoint over everything written so far, anchored like any other) and the verify then
 * reads the trail up to that checkpoint only, as if the server had stopped there: the numbers
 * are those a stopped folder would show. Anchor lines for entries past that point (checkpoints
 * the server wrote meanwhile) are left out; those for entries past the store's head still
 * count, so a trail cut back while the server runs is still caught.
 */
import { parseAnchorText, readAnchorFile, type SourcedLine } from './anchor.js';
import type { AuditKey } from './audit-key.js';
import { decodeRecord, sha256 } from './record.js';
import type { AuditTrail } from './trail.js';
import { verifyAuditLog, type VerifyResult } from './verify.js';
import type { AuditLogReader } from '../store/object-store.js';

/** An anchor file's lines, read by whoever can read it (the CLI, for --anchor FILE). */
export interface AnchorFileLines {
  readonly file: string;
  readonly lines: SourcedLine[];
  readonly skipped: number;
}

export interface GatheredAnchors {
  readonly lines: SourcedLine[];
  readonly sources: string[];
  readonly missing: string[];
  readonly fileRead: boolean;
  readonly tokenRead: boolean;
}

/** Read anchor files: a file given explicitly must be readable, the default one may be absent (undefined). */
export function readAnchorFiles(files: readonly { file: string; explicit: boolean }[]): (AnchorFileLines | { file: string; absent: true })[] {
  return files.map(({ file, explicit }) => {
    try {
      return { file, ...readAnchorFile(file) };
    } catch (e) {
      if (explicit) throw new Error(`cannot read the anchor ${file}: ${(e as Error).message}`);
      return { file, absent: true as const };
    }
  });
}

/** The anchor lines verify checks against (the files', then the token's), and a sentence per source. */
export async function gatherAnchors(files: readonly (AnchorFileLines | { file: string; absent: true })[], key: AuditKey): Promise<GatheredAnchors> {
  const lines: SourcedLine[] = [];
  const sources: string[] = [];
  const missing: string[] = [];
  let fileRead = false;
  let tokenRead = false;
  for (const f of files) {
    if ('absent' in f) {
      missing.push(`no anchor file at ${f.file}`);
      continue;
    }
    fileRead = true;
    lines.push(...f.lines);
    sources.push(`${f.file} (${f.lines.length} anchor line(s)${f.skipped ? `, ${f.skipped} other line(s) skipped` : ''})`);
  }
  if (key.anchorSlot) {
    const held = await key.anchorSlot.read();
    const got = held.flatMap((v) => parseAnchorText(v, key.anchorSlot!.description).lines);
    if (got.length > 0) {
      tokenRead = true;
      lines.push(...got);
      sources.push(`${key.anchorSlot.description} (entry ${Math.max(...got.map((l) => l.line.seq))})`);
    } else {
      missing.push(`${key.anchorSlot.description} holds no anchor`);
    }
  }
  return { lines, sources, missing, fileRead, tokenRead };
}

/** What `kms audit verify` prints from (plain data: it crosses the admin socket as JSON). */
export interface VerifyOutcome {
  readonly result: VerifyResult;
  readonly keyId: string;
  /** Undefined with --no-anchor. */
  readonly anchors?: Omit<GatheredAnchors, 'lines'>;
  /** On a running server: the entry the verify stopped at (its sealing checkpoint). */
  readonly liveThrough?: number;
}

export interface VerifyRun {
  readonly reader: AuditLogReader;
  readonly key: AuditKey;
  readonly anchors?: GatheredAnchors;
  readonly every: number;
  readonly onProgress?: (entries: number, total: number) => void;
  /** A running server: read up to this entry (liveSnapshot) and leave out anchors past it. */
  readonly live?: { readonly through: number };
}

export async function runVerify(o: VerifyRun): Promise<VerifyOutcome> {
  const reader = o.live ? await boundedReader(o.reader, o.live.through) : o.reader;
  const total = reader.head().seq;
  const realHead = o.reader.head().seq;
  // Lines for entries the server wrote after the snapshot vouch for nothing the verify read.
  const lines = o.anchors && o.live ? o.anchors.lines.filter((l) => l.line.seq <= o.live!.through || l.line.seq > realHead) : o.anchors?.lines;
  const result = await verifyAuditLog(reader, o.key, (n) => o.onProgress?.(n, total), o.every, lines ? { anchors: lines } : {});
  const anchors = o.anchors && { sources: o.anchors.sources, missing: o.anchors.missing, fileRead: o.anchors.fileRead, tokenRead: o.anchors.tokenRead };
  return { result, keyId: o.key.id, ...(anchors && { anchors }), ...(o.live && { liveThrough: o.live.through }) };
}

/**
 * Seal a running server's trail for a verify: a checkpoint over its head (anchored before this
 * returns), then the entry to verify through: the last checkpoint that covers every entry
 * before it. Entries other requests append meanwhile may land between the head read and the
 * checkpoint; then it tries again (a few times; then the checkpoint it has is used, and the
 * entries before it that no checkpoint covers yet show as a break like any other).
 */
export async function liveSnapshot(trail: AuditTrail, reader: AuditLogReader): Promise<number> {
  let fallback = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = Math.max(1, reader.head().seq);
    await trail.checkpoint('interval');
    await trail.anchored();
    let sealing = 0;
    for (const e of await reader.read(before, 1_000_000)) {
      let r;
      try {
        r = decodeRecord(e.bytes);
      } catch {
        continue;
      }
      if (r.kind !== 'checkpoint' && r.kind !== 'restore') continue;
      fallback = e.seq;
      if (r.covers === e.seq - 1) sealing = e.seq;
    }
    if (sealing > 0) return sealing;
  }
  return fallback || reader.head().seq;
}

/** `reader` up to entry `through`, whose head is that entry. */
async function boundedReader(reader: AuditLogReader, through: number): Promise<AuditLogReader> {
  const [last] = through > 0 ? await reader.read(through, 1) : [];
  const head = { seq: last?.seq === through ? through : 0, link: last?.seq === through ? sha256(last.bytes) : new Uint8Array(0) };
  return {
    head: () => head,
    async read(from: number, limit: number) {
      if (from > through) return [];
      return (await reader.read(from, Math.min(limit, through - from + 1))).filter((e) => e.seq <= through);
    },
  };
}
