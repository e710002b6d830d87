/**
 * Writing anchors (anchor.ts) for a running server's audit trail, or for `kms restore`: the
 * anchor file (appended, fsynced), the token data object (with an HSM audit key) and, through
 * the caller, the log stream. A failed anchor write is logged at error level; it never fails
 * a request (the entry it anchors is already durable).
 *
 * At open, the latest line under this audit key (in the file and in the token) is compared
 * with the trail: a trail that does not reach it, or holds another entry there, was cut back
 * (or rolled back from a file-system copy). The server says so loudly and carries on; `kms
 * audit verify` fails on it from then on.
 */
import type { AuditLogReader } from '../store/object-store.js';
import type { AuditKey } from './audit-key.js';
import { anchorMacInput, appendAnchorLine, trailIncarnations, makeAnchorLine, parseAnchorText, probeAnchorFile, readAnchorFile, type AnchorLine, type SourcedLine } from './anchor.js';
import { decodeRecord, sha256 } from './record.js';

export interface AnchorLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AnchorWriterOptions {
  readonly reader: AuditLogReader;
  readonly key: AuditKey;
  /** The anchor file; absent: none. */
  readonly file?: string;
  /** true: the file was configured explicitly, so a file that cannot be written refuses the start. */
  readonly required?: boolean;
  readonly log: AnchorLog;
}

/** What the caller passes for each anchored entry. */
export interface AnchoredEntry {
  readonly seq: number;
  readonly kind: 'checkpoint' | 'restore';
  readonly link: Uint8Array;
  readonly covers: number;
  readonly head: string;
  readonly mac: string;
  readonly time: string;
}

export class AnchorWriter {
  private incarnation: Buffer | undefined;
  /** The entry the incarnation was read at (entries after it may hold a restore record). */
  private incarnationAt = 0;
  private constructor(
    private readonly opts: AnchorWriterOptions,
    /** The file, when it can be written. */
    readonly file: string | undefined,
  ) {}

  /** Where lines go ("file", "token"), for the checkpoint record. */
  get targets(): string[] {
    return [...(this.file ? ['file'] : []), ...(this.opts.key.anchorSlot ? ['token'] : [])];
  }

  static async open(opts: AnchorWriterOptions): Promise<AnchorWriter> {
    let file = opts.file;
    if (file) {
      try {
        probeAnchorFile(file);
      } catch (e) {
        const msg = `the audit anchor file ${file} cannot be written: ${(e as Error).message}`;
        if (opts.required) throw new Error(`${msg} (audit.anchorFile / KMS_AUDIT_ANCHOR_FILE)`);
        opts.log.warn({ anchorFile: file, err: e }, `${msg}; checkpoints are anchored in the log stream${opts.key.anchorSlot ? ' and the token' : ''} only (set audit.anchorFile)`);
        file = undefined;
      }
    }
    const w = new AnchorWriter(opts, file);
    await w.checkAgainstTrail();
    return w;
  }

  /** The latest line under this key from the file and the token, checked against the trail. */
  private async checkAgainstTrail(): Promise<void> {
    const { key, reader } = this.opts;
    const lines: SourcedLine[] = [];
    if (this.file) lines.push(...readAnchorFile(this.file).lines);
    if (key.anchorSlot) {
      try {
        for (const v of await key.anchorSlot.read()) lines.push(...parseAnchorText(v, key.anchorSlot.description).lines);
      } catch (e) {
        this.opts.log.warn({ err: e }, `cannot read the audit anchor from ${key.anchorSlot.description}`);
      }
    }
    let latest: SourcedLine | undefined;
    // Highest first: one MAC check in the usual case, however long the file.
    for (const l of lines.filter((x) => x.line.keyId === key.id).sort((a, b) => b.line.seq - a.line.seq)) {
      if (await lineVerifies(key, l.line)) {
        latest = l;
        break;
      }
    }
    if (!latest) return;
    const head = reader.head();
    const [entry] = latest.line.seq <= head.seq ? await reader.read(latest.line.seq, 1) : [];
    if (entry && entry.seq === latest.line.seq && sha256(entry.bytes).toString('hex') === latest.line.link) {
      this.incarnation = Buffer.from(latest.line.incarnation, 'hex');
      this.incarnationAt = latest.line.seq;
      return;
    }
    // A restore into this folder started a new incarnation: the old server's lines beyond the
    // backup are not a cut.
    const incs = await trailIncarnations(reader);
    const i = incs.findIndex((x) => x.id.toString('hex') === latest.line.incarnation);
    if (i >= 0 && i < incs.length - 1 && latest.line.seq >= incs[i + 1]!.seq) return;
    this.opts.log.error(
      { anchor: { seq: latest.line.seq, time: latest.line.time, source: latest.source }, auditHead: head.seq },
      `AUDIT TRAIL CUT BACK: ${latest.source} anchors entry ${latest.line.seq} (${latest.line.time}), but the trail ${head.seq < latest.line.seq ? `ends at entry ${head.seq}` : 'holds another entry there'}; kms audit verify will fail`,
    );
  }

  /** Anchor one entry everywhere this writer writes; returns the line (for the log stream). */
  async anchor(entry: AnchoredEntry): Promise<AnchorLine | undefined> {
    const { key, reader, log } = this.opts;
    let line: AnchorLine;
    try {
      if (entry.kind === 'restore') {
        this.incarnation = Buffer.from(entry.link);
      } else if (!this.incarnation || this.incarnationAt < entry.seq) {
        const found = await trailIncarnations(reader, this.incarnation ? this.incarnationAt + 1 : 1, entry.seq);
        if (found.length > 0) this.incarnation = found[found.length - 1]!.id;
      }
      this.incarnationAt = entry.seq;
      if (!this.incarnation) return undefined;
      line = await makeAnchorLine(key, entry, this.incarnation);
    } catch (e) {
      log.error({ err: e, seq: entry.seq }, 'AUDIT ANCHOR UNAVAILABLE: the anchor line could not be made');
      return undefined;
    }
    if (this.file) {
      try {
        await appendAnchorLine(this.file, line);
      } catch (e) {
        log.error({ err: e, anchorFile: this.file, seq: entry.seq }, 'AUDIT ANCHOR UNAVAILABLE: the anchor file could not be written');
      }
    }
    const slot = key.anchorSlot;
    if (slot) {
      try {
        // Never moved back within one incarnation, nor over a line the trail no longer holds:
        // either means the trail was cut, and the token keeps the evidence.
        const held = (await slot.read()).flatMap((v) => parseAnchorText(v, slot.description).lines).map((l) => l.line);
        let evidence: AnchorLine | undefined;
        for (const h of held) {
          if (h.keyId !== key.id || h.incarnation !== line.incarnation || !(await lineVerifies(key, h))) continue;
          const [e] = h.seq <= line.seq ? await reader.read(h.seq, 1) : [];
          if (h.seq > line.seq || !e || e.seq !== h.seq || sha256(e.bytes).toString('hex') !== h.link) evidence = h;
        }
        if (evidence)
          log.error(
            { anchor: evidence.seq, seq: line.seq },
            `AUDIT TRAIL CUT BACK: ${slot.description} anchors entry ${evidence.seq}, which this trail does not hold; it is kept as evidence`,
          );
        else await slot.write(JSON.stringify(line));
      } catch (e) {
        log.error({ err: e, seq: entry.seq }, `AUDIT ANCHOR UNAVAILABLE: ${slot.description} could not be written`);
      }
    }
    return line;
  }
}

async function lineVerifies(key: AuditKey, line: AnchorLine): Promise<boolean> {
  try {
    return await key.verify(anchorMacInput(line.seq, Buffer.from(line.link, 'hex'), Buffer.from(line.incarnation, 'hex')), Buffer.from(line.anchorMac, 'hex'));
  } catch {
    return false;
  }
}

/** The record at `seq` as an anchored entry (for restore: the restore record just written). */
export async function anchoredEntryAt(reader: AuditLogReader, seq: number): Promise<AnchoredEntry | undefined> {
  const [e] = await reader.read(seq, 1);
  if (!e || e.seq !== seq) return undefined;
  const r = decodeRecord(e.bytes);
  if (r.kind !== 'checkpoint' && r.kind !== 'restore') return undefined;
  return { seq, kind: r.kind, link: sha256(e.bytes), covers: r.covers, head: r.head, mac: r.mac, time: r.time };
}
