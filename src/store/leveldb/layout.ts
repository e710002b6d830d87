/**
 * The on-disk layout of the LevelDB store. One LevelDB database per folder, three sublevels
 * (abstract-level prefixes the keys of sublevel `x` with `!x!`):
 *
 * | sublevel | key                                        | value                                   |
 * | -------- | ------------------------------------------ | --------------------------------------- |
 * | `r`      | uid (UTF-8)                                | the record (record-codec.ts)            |
 * | `i`      | esc(field) 00 01 esc(value) 00 01 uid      | empty (see src/store/index-keys.ts)     |
 * | `m`      | `schema`                                   | schema version, decimal text            |
 * | `m`      | `count`                                    | number of records, decimal text         |
 *
 * Every commit writes its records, its index changes and the new count in one synced
 * batch. A folder whose schema version is newer than SCHEMA_VERSION is refused; a folder
 * without one gets it on first open (only if it holds nothing else).
 */
export const SCHEMA_VERSION = 1;

export const Sublevel = {
  Records: 'r',
  Index: 'i',
  Meta: 'm',
} as const;

export const MetaKey = {
  Schema: 'schema',
  Count: 'count',
} as const;
