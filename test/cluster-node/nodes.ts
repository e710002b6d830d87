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
