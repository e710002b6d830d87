/** The store contract on PostgreSQL: one fresh database per store, on the run's shared server (test/support/postgres.ts). */
import { PgStore } from '../../src/store/index.js';
import { sharedPostgres } from '../support/postgres.js';
import { storeContract } from './contract.js';

storeContract('postgresql', async () => new PgStore({ url: await (await sharedPostgres()).newDatabase(), poolSize: 4 }));
