/**
 * `kms hsm`: the key-encryption key in the HSM.
 *
 *   kms hsm status       the KEKs on the token, which is current, how many objects each seals
 *   kms hsm rotate-kek   a new KEK becomes current; every object is rewrapped under it;
 *                        with --destroy-old the folder's own retired KEKs no object uses
 *                        any more are destroyed (src/folder/custody.ts)
 *
 * rotate-kek on a running server asks it through its admin socket (DATA/admin/kms.sock, the
 * server's own user only): the server rotates and keeps serving. With no server running it
 * opens the stopped data folder itself. status likewise: the running server answers it (the
 * same lines, src/folder/hsm-status.ts), else the stopped folder is opened; with a cluster's
 * PostgreSQL store (--store URL, KMS_STORE, the config's store) status reads the database
 * alone (its custody record and the records' KEK usage), read-only, while the nodes run.
 */
import pino from 'pino';
import type { KmsConfig } from '../config/config.js';
import { cliConfig, parseCli } from './args.js';
import { DataFolder } from '../folder/data-folder.js';
import { rotateKek, RotationError, type RewrapProgress } from '../folder/kek-rotation.js';
import { clusterHsmStatus, formatHsmStatus, hsmStatusOf, type HsmStatus } from '../folder/hsm-status.js';
import { openFolderStore } from '../folder/store-choice.js';
import { redactIn, redactStoreUrl } from '../config/store-url.js';
import type { ObjectStore } from '../store/object-store.js';
import { adminSocketPath } from '../folder/layout.js';
import { requestWithProgress } from '../admin/client.js';
import { requestRotation } from '../admin/requests.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms hsm <status|rotate-kek> [options]

  status       list the key-encryption keys (KEKs) on the token, the current one, and
               how many objects each one seals
  rotate-kek   generate a new KEK in the HSM (AES-256, sensitive, non-extractable),
               make it current, and rewrap every object's key material under it; old
               KEKs stay usable until destroyed. Safe to run again after an interruption.

Options:
  --data-dir DIR     the data folder (default: from --config / KMS_DATA_DIR / kms-data)
  --config FILE      the server's config file (its hsm section names module, token, PIN)
  --destroy-old      rotate-kek: afterwards destroy this folder's retired KEKs (as its
                     custody.json records them) that no object uses; never another
                     folder's key, nor one adopted from a folder older versions made
  --label LABEL      rotate-kek: the new KEK's label (default kms-kek-<random hex>)
  --store URL        the postgresql:// database of a cluster (KMS_STORE, or store in the
                     config; default: the folder's own LevelDB database). status with
                     no server on DIR: the database alone, read-only while the nodes
                     run (the custody record the nodes share and each KEK's objects; no
                     token opened, no data folder needed; docs/cluster-nodes.md)
  --forget-node NAME rotate-kek --destroy-old over a cluster: first remove the entry of a
                     node gone for good (NAME as the refusal names it, host:/data/dir;
                     repeatable)
  -h, --help         this help

Over a cluster (a PostgreSQL store, docs/cluster-nodes.md) rotate-kek runs on any one node
(its admin socket, or offline on a stopped node's folder): it takes the lease
lease/kek-rotation (a second rotation on another node is refused, naming the holder),
makes the new KEK on the shared token, records it in the cluster's custody record, and
every running node switches to it at once; nodes started later take it at their start.
--destroy-old then waits (storePool.kekNodesWaitMs) until every node seals under the new
KEK, and refuses, naming the node, when one does not; it destroys only retired KEKs no
record uses. An interrupted rotation is finished by running it again, on any node.

status and rotate-kek on a running server go through its admin socket (DIR/admin/kms.sock;
the server keeps serving, status prints the same as on the stopped folder); otherwise
they work on the stopped data folder.
Exit codes: 0 ok, 1 the rotation failed (every key still opens under the old or new
KEK; run it again) or, over a cluster, it is done but --destroy-old was refused (a node
still seals under an old KEK: named), 2 usage error, 3 the data folder, the database or
the HSM could not be opened.`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  'destroy-old': { type: 'boolean' },
  label: { type: 'string' },
  store: { type: 'string' },
  'forget-node': { type: 'string', multiple: true },
} as const;

interface Opened {
  readonly config: KmsConfig;
  readonly folder: DataFolder;
}

async function open(config: KmsConfig): Promise<Opened> {
  if (!config.hsm) throw new UsageError(NO_HSM);
  // The folder's lock first: nothing is made in the token for a folder a server holds.
  return {
    config,
    folder: await DataFolder.open({
      dataDir: config.dataDir,
      hsm: config.hsm,
      keys: 'open',
      mustExist: true,
      ...(config.store !== undefined && { storeUrl: config.store }),
      ...(config.storePool && { storePool: config.storePool }),
    }),
  };
}

const NO_HSM = 'no hsm section in the configuration: the software master key has no KEK to rotate (give --config with an hsm section, or KMS_HSM_MODULE…)';

async function status(o: Opened, io: CliIo): Promise<number> {
  const keys = o.folder.keys!;
  const s = await hsmStatusOf(keys.custody, keys.protector.kekId, keys.protector.description, o.folder.store);
  if (s.kind !== 'hsm') throw new UsageError(NO_HSM);
  io.stdout.write(formatHsmStatus(s));
  return ExitCode.Ok;
}

/** Status from a running server's admin socket (the same lines); undefined when no server answers there. */
async function statusOnline(config: KmsConfig, io: CliIo): Promise<number | undefined> {
  let s: HsmStatus | undefined;
  try {
    s = await requestWithProgress<HsmStatus, never>(adminSocketPath(config.dataDir), { op: 'hsm-status' }, 'status');
  } catch (e) {
    io.stderr.write(`kms hsm status: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  if (!s) return undefined;
  if (s.kind !== 'hsm') throw new UsageError(!config.hsm ? NO_HSM : `the running server's key protector is ${s.description}: it has no KEK in an HSM`);
  io.stdout.write(formatHsmStatus(s));
  return ExitCode.Ok;
}

/** Status from a cluster's database (--store URL, KMS_STORE, the config's store): read-only, no token, no folder lock. */
async function statusShared(config: KmsConfig & { store: string }, io: CliIo): Promise<number> {
  const where = redactStoreUrl(config.store);
  let store: ObjectStore;
  try {
    store = await openFolderStore({ path: '', url: config.store, readOnly: true, ...(config.storePool && { pool: config.storePool }) });
  } catch (e) {
    io.stderr.write(`kms hsm status: cannot open the PostgreSQL store ${where}: ${redactIn((e as Error).message, config.store)}\n`);
    return ExitCode.Io;
  }
  try {
    const found = await clusterHsmStatus(store);
    if (!found) {
      io.stderr.write(`kms hsm status: the database ${where} holds no custody record (cluster/custody): no node has opened it yet\n`);
      return ExitCode.Io;
    }
    if (found.status.kind !== 'hsm') throw new UsageError(`the cluster's nodes use ${found.describes}: it has no KEK in an HSM`);
    io.stdout.write(formatHsmStatus(found.status));
    return ExitCode.Ok;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    io.stderr.write(`kms hsm status: ${redactIn((e as Error).message, config.store)}\n`);
    return ExitCode.Io;
  } finally {
    await store.close();
  }
}

type RotateFlags = { 'destroy-old'?: boolean; label?: string; 'forget-node'?: string[] };

/** Over a cluster: what --destroy-old did not do, and the lease's fencing token. */
function clusterLines(r: { destroyRefused?: string; fencingToken?: number }, io: CliIo): number {
  if (r.fencingToken !== undefined) io.stdout.write(`cluster: every node follows the new KEK (lease lease/kek-rotation, fencing token ${r.fencingToken})\n`);
  if (r.destroyRefused === undefined) return ExitCode.Ok;
  io.stderr.write(`kms hsm rotate-kek: the rotation is done, but --destroy-old was refused: ${r.destroyRefused}\n`);
  return ExitCode.InvalidInput;
}

async function rotate(o: Opened, values: RotateFlags, io: CliIo): Promise<number> {
  // Its closing checkpoint is anchored like the server's (src/audit/anchor.ts); the folder closes it first.
  const audit = await o.folder.openTrail({ log: pino({ level: 'silent' }), ...(o.config.audit && { audit: o.config.audit }) });
  let last = 0;
  const progress = (p: RewrapProgress) => {
    if (Date.now() - last < 1000 && p.scanned < p.total) return;
    last = Date.now();
    io.stderr.write(`pass ${p.pass}: ${p.scanned}/${p.total} objects scanned, ${p.rewrapped} rewrapped\n`);
  };
  try {
    const r = await rotateKek({
      store: o.folder.store,
      protector: o.folder.protector,
      dataDir: o.config.dataDir,
      audit,
      destroyOld: values['destroy-old'] === true,
      ...(values.label !== undefined ? { label: values.label } : {}),
      ...(values['forget-node'] && { forgetNodes: values['forget-node'] }),
      onProgress: progress,
      actor: `operator (kms hsm rotate-kek, uid ${process.getuid?.() ?? '?'})`,
    });
    io.stdout.write(`KEK rotated: ${r.previous} -> ${r.current}; ${r.rewrapped} objects rewrapped (${r.scanned} scanned, ${r.passes} passes)\n`);
    if (r.destroyed.length) io.stdout.write(`destroyed: ${r.destroyed.join(', ')}\n`);
    if (r.kept?.length)
      io.stdout.write(`kept (records still use them, or adopted from before custody records and maybe shared with another folder: destroy by hand when sure): ${r.kept.join(', ')}\n`);
    if (!r.destroyed.length && !r.kept?.length && r.destroyRefused === undefined)
      io.stdout.write(`the old KEK stays on the token: destroy it with kms hsm rotate-kek --destroy-old, or by hand, once backups no longer need it\n`);
    return clusterLines(r, io);
  } catch (e) {
    io.stderr.write(`kms hsm rotate-kek: ${(e as Error).message}\n`);
    return e instanceof RotationError ? ExitCode.Usage : ExitCode.InvalidInput;
  }
}

/** Rotate through a running server's admin socket; undefined when no server answers there. */
async function rotateOnline(config: KmsConfig, values: RotateFlags, io: CliIo): Promise<number | undefined> {
  let last = 0;
  try {
    const r = await requestRotation(
      adminSocketPath(config.dataDir),
      {
        ...(values['destroy-old'] !== undefined && { destroyOld: values['destroy-old'] }),
        ...(values.label !== undefined && { label: values.label }),
        ...(values['forget-node'] && { forgetNodes: values['forget-node'] }),
      },
      (p) => {
        if (Date.now() - last < 1000 && p.scanned < p.total) return;
        last = Date.now();
        io.stderr.write(`pass ${p.pass}: ${p.scanned}/${p.total} objects scanned, ${p.rewrapped} rewrapped (running server)\n`);
      },
    );
    if (!r) return undefined;
    io.stdout.write(`KEK rotated by the running server: ${r.previous} -> ${r.current}; ${r.rewrapped} objects rewrapped (${r.scanned} scanned, ${r.passes} passes)\n`);
    if (r.destroyed.length) io.stdout.write(`destroyed: ${r.destroyed.join(', ')}\n`);
    return clusterLines(r, io);
  } catch (e) {
    io.stderr.write(`kms hsm rotate-kek: ${(e as Error).message}\n`);
    return ExitCode.InvalidInput;
  }
}

export const hsmCommand: Command = {
  name: 'hsm',
  summary: 'the key-encryption key in the HSM: status, rotate-kek',
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCli(argv, OPTIONS);
    const sub = positionals[0];
    if (sub !== 'status' && sub !== 'rotate-kek') throw new UsageError(sub === undefined ? 'which: status or rotate-kek?' : `unknown subcommand '${sub}'`);
    const config = cliConfig(values);
    if (sub === 'rotate-kek' && config.hsm?.kekLabel !== undefined) {
      throw new UsageError(`hsm.kekLabel (${config.hsm.kekLabel}) pins the KEK in the configuration: remove it (the data folder's hsm-kek.json will name the current KEK) and run again`);
    }
    const online = sub === 'rotate-kek' ? await rotateOnline(config, values, io) : await statusOnline(config, io);
    if (online !== undefined) return online;
    if (sub === 'status' && config.store !== undefined) return statusShared({ ...config, store: config.store }, io);
    let opened: Opened;
    try {
      opened = await open(config);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      io.stderr.write(`kms hsm ${sub}: ${(e as Error).message}\n`);
      return ExitCode.Io;
    }
    try {
      return sub === 'status' ? await status(opened, io) : await rotate(opened, values, io);
    } finally {
      await opened.folder.close();
    }
  },
};
