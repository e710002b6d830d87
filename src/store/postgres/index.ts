export { PgStore, type PgStoreOptions, pgError, redactUrl } from './pg-store.js';
export { PG_SCHEMA_VERSION } from './schema.js';
