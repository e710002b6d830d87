/**
 * Key custody shared by the nodes of a cluster (a PostgreSQL store, docs/cluster-nodes.md).
 *
 * Each node keeps its own data folder and its own DIR/custody.json (custody.ts); the database
 * holds one more record, the meta entry `cluster/custody`: the protector every node must use
 * (software: the master key's id; HSM: the token and the KEK and audit key labels and CKA_IDs).
 * No secret is in it. The node that made the keys writes it (expectedRevision 0: once).
 *
 * Opening a folder over a database (`prepareClusterCustody`, before the keys are opened):
 * - the database has a record and the folder none: the folder JOINS. HSM: the folder's
 *   custody.json is written from the record, and the keys are then found in the configured
 *   token by label and CKA_ID (custody.ts refuses another token: MISMATCH). Software: the
 *   folder must hold the cluster's master key already (`kms init --store URL --join
 *   --master-key FILE` puts it there), else CustodyError MISSING_KEY says how to join.
 * - both have one: they must name the same keys, else CustodyError MISMATCH; except that a
 *   record that is the folder's own KEK history moved on (a rotation while the node was down:
 *   same token, same audit key, the folder's KEKs a prefix of the record's) is adopted.
 * - the database has none: after the keys are open, `publishClusterCustody` records the
 *   folder's (a race with another node publishing at the same moment: the loser is refused
 *   MISMATCH, its custody.json is not the cluster's).
 */
import { existsSync } from 'node:fs';
import type { ObjectStore } from '../store/object-store.js';
import { StoreError } from '../store/object-store.js';
import { SoftwareProtector } from '../hsm/software/software-protector.js';
import { CustodyError, currentKek, describeCustody, readCustody, sameToken, writeCustody, type CustodyRecord, type ProtectorCustody } from './custody.js';
import { folderLayout } from './layout.js';

/** The meta key of the cluster's custody record. */
export const CLUSTER_CUSTODY_KEY = 'cluster/custody';

export interface ClusterCustody {
  readonly format: 1;
  readonly created: string;
  /** Which folder first recorded it (informational). */
  readonly origin: string;
  readonly protector: ProtectorCustody;
  /** A KEK rotation's new KEK, recorded before it is made (cluster-kek.ts); absent once it is current. */
  readonly rotation?: { readonly label: string; readonly id: string; readonly holder: string; readonly started: string };
}

export async function readClusterCustody(store: ObjectStore): Promise<ClusterCustody | undefined> {
  return (await readClusterEntry(store)).custody;
}

/** The cluster record and the meta entry's revision (0: no record). */
export async function readClusterEntry(store: ObjectStore): Promise<{ custody: ClusterCustody | undefined; revision: number }> {
  const e = await store.meta.get(CLUSTER_CUSTODY_KEY);
  if (!e) return { custody: undefined, revision: 0 };
  let c: ClusterCustody;
  try {
    c = JSON.parse(Buffer.from(e.value).toString('utf8')) as ClusterCustody;
  } catch (err) {
    throw new CustodyError('BAD_RECORD', `the database's custody record (${CLUSTER_CUSTODY_KEY}) cannot be read: ${(err as Error).message}`);
  }
  if (c?.format !== 1 || (c.protector?.kind !== 'software' && c.protector?.kind !== 'hsm'))
    throw new CustodyError('BAD_RECORD', `the database's custody record (${CLUSTER_CUSTODY_KEY}) is not one this version understands`);
  return { custody: c, revision: e.revision };
}

/**
 * Is `cluster` this folder's own KEK history moved on (a KEK rotation over the cluster while
 * this folder's node was down or had not yet heard of it): same token, same audit key, and the
 * folder's KEKs (label and CKA_ID, in order) the first ones of the record's?
 */
export function historyMovedOn(local: ProtectorCustody, cluster: ProtectorCustody): boolean {
  if (local.kind !== 'hsm' || cluster.kind !== 'hsm') return false;
  if (!sameToken(local.token, cluster.token)) return false;
  if (local.auditKey.label !== cluster.auditKey.label || local.auditKey.id !== cluster.auditKey.id) return false;
  if (local.keks.length > cluster.keks.length) return false;
  return local.keks.every((k, i) => k.label === cluster.keks[i]!.label && k.id === cluster.keks[i]!.id);
}

/** Do two custody records name the same keys (software: the master key; HSM: token, current KEK, audit key)? */
export function sameKeys(a: ProtectorCustody, b: ProtectorCustody): boolean {
  if (a.kind === 'software') return b.kind === 'software' && a.kekId === b.kekId && a.auditKeyId === b.auditKeyId;
  if (b.kind !== 'hsm' || !sameToken(a.token, b.token)) return false;
  const ka = currentKek(a);
  const kb = currentKek(b);
  return ka.label === kb.label && ka.id === kb.id && a.auditKey.label === b.auditKey.label && a.auditKey.id === b.auditKey.id;
}

function refuseMismatch(dir: string, local: ProtectorCustody, cluster: ProtectorCustody): CustodyError {
  return new CustodyError(
    'MISMATCH',
    `${dir} is sealed under ${describeCustody(local)}, but the database's nodes use ${describeCustody(cluster)} (${CLUSTER_CUSTODY_KEY}): ` +
      `this folder belongs to another cluster or store. Give this node a new data folder that joins (docs/cluster-nodes.md).`,
  );
}

/** Before the keys are opened: join, or check the folder against the database. */
export async function prepareClusterCustody(o: {
  readonly dataDir: string;
  readonly store: ObjectStore;
  readonly hsm: boolean;
  readonly mustJoin?: boolean;
}): Promise<ClusterCustody | undefined> {
  const cluster = await readClusterCustody(o.store);
  if (!cluster && o.mustJoin)
    throw new CustodyError('MISSING_KEY', `the database holds no keys to join (no ${CLUSTER_CUSTODY_KEY} record): make the first node of the cluster without --join`);
  if (!cluster) return undefined;
  const local = readCustody(o.dataDir);
  if (local) {
    if (sameKeys(local.protector, cluster.protector)) return cluster;
    // A KEK rotation over the cluster while this node was down: the record is the folder's own
    // history moved on (same token and audit key, its KEKs first): adopted. Anything else: refused.
    if (!local.migration && historyMovedOn(local.protector, cluster.protector)) {
      writeCustody(o.dataDir, { ...local, protector: cluster.protector });
      return cluster;
    }
    throw refuseMismatch(o.dataDir, local.protector, cluster.protector);
  }
  const p = cluster.protector;
  if (p.kind === 'software') {
    if (o.hsm) throw new CustodyError('MISMATCH', `the database's nodes use ${describeCustody(p)}, but this node is configured with an hsm section: remove it to join`);
    const path = folderLayout(o.dataDir).masterKey;
    if (!existsSync(path))
      throw new CustodyError(
        'MISSING_KEY',
        `${o.dataDir} has no keys and the database's nodes use ${describeCustody(p)}: join with ` +
          `kms init --data-dir ${o.dataDir} --store URL --join --master-key FILE (FILE: a copy of a node's master.key), then start again`,
      );
    const id = masterKeyId(path);
    if (id !== p.kekId) throw new CustodyError('MISMATCH', `${path} is master key ${id}, but the database's nodes use ${p.kekId}: this node cannot join with it`);
  } else if (!o.hsm) {
    throw new CustodyError('MISMATCH', `the database's nodes use ${describeCustody(p)}: configure this node's hsm section with that token to join`);
  }
  const joined: CustodyRecord = {
    format: 1,
    created: new Date().toISOString(),
    origin: `joined ${new Date().toISOString()}: the database's custody record (${cluster.origin})`,
    protector: p,
  };
  writeCustody(o.dataDir, joined);
  return cluster;
}

/** The id (sw:…) of the master key in `path`, read only. */
export function masterKeyId(path: string): string {
  const { protector } = SoftwareProtector.openOrCreate(path);
  void protector.close();
  return protector.kekId;
}

/** After the keys are open: record the folder's custody in a database that has none (once). */
export async function publishClusterCustody(store: ObjectStore, dataDir: string, custody: CustodyRecord): Promise<void> {
  const c: ClusterCustody = { format: 1, created: new Date().toISOString(), origin: `first recorded by ${dataDir} (custody ${custody.origin})`, protector: custody.protector };
  try {
    await store.commit([{ type: 'meta-put', key: CLUSTER_CUSTODY_KEY, value: Buffer.from(JSON.stringify(c)), expectedRevision: 0 }]);
  } catch (e) {
    if (!(e instanceof StoreError) || e.code !== 'CONFLICT') throw e;
    const now = await readClusterCustody(store);
    if (!now || !sameKeys(custody.protector, now.protector)) throw refuseMismatch(dataDir, custody.protector, now?.protector ?? custody.protector);
  }
}
