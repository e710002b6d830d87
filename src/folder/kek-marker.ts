/**
 * Which KEK on the token is the current one, after a rotation: `hsm-kek.json` in the data
 * folder, `{ "label": "kms-kek-…", "since": ISO time }`, written atomically (temporary file,
 * fsync, rename, fsync of the folder) so a crash leaves the old or the new marker, never half.
 *
 * Without a marker the server uses the one kms-kek-* key on the token (or makes one). With
 * one, that label: if the key is missing (a crash between writing the marker and generating
 * the key) the server generates it under that label, and nothing was sealed under it yet.
 */
import { existsSync, readFileSync } from 'node:fs';
import { replaceFileDurably } from '../hsm/software/durable-file.js';
import { folderLayout } from './layout.js';

export interface KekMarker {
  readonly label: string;
  readonly since: string;
}

export function readKekMarker(dataDir: string): KekMarker | undefined {
  const path = folderLayout(dataDir).kekMarker;
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  const m = parsed as Partial<KekMarker>;
  if (typeof m.label !== 'string' || m.label === '' || typeof m.since !== 'string') throw new Error(`${path} must hold { "label": string, "since": string }`);
  return { label: m.label, since: m.since };
}

export function writeKekMarker(dataDir: string, label: string, now = new Date()): void {
  replaceFileDurably(folderLayout(dataDir).kekMarker, JSON.stringify({ label, since: now.toISOString() }) + '\n');
}
