/**
 * The target of `kms store migrate`: the PostgreSQL store opened from its URL, the URL as it may
 * be printed (never its password), and the cluster custody record the migration writes into the
 * database (the meta entry cluster nodes read when they join: docs/cluster-nodes.md).
 */
import { readCustody } from '../folder/custody.js';
import { openStore } from '../store/index.js';
import type { CommitOp, ObjectStore } from '../store/object-store.js';

/** The meta key of the cluster's custody record (the nodes' own: src/folder/cluster-custody.ts). */
export const CLUSTER_CUSTODY_KEY = 'cluster/custody';

/** The URL with its password replaced by "***". */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '[unparseable store URL]';
  }
  if (u.password !== '') u.password = '***';
  for (const k of [...u.searchParams.keys()]) if (/pass/i.test(k)) u.searchParams.set(k, '***');
  return u.toString();
}

/** Open the PostgreSQL store (its schema is made in an empty database). */
export async function openTargetStore(url: string): Promise<ObjectStore> {
  return openStore({ kind: 'postgresql', url, poolSize: 2 });
}

/**
 * The cluster custody record of the folder, as a meta op of the migration's first commit (none
 * when the folder has no custody record): written once (expectedRevision 0), so a database that
 * has one already makes that commit fail and the migration refuse.
 */
export async function targetCustody(dataDir: string): Promise<CommitOp[]> {
  const local = readCustody(dataDir);
  if (!local) return [];
  const record = { format: 1, created: new Date().toISOString(), origin: `migrated from ${dataDir} (custody ${local.origin})`, protector: local.protector };
  return [{ type: 'meta-put', key: CLUSTER_CUSTODY_KEY, value: Buffer.from(JSON.stringify(record)), expectedRevision: 0 }];
}
