/**
 * The anchor file a configuration names (audit.anchorFile, else the default next to the data
 * folder) and the writer for it: shared by the server, `kms audit verify` and `kms restore`.
 */
import type { AuditLogReader } from '../store/object-store.js';
import type { AuditKey } from './audit-key.js';
import { defaultAnchorFile, isInside } from './anchor.js';
import { AnchorWriter, type AnchorLog } from './anchor-writer.js';

/** What of the configuration (config/config.ts KmsConfig) names the anchor file; audit/ sits below config/. */
export interface AnchorSettings {
  readonly dataDir: string;
  readonly audit?: { readonly anchorFile?: string | undefined } | undefined;
}

/** The anchor file for `config`, and whether it was configured (not the default). */
export function anchorFileOf(config: AnchorSettings): { file: string; configured: boolean } {
  const file = config.audit?.anchorFile;
  if (file !== undefined && isInside(file, config.dataDir)) {
    throw new Error(`audit.anchorFile ${file} is inside the data folder ${config.dataDir}: an anchor must live outside it (whoever can cut the trail back could cut it too)`);
  }
  return file !== undefined ? { file, configured: true } : { file: defaultAnchorFile(config.dataDir), configured: false };
}

export async function openAnchors(config: AnchorSettings, reader: AuditLogReader, key: AuditKey, log: AnchorLog): Promise<AnchorWriter> {
  const { file, configured } = anchorFileOf(config);
  return AnchorWriter.open({ reader, key, file, required: configured, log });
}
