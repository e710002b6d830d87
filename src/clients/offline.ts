/**
 * `kms certs …` on a stopped data folder: the registry over the folder's store, opened through
 * DataFolder (its lock taken, so never beside a running server, which answers through its admin
 * socket instead). Changes are audited into the folder's trail with its audit key, and the trail
 * gets a closing checkpoint anchored like the server's; reads open the store read-only, without
 * keys, and write nothing.
 */
import pino from 'pino';
import type { KmsConfig } from '../config/config.js';
import { DataFolder } from '../folder/data-folder.js';
import { cryptoPolicyFrom } from '../policy/crypto-policy.js';
import { ClientRegistry } from './registry.js';

export interface FolderRegistry {
  readonly registry: ClientRegistry;
  close(): Promise<void>;
}

/** Open the stopped folder's registry; `write` opens the keys and the audit trail too. Throws (FolderError) on a held or missing folder. */
export async function openFolderRegistry(config: KmsConfig, write: boolean): Promise<FolderRegistry> {
  const folder = await DataFolder.open({
    dataDir: config.dataDir,
    mustExist: true,
    ...(write ? { keys: 'open' as const, ...(config.hsm && { hsm: config.hsm }) } : { store: 'read-only' as const, keys: 'none' as const }),
    inUse: ' that does not answer on its admin socket',
  });
  try {
    const audit = write ? await folder.openTrail({ log: pino({ level: 'silent' }), ...(config.audit && { audit: config.audit }) }) : undefined;
    const registry = await ClientRegistry.open({
      store: folder.store,
      dataDir: config.dataDir,
      policy: cryptoPolicyFrom(config.cryptoPolicy),
      config: config.clients,
      ...(audit && { audit }),
    });
    return {
      registry,
      async close() {
        registry.close();
        await folder.close();
      },
    };
  } catch (e) {
    await folder.close().catch(() => undefined);
    throw e;
  }
}
