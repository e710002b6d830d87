/**
 * Check a whole audit log: positions, the hash chain, every checkpoint's MAC, that every
 * entry is covered by a checkpoint, and that the store's recorded head matches the end. Stops
 * at the first break and names its position (1-based, in key order) and sequence number.
 *
 * What each tampering looks like:
 * - edit an entry: the next entry's `prev` no longer matches (the last entry is the shutdown
 *   checkpoint, whose fields are MAC'd or checked against the chain);
 * - delete / insert: a key out of sequence, or a `prev` that does not match;
 * - reorder: an entry's own `seq` differs from its key, or `prev` breaks;
 * - truncate then append: the appended entries are not covered by a valid checkpoint (the
 *   attacker cannot make one without the audit key), and the head no longer matches.
 *
 * After `kms restore` the log starts with the old server's entries, whose checkpoints are
 * MACs under an audit key this server does not hold. A checkpoint under another key is
 * accepted only when a later restore anchor under THIS key covers it: the anchor's MAC
 * seals the imported head, and the hash chain (checked link by link here) ties every
 * imported entry to that head. A foreign checkpoint with no anchor after it is reported
 * at its position, as before.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AuditLogReader } from '../store/object-store.js';
import type { AuditKey } from './audit-key.js';
import { checkpointInput, decodeRecord, restoreInput, sha256, type AuditRecord } from './record.js';
import { checkAnchors, type AnchorCheck, type SourcedLine } from './anchor.js';

export interface VerifyFailure {
  /** 1-based position in key order (0 when the problem is the log as a whole). */
  readonly position: number;
  /** The sequence number the entry's key says. */
  readonly seq: number;
  readonly message: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly entries: number;
  readonly checkpoints: number;
  /** Highest entry covered by a valid checkpoint. */
  readonly sealedThrough: number;
  readonly failure?: VerifyFailure;
  /** Set when the log was restored: the anchor, and how many imported checkpoints it vouches for. */
  readonly restore?: { readonly seq: number; readonly covers: number; readonly backup: string; readonly importedCheckpoints: number };
  /**
   * With `allowUnsealedTail`: how many entries at the end no checkpoint covers (a server
   * that was killed). Their hash chain was still checked.
   */
  readonly unsealed?: number;
  /** With `anchors`: what the anchors outside the data folder said (anchor.ts). */
  readonly anchors?: AnchorCheck;
  /**
   * Where the trail's checkpoints say they were anchored ("file", "token"), from the
   * checkpoints a later checkpoint seals plus the last one: verify without such an anchor
   * cannot tell a cut.
   */
  readonly anchoredTo: readonly string[];
}

export interface VerifyOptions {
  /**
   * Accept entries after the last checkpoint (reported as `unsealed`) instead of failing:
   * for checking a folder right after a crash, before the restarted server seals them. Off
   * by default: `kms audit verify` cannot tell a crash from a truncate-then-append.
   */
  readonly allowUnsealedTail?: boolean;
  /**
   * Anchor lines from outside the data folder (anchor files, the log stream, the token): the
   * trail must reach the latest one under this audit key and hold the entry it names.
   */
  readonly anchors?: readonly SourcedLine[];
}

const PAGE = 1000;

function hexEq(a: string, b: Uint8Array): boolean {
  const bb = Buffer.from(a, 'hex');
  return bb.length === b.length && bb.length > 0 && timingSafeEqual(bb, b);
}

export async function verifyAuditLog(
  reader: AuditLogReader,
  key: AuditKey,
  onProgress?: (entries: number) => void,
  progressEvery = 10_000,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const links: Buffer[] = [Buffer.alloc(0)]; // links[seq]; links[0]: before the first
  let entries = 0;
  let checkpoints = 0;
  let sealedThrough = 0;
  let last: AuditRecord | undefined;
  /** The first checkpoint under another audit key that no restore anchor covers yet. */
  let foreign: VerifyFailure | undefined;
  let foreignCount = 0;
  let restore: VerifyResult['restore'];
  /** Where incarnations start (entry 1, each restore record), for the anchors. */
  const incarnations: { seq: number; id: string }[] = [];
  /** Checkpoints naming where they were anchored: [seq, targets]. */
  const anchorClaims: [number, readonly string[]][] = [];
  const fail = (position: number, seq: number, message: string, preferForeign = true): VerifyResult => ({
    ok: false,
    entries,
    checkpoints,
    sealedThrough,
    anchoredTo: [],
    // An earlier unanchored foreign checkpoint is the first break.
    failure: preferForeign && foreign && (position === 0 || foreign.position < position) ? foreign : { position, seq, message },
  });

  let from = 1;
  for (;;) {
    const page = await reader.read(from, PAGE);
    if (page.length === 0) break;
    for (const e of page) {
      const position = entries + 1;
      if (e.seq !== position) {
        return fail(position, e.seq, e.seq > position ? `entry ${position} is missing (the next key is ${e.seq}): deleted` : `entry key ${e.seq} out of order at position ${position}`);
      }
      let r: AuditRecord;
      try {
        r = decodeRecord(e.bytes);
      } catch (err) {
        return fail(position, e.seq, `entry does not parse: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (r.seq !== e.seq) return fail(position, e.seq, `entry says it is number ${r.seq}: moved or reordered`);
      const prev = links[e.seq - 1]!;
      if (r.prev !== prev.toString('hex')) {
        return fail(position, e.seq, `hash chain broken: prev does not match entry ${e.seq - 1} (entry ${e.seq - 1} was edited, or this one was inserted, moved or edited)`);
      }
      const link = sha256(e.bytes);
      links.push(link);
      if (e.seq === 1 || r.kind === 'restore') incarnations.push({ seq: e.seq, id: link.toString('hex') });
      if (r.kind === 'checkpoint' && Array.isArray(r.anchor)) anchorClaims.push([e.seq, r.anchor.filter((x): x is string => typeof x === 'string')]);
      if (r.kind === 'checkpoint' || r.kind === 'restore') {
        const what = r.kind === 'checkpoint' ? 'checkpoint' : 'restore anchor';
        if (!Number.isSafeInteger(r.covers) || r.covers < 1 || r.covers >= r.seq) return fail(position, e.seq, `${what} covers ${String(r.covers)}, not an earlier entry`);
        if (!hexEq(r.head, links[r.covers]!)) return fail(position, e.seq, `${what} head does not match entry ${r.covers}`);
        if (r.keyId !== key.id) {
          // Only a restore anchor under this key can vouch for it (checked when one comes).
          foreign ??= { position, seq: e.seq, message: `${what} made with audit key ${r.keyId}, verifying with ${key.id}` };
          foreignCount++;
        } else {
          const input = r.kind === 'checkpoint' ? checkpointInput(r.covers, links[r.covers]!) : restoreInput(r.covers, links[r.covers]!, String(r.backup));
          let ok = false;
          try {
            ok = await key.verify(input, Buffer.from(r.mac, 'hex'));
          } catch {
            ok = false;
          }
          // A forged anchor is the break itself, even after the foreign checkpoints it claims to cover.
          if (!ok) return fail(position, e.seq, `${what} MAC does not verify: forged or edited`, r.kind === 'checkpoint');
          checkpoints++;
          sealedThrough = Math.max(sealedThrough, r.covers);
          if (r.kind === 'restore') {
            if (foreign && foreign.seq <= r.covers) foreign = undefined;
            restore = { seq: r.seq, covers: r.covers, backup: String(r.backup), importedCheckpoints: foreignCount };
          }
        }
      }
      entries++;
      last = r;
      if (onProgress && entries % progressEvery === 0) onProgress(entries);
    }
    from = entries + 1;
  }

  // Entries left unsealed because an old-key checkpoint has no anchor: that checkpoint is the break.
  if (foreign) return fail(0, 0, '');
  let unsealed = 0;
  if (entries > 0) {
    const lastSealedOk = (last?.kind === 'checkpoint' || last?.kind === 'restore') && sealedThrough === entries - 1;
    if (!lastSealedOk && options.allowUnsealedTail) unsealed = entries - sealedThrough;
    else if (!lastSealedOk) {
      return fail(
        sealedThrough + 1,
        sealedThrough + 1,
        `entries ${sealedThrough + 1}..${entries} are not covered by a checkpoint: truncated and appended to, or the server did not stop cleanly`,
      );
    }
  }
  const head = reader.head();
  // A running server (allowUnsealedTail) may have appended since the last read: a head ahead of
  // what was read is its new entries, not a cut.
  const live = options.allowUnsealedTail === true && head.seq > entries;
  if (head.seq !== entries && !live) return fail(0, head.seq, `the store's head says ${head.seq} entries, the log holds ${entries}: truncated or extended`);
  if (!live && entries > 0 && !links[entries]!.equals(Buffer.from(head.link))) return fail(entries, entries, `the store's head link does not match the last entry`);
  // Claims a later checkpoint seals are the trail's own word; the last entry's too (it can only be stripped).
  const anchoredTo = [...new Set(anchorClaims.filter(([seq]) => seq <= sealedThrough || seq === entries).flatMap(([, t]) => t))].sort();
  const done = { entries, checkpoints, sealedThrough, anchoredTo, ...(restore ? { restore } : {}), ...(options.allowUnsealedTail ? { unsealed } : {}) };
  if (!options.anchors) return { ok: true, ...done };
  const anchors = await checkAnchors({ entries, link: (seq) => links[seq], incarnations }, key, options.anchors);
  if (anchors.ok) return { ok: true, ...done, anchors };
  return { ok: false, ...done, anchors, failure: { position: 0, seq: entries, message: `${anchors.failure!.kind}: ${anchors.failure!.message}` } };
}
