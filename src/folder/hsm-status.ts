/**
 * `kms hsm status` as data, so a stopped folder (src/cli/hsm.ts) and a running server (through
 * its admin socket, src/admin/queries.ts) print exactly the same lines: the current KEK, the
 * token, the audit key, every KEK the folder's custody record names with how many objects it
 * seals, and KEKs the records use that custody does not name.
 */
import type { ObjectStore } from '../store/object-store.js';
import { readClusterCustody } from './cluster-custody.js';
import { currentKek, describeCustody, type CustodyRecord } from './custody.js';
import { kekUsage } from './kek-rotation.js';

export type HsmStatus =
  | { readonly kind: 'software'; readonly description: string }
  | {
      readonly kind: 'hsm';
      readonly currentKek: string;
      readonly token: { readonly label: string; readonly serial: string };
      readonly auditKeyLabel: string;
      readonly keks: readonly { readonly id: string; readonly state: string }[];
      /** [kekId, objects sealed under it], as the records say. */
      readonly usage: readonly (readonly [string, number])[];
    };

export async function hsmStatusOf(custody: CustodyRecord | undefined, currentKek: string, description: string, store: ObjectStore): Promise<HsmStatus> {
  const p = custody?.protector;
  if (!p || p.kind !== 'hsm') return { kind: 'software', description };
  return {
    kind: 'hsm',
    currentKek,
    token: { label: p.token.label, serial: p.token.serial },
    auditKeyLabel: p.auditKey.label,
    keks: p.keks.map((k) => ({ id: `hsm:${k.label}`, state: k.state })),
    usage: [...(await kekUsage(store))],
  };
}

/**
 * The status of a cluster's database (`kms hsm status --store URL`), read-only and without the
 * token: the custody record the nodes share (cluster/custody: the token, the KEKs, the audit
 * key) and the records' KEK usage. Undefined when no node has recorded custody there yet.
 */
export async function clusterHsmStatus(store: ObjectStore): Promise<{ status: HsmStatus; describes: string } | undefined> {
  const cluster = await readClusterCustody(store);
  if (!cluster) return undefined;
  const p = cluster.protector;
  const kek = p.kind === 'hsm' ? `hsm:${currentKek(p).label}` : p.kekId;
  const custody: CustodyRecord = { format: 1, created: cluster.created, origin: cluster.origin, protector: p };
  return { status: await hsmStatusOf(custody, kek, describeCustody(p), store), describes: describeCustody(p) };
}

/** The lines `kms hsm status` prints. */
export function formatHsmStatus(s: Extract<HsmStatus, { kind: 'hsm' }>): string {
  const usage = new Map(s.usage);
  const out = [`current KEK: ${s.currentKek}`, `token: "${s.token.label}" serial ${s.token.serial}; audit key hsm:${s.auditKeyLabel}`];
  const listed = new Set<string>();
  for (const k of s.keks) {
    listed.add(k.id);
    out.push(`${k.id === s.currentKek ? '*' : ' '} ${k.id.padEnd(28)} ${String(usage.get(k.id) ?? 0).padStart(8)} objects  ${k.state}`);
  }
  for (const [id, n] of usage) if (!listed.has(id)) out.push(`! ${id.padEnd(28)} ${String(n).padStart(8)} objects  NOT RECORDED by this folder`);
  return out.join('\n') + '\n';
}
