/**
 * A load worker thread of `kms bench`: runs `connections` closed loops (each one connection,
 * one request in flight) of one mix until the main thread says stop. The phase word shared
 * with the main thread: 0 warm-up (not counted), 1 measuring, 2 stop. An iteration counts
 * when it started while measuring.
 */
import { createSecureContext } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import { KmipClient, type KmipClientOptions } from '../client/client.js';
import { bindMix, type MixName, type MixSetup } from './mixes.js';

export interface WorkerInput {
  readonly client: KmipClientOptions;
  readonly mix: MixName;
  readonly setup: MixSetup;
  readonly connections: number;
  readonly phase: SharedArrayBuffer;
}

export interface WorkerResult {
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Milliseconds, one per counted iteration. */
  readonly latencies: Float64Array;
}

export const Phase = { Warmup: 0, Measure: 1, Stop: 2 } as const;

async function main(workerInput: WorkerInput): Promise<WorkerResult> {
  // One TLS context per worker: the client's cost of a new connection is then the handshake,
  // not parsing the PEM certificate, key and CA again each time.
  const c0 = workerInput.client;
  const input = { ...workerInput, client: { ...c0, secureContext: createSecureContext({ ca: c0.ca, cert: c0.cert, key: c0.key, minVersion: 'TLSv1.2' }) } };
  const phase = new Int32Array(input.phase);
  const mix = bindMix(input.mix, input.setup);
  let lat = new Float64Array(1 << 14);
  let n = 0;
  let errors = 0;
  let firstError: string | undefined;
  const record = (ms: number): void => {
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[n++] = ms;
  };
  const onError = (e: unknown, counted: boolean): void => {
    if (!counted) return;
    errors++;
    firstError ??= e instanceof Error ? e.message : String(e);
  };

  const loop = async (conn: KmipClient | undefined): Promise<void> => {
    let c = conn;
    while (Atomics.load(phase, 0) !== Phase.Stop) {
      const counted = Atomics.load(phase, 0) === Phase.Measure;
      const t0 = performance.now();
      try {
        if (mix.perConnection) {
          const fresh = await KmipClient.connect(input.client);
          try {
            await mix.run(fresh);
          } finally {
            await fresh.close();
          }
        } else {
          if (!c || !c.isOpen) c = await KmipClient.connect(input.client);
          await mix.run(c);
        }
        if (counted) record(performance.now() - t0);
      } catch (e) {
        onError(e, counted);
      }
    }
    await c?.close();
  };

  // Persistent connections are all open before the warm-up starts.
  const conns = mix.perConnection ? [] : await Promise.all(Array.from({ length: input.connections }, () => KmipClient.connect(input.client)));
  parentPort?.postMessage({ type: 'ready' });
  await Promise.all(Array.from({ length: input.connections }, (_, i) => loop(conns[i])));
  return { ops: n, errors, ...(firstError !== undefined && { firstError }), latencies: lat.slice(0, n) };
}

main(workerData as WorkerInput).then(
  (r) => parentPort?.postMessage({ type: 'done', result: r }, [r.latencies.buffer as ArrayBuffer]),
  (e: unknown) => parentPort?.postMessage({ type: 'failed', error: e instanceof Error ? e.message : String(e) }),
);
