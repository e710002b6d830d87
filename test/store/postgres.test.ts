/**
 * The store contract on PostgreSQL, on the run's shared server (test/support/postgres.ts): one
 * database for this file, a fresh schema (PgStore `schema`) for each store.
 */
import { PgStore } from '../../src/store/index.js';
import { sharedPostgres } from '../support/postgres.js';
import { storeContract } from './contract.js';

let db: Promise<string> | undefined;
let n = 0;
storeContract('postgresql', async () => {
  db ??= sharedPostgres().then((pg) => pg.newDatabase());
  return new PgStore({ url: await db, schema: `contract_${n++}`, poolSize: 4 });
});
