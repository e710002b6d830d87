/**
 * Read-only queries a running server answers on its admin socket (src/server/admin-socket.ts;
 * the server's own user only), for the commands that otherwise need the data folder's lock:
 *
 *   {"op":"hsm-status"}                          -> {"ok":true,"result":HsmStatus}
 *   {"op":"audit-report","filter":{…}}           -> {"ok":true,"result":{"report":[…]}}
 *   {"op":"audit-verify","every":N,"noAnchor":b,"anchorFiles":[{"file","skipped","lines"}]}
 *     then, when anchorFiles is given, that many anchor lines ({source,line} JSON, one a line)
 *                                                -> {"progress":{"entries","total"}} …
 *                                                   {"ok":true,"result":VerifyOutcome}
 *   any failure                                  -> {"ok":false,"error":"…"}
 *
 * The CLI prints the result with the same code as for a stopped folder (src/cli/hsm.ts,
 * src/cli/audit.ts), so both print the same. Nothing here writes to the store except the
 * checkpoint audit-verify seals the trail with (src/audit/verify-run.ts).
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { KmsConfig } from '../config/config.js';
import type { ServerServices } from '../operations/context.js';
import type { AuditKey } from '../audit/audit-key.js';
import type { AuditTrail } from '../audit/trail.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { readCustody } from '../folder/custody.js';
import { hsmStatusOf } from '../folder/hsm-status.js';
import { buildReport, type ReportFilter } from '../audit/report.js';
import { anchorFileOf } from '../audit/anchor-config.js';
import { parseAnchorText, type SourcedLine } from '../audit/anchor.js';
import { gatherAnchors, liveSnapshot, readAnchorFiles, runVerify, type AnchorFileLines } from '../audit/verify-run.js';
import type { AdminHandler } from '../server/admin-socket.js';

/** Longest anchor line accepted after an audit-verify request (an anchor line is ~500 bytes). */
const MAX_ANCHOR_LINE = 16 * 1024;

export interface QuerySources {
  readonly config: Pick<KmsConfig, 'dataDir' | 'audit'>;
  readonly services: ServerServices;
  /** The protector under cache and metrics (its current KEK and description). */
  readonly protector: KeyProtector;
  readonly auditKey: AuditKey;
  readonly trail: AuditTrail;
  readonly log: Logger;
}

function answer(sock: Socket, o: unknown): void {
  if (!sock.destroyed) sock.end(JSON.stringify(o) + '\n');
}

function optString(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 1024) throw new Error(`bad ${k}`);
  return v;
}

/** Read `count` JSON lines from `sock` (what follows the request line); the socket stays open for the answer. */
function readLines(sock: Socket, count: number): Promise<unknown[]> {
  const out: unknown[] = [];
  if (count === 0) return Promise.resolve(out);
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (e?: Error) => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      if (e) reject(e);
      else resolve(out);
    };
    const onEnd = () => done(new Error(`the client sent ${out.length} of ${count} anchor lines`));
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      try {
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          out.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
          if (out.length === count) return done();
        }
      } catch (e) {
        return done(e as Error);
      }
      if (buf.length > MAX_ANCHOR_LINE) done(new Error(`an anchor line over ${MAX_ANCHOR_LINE} bytes`));
    };
    sock.on('data', onData);
    sock.once('end', onEnd);
  });
}

/** The anchor files the CLI read, with their lines (each checked like a line read from a file). */
async function anchorFilesFrom(sock: Socket, req: Record<string, unknown>): Promise<AnchorFileLines[]> {
  const decl = req.anchorFiles;
  if (!Array.isArray(decl)) throw new Error('bad anchorFiles');
  const files = decl.map((f: unknown) => {
    const o = f as Record<string, unknown>;
    if (typeof o?.file !== 'string' || !Number.isSafeInteger(o.skipped) || !Number.isSafeInteger(o.lines) || (o.lines as number) < 0) throw new Error('bad anchorFiles');
    return { file: o.file, skipped: o.skipped as number, lines: o.lines as number };
  });
  const raw = await readLines(
    sock,
    files.reduce((n, f) => n + f.lines, 0),
  );
  let at = 0;
  return files.map((f) => {
    const lines: SourcedLine[] = raw.slice(at, (at += f.lines)).map((x) => {
      const o = x as { source?: unknown; line?: unknown };
      const parsed = typeof o?.source === 'string' ? parseAnchorText(JSON.stringify(o.line), o.source).lines : [];
      if (parsed.length !== 1) throw new Error(`${f.file}: not an anchor line`);
      return { source: o.source as string, line: parsed[0]!.line };
    });
    return { file: f.file, skipped: f.skipped, lines };
  });
}

export function adminQueries(q: QuerySources): Record<string, AdminHandler> {
  let verifying = false;
  return {
    async 'hsm-status'(sock) {
      try {
        const s = await hsmStatusOf(readCustody(q.config.dataDir), q.protector.kekId, q.protector.description, q.services.store);
        answer(sock, { ok: true, result: s });
      } catch (e) {
        q.log.error({ err: e }, 'hsm status through the admin socket failed');
        answer(sock, { ok: false, error: (e as Error).message });
      }
    },

    async 'audit-report'(sock, req) {
      try {
        const f = (req.filter ?? {}) as Record<string, unknown>;
        if (typeof f !== 'object' || f === null) throw new Error('bad filter');
        const filter: ReportFilter = {};
        for (const k of ['identity', 'key', 'since', 'until'] as const) {
          const v = optString(f, k);
          if (v !== undefined) (filter as Record<string, string>)[k] = v;
        }
        answer(sock, { ok: true, result: { report: await buildReport(q.services.store, filter) } });
      } catch (e) {
        q.log.error({ err: e }, 'audit report through the admin socket failed');
        answer(sock, { ok: false, error: (e as Error).message });
      }
    },

    async 'audit-verify'(sock, req) {
      if (verifying) return answer(sock, { ok: false, error: 'an audit verify is already running' });
      verifying = true;
      try {
        const every = req.every === undefined ? 10_000 : req.every;
        if (!Number.isSafeInteger(every) || (every as number) < 1) throw new Error('bad every');
        const given = req.anchorFiles !== undefined ? await anchorFilesFrom(sock, req) : undefined;
        const { store } = q.services;
        const through = await liveSnapshot(q.trail, store.audit);
        const anchors = req.noAnchor === true ? undefined : await gatherAnchors(given ?? readAnchorFiles([{ file: anchorFileOf(q.config).file, explicit: false }]), q.auditKey);
        const outcome = await runVerify({
          reader: store.audit,
          key: q.auditKey,
          every: every as number,
          ...(anchors && { anchors }),
          live: { through },
          onProgress: (entries, total) => {
            if (!sock.destroyed) sock.write(JSON.stringify({ progress: { entries, total } }) + '\n');
          },
        });
        answer(sock, { ok: true, result: outcome });
      } catch (e) {
        q.log.error({ err: e }, 'audit verify through the admin socket failed');
        answer(sock, { ok: false, error: (e as Error).message });
      } finally {
        verifying = false;
      }
    },
  };
}
