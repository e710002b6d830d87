import { afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore } from '../../src/store/index.js';
import { storeContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'kms-level-contract-'));
let n = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

storeContract('leveldb', async () => new LevelStore({ path: join(root, `db${n++}`) }));
