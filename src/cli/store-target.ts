/**
 * The target of `kms store migrate`: the PostgreSQL store opened from its URL (errors and
 * messages never carry its password), and the cluster custody record the migration writes into
 * the database: the `cluster/custody` entry nodes read when they open or join it
 * (src/folder/cluster-custody.ts, docs/cluster-nodes.md).
 */
import { MigrateError } from '../backup/migrate.js';
import { redactIn } from '../config/store-url.js';
import { CLUSTER_CUSTODY_KEY, type ClusterCustody } from '../folder/cluster-custody.js';
import { readCustody } from '../folder/custody.js';
import { openStore } from '../store/index.js';
import type { CommitOp, ObjectStore } from '../store/object-store.js';

export { CLUSTER_CUSTODY_KEY };

/** Open the PostgreSQL store (its schema is made in an empty database). */
export async function openTargetStore(url: string, pool: Readonly<Record<string, unknown>> = {}): Promise<ObjectStore> {
  try {
    return await openStore({ kind: 'postgresql', url, poolSize: 2, ...pool });
  } catch (e) {
    throw new Error(redactIn((e as Error).message, url), { cause: e });
  }
}

/**
 * The folder's custody as the cluster custody record, a meta op of the migration's first
 * commit (none when the folder has no custody record): written once (expectedRevision 0), so a
 * database that has one already makes that commit fail and the migration refuse.
 */
export function targetCustody(dataDir: string): CommitOp[] {
  const local = readCustody(dataDir);
  if (!local) return [];
  if (local.migration)
    throw new MigrateError('REFUSED', `${dataDir} is in the middle of a protector migration (started ${local.migration.started}): finish it with kms protector migrate first`);
  const record: ClusterCustody = { format: 1, created: new Date().toISOString(), origin: `migrated from ${dataDir} (custody ${local.origin})`, protector: local.protector };
  return [{ type: 'meta-put', key: CLUSTER_CUSTODY_KEY, value: Buffer.from(JSON.stringify(record)), expectedRevision: 0 }];
}
