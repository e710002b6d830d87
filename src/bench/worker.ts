/**
 * A load worker thread of `kms bench`: runs `connections` closed loops (each one connection,
 * one request in flight) of one mix until the main thread says stop. The shared words:
 * [0] the phase (0 warm-up, 1 measuring, 2 stop), [1] how many loops have had their first
 * answer (a success or an error), so the main thread knows every connection is being served
 * before it measures. An iteration counts when it ENDS while measuring (a closed loop's
 * completions in the window, so an op slower than the window neither vanishes nor stalls the
 * point). On the main thread's "stop" message the worker reports at once, without waiting for
 * requests still in flight (a server that queues them would otherwise hold the bench).
 */
import { createSecureContext } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import { KmipClient, type KmipClientOptions } from '../client/client.js';
import { bindMix, type MixName, type MixSetup } from './mixes.js';

export interface WorkerInput {
  /** Connection i goes to clients[(offset + i) % clients.length] (the nodes of a cluster). */
  readonly clients: readonly KmipClientOptions[];
  readonly offset: number;
  readonly mix: MixName;
  readonly setup: MixSetup;
  readonly connections: number;
  /** Int32 words: [0] phase, [1] loops answered at least once. */
  readonly shared: SharedArrayBuffer;
}

export interface WorkerResult {
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Errors during the warm-up (not counted in `errors`), and the first one. */
  readonly warmupErrors: number;
  readonly firstWarmupError?: string;
  /** Milliseconds, one per counted iteration. */
  readonly latencies: Float64Array;
}

export const Phase = { Warmup: 0, Measure: 1, Stop: 2 } as const;
export const SharedWord = { Phase: 0, Answered: 1 } as const;

function main(workerInput: WorkerInput): void {
  // One TLS context per worker and node: the client's cost of a new connection is then the
  // handshake, not parsing the PEM certificate, key and CA again each time.
  const clients = workerInput.clients.map((c0) => ({ ...c0, secureContext: createSecureContext({ ca: c0.ca, cert: c0.cert, key: c0.key, minVersion: 'TLSv1.2' }) }));
  const input = workerInput;
  const shared = new Int32Array(input.shared);
  const mix = bindMix(input.mix, input.setup);
  let lat = new Float64Array(1 << 14);
  let n = 0;
  let errors = 0;
  let firstError: string | undefined;
  let warmupErrors = 0;
  let firstWarmupError: string | undefined;
  const phase = (): number => Atomics.load(shared, SharedWord.Phase);
  const record = (ms: number): void => {
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[n++] = ms;
  };
  const onError = (e: unknown): void => {
    const msg = e instanceof Error ? e.message : String(e);
    const p = phase();
    if (p === Phase.Measure) {
      errors++;
      firstError ??= msg;
    } else if (p === Phase.Warmup) {
      warmupErrors++;
      firstWarmupError ??= msg;
    }
  };
  const open = new Set<KmipClient>();
  // Connection i's place in the server list; after a failure it moves to the next server.
  const nodeOf = Array.from({ length: input.connections }, (_, i) => input.offset + i);
  // With a resuming mix: the TLS session connection slot i got last, offered on its next connection.
  const sessions: (Buffer | undefined)[] = [];
  const connect = async (i: number): Promise<KmipClient> => {
    const opts = clients[(nodeOf[i] as number) % clients.length] as KmipClientOptions;
    const session = mix.resume ? sessions[i] : undefined;
    const c = await KmipClient.connect(session ? { ...opts, session } : opts);
    if (session && !c.sessionReused) {
      sessions[i] = undefined;
      await c.close().catch(() => undefined);
      throw new Error('TLS session offered but not resumed (full handshake)');
    }
    open.add(c);
    return c;
  };
  const close = async (c: KmipClient | undefined): Promise<void> => {
    if (!c) return;
    open.delete(c);
    await c.close().catch(() => undefined);
  };

  const loop = async (i: number, conn: KmipClient | undefined): Promise<void> => {
    let c = conn;
    let answered = false;
    while (phase() !== Phase.Stop) {
      const t0 = performance.now();
      try {
        if (mix.perConnection) {
          const fresh = await connect(i);
          try {
            await mix.run(fresh);
            if (mix.resume) sessions[i] = fresh.tlsSession ?? sessions[i];
          } finally {
            await close(fresh);
          }
        } else {
          if (!c || !c.isOpen) {
            await close(c);
            c = await connect(i);
          }
          await mix.run(c);
        }
        if (phase() === Phase.Measure) record(performance.now() - t0);
      } catch (e) {
        onError(e);
        if (clients.length > 1) {
          await close(c);
          c = undefined;
          nodeOf[i] = (nodeOf[i] as number) + 1;
        }
        // After a failure, wait a little before retrying (a node that is down refuses at once).
        await new Promise((r) => setTimeout(r, 20));
      }
      if (!answered) {
        answered = true;
        Atomics.add(shared, SharedWord.Answered, 1);
      }
    }
    await close(c);
  };

  const report = (): void => {
    const r: WorkerResult = {
      ops: n,
      errors,
      ...(firstError !== undefined && { firstError }),
      warmupErrors,
      ...(firstWarmupError !== undefined && { firstWarmupError }),
      latencies: lat.slice(0, n),
    };
    parentPort?.postMessage({ type: 'done', result: r }, [r.latencies.buffer as ArrayBuffer]);
  };
  parentPort?.on('message', (m: { type: string }) => {
    if (m.type === 'stop') {
      Atomics.store(shared, SharedWord.Phase, Phase.Stop);
      report();
      for (const c of open) void c.close().catch(() => undefined);
    }
  });

  // Persistent connections are all open before the warm-up starts.
  const conns = mix.perConnection ? Promise.resolve([]) : Promise.all(Array.from({ length: input.connections }, (_, i) => connect(i)));
  conns.then(
    (cs: KmipClient[]) => {
      parentPort?.postMessage({ type: 'ready' });
      for (let i = 0; i < input.connections; i++) void loop(i, cs[i]);
    },
    (e: unknown) => parentPort?.postMessage({ type: 'failed', error: e instanceof Error ? e.message : String(e) }),
  );
}

// run.ts imports the constants above: only a worker thread runs the loops.
if (parentPort && workerData) main(workerData as WorkerInput);
