/**
 * Helpers for the cluster-node tests: `kms serve` processes (the built dist/, real mTLS) over one
 * throwaway PostgreSQL database (test/support/postgres.ts), each with its own data folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KmipClient } from '../../src/client/index.js';
import { createSymmetricKeyPayload, destroyPayload, getPayload, keyMaterialOf, parseResponse, requestMessage, uniqueIdentifierOf, type ResponseItem } from '../../src/client/requests.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import type { StructureNode } from '../../src/ttlv/index.js';
import { startServeProcess, writeServeConfig, type ServeProcess } from '../support/kms-process.js';
import { sharedPostgres } from '../support/postgres.js';

export const V21 = { major: 2, minor: 1 } as const;

/** A fresh database on the run's shared PostgreSQL server. */
export async function newClusterDatabase(): Promise<string> {
  return (await sharedPostgres()).newDatabase();
}

export function newFolder(name: string): string {
  return join(mkdtempSync(join(tmpdir(), `kms-node-${name}-`)), 'data');
}

/** Start `kms serve` on `dataDir` over the database `url` (config file; `extra` config keys merged). */
export async function startNode(dataDir: string, url: string, extra: Record<string, unknown> = {}): Promise<ServeProcess> {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return startServeProcess(writeServeConfig(dataDir, { store: url, ...extra }), 60_000);
}

/** One request of one batch item; the item (success or not). */
export async function call(client: KmipClient, operation: number, payload: StructureNode): Promise<ResponseItem> {
  const res = parseResponse(await client.send(requestMessage({ version: V21, batch: [{ operation, payload }] })));
  return res.items[0]!;
}

export async function ok(client: KmipClient, operation: number, payload: StructureNode): Promise<ResponseItem> {
  const item = await call(client, operation, payload);
  if (item.status !== ResultStatus.Success) throw new Error(`operation ${operation} failed: ${item.reason} ${item.message ?? ''}`);
  return item;
}

export async function createKey(client: KmipClient): Promise<string> {
  const item = await ok(
    client,
    Operation.Create,
    createSymmetricKeyPayload(V21, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt }),
  );
  return uniqueIdentifierOf(item.payload);
}

export async function keyBytes(client: KmipClient, uid: string): Promise<Buffer> {
  const item = await ok(client, Operation.Get, getPayload(uid));
  return Buffer.from(keyMaterialOf(item.payload));
}

export function destroy(client: KmipClient, uid: string): Promise<ResponseItem> {
  return call(client, Operation.Destroy, destroyPayload(uid));
}

/** The node's HTTPS port (from its log: it listens just after the KMIP port). */
export async function httpsPortOf(node: ServeProcess): Promise<number> {
  for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const line = node.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('HTTPS listening'));
    if (line) return line.port as number;
  }
  throw new Error('the node logged no HTTPS listener');
}

/** GET `path` on the node's HTTPS port from loopback, no client certificate. */
export async function httpsGetFrom(node: ServeProcess, path: string): Promise<{ status: number; body: string }> {
  const { get } = await import('node:https');
  const { tlsFiles } = await import('../support/kms.js');
  const port = await httpsPortOf(node);
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, servername: 'localhost', ca: tlsFiles().ca, timeout: 20_000 }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** One sample of a Prometheus metric (no labels) from the node's /metrics. */
export async function metricOf(node: ServeProcess, name: string): Promise<number> {
  const r = await httpsGetFrom(node, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(r.body);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}
