/**
 * The cluster rows of `kms bench`: servers of one or more `kms serve` nodes over one PostgreSQL
 * database, and the failover measurement (one node SIGKILLed under load: how long the clients,
 * moving to the next server of their list, get no answer).
 */
import { copyFile, cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KmipClient } from '../client/client.js';
import { DEFAULT_CLIENT_NAME, type DevCertPaths } from '../pki/dev-certs.js';
import { bindMix, setupMix, type MixSetup } from './mixes.js';
import { databaseOf, type BenchPostgres } from './postgres.js';
import { preload } from './preload.js';
import { nextSerial, startOurServer, type BenchTarget, type ServerFactory } from './servers.js';

/**
 * A cluster of `nodes` `kms serve` processes over one PostgreSQL database (`--store`), each with
 * its own data folder; the second node joins with a copy of the first's software master key
 * (docs/cluster-nodes.md). Connections are spread over the nodes; the CPU time and RSS counted
 * are the nodes' and the PostgreSQL server's. A fresh database per start (preloaded ones are
 * copies of a template database made once).
 */
export function pgClusterFactory(label: string, nodes: number, root: string, certs: DevCertPaths, pgServer: BenchPostgres): ServerFactory {
  const templates = new Map<number, Promise<{ dir: string; db: string; uids: string[] }>>();
  const template = (n: number): Promise<{ dir: string; db: string; uids: string[] }> => {
    let t = templates.get(n);
    if (!t) {
      const dir = join(root, `${label}-template-${n}`);
      t = (async () => {
        const url = await pgServer.newDatabase();
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const r = await preload(dir, 0, n, DEFAULT_CLIENT_NAME, { sampleSize: n, served: true, storeUrl: url });
        return { dir, db: databaseOf(url), uids: r.sampleUids };
      })();
      templates.set(n, t);
    }
    return t;
  };
  return {
    label,
    async start(n) {
      const id = nextSerial();
      const dirs = Array.from({ length: nodes }, (_, i) => join(root, `${label}-${id}-${i}`));
      let uids: string[] = [];
      let url: string;
      if (n > 0) {
        const t = await template(n);
        url = await pgServer.newDatabase(t.db);
        await cp(t.dir, dirs[0] as string, { recursive: true });
        uids = t.uids;
      } else {
        url = await pgServer.newDatabase();
        await mkdir(dirs[0] as string, { recursive: true, mode: 0o700 });
      }
      const started: BenchTarget[] = [];
      try {
        for (const [i, dir] of dirs.entries()) {
          if (i > 0) {
            await mkdir(dir, { recursive: true, mode: 0o700 });
            await copyFile(join(dirs[0] as string, 'master.key'), join(dir, 'master.key'));
          }
          started.push(await startOurServer({ dataDir: dir, certs, storeUrl: url }));
        }
      } catch (e) {
        await Promise.all(started.map((s) => s.stop()));
        throw e;
      }
      const first = started[0] as BenchTarget;
      return {
        uids,
        target: {
          label,
          client: first.client,
          clients: started.map((s) => s.client),
          pid: first.pid as number,
          group: true,
          alsoMeasure: [...started.slice(1).map((s) => ({ pid: s.pid as number, group: true })), { pid: pgServer.pid, group: true }],
          nodes: started,
          stop: async () => void (await Promise.all(started.map((s) => s.stop()))),
        },
      };
    },
  };
}

export interface FailoverOptions {
  /** Client connections (closed loops of Get), spread over the nodes. */
  readonly connections: number;
  /** Load before the kill, and after it. */
  readonly beforeMs: number;
  readonly afterMs: number;
  /** The clients' request timeout (a node that stops answering costs at most this). */
  readonly timeoutMs: number;
}

export interface FailoverResult {
  readonly nodes: number;
  readonly connections: number;
  /** Connections that were on the killed node. */
  readonly movedConnections: number;
  /** Per connection: last answer before the kill → first answer after it, milliseconds. */
  readonly gapMsMax: number;
  readonly gapMsMedian: number;
  /** The same for the connections of the node that kept running (the load's own latency). */
  readonly gapMsUnaffectedMax: number;
  /** Requests that failed (refused, reset, timed out) during the run. */
  readonly failedRequests: number;
  readonly okRequests: number;
  /** Connections with no answer after the kill at all (a failover that did not happen). */
  readonly neverRecovered: number;
}

/**
 * Start a cluster from `factory` (at least two nodes), put Gets on it from `connections`
 * clients (connection i starts on node i mod nodes; on any failure it moves to the next node of
 * its list, as devices with a list of KMS servers do), SIGKILL the last node's process group,
 * keep going, and measure for each connection the time without an answer.
 */
export async function measureFailover(factory: ServerFactory, opts: FailoverOptions): Promise<FailoverResult> {
  const { target } = await factory.start(0);
  const nodes = target.nodes ?? [];
  try {
    if (nodes.length < 2) throw new Error('failover needs a cluster of two nodes or more');
    const clients = nodes.map((n) => ({ ...n.client, timeoutMs: opts.timeoutMs }));
    // Keys to read: made on the first node, served by every node.
    const setup: MixSetup = await setupMix('get', clients[0] as (typeof clients)[number], `failover-${Date.now().toString(36)}`);
    const mix = bindMix('get', setup);
    const killed = nodes.length - 1;
    let stop = false;
    let tKill = Number.POSITIVE_INFINITY;
    let failed = 0;
    let ok = 0;
    const perConn = Array.from({ length: opts.connections }, (_, i) => ({ startNode: i % nodes.length, lastBefore: Number.NaN, firstAfter: Number.NaN }));
    const loop = async (i: number): Promise<void> => {
      const me = perConn[i] as (typeof perConn)[number];
      let node = me.startNode;
      let c: KmipClient | undefined;
      while (!stop) {
        try {
          c ??= await KmipClient.connect(clients[node] as (typeof clients)[number]);
          await mix.run(c);
          ok++;
          const now = performance.now();
          if (now < tKill) me.lastBefore = now;
          else if (Number.isNaN(me.firstAfter)) me.firstAfter = now;
        } catch {
          failed++;
          await c?.close().catch(() => undefined);
          c = undefined;
          node = (node + 1) % clients.length;
        }
      }
      await c?.close().catch(() => undefined);
    };
    const loops = perConn.map((_, i) => loop(i));
    await new Promise((r) => setTimeout(r, opts.beforeMs));
    const victim = nodes[killed] as BenchTarget;
    tKill = performance.now();
    process.kill(-(victim.pid as number), 'SIGKILL');
    await new Promise((r) => setTimeout(r, opts.afterMs));
    stop = true;
    await Promise.all(loops);
    const gap = (p: (typeof perConn)[number]): number => p.firstAfter - (Number.isNaN(p.lastBefore) ? tKill : p.lastBefore);
    const moved = perConn.filter((p) => p.startNode === killed);
    const stayed = perConn.filter((p) => p.startNode !== killed);
    const movedGaps = moved
      .map(gap)
      .filter((g) => Number.isFinite(g))
      .sort((a, b) => a - b);
    return {
      nodes: nodes.length,
      connections: opts.connections,
      movedConnections: moved.length,
      gapMsMax: movedGaps.length > 0 ? (movedGaps[movedGaps.length - 1] as number) : Number.NaN,
      gapMsMedian: movedGaps.length > 0 ? (movedGaps[Math.floor((movedGaps.length - 1) / 2)] as number) : Number.NaN,
      gapMsUnaffectedMax: Math.max(...stayed.map(gap).filter((g) => Number.isFinite(g))),
      failedRequests: failed,
      okRequests: ok,
      neverRecovered: perConn.filter((p) => Number.isNaN(p.firstAfter)).length,
    };
  } finally {
    await target.stop();
  }
}
