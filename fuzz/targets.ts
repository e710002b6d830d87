/**
 * The fuzz targets.
 *
 * - `decoder`: the bytes through the stream framer (split in two at a point the input picks)
 *   and the strict decoder with the server's limits. Allowed: a TtlvError. A finding: any
 *   other exception, or a message that decodes but does not encode back to the same bytes
 *   (the decoder accepted something the encoder would never write, or lost something).
 * - `dispatcher`: what a session does with a frame — decode with the limits, then dispatch
 *   against an in-process server (memory store, software key protector, audit trail, the real
 *   handler table, the default crypto policy), as an authenticated client. A finding: dispatch
 *   throws; the response does not encode or decode; a response item is General Failure
 *   "internal error, ref …" (an exception the operations did not turn into a Result Reason);
 *   the server logs at error level; the audit chain does not verify after the input.
 *
 * State carries from input to input (objects made by one input are there for the next, as
 * on a real server) and is dropped every `resetEvery` executions so memory stays bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SoftwareAuditKey } from '../src/audit/audit-key.js';
import { AuditTrail } from '../src/audit/trail.js';
import { verifyAuditLog } from '../src/audit/verify.js';
import { SoftwareProtector } from '../src/hsm/software/software-protector.js';
import { Tag } from '../src/kmip/generated/tags.gen.js';
import { HANDLERS } from '../src/operations/index.js';
import { dispatch } from '../src/operations/dispatcher.js';
import type { ServerServices } from '../src/operations/context.js';
import { AccessPolicy } from '../src/policy/access.js';
import { DEFAULT_CRYPTO_POLICY } from '../src/policy/crypto-policy.js';
import { SERVED_VERSIONS } from '../src/server/bootstrap.js';
import { MemoryStore } from '../src/store/memory.js';
import { decode } from '../src/ttlv/decode.js';
import { encode } from '../src/ttlv/encode.js';
import { TtlvError } from '../src/ttlv/errors.js';
import { TtlvFramer } from '../src/ttlv/framer.js';
import { DEFAULT_LIMITS } from '../src/ttlv/limits.js';
import type { TtlvNode } from '../src/ttlv/node.js';
import type { FuzzTarget } from './engine.js';

export class FuzzFinding extends Error {
  override readonly name = 'FuzzFinding';
}

/** The limits a session decodes with (src/server/limits.ts defaults). */
const LIMITS = DEFAULT_LIMITS;

// ------------------------------------------------------------------------------ decoder

export function decoderTarget(): FuzzTarget {
  return {
    name: 'decoder',
    run(input) {
      // The framer, fed in two pieces (the split point comes from the input, so it is reproducible).
      const framer = new TtlvFramer({ maxMessageBytes: LIMITS.maxMessageBytes });
      const cut = input.length === 0 ? 0 : (input[input.length - 1]! * 131) % (input.length + 1);
      let frames: Buffer[] = [];
      try {
        frames = [...framer.push(Buffer.from(input.subarray(0, cut))), ...framer.push(Buffer.from(input.subarray(cut)))];
      } catch (e) {
        if (!(e instanceof TtlvError)) throw e;
      }
      for (const f of frames) tryDecode(f);
      tryDecode(input);
    },
  };
}

function tryDecode(bytes: Uint8Array): void {
  let node: TtlvNode;
  try {
    node = decode(bytes, LIMITS);
  } catch (e) {
    if (e instanceof TtlvError) return;
    throw e;
  }
  const again = encode(node);
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0) {
    throw new FuzzFinding(`decode/encode round trip changed the bytes (${bytes.length} in, ${again.length} out)`);
  }
}

// --------------------------------------------------------------------------- dispatcher

interface Server {
  readonly services: ServerServices;
  readonly dir: string;
  readonly errors: string[];
}

async function newServer(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'kms-fuzz-'));
  const errors: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as { level?: number; msg?: string; err?: { type?: string; message?: string; stack?: string } };
          if ((rec.level ?? 0) >= 50) errors.push(`${rec.msg ?? ''}: ${rec.err?.stack ?? rec.err?.message ?? ''}`);
        } catch {
          errors.push(`unparsable log line: ${line.slice(0, 200)}`);
        }
      }
      cb();
    },
  });
  const log = pino({ level: 'error' }, sink);
  const store = new MemoryStore();
  await store.open();
  const { protector } = SoftwareProtector.openOrCreate(join(dir, 'master.key'));
  const audit = new AuditTrail({ store, key: SoftwareAuditKey.fromMasterKey(Buffer.alloc(32, 1)), log, checkpointEvery: 50 });
  const services: ServerServices = {
    store,
    protector,
    access: new AccessPolicy(),
    log,
    clock: Date.now,
    info: { vendor: 'kmip-kms', product: 'kms-fuzz', version: '0' },
    versions: SERVED_VERSIONS,
    audit,
    cryptoPolicy: DEFAULT_CRYPTO_POLICY,
  };
  return { services, dir, errors };
}

async function closeServer(s: Server): Promise<void> {
  await s.services.audit?.close().catch(() => undefined);
  await s.services.store.close().catch(() => undefined);
  await s.services.protector.close().catch(() => undefined);
  rmSync(s.dir, { recursive: true, force: true });
}

function internalErrors(response: TtlvNode): string[] {
  const out: string[] = [];
  const walk = (n: TtlvNode): void => {
    if (n.type === 'Structure') n.value.forEach(walk);
    else if (n.tag === Tag.ResultMessage && n.type === 'TextString' && n.value.startsWith('internal error, ref')) out.push(n.value);
  };
  walk(response);
  return out;
}

export interface DispatcherTargetOptions {
  /** Check the audit chain after every input (slower; the CLI does it every `resetEvery`). */
  readonly verifyAuditEachInput?: boolean;
}

export function dispatcherTarget(opts: DispatcherTargetOptions = {}): FuzzTarget & { readonly server: () => Server | undefined } {
  let server: Server | undefined;
  let requestNo = 0;
  const ensure = async (): Promise<Server> => (server ??= await newServer());
  const checkAudit = async (s: Server): Promise<void> => {
    const report = await verifyAuditLog(s.services.store.audit, SoftwareAuditKey.fromMasterKey(Buffer.alloc(32, 1)), undefined, undefined, { allowUnsealedTail: true });
    if (!report.ok) throw new FuzzFinding(`audit chain does not verify: ${report.failure?.message ?? 'unknown'}`);
  };
  return {
    name: 'dispatcher',
    server: () => server,
    async run(input) {
      const s = await ensure();
      let node: TtlvNode;
      try {
        node = decode(input, LIMITS);
      } catch (e) {
        if (e instanceof TtlvError) return; // the session answers Invalid Message and closes
        throw e;
      }
      s.errors.length = 0;
      const result = await dispatch(s.services, HANDLERS, { id: 'fuzz-client' }, node, { connectionId: 'fuzz', requestNo: ++requestNo, remote: '127.0.0.1' });
      const bytes = encode(result.response);
      const back = decode(bytes, { ...LIMITS, maxMessageBytes: Math.max(LIMITS.maxMessageBytes, bytes.length) });
      if (back.tag !== Tag.ResponseMessage) throw new FuzzFinding('the response is not a Response Message');
      const internal = internalErrors(result.response);
      if (internal.length > 0 || s.errors.length > 0) {
        throw new FuzzFinding(`unexpected server error (General Failure "internal error"): ${s.errors.join(' | ').slice(0, 2000) || internal.join(', ')}`);
      }
      if (opts.verifyAuditEachInput) await checkAudit(s);
    },
    async reset() {
      if (!server) return;
      const s = server;
      server = undefined;
      try {
        await checkAudit(s);
      } finally {
        await closeServer(s);
      }
    },
    async close() {
      if (server) await closeServer(server);
      server = undefined;
    },
  };
}
