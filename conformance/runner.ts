/**
 * Replays OASIS KMIP test cases against a server and compares every response.
 *
 * Each case (one XML file) runs on its own: by default a fresh embedded server (LevelDB in a
 * temporary data folder, the dev certificates, an ephemeral loopback port) that is closed and
 * removed afterwards, so no case sees another's objects. Or, with `target.kind = 'remote'`,
 * against a running server (cases then share its data; Locate-style cases may see objects
 * left by others). Requests go over mutual TLS as binary TTLV, one connection per case, in
 * file order; each response is compared with compare.ts. The message-encoding cases
 * (MSGENC-HTTPS/XML/JSON) go over KMIP over HTTPS instead, in TTLV, XML or JSON.
 *
 * Robustness: every exchange has a step timeout (the client closes a connection that stalls)
 * and every case a case timeout; a hung step fails its case with a clear message and the run
 * goes on. Cases run a few at a time (`concurrency`); the work is mostly waiting on fsync.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { KmipClient, KmipHttpsClient, type KmipEncoding } from '../src/client/index.js';
import { DEFAULT_CONFIG, type KmsConfig } from '../src/config/config.js';
import { startKms, SERVED_VERSIONS, type RunningKms } from '../src/server/bootstrap.js';
import { enumValueName, tagFromName } from '../src/kmip/registry.js';
import { parseKmipXmlItem } from '../src/kmip/xml.js';
import type { TtlvNode } from '../src/ttlv/node.js';
import { BindError, Bindings, loadCase, type ExpNode, type LoadedCase } from './bind.js';
import { prerequisiteOf, type CaseFile } from './cases.js';
import { compareMessage, type Diff, type RuleName } from './compare.js';
import { s2cReceiverPort } from './s2c-receiver.js';

export type CaseStatus = 'pass' | 'fail' | 'na' | 'invalid';

export interface StepFailure {
  /** 0-based index of the request/response pair. */
  readonly step: number;
  /** Operation(s) of the request, for the report. */
  readonly operation: string;
  /** Why the exchange did not happen (timeout, closed connection, unbound placeholder…). */
  readonly error?: string;
  readonly diffs: readonly Diff[];
  /** Diffs beyond the per-step cap that were not kept. */
  readonly moreDiffs?: number;
  /** What the server answered, per batch item: `Operation: Status[/Reason] "message"`. */
  readonly outcome?: readonly string[];
}

export interface CaseResult {
  readonly file: CaseFile;
  readonly status: CaseStatus;
  /** Request/response pairs in the file, and how many were exchanged. */
  readonly steps: number;
  readonly stepsRun: number;
  readonly failures: readonly StepFailure[];
  /** Tolerance rules a pass (or a partial pass) relied on, with use counts. */
  readonly rulesApplied: Readonly<Partial<Record<RuleName, number>>>;
  /** For `na` and `invalid`: why. */
  readonly note?: string;
  /** The case replayed first, on the same server, because this one continues from its state. */
  readonly prerequisite?: string;
  readonly durationMs: number;
}

/**
 * The crypto policy of the embedded target: the defaults, loosened exactly where the OASIS cases
 * register test keys that a production policy refuses (policy/key-policy.ts). With the plain
 * defaults (`--default-policy`) these cases are refused, each naming the setting:
 * - legacyKeys: 1024-bit RSA private keys in BL-M-7-21 (PKCS#1), BL-M-9-21 (Transparent RSA),
 *   BL-M-11-21 (PKCS#8) → cryptoPolicy.rsaMinBits; 512-bit DSA keys in BL-M-12-21 and BL-M-13-21
 *   (a key type the server cannot read) → cryptoPolicy.legacyKeys; secp256k1 EC keys in
 *   TC-ECC-1-14/-20 and TC-ECDSA-SIGN-1-20 → cryptoPolicy.ecCurves.
 * - pbkdf2MinIterations 1, pbkdf2MinSaltBytes 4: TC-DERIVEKEY-3 (-10 … -20) derives with PBKDF2,
 *   1 iteration and a 4-byte salt (the RFC 6070 vectors); TC-DERIVEKEY-4/5 with 4096 iterations
 *   and the same 4-byte salt.
 */
export const OASIS_TEST_KEY_POLICY = { legacyKeys: true, pbkdf2MinIterations: 1, pbkdf2MinSaltBytes: 4 } as const;

export type Target =
  | { readonly kind: 'embedded'; readonly certsDir: string; readonly defaultPolicy?: boolean }
  | { readonly kind: 'remote'; readonly host: string; readonly port: number; readonly certsDir: string; readonly servername?: string; readonly httpsPort?: number };

/**
 * The message-encoding profiles and the encoding their cases are replayed in, over KMIP over
 * HTTPS (POST /kmip on the server's HTTPS listener); every other case goes over the KMIP port.
 */
export const HTTPS_PROFILES: Readonly<Record<string, KmipEncoding>> = {
  'MSGENC-HTTPS': 'ttlv',
  'MSGENC-XML': 'xml',
  'MSGENC-JSON': 'json',
};

export interface RunOptions {
  readonly target: Target;
  /** Limit for one exchange (default 10 s). */
  readonly stepTimeoutMs?: number;
  /** Limit for one case, server start and stop included (default 60 s). */
  readonly caseTimeoutMs?: number;
  /** Slack around the case window for `$NOW` (default 5 s). */
  readonly timeSlackSeconds?: number;
  /** Cases run at the same time (default 2). */
  readonly concurrency?: number;
  /** Diffs kept per step (default 12). */
  readonly maxDiffsPerStep?: number;
  /** Called after each case. */
  readonly onCase?: (r: CaseResult, done: number, total: number) => void;
  /** Protocol versions the target serves; default SERVED_VERSIONS (embedded) or Discover Versions (remote). */
  readonly served?: readonly Version[];
  /** Called when a case starts. */
  readonly onStart?: (c: CaseFile) => void;
}

const T_REQUEST = tagFromName('RequestMessage');
const T_RESPONSE = tagFromName('ResponseMessage');
const T_HEADER = tagFromName('RequestHeader');
const T_PV = tagFromName('ProtocolVersion');
const T_MAJOR = tagFromName('ProtocolVersionMajor');
const T_MINOR = tagFromName('ProtocolVersionMinor');
const T_BATCH = tagFromName('BatchItem');
const T_OPERATION = tagFromName('Operation');
const T_RESPONSE_PAYLOAD = tagFromName('ResponsePayload');

export interface Version {
  readonly major: number;
  readonly minor: number;
}

export function versionText(v: Version): string {
  return `${v.major}.${v.minor}`;
}

function child(n: TtlvNode, tag: number | undefined): TtlvNode | undefined {
  return n.type === 'Structure' ? n.value.find((c) => c.tag === tag) : undefined;
}

function children(n: TtlvNode, tag: number | undefined): TtlvNode[] {
  return n.type === 'Structure' ? n.value.filter((c) => c.tag === tag) : [];
}

function versionOf(pv: TtlvNode | undefined): Version | undefined {
  if (!pv) return undefined;
  const major = child(pv, T_MAJOR)?.value;
  const minor = child(pv, T_MINOR)?.value;
  return typeof major === 'number' && typeof minor === 'number' ? { major, minor } : undefined;
}

/** Protocol version a request message asks for. */
export function requestVersion(msg: TtlvNode): Version | undefined {
  const h = child(msg, T_HEADER);
  return h ? versionOf(child(h, T_PV)) : undefined;
}

function operationsOf(exp: ExpNode): string {
  const ops: string[] = [];
  for (const bi of exp.children.filter((c) => c.node.tag === T_BATCH)) {
    const op = bi.children.find((c) => c.node.tag === T_OPERATION);
    if (op) ops.push(opName(op));
  }
  return ops.join('+') || '(none)';
}

function opName(op: ExpNode): string {
  const v = op.node.value;
  return typeof v === 'number' ? (enumValueName('Operation', v) ?? `0x${v.toString(16)}`) : String(v);
}

interface Pair {
  readonly request: ExpNode;
  readonly response?: ExpNode;
}

function pairs(messages: readonly ExpNode[]): Pair[] {
  const out: Pair[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as ExpNode;
    if (m.node.tag !== T_REQUEST) throw new Error(`message ${i} (line ${m.line}) is a <${m.name}>, expected a RequestMessage`);
    const next = messages[i + 1];
    if (next && next.node.tag === T_RESPONSE) {
      out.push({ request: m, response: next });
      i++;
    } else {
      out.push({ request: m });
    }
  }
  return out;
}

interface Conn {
  readonly client: { send(request: TtlvNode): Promise<TtlvNode> };
  close(): Promise<void>;
}

/** The identity the server takes from the runner's client certificate (its subject CN, the server's default). */
export function runnerIdentity(certsDir: string): string {
  const subject = new X509Certificate(readFileSync(join(certsDir, 'client.pem'))).subject;
  const cn = /^CN=(.*)$/m.exec(subject)?.[1];
  if (!cn) throw new Error(`the client certificate in ${certsDir} has no subject CN`);
  return cn;
}

function tlsFiles(certsDir: string) {
  return {
    ca: readFileSync(join(certsDir, 'ca.pem')),
    cert: readFileSync(join(certsDir, 'client.pem')),
    key: readFileSync(join(certsDir, 'client.key')),
  };
}

async function openEmbedded(certsDir: string, timeoutMs: number, defaultPolicy = false, encoding?: KmipEncoding): Promise<Conn> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kms-conformance-'));
  let kms: RunningKms | undefined;
  try {
    const config: KmsConfig = {
      ...DEFAULT_CONFIG,
      host: '127.0.0.1',
      port: 0,
      dataDir,
      cert: join(certsDir, 'server.pem'),
      key: join(certsDir, 'server.key'),
      ca: join(certsDir, 'ca.pem'),
      ...(encoding !== undefined && { httpsPort: 'ephemeral' as const }),
      ...(!defaultPolicy && { cryptoPolicy: OASIS_TEST_KEY_POLICY }),
      // The OASIS cases expect the spec's full attribute set from a Get Attributes naming none; the
      // default profile is PyKMIP 0.10's (docs/client-profiles.md), so the runner's identity gets "full".
      clientProfiles: { profiles: [{ name: 'oasis-conformance', identities: [runnerIdentity(certsDir)], getAllAttributes: 'full' }] },
      // The runner is a client the server can send Notify / Put to at any version (s2c-receiver.ts).
      serverToClient: {
        endpoints: [
          {
            identity: runnerIdentity(certsDir),
            host: '127.0.0.1',
            port: await s2cReceiverPort(certsDir),
            version: '1.4',
            servername: 'localhost',
            ca: join(certsDir, 'ca.pem'),
            cert: join(certsDir, 'client.pem'),
            key: join(certsDir, 'client.key'),
          },
        ],
      },
    };
    kms = await startKms(config, { log: pino({ level: process.env.KMS_CONFORMANCE_LOG ?? 'silent' }) });
    const client =
      encoding !== undefined
        ? new KmipHttpsClient({ host: '127.0.0.1', port: kms.httpsAddress!.port, servername: 'localhost', ...tlsFiles(certsDir), timeoutMs, encoding })
        : await KmipClient.connect({ host: '127.0.0.1', port: kms.address.port, servername: 'localhost', ...tlsFiles(certsDir), timeoutMs });
    const running = kms;
    return {
      client,
      async close() {
        await client.close().catch(() => undefined);
        await running.close().catch(() => undefined);
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await kms?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}

async function openRemote(t: Extract<Target, { kind: 'remote' }>, timeoutMs: number, encoding?: KmipEncoding): Promise<Conn> {
  if (encoding !== undefined) {
    if (t.httpsPort === undefined) throw new Error("this case goes over KMIP over HTTPS: give the server's HTTPS port (--https-port)");
    const https = new KmipHttpsClient({ host: t.host, port: t.httpsPort, servername: t.servername ?? t.host, ...tlsFiles(t.certsDir), timeoutMs, encoding });
    return { client: https, close: () => https.close() };
  }
  const client = await KmipClient.connect({ host: t.host, port: t.port, servername: t.servername ?? t.host, ...tlsFiles(t.certsDir), timeoutMs });
  return { client, close: () => client.close().catch(() => undefined) };
}

const DISCOVER_XML = `<RequestMessage><RequestHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="1"/></ProtocolVersion><BatchCount type="Integer" value="1"/></RequestHeader><BatchItem><Operation type="Enumeration" value="DiscoverVersions"/><RequestPayload/></BatchItem></RequestMessage>`;

/** The protocol versions the target serves: SERVED_VERSIONS when embedded, Discover Versions when remote. */
export async function servedVersions(target: Target, timeoutMs = 10_000): Promise<Version[]> {
  if (target.kind === 'embedded') return SERVED_VERSIONS.map((v) => ({ major: v.major, minor: v.minor }));
  const conn = await openRemote(target, timeoutMs);
  try {
    const resp = await conn.client.send(parseKmipXmlItem(DISCOVER_XML));
    const payload = children(resp, T_BATCH).map((b) => child(b, T_RESPONSE_PAYLOAD))[0];
    return payload ? children(payload, T_PV).flatMap((pv) => versionOf(pv) ?? []) : [];
  } finally {
    await conn.close();
  }
}

class CaseTimeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CaseTimeout(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function errText(e: unknown): string {
  if (e instanceof Error) return `${(e as { code?: string }).code ? `${(e as { code?: string }).code}: ` : ''}${e.message}`;
  return String(e);
}

const T_RESULT_STATUS = tagFromName('ResultStatus');
const T_RESULT_REASON = tagFromName('ResultReason');
const T_RESULT_MESSAGE = tagFromName('ResultMessage');

/** The server's answer per batch item, for reports and failure reasons. */
export function outcomeOf(resp: TtlvNode): string[] {
  return children(resp, T_BATCH).map((bi) => {
    const opv = child(bi, T_OPERATION)?.value;
    const st = child(bi, T_RESULT_STATUS)?.value;
    const rr = child(bi, T_RESULT_REASON)?.value;
    const msg = child(bi, T_RESULT_MESSAGE)?.value;
    const opn = typeof opv === 'number' ? (enumValueName('Operation', opv) ?? String(opv)) : '(no operation)';
    const stn = typeof st === 'number' ? (enumValueName('ResultStatus', st) ?? String(st)) : '?';
    const rrn = typeof rr === 'number' ? `/${enumValueName('ResultReason', rr) ?? rr}` : '';
    return `${opn}: ${stn}${rrn}${typeof msg === 'string' ? ` "${msg}"` : ''}`;
  });
}

const nowSeconds = (): bigint => BigInt(Math.floor(Date.now() / 1000));

/** Run one case file. Never throws: every problem becomes part of the result. */
export async function runCase(file: CaseFile, served: readonly Version[], opts: RunOptions): Promise<CaseResult> {
  const started = performance.now();
  const stepTimeoutMs = opts.stepTimeoutMs ?? 10_000;
  const caseTimeoutMs = opts.caseTimeoutMs ?? 60_000;
  const slack = BigInt(opts.timeSlackSeconds ?? 5);
  const maxDiffs = opts.maxDiffsPerStep ?? 12;
  const base = { file, rulesApplied: {}, failures: [] as StepFailure[] };
  const done = (r: Omit<CaseResult, 'durationMs' | 'file'>): CaseResult => ({ file, ...r, durationMs: Math.round(performance.now() - started) });

  let loaded;
  let steps: Pair[];
  try {
    loaded = loadCase(readFileSync(file.path, 'utf8'));
    steps = pairs(loaded.messages);
  } catch (e) {
    // Not well-formed XML, or messages out of order: the file itself is defective. Anything
    // else (a name our registry does not know) is ours to fix, so it is a failure.
    const code = (e as { code?: string }).code;
    if (code === 'XML_SYNTAX' || code === undefined) {
      return done({ ...base, status: 'invalid', steps: 0, stepsRun: 0, note: `not a valid test case: ${errText(e)}` });
    }
    const [fm = 0, fn = 0] = file.version.split('.').map(Number);
    if (!served.some((v) => v.major === fm && v.minor === fn)) {
      return done({ ...base, status: 'na', steps: 0, stepsRun: 0, note: `the server does not serve KMIP ${file.version} (and the case cannot be read: ${errText(e)})` });
    }
    return done({ ...base, status: 'fail', steps: 0, stepsRun: 0, failures: [{ step: 0, operation: '(load)', error: `the case cannot be read: ${errText(e)}`, diffs: [] }] });
  }
  const first = steps[0];
  const version = first ? requestVersion(first.request.node) : undefined;
  if (!version) return done({ ...base, status: 'invalid', steps: steps.length, stepsRun: 0, note: 'the first request has no ProtocolVersion' });
  if (!served.some((v) => v.major === version.major && v.minor === version.minor)) {
    return done({
      ...base,
      status: 'na',
      steps: steps.length,
      stepsRun: 0,
      note: `the server does not serve KMIP ${versionText(version)} (it serves ${served.map(versionText).join(', ')})`,
    });
  }

  const failures: StepFailure[] = [];
  const applied = new Map<RuleName, number>();
  if (loaded.collapsedTexts > 0) applied.set('reconstructed-whitespace', loaded.collapsedTexts);
  const before = prerequisiteOf(file);
  let stepsRun = 0;
  let conn: Conn | undefined;
  /** Send `steps` in order over `c`, comparing each response; stops at the first exchange that fails. */
  const replay = async (c: Conn, l: LoadedCase, list: readonly Pair[], sink: StepFailure[], onStep: () => void): Promise<void> => {
    const bindings = new Bindings();
    const caseStart = nowSeconds();
    for (let i = 0; i < list.length; i++) {
      const { request, response } = list[i] as Pair;
      const operation = operationsOf(request);
      let req: TtlvNode;
      try {
        req = bindings.materialize(request, nowSeconds());
      } catch (e) {
        if (e instanceof BindError) {
          sink.push({ step: i, operation, error: e.message, diffs: [] });
          return;
        }
        throw e;
      }
      bindings.beforeRequest(req);
      let actual: TtlvNode;
      try {
        actual = await c.client.send(req);
      } catch (e) {
        sink.push({ step: i, operation, error: `no response: ${errText(e)}`, diffs: [] });
        return;
      }
      onStep();
      bindings.observeObjects(req, actual);
      if (!response) continue;
      const cmp = compareMessage(response, actual, {
        bindings,
        request: req,
        window: { from: caseStart - slack, to: nowSeconds() + slack },
        reconstructed: l.reconstructed,
        requestBytes: l.requestBytes,
      });
      bindings.observeResponse(actual);
      for (const [k, n] of cmp.applied) applied.set(k, (applied.get(k) ?? 0) + n);
      if (cmp.diffs.length > 0) {
        sink.push({
          step: i,
          operation,
          diffs: cmp.diffs.slice(0, maxDiffs),
          outcome: outcomeOf(actual),
          ...(cmp.diffs.length > maxDiffs && { moreDiffs: cmp.diffs.length - maxDiffs }),
        });
      }
    }
  };
  const body = async (): Promise<void> => {
    const encoding = HTTPS_PROFILES[file.profile];
    conn =
      opts.target.kind === 'embedded' ? await openEmbedded(opts.target.certsDir, stepTimeoutMs, opts.target.defaultPolicy, encoding) : await openRemote(opts.target, stepTimeoutMs, encoding);
    if (before) {
      // The case continues from the state its prerequisite leaves: replay that one first, on
      // the same server, and count it against this case only if it does not pass.
      const pre = loadCase(readFileSync(before.path, 'utf8'));
      const preFailures: StepFailure[] = [];
      await replay(conn, pre, pairs(pre.messages), preFailures, () => undefined);
      const f = preFailures[0];
      if (f) {
        const why = f.error ?? f.diffs.map((d) => `${d.path}: expected ${d.expected}, got ${d.got}`)[0] ?? 'failed';
        failures.push({ step: 0, operation: '(prerequisite)', error: `prerequisite case ${before.id} failed at its step ${f.step} (${f.operation}): ${why}`, diffs: [] });
        return;
      }
    }
    await replay(conn, loaded, steps, failures, () => stepsRun++);
  };
  try {
    await withTimeout(body(), caseTimeoutMs, `case ${file.id}`);
  } catch (e) {
    failures.push({ step: stepsRun, operation: '(case)', error: errText(e), diffs: [] });
  } finally {
    const c = conn as Conn | undefined;
    if (c) await withTimeout(c.close(), 10_000, 'closing the server').catch(() => undefined);
  }
  return done({
    status: failures.length === 0 ? 'pass' : 'fail',
    ...(before && { prerequisite: before.id }),
    steps: steps.length,
    stepsRun,
    failures,
    rulesApplied: Object.fromEntries(applied) as Partial<Record<RuleName, number>>,
  });
}

/** Run cases a few at a time; results come back in the input order. */
export async function runCases(cases: readonly CaseFile[], opts: RunOptions): Promise<CaseResult[]> {
  const served = opts.served ?? (await servedVersions(opts.target, opts.stepTimeoutMs ?? 10_000));
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  let finished = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const c = cases[i];
      if (!c) return;
      opts.onStart?.(c);
      const r = await runCase(c, served, opts);
      results[i] = r;
      finished++;
      opts.onCase?.(r, finished, cases.length);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 2, cases.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}
