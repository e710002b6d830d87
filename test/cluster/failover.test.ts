/**
 * Failover of a real cluster on this machine (scripts/cluster.sh, docs/cluster.md): etcd, two
 * PostgreSQL 15 nodes under Patroni (synchronous standby), HAProxy, three `kms serve --store
 * postgresql://…` nodes. Several clients, ours (KMIP 2.1 and 1.4) and PyKMIP 0.10's
 * (test/cluster/pykmip_load.py), run a bounded load of Create / Register / Activate / Revoke /
 * Destroy / Get / Get Attributes / Locate across the nodes, directly and through HAProxy, while
 * the test SIGKILLs the PostgreSQL primary (Patroni promotes the synchronous standby), SIGKILLs
 * one kms node and SIGSTOPs another (SIGCONT ten seconds later). Afterwards the killed node
 * starts again, and:
 * - every acknowledged Create / Register / Activate / Revoke / Destroy is there: its state is the
 *   acknowledged one (a request whose answer never came may or may not have happened: the
 *   model allows both states), and its key bytes are the ones registered or first read, the
 *   same through HAProxy and from the restarted node;
 * - Last Change Date, the version a client sees, never went back;
 * - Locate agrees with the model (acknowledged live keys found, acknowledged destroyed ones
 *   not, anything else found is a create whose answer was lost);
 * - `kms audit verify` verifies the cluster's trail, which holds a Success record for every
 *   acknowledged request;
 * - every client answered again within RECOVERY_BOUND_MS of its last success.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmipClient, KmipClientError, KmipResultError } from '../../src/client/index.js';
import {
  activatePayload,
  attr,
  createSymmetricKeyPayload,
  destroyPayload,
  expectSuccess,
  getPayload,
  keyMaterialOf,
  registerPayload,
  symmetricKeyObject,
  uniqueIdentifierOf,
  uniqueIdentifiersOf,
  type KmipVersion,
} from '../../src/client/requests.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultReason, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';
import { prng } from '../support/crash-workload.js';
import { getAttributesPayload, readGetAttributes, revokePayload, Session, single, V1_4, V2_1 } from '../support/kmip-session.js';
import { runKms } from '../support/kms-process.js';

const SCRIPT = resolve('scripts/cluster.sh');
const PYTHON = '/usr/bin/python3';
const PY_LOAD = resolve('test/cluster/pykmip_load.py');
/** How long the clients run; the faults happen at the times below (ms from the start of the load). */
const LOAD_MS = 60_000;
const KILL_PRIMARY_AT = 8_000;
const KILL_NODE_AT = 30_000;
const STOP_NODE_AT = 38_000;
const CONT_NODE_AT = 48_000;
/** The stated bound: no client goes longer than this without a successful answer. */
const RECOVERY_BOUND_MS = 30_000;
/** Our clients' limit per request: a stopped node is given up after this. */
const CLIENT_TIMEOUT_MS = 5_000;
/** Reads acknowledged this long before the primary's death may lose their (batched) audit record. */
const READ_SYNC_SLACK_MS = 2_000;
const SEED = Number(process.env.KMS_CLUSTER_SEED ?? 20261206);

interface ClusterInfo {
  readonly state: string;
  readonly nodes: Map<string, { kmip: number; https: number }>;
  readonly haKmip: number;
  readonly certs: string;
  readonly env: Record<string, string>;
}

function runScript(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 240_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** `status` lines as other tools read them: `node NAME kmip=HOST:PORT https=HOST:PORT`, `haproxy kmip=…`, `certs=DIR`. */
function parseStatus(stdout: string): Omit<ClusterInfo, 'state' | 'env'> {
  const nodes = new Map<string, { kmip: number; https: number }>();
  let haKmip = 0;
  let certs = '';
  for (const line of stdout.split('\n')) {
    const node = /^node (\S+) kmip=127\.0\.0\.1:(\d+) https=127\.0\.0\.1:(\d+)/.exec(line);
    if (node) nodes.set(node[1]!, { kmip: Number(node[2]), https: Number(node[3]) });
    const ha = /^haproxy kmip=127\.0\.0\.1:(\d+)/.exec(line);
    if (ha) haKmip = Number(ha[1]);
    const c = /^certs=(.+)$/.exec(line);
    if (c) certs = c[1]!;
  }
  return { nodes, haKmip, certs };
}

// ---- the model -------------------------------------------------------------------------------

type Op = 'Create' | 'Register' | 'Activate' | 'Revoke' | 'Destroy' | 'Get' | 'GetAttributes' | 'Locate';

interface KeyModel {
  readonly uid: string;
  readonly name: string;
  readonly owner: string;
  /** Registered bytes, or the bytes of the first acknowledged Get. */
  bytes?: string;
  /** The states the key may be in: one when every request on it was answered, two when one was not. */
  states: Set<number>;
  /** Set once a request on it went unanswered: the client leaves it alone from then on. */
  doubt: boolean;
  /** Last Change Date values seen, in the order they were acknowledged. */
  readonly changes: bigint[];
}

interface Model {
  readonly keys: Map<string, KeyModel>;
  /** Names of creates/registers whose answer never came (the uid is unknown). */
  readonly lostCreates: Set<string>;
  /** Acknowledged requests: an audit record each. */
  readonly acked: { op: Op; uid: string; client: string; at: number }[];
  /** Per client, the times of its successful answers. */
  readonly successes: Map<string, number[]>;
}

function ok(model: Model, client: string, at: number): void {
  const list = model.successes.get(client) ?? [];
  list.push(at);
  model.successes.set(client, list);
}

// ---- our client under load -------------------------------------------------------------------

const USAGE = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

function isConnectionProblem(e: unknown): boolean {
  return e instanceof KmipClientError;
}

async function runOurClient(o: {
  readonly name: string;
  readonly version: KmipVersion;
  readonly endpoints: readonly number[];
  readonly certs: string;
  readonly until: number;
  readonly model: Model;
  readonly seed: number;
  readonly errors: string[];
}): Promise<void> {
  const rand = prng(o.seed);
  const tlsFiles = { ca: readFileSync(join(o.certs, 'ca.pem')), cert: readFileSync(join(o.certs, 'client.pem')), key: readFileSync(join(o.certs, 'client.key')) };
  let ep = 0;
  let session: Session | undefined;
  let seq = 0;
  const mine = () => [...o.model.keys.values()].filter((k) => k.owner === o.name && !k.doubt);
  const inState = (s: number) => mine().filter((k) => k.states.has(s));
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  while (Date.now() < o.until) {
    if (!session) {
      try {
        session = new Session(await KmipClient.connect({ host: '127.0.0.1', port: o.endpoints[ep]!, servername: 'localhost', timeoutMs: CLIENT_TIMEOUT_MS, ...tlsFiles }), o.version);
      } catch {
        ep = (ep + 1) % o.endpoints.length;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
    }
    const r = rand();
    const s = session;
    // What this request will do to the model when acknowledged, and what it leaves in doubt when not.
    let onLost: () => void = () => undefined;
    try {
      if (r < 0.12 && inState(State.PreActive).length > 0) {
        const k = pick(inState(State.PreActive));
        onLost = () => ((k.doubt = true), k.states.add(State.Active));
        await s.ok(Operation.Activate, activatePayload(k.uid));
        k.states = new Set([State.Active]);
        o.model.acked.push({ op: 'Activate', uid: k.uid, client: o.name, at: Date.now() });
      } else if (r < 0.22 && inState(State.Active).length > 0) {
        const k = pick(inState(State.Active));
        onLost = () => ((k.doubt = true), k.states.add(State.Deactivated));
        await s.ok(Operation.Revoke, revokePayload(k.uid, 5 /* Cessation of Operation */));
        k.states = new Set([State.Deactivated]);
        o.model.acked.push({ op: 'Revoke', uid: k.uid, client: o.name, at: Date.now() });
      } else if (r < 0.32 && [...inState(State.PreActive), ...inState(State.Deactivated)].length > 0) {
        const k = pick([...inState(State.PreActive), ...inState(State.Deactivated)]);
        onLost = () => ((k.doubt = true), k.states.add(State.Destroyed));
        await s.ok(Operation.Destroy, destroyPayload(k.uid));
        k.states = new Set([State.Destroyed]);
        o.model.acked.push({ op: 'Destroy', uid: k.uid, client: o.name, at: Date.now() });
      } else if (r < 0.45 && mine().some((k) => !k.states.has(State.Destroyed))) {
        const k = pick(mine().filter((x) => !x.states.has(State.Destroyed)));
        const bytes = Buffer.from(keyMaterialOf(await s.ok(Operation.Get, getPayload(k.uid)))).toString('hex');
        if (k.bytes === undefined) k.bytes = bytes;
        else if (k.bytes !== bytes) o.errors.push(`${o.name}: Get ${k.uid} returned other key bytes than before`);
        o.model.acked.push({ op: 'Get', uid: k.uid, client: o.name, at: Date.now() });
      } else if (r < 0.55 && mine().length > 0) {
        const k = pick(mine());
        const view = readGetAttributes(o.version, await s.ok(Operation.GetAttributes, getAttributesPayload(o.version, k.uid, ['State', 'LastChangeDate'])));
        const state = single(view, 'State');
        const lcd = single(view, 'LastChangeDate');
        if (state?.type !== 'Enumeration' || !k.states.has(state.value)) o.errors.push(`${o.name}: ${k.uid} is in state ${String(state?.value)}, acknowledged ${[...k.states].join('|')}`);
        if (lcd?.type === 'DateTime') k.changes.push(lcd.value);
        o.model.acked.push({ op: 'GetAttributes', uid: k.uid, client: o.name, at: Date.now() });
      } else if (r < 0.6 && mine().length > 0) {
        const k = pick(mine());
        const found = uniqueIdentifiersOf(
          await s.ok(Operation.Locate, t.struct(Tag.RequestPayload, o.version.major >= 2 ? [t.struct(Tag.Attributes, [attr.name(k.name)])] : [namedV1(k.name)])),
        );
        const live = !k.states.has(State.Destroyed);
        if (live && !found.includes(k.uid)) o.errors.push(`${o.name}: Locate by name did not find ${k.uid} (state ${[...k.states].join('|')})`);
        if (!live && k.states.size === 1 && found.includes(k.uid)) o.errors.push(`${o.name}: Locate found the destroyed ${k.uid}`);
      } else {
        const name = `${o.name}-${++seq}`;
        const register = rand() < 0.4;
        const bytes = register ? Buffer.from(Array.from({ length: 32 }, () => Math.floor(rand() * 256))) : undefined;
        onLost = () => o.model.lostCreates.add(name);
        const payload = register
          ? await s.ok(
              Operation.Register,
              registerPayload(o.version, ObjectType.SymmetricKey, symmetricKeyObject(bytes!, CryptographicAlgorithm.AES), [attr.name(name), attr.cryptographicUsageMask(USAGE)]),
            )
          : await s.ok(Operation.Create, createSymmetricKeyPayload(o.version, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: USAGE, name }));
        const uid = uniqueIdentifierOf(payload);
        o.model.keys.set(uid, { uid, name, owner: o.name, states: new Set([State.PreActive]), doubt: false, changes: [], ...(bytes && { bytes: bytes.toString('hex') }) });
        o.model.acked.push({ op: register ? 'Register' : 'Create', uid, client: o.name, at: Date.now() });
      }
      ok(o.model, o.name, Date.now());
    } catch (e) {
      // No answer, or an error answer (a node that lost its database answers Operation Failed):
      // the request may or may not have happened. Reconnect, to the next endpoint.
      onLost();
      if (!isConnectionProblem(e) && !(e instanceof KmipResultError)) o.errors.push(`${o.name}: ${(e as Error).message}`);
      await s.client.close().catch(() => undefined);
      session = undefined;
      ep = (ep + 1) % o.endpoints.length;
    }
  }
  await session?.client.close().catch(() => undefined);
}

function namedV1(name: string) {
  return t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'Name'), t.struct(Tag.AttributeValue, [t.text(Tag.NameValue, name), t.enum(Tag.NameType, 1)])]);
}

// ---- PyKMIP under load -----------------------------------------------------------------------

interface PyRecord {
  op: string;
  ok: boolean;
  uid?: string;
  name?: string;
  hex?: string;
  uids?: string[];
  t1: number;
}

async function runPyKmip(o: { name: string; endpoints: readonly number[]; certs: string; seconds: number; seed: number; dir: string; model: Model; errors: string[] }): Promise<void> {
  writeFileSync(join(o.dir, 'empty.conf'), '');
  const child = spawn(
    PYTHON,
    [
      PY_LOAD,
      '--endpoints',
      o.endpoints.map((p) => `127.0.0.1:${p}`).join(','),
      '--cert',
      join(o.certs, 'client.pem'),
      '--key',
      join(o.certs, 'client.key'),
      '--ca',
      join(o.certs, 'ca.pem'),
      '--duration',
      String(o.seconds),
      '--tag',
      o.name,
      '--seed',
      String(o.seed),
      '--config-file',
      join(o.dir, 'empty.conf'),
    ],
    { cwd: o.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: o.dir, PYTHONWARNINGS: 'ignore' } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const m = o.model;
  const inFlight = new Map<string, number>(); // uid -> state it was heading to when its request was lost
  createInterface({ input: child.stdout }).on('line', (line) => {
    const r = JSON.parse(line) as PyRecord;
    if (r.op === 'Connect') return;
    const k = r.uid !== undefined ? m.keys.get(r.uid) : undefined;
    const to = { Activate: State.Active, Revoke: State.Deactivated, Destroy: State.Destroyed } as Record<string, number>;
    if (!r.ok) {
      if ((r.op === 'Create' || r.op === 'Register') && r.name) m.lostCreates.add(r.name);
      if (k && to[r.op] !== undefined) {
        k.doubt = true;
        k.states.add(to[r.op]!);
        inFlight.set(k.uid, to[r.op]!);
      }
      return;
    }
    ok(m, o.name, r.t1 * 1000);
    if (r.op === 'Create' || r.op === 'Register') {
      m.keys.set(r.uid!, { uid: r.uid!, name: r.name!, owner: o.name, states: new Set([State.PreActive]), doubt: false, changes: [], ...(r.hex !== undefined && { bytes: r.hex }) });
      m.acked.push({ op: r.op, uid: r.uid!, client: o.name, at: r.t1 * 1000 });
    } else if (k && to[r.op] !== undefined) {
      k.states = new Set([to[r.op]!]);
      m.acked.push({ op: r.op as Op, uid: k.uid, client: o.name, at: r.t1 * 1000 });
    } else if (k && r.op === 'Get') {
      if (k.bytes === undefined) k.bytes = r.hex;
      else if (k.bytes !== r.hex) o.errors.push(`${o.name}: PyKMIP Get ${k.uid} returned other key bytes than before`);
      m.acked.push({ op: 'Get', uid: k.uid, client: o.name, at: r.t1 * 1000 });
    } else if (k && r.op === 'Locate') {
      if (!k.states.has(State.Destroyed) && !r.uids!.includes(k.uid)) o.errors.push(`${o.name}: PyKMIP Locate by name did not find ${k.uid}`);
    }
  });
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) o.errors.push(`${o.name}: pykmip_load.py exited with ${code}: ${stderr.slice(-2000)}`);
}

// ---- the test --------------------------------------------------------------------------------

const STATE = mkdtempSync(join(tmpdir(), 'kms-cluster-test-'));
const ENV = { KMS_CLUSTER_DIR: join(STATE, 'cluster') };
let cluster: ClusterInfo | undefined;

describe('a kms cluster on this machine survives the loss of its PostgreSQL primary and of kms nodes', () => {
  beforeAll(async () => {
    const up = await runScript(['up', '--nodes', '3'], ENV);
    if (up.code !== 0) throw new Error(`scripts/cluster.sh up failed (${up.code}):\n${up.stderr}\n${up.stdout}`);
    const status = await runScript(['status'], ENV);
    expect(status.code, status.stdout + status.stderr).toBe(0);
    const env = Object.fromEntries(
      (await runScript(['env'], ENV)).stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    cluster = { state: ENV.KMS_CLUSTER_DIR, env, ...parseStatus(status.stdout) };
  }, 300_000);

  afterAll(async () => {
    const down = await runScript(['down'], ENV, 120_000);
    rmSync(STATE, { recursive: true, force: true });
    if (down.code !== 0) throw new Error(`scripts/cluster.sh down failed: ${down.stderr}`);
  }, 150_000);

  it('status names three nodes, the HAProxy KMIP frontend and the certificates', () => {
    const c = cluster!;
    expect([...c.nodes.keys()]).toEqual(['kms1', 'kms2', 'kms3']);
    for (const n of c.nodes.values()) expect(n.kmip).not.toBe(n.https);
    expect(c.haKmip).toBeGreaterThan(0);
    expect(readFileSync(join(c.certs, 'ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('acknowledged changes survive SIGKILL of the primary and of a node, and SIGSTOP of another; clients recover within the bound', async () => {
    const c = cluster!;
    const port = (n: string) => c.nodes.get(n)!.kmip;
    const model: Model = { keys: new Map(), lostCreates: new Set(), acked: [], successes: new Map() };
    const errors: string[] = [];
    const start = Date.now();
    const until = start + LOAD_MS;
    const events: string[] = [];
    let primaryKilledAt = 0;
    const at = (ms: number, what: string, args: string[]) =>
      new Promise<void>((res) =>
        setTimeout(async () => {
          if (args[0] === 'kill-primary') primaryKilledAt = Date.now();
          const r = await runScript(args, ENV, 30_000);
          events.push(`${((Date.now() - start) / 1000).toFixed(1)}s ${what}: ${r.code === 0 ? r.stdout.trim() || 'done' : `FAILED ${r.stderr}`}`);
          if (r.code !== 0) errors.push(`${what} failed: ${r.stderr}`);
          res();
        }, ms),
      );
    const pyDir = mkdtempSync(join(STATE, 'py-'));
    const loads = [
      runOurClient({ name: 'ts-ha', version: V2_1, endpoints: [c.haKmip], certs: c.certs, until, model, seed: SEED, errors }),
      runOurClient({ name: 'ts-kms2', version: V1_4, endpoints: [port('kms2'), port('kms1'), c.haKmip], certs: c.certs, until, model, seed: SEED + 1, errors }),
      runOurClient({ name: 'ts-kms3', version: V2_1, endpoints: [port('kms3'), port('kms1'), c.haKmip], certs: c.certs, until, model, seed: SEED + 2, errors }),
      runPyKmip({ name: 'py-ha', endpoints: [c.haKmip, port('kms1')], certs: c.certs, seconds: LOAD_MS / 1000, seed: SEED + 3, dir: pyDir, model, errors }),
      runPyKmip({ name: 'py-kms3', endpoints: [port('kms3'), port('kms2'), port('kms1')], certs: c.certs, seconds: LOAD_MS / 1000, seed: SEED + 4, dir: pyDir, model, errors }),
    ];
    const faults = [
      at(KILL_PRIMARY_AT, 'SIGKILL the PostgreSQL primary', ['kill-primary']),
      at(KILL_NODE_AT, 'SIGKILL kms2', ['kill-node', 'kms2']),
      at(STOP_NODE_AT, 'SIGSTOP kms3', ['stop-node', 'kms3']),
      at(CONT_NODE_AT, 'SIGCONT kms3', ['cont-node', 'kms3']),
    ];
    await Promise.all([...loads, ...faults]);

    // Recovery: the longest stretch each client went without a successful answer.
    const gaps = new Map<string, number>();
    for (const [name, times] of model.successes) {
      const ts = [start, ...times.sort((a, b) => a - b), until];
      let worst = 0;
      for (let i = 1; i < ts.length; i++) worst = Math.max(worst, ts[i]! - ts[i - 1]!);
      gaps.set(name, worst);
    }
    const doubt = [...model.keys.values()].filter((k) => k.doubt).length;
    console.log(
      `cluster failover (seed ${SEED}): ${model.acked.length} acknowledged requests, ${model.keys.size} keys (${doubt} with a request in doubt, ${model.lostCreates.size} creates unanswered); ` +
        `longest time without an answer per client: ${[...gaps].map(([n, g]) => `${n} ${(g / 1000).toFixed(1)} s`).join(', ')}\n  ${events.join('\n  ')}`,
    );
    expect(errors, 'errors during the load').toEqual([]);
    expect(gaps.size, 'every client got answers').toBe(5);
    for (const [name, g] of gaps) expect(g, `${name}: longest time without a successful answer`).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    for (const kind of ['Create', 'Register', 'Activate', 'Revoke', 'Destroy'] as const)
      expect(
        model.acked.some((a) => a.op === kind),
        `some ${kind} acknowledged`,
      ).toBe(true);

    // The killed node starts again on its data folder and serves the same keys (checked below).
    const restart = await runScript(['start-node', 'kms2'], ENV, 30_000);
    expect(restart.code, restart.stderr).toBe(0);
    // The faults healed (kms3 continued): the rest is checked through HAProxy, and the key bytes
    // on kms2 too, four connections each.
    const pairs = await Promise.all(
      [0, 1, 2, 3].map(async () => ({ ha: new Session(await connectRetrying(c.haKmip, c.certs), V2_1), kms2: new Session(await connectRetrying(port('kms2'), c.certs), V2_1) })),
    );
    const check = pairs[0]!.ha;
    const problems: string[] = [];
    const queue = [...model.keys.values()];
    const checkKey = async (k: KeyModel, { ha, kms2 }: (typeof pairs)[number]) => {
      const view = readGetAttributes(V2_1, await ha.ok(Operation.GetAttributes, getAttributesPayload(V2_1, k.uid, ['State', 'LastChangeDate'])));
      const state = single(view, 'State');
      if (state?.type !== 'Enumeration' || !k.states.has(state.value)) problems.push(`${k.uid} (${k.owner}): state ${String(state?.value)}, acknowledged ${[...k.states].join('|')}`);
      const lcd = single(view, 'LastChangeDate');
      for (let i = 1; i < k.changes.length; i++) if (k.changes[i]! < k.changes[i - 1]!) problems.push(`${k.uid}: Last Change Date went back during the load`);
      if (k.changes.length > 0 && (lcd?.type !== 'DateTime' || lcd.value < k.changes[k.changes.length - 1]!)) problems.push(`${k.uid}: Last Change Date went back`);
      const item = await ha.call(Operation.Get, getPayload(k.uid));
      if (state?.type === 'Enumeration' && state.value === State.Destroyed) {
        if (item.reason !== ResultReason.ObjectDestroyed) problems.push(`${k.uid}: destroyed, but Get answered ${String(item.reason ?? 'Success')}`);
        return;
      }
      const bytes = Buffer.from(keyMaterialOf(expectSuccess(item))).toString('hex');
      if (k.bytes !== undefined && bytes !== k.bytes) problems.push(`${k.uid} (${k.owner}): key bytes differ from the acknowledged ones`);
      const again = Buffer.from(keyMaterialOf(await kms2.ok(Operation.Get, getPayload(k.uid)))).toString('hex');
      if (again !== bytes) problems.push(`${k.uid}: the restarted kms2 answers other key bytes than HAProxy's node`);
    };
    await Promise.all(
      pairs.map(async (pair) => {
        for (let k = queue.pop(); k; k = queue.pop()) await checkKey(k, pair);
      }),
    );
    // Locate (no filter: every live object) against the model.
    const found = new Set(uniqueIdentifiersOf(await check.ok(Operation.Locate, t.struct(Tag.RequestPayload, [t.int(Tag.MaximumItems, 1_000_000)]))));
    for (const k of model.keys.values()) {
      const mayBeLive = [...k.states].some((s) => s !== State.Destroyed);
      const mayBeDestroyed = k.states.has(State.Destroyed);
      if (!mayBeDestroyed && !found.has(k.uid)) problems.push(`Locate does not find the live ${k.uid}`);
      if (!mayBeLive && found.has(k.uid)) problems.push(`Locate finds the destroyed ${k.uid}`);
    }
    for (const uid of found) {
      if (model.keys.has(uid)) continue;
      const view = readGetAttributes(V2_1, await check.ok(Operation.GetAttributes, getAttributesPayload(V2_1, uid, ['Name'])));
      const name = single(view, 'Name');
      const value = name?.type === 'Structure' ? name.value.find((n) => n.tag === Tag.NameValue)?.value : undefined;
      if (typeof value !== 'string' || !model.lostCreates.has(value)) problems.push(`Locate finds ${uid} (${String(value)}), which no client created or lost the answer of`);
    }
    await Promise.all(pairs.flatMap((p) => [p.ha.client.close(), p.kms2.client.close()]));
    expect(problems).toEqual([]);

    // The cluster's audit trail: verifies, and holds a Success record for every acknowledged request.
    const config = join(c.state, 'nodes', 'kms1', 'serve.json');
    const verify = await runKms(['audit', 'verify', '--config', config]);
    expect(verify.code, `kms audit verify:\n${verify.stdout}\n${verify.stderr}`).toBe(0);
    const tail = await runKms(['audit', 'tail', '-n', '10000000', '--config', config]);
    expect(tail.code, tail.stderr).toBe(0);
    const records = new Map<string, number>();
    for (const line of tail.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const a = JSON.parse(line) as { kind?: string; op?: string; status?: string; uids?: string[] };
      if (a.kind !== 'op' || a.status !== 'Success') continue;
      for (const uid of a.uids ?? []) records.set(`${a.op} ${uid}`, (records.get(`${a.op} ${uid}`) ?? 0) + 1);
    }
    const need = new Map<string, number>();
    // Reads' records are written before the answer but synced in batches (audit.readSync "batched",
    // docs/read-durability.md): those of reads answered just before the primary died may be lost.
    const unsyncedRead = (a: Model['acked'][number]) => (a.op === 'Get' || a.op === 'GetAttributes') && a.at >= primaryKilledAt - READ_SYNC_SLACK_MS && a.at <= primaryKilledAt + 1000;
    for (const a of model.acked) if (!unsyncedRead(a)) need.set(`${a.op} ${a.uid}`, (need.get(`${a.op} ${a.uid}`) ?? 0) + 1);
    const missing = [...need].filter(([k, n]) => (records.get(k) ?? 0) < n).map(([k, n]) => `${k}: ${n} acknowledged, ${records.get(k) ?? 0} audit records`);
    expect(missing, 'acknowledged requests without their audit record').toEqual([]);
  }, 300_000);
});

async function connectRetrying(port: number, certs: string): Promise<KmipClient> {
  const files = { ca: readFileSync(join(certs, 'ca.pem')), cert: readFileSync(join(certs, 'client.pem')), key: readFileSync(join(certs, 'client.key')) };
  const deadline = Date.now() + RECOVERY_BOUND_MS;
  for (;;) {
    try {
      const client = await KmipClient.connect({ host: '127.0.0.1', port, servername: 'localhost', timeoutMs: 20_000, ...files });
      return client;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
