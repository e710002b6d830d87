/**
 * The running server's status, as `kms status` shows it (through the admin socket): the
 * readiness checks of /readyz, the version, uptime, listeners with their open connections,
 * object counts by type and stored state, the key protector and its KEKs, the audit head
 * and the unwrapped-key cache.
 */
import type { AddressInfo } from 'node:net';
import { ObjectType, State } from '../kmip/generated/enums.gen.js';
import type { ServerServices } from '../operations/context.js';
import { RecordField, indexEnum } from '../store/index-encoding.js';
import type { KeyCacheStats } from '../hsm/caching-protector.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { checkReadiness, type HealthSources, type Readiness } from './health.js';
import { isClusterStore } from '../folder/store-choice.js';
import type { PgStore } from '../store/postgres/index.js';

export interface ServerStatus {
  readonly version: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly readiness: Readiness;
  readonly listeners: readonly { readonly name: 'kmip' | 'https'; readonly address: string; readonly port: number; readonly connections: number }[];
  readonly objects: { readonly total: number; readonly byType: Record<string, number>; readonly byState: Record<string, number> };
  readonly protector: { readonly description: string; readonly currentKek: string; readonly keks?: readonly string[] };
  readonly audit: { readonly head: number };
  /** Where the objects are: the data folder's LevelDB, or a cluster's PostgreSQL database (no password) and this node's id in its change feed. */
  readonly store?: { readonly kind: 'leveldb' } | { readonly kind: 'postgresql'; readonly where: string; readonly nodeId: string };
  readonly keyCache?: KeyCacheStats;
}

export interface StatusSources {
  readonly services: ServerServices;
  readonly health: HealthSources;
  /** The protector without cache or metrics (for its KEK list). */
  readonly protector: KeyProtector;
  readonly startedAt: number;
  readonly listeners: () => readonly { name: 'kmip' | 'https'; address: AddressInfo; connections: number }[];
  readonly keyCache?: () => KeyCacheStats;
}

export async function serverStatus(src: StatusSources): Promise<ServerStatus> {
  const { store } = src.services;
  const byType: Record<string, number> = {};
  for (const [name, v] of Object.entries(ObjectType)) {
    const n = (await store.find({ field: RecordField.ObjectType, equals: indexEnum(v) })).length;
    if (n > 0) byType[name] = n;
  }
  const byState: Record<string, number> = {};
  for (const [name, v] of Object.entries(State)) {
    const n = (await store.find({ field: RecordField.State, equals: indexEnum(v) })).length;
    if (n > 0) byState[name] = n;
  }
  const keks = src.protector.keks ? await src.protector.keks().catch(() => undefined) : undefined;
  return {
    version: src.services.info.version,
    pid: process.pid,
    startedAt: new Date(src.startedAt).toISOString(),
    uptimeSeconds: Math.round((Date.now() - src.startedAt) / 1000),
    readiness: await checkReadiness(src.health),
    listeners: src.listeners().map((l) => ({ name: l.name, address: l.address.address, port: l.address.port, connections: l.connections })),
    objects: { total: await store.count(), byType, byState },
    protector: { description: src.protector.description, currentKek: src.protector.kekId, ...(keks && { keks }) },
    audit: { head: store.audit.head().seq },
    store: isClusterStore(store) ? { kind: 'postgresql', where: (store as PgStore).describe(), nodeId: (store as PgStore).nodeId } : { kind: 'leveldb' },
    ...(src.keyCache && { keyCache: src.keyCache() }),
  };
}

/** Human-readable lines for `kms status`. */
export function formatStatus(s: ServerStatus): string {
  const lines = [
    `kms ${s.version}, pid ${s.pid}, up ${s.uptimeSeconds} s (since ${s.startedAt})`,
    `ready: ${s.readiness.ready ? 'yes' : 'NO'}`,
    ...Object.entries(s.readiness.checks).map(([k, c]) => `  ${k.padEnd(9)} ${c.ok ? 'ok' : 'FAILED'} (${c.ms} ms)${c.error ? `: ${c.error}` : ''}`),
    'listeners:',
    ...s.listeners.map((l) => `  ${l.name.padEnd(9)} ${l.address}:${l.port}, ${l.connections} connection(s) open`),
    `objects: ${s.objects.total}`,
    ...Object.entries(s.objects.byType).map(([k, n]) => `  ${k.padEnd(22)} ${n}`),
    '  by stored state:',
    ...Object.entries(s.objects.byState).map(([k, n]) => `    ${k.padEnd(20)} ${n}`),
    `key protector: ${s.protector.description}`,
    `  current KEK: ${s.protector.currentKek}`,
    ...(s.protector.keks ? [`  KEKs: ${s.protector.keks.join(', ')}`] : []),
    ...(s.store
      ? [
          s.store.kind === 'postgresql'
            ? `store: PostgreSQL ${s.store.where}, shared by the cluster's nodes (this node: ${s.store.nodeId}; counts and the audit head are the cluster's)`
            : 'store: LevelDB in the data folder',
        ]
      : []),
    `audit log head: ${s.audit.head}`,
    ...(s.keyCache ? [`key cache: ${s.keyCache.entries} entries, ${s.keyCache.hits} hits, ${s.keyCache.misses} misses`] : []),
  ];
  return lines.join('\n') + '\n';
}
