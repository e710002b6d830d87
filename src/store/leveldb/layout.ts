/**
 * The on-disk layout of the LevelDB store. One LevelDB database per folder, four sublevels
 * (abstract-level prefixes the keys of sublevel `x` with `!x!`):
 *
 * | sublevel | key                                        | value                                   |
 * | -------- | ------------------------------------------ | --------------------------------------- |
 * | `r`      | uid (UTF-8)                                | the record (record-codec.ts)            |
 * | `i`      | esc(field) 00 01 esc(value) 00 01 uid      | empty (see src/store/index-keys.ts)     |
 * | `m`      | `schema`                                   | schema version, decimal text            |
 * | `m`      | `count`                                    | number of records, decimal text         |
 * | `m`      | `audit-head`                               | last audit seq, space, its link (hex)   |
 * | `a`      | audit seq, 16 hex digits                   | the audit entry (src/audit/record.ts)   |
 * | `s`      | server-metadata key (printable ASCII)      | revision (6 bytes BE), value (meta.ts)  |
 *
 * Every commit writes its records, its index changes, its audit entries, the new count
 * and the new audit head in one synced batch (the `a` sublevel is append-only; an older
 * folder without it starts an empty log). A folder whose schema version is newer than SCHEMA_VERSION is refused; a folder
 * without one gets it on first open (only if it holds nothing else).
 */
export const SCHEMA_VERSION = 1;

export const Sublevel = {
  Records: 'r',
  Index: 'i',
  Meta: 'm',
  Audit: 'a',
  /** Server metadata (src/store/meta.ts); absent in older folders, which start it empty. */
  ServerMeta: 's',
} as const;

/** The key of audit entry `seq`: fixed-width hex, so key order is sequence order. */
export function auditKey(seq: number): string {
  return seq.toString(16).padStart(16, '0');
}

export const MetaKey = {
  Schema: 'schema',
  Count: 'count',
  AuditHead: 'audit-head',
} as const;
