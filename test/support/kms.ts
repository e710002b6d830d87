/**
 * A real KMS for end-to-end tests: LevelDB in a temporary data folder, the software key
 * protector, mutual TLS on an ephemeral loopback port, and clients holding the dev
 * certificates made by the global setup (identities kms-client, alice, bob, admin).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { KmipClient } from '../../src/client/index.js';
import { DEFAULT_CONFIG, type KmsConfig } from '../../src/config/config.js';
import { startKms, type RunningKms } from '../../src/server/bootstrap.js';

export const CERTS = resolve(new URL('../../certs/dev', import.meta.url).pathname);

export interface TestKms {
  readonly kms: RunningKms;
  readonly port: number;
  readonly dataDir: string;
  /** A connected client for `identity` (default kms-client). */
  client(identity?: string): Promise<KmipClient>;
  /** Stop the server (data folder kept), for restart tests. */
  stop(): Promise<void>;
  /** Stop and remove the data folder. */
  dispose(): Promise<void>;
}

/**
 * Config for a server whose test clients get the spec's full attribute set from a Get Attributes
 * naming none (client profile "full", docs/client-profiles.md), for tests about that set rather
 * than about what PyKMIP 0.10 decodes (the default profile).
 */
export const FULL_ATTRIBUTES: Partial<KmsConfig> = {
  clientProfiles: { profiles: [{ name: 'spec-full', identities: ['kms-client', 'alice', 'bob', 'admin'], getAllAttributes: 'full' }] },
};

export function tlsFiles(identity = 'kms-client') {
  const base = identity === 'kms-client' ? 'client' : identity;
  return {
    ca: readFileSync(join(CERTS, 'ca.pem')),
    cert: readFileSync(join(CERTS, `${base}.pem`)),
    key: readFileSync(join(CERTS, `${base}.key`)),
  };
}

/**
 * `captureLog`: collect every log line at trace level into this array (for tests that check
 * what the server logs, e.g. that key material never appears).
 */
export async function startTestKms(overrides: Partial<KmsConfig> = {}, opts: { dataDir?: string; clock?: () => number; captureLog?: string[] } = {}): Promise<TestKms> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kms-test-'));
  const config: KmsConfig = {
    ...DEFAULT_CONFIG,
    port: 0,
    dataDir,
    cert: join(CERTS, 'server.pem'),
    key: join(CERTS, 'server.key'),
    ca: join(CERTS, 'ca.pem'),
    ...overrides,
  };
  const capture = opts.captureLog;
  const log = capture
    ? pino(
        { level: 'trace' },
        new Writable({
          write(chunk, _enc, cb) {
            capture.push(String(chunk));
            cb();
          },
        }),
      )
    : pino({ level: process.env.KMS_TEST_LOG ?? 'silent' });
  const kms = await startKms(config, { log, clock: opts.clock });
  const port = kms.address.port;
  const clients: KmipClient[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await kms.close();
  };
  return {
    kms,
    port,
    dataDir,
    async client(identity = 'kms-client') {
      const c = await KmipClient.connect({ host: '127.0.0.1', port, servername: 'localhost', ...tlsFiles(identity), timeoutMs: 10_000 });
      clients.push(c);
      return c;
    },
    stop,
    async dispose() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
      // The audit anchor next to the folder (src/audit/anchor.ts), unless the test named another.
      if (!overrides.audit?.anchorFile) rmSync(`${resolve(dataDir)}.audit-anchor.jsonl`, { force: true });
    },
  };
}
