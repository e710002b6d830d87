/**
 * The PostgreSQL store's schema, versioned: MIGRATIONS[v - 1] takes a database from version
 * v - 1 to v (version 0: no tables yet). `migrate` runs the missing ones in ONE transaction under
 * a transaction-scoped advisory lock, so nodes starting together neither race nor see half a
 * schema; a database written by a newer schema is refused (StoreError SCHEMA) and left alone.
 *
 * Tables (docs/store-postgresql.md):
 * - kms_schema: one row, the schema version.
 * - kms_objects(uid, revision, bytes): uid is the UTF-8 of the uid as bytea (byte order is code
 *   point order, the order `list` promises, and a uid may hold U+0000, which text may not);
 *   bytes from record-codec.
 * - kms_index(field, vkey, value_full, uid): one row per index term (index-encoding.ts), field
 *   as UTF-8 bytea; vkey is the value's first INDEX_PREFIX_BYTES bytes and value_full the whole
 *   value when it is longer (else NULL): a btree entry holds at most ~2.7 kB while an attribute
 *   value may be 64 KiB, so the ordered index (field, vkey, uid) that find and scan walk holds
 *   the prefix, and the full value decides among entries that share it (truncation keeps the
 *   order: ordering by (vkey, full value, uid) is ordering by (full value, uid)).
 * - kms_meta(key, revision, value): server metadata (src/store/meta.ts), keys in "C" order.
 * - kms_audit(seq, bytes, link): the one audit hash chain of the cluster.
 * - kms_head: one row, the audit head (seq, link) and the record count. Every write transaction
 *   takes it FOR UPDATE first: writers of all nodes are serialized on it, so audit entries form
 *   one chain and no two transactions can deadlock on record rows.
 */
import type pg from 'pg';
import { StoreError } from '../object-store.js';

/** Longest index value prefix kept in the ordered index (see kms_index above). */
export const INDEX_PREFIX_BYTES = 1024;

/** Random but fixed: the key of the advisory lock migrations run under. */
export const MIGRATION_LOCK = 0x6b6d735f73636831n; // "kms_sch1"

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE kms_objects (uid bytea PRIMARY KEY, revision bigint NOT NULL CHECK (revision > 0), bytes bytea NOT NULL);
   CREATE TABLE kms_index (field bytea NOT NULL, vkey bytea NOT NULL, value_full bytea, uid bytea NOT NULL);
   CREATE INDEX kms_index_walk ON kms_index (field, vkey, uid);
   CREATE INDEX kms_index_by_uid ON kms_index (uid);
   CREATE TABLE kms_meta (key text COLLATE "C" PRIMARY KEY, revision bigint NOT NULL CHECK (revision > 0), value bytea NOT NULL);
   CREATE TABLE kms_audit (seq bigint PRIMARY KEY CHECK (seq > 0), bytes bytea NOT NULL, link bytea NOT NULL);
   CREATE TABLE kms_head (id int PRIMARY KEY CHECK (id = 1), audit_seq bigint NOT NULL, audit_link bytea NOT NULL, records bigint NOT NULL);
   INSERT INTO kms_head (id, audit_seq, audit_link, records) VALUES (1, 0, '\\x', 0);`,
];

/** The schema version this server writes. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the database to PG_SCHEMA_VERSION (see the file comment). Returns the version found. */
/**
 * For a store opened read-only: the database must hold this server's schema already (nothing is
 * created or migrated). StoreError SCHEMA when it holds none, an older or a newer one.
 */
export async function checkSchema(client: pg.ClientBase): Promise<void> {
  const t = await client.query<{ t: string | null }>("SELECT to_regclass('kms_schema')::text AS t");
  if (!t.rows[0]?.t) throw new StoreError('SCHEMA', 'the database holds no kms store yet (no node has opened it; a read-only command creates nothing)');
  const r = await client.query<{ version: number }>('SELECT version FROM kms_schema WHERE id = 1');
  const found = r.rows[0]?.version ?? 0;
  if (found !== PG_SCHEMA_VERSION)
    throw new StoreError(
      'SCHEMA',
      `the database has schema version ${found}, this server reads ${PG_SCHEMA_VERSION}${found < PG_SCHEMA_VERSION ? ' (start a node of this version to migrate it)' : ''}`,
    );
}

export async function migrate(client: pg.ClientBase, schema?: string): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    // The connection's search_path names it (PgStore); a valid identifier (checked there).
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query('CREATE TABLE IF NOT EXISTS kms_schema (id int PRIMARY KEY CHECK (id = 1), version int NOT NULL)');
    const r = await client.query<{ version: number }>('SELECT version FROM kms_schema WHERE id = 1');
    const found = r.rows[0]?.version ?? 0;
    if (found > PG_SCHEMA_VERSION) {
      throw new StoreError('SCHEMA', `the database has schema version ${found}, newer than this server's ${PG_SCHEMA_VERSION}`);
    }
    for (let v = found + 1; v <= PG_SCHEMA_VERSION; v++) await client.query(MIGRATIONS[v - 1] as string);
    if (found < PG_SCHEMA_VERSION) {
      await client.query('INSERT INTO kms_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version', [PG_SCHEMA_VERSION]);
    }
    await client.query('COMMIT');
    return found;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
