/**
 * `kms certs …` on a stopped data folder: the registry over the folder's LevelDB store (its lock
 * taken, so never beside a running server, which answers through its admin socket instead).
 * Changes are audited into the folder's trail with its audit key, and the trail gets a closing
 * checkpoint anchored like the server's; reads open the store read-only and write nothing.
 */
import { join } from 'node:path';
import pino from 'pino';
import type { KmsConfig } from '../config/config.js';
import { openFolderKeys, type FolderKeys } from '../hsm/custody.js';
import { AuditTrail } from '../audit/trail.js';
import { openAnchors } from '../audit/anchor-config.js';
import { LevelStore } from '../store/leveldb/index.js';
import { cryptoPolicyFrom } from '../policy/crypto-policy.js';
import { ClientRegistry } from './registry.js';

export interface FolderRegistry {
  readonly registry: ClientRegistry;
  close(): Promise<void>;
}

/** Open the stopped folder's registry; `write` opens the keys and the audit trail too. Throws Error on a held or missing folder. */
export async function openFolderRegistry(config: KmsConfig, write: boolean): Promise<FolderRegistry> {
  const store = new LevelStore({ path: join(config.dataDir, 'db'), readOnly: !write });
  try {
    await store.open();
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(/lock|in use/i.test(msg) ? `${config.dataDir}: the database is in use by a process that does not answer on its admin socket: ${msg}` : msg);
  }
  let keys: FolderKeys | undefined;
  let audit: AuditTrail | undefined;
  try {
    if (write) {
      const log = pino({ level: 'silent' });
      keys = await openFolderKeys({ dataDir: config.dataDir, ...(config.hsm && { hsm: config.hsm }), store, create: false });
      audit = new AuditTrail({ store, key: keys.auditKey, log, anchors: await openAnchors(config, store.audit, keys.auditKey, log) });
    }
    const registry = await ClientRegistry.open({ store, dataDir: config.dataDir, policy: cryptoPolicyFrom(config.cryptoPolicy), config: config.clients, ...(audit && { audit }) });
    return {
      registry,
      async close() {
        registry.close();
        await audit?.close();
        await store.close();
        await keys?.close();
      },
    };
  } catch (e) {
    await audit?.close().catch(() => undefined);
    await store.close();
    await keys?.close().catch(() => undefined);
    throw e;
  }
}
