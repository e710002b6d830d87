/**
 * The crash-safety workload: several clients over mutual TLS creating, registering,
 * activating, revoking and destroying symmetric keys, and the model of what the server
 * ACKNOWLEDGED. A request whose response arrived is acknowledged; one that was cut off by
 * the kill is in flight (`pending`): its effect may or may not be durable, never half.
 */
import { type KmipClient, KmipClientError } from '../../src/client/index.js';
import {
  activatePayload,
  attr,
  createSymmetricKeyPayload,
  destroyPayload,
  expectSuccess,
  getPayload,
  keyMaterialOf,
  parseResponse,
  registerPayload,
  requestMessage,
  symmetricKeyObject,
  uniqueIdentifierOf,
  type KmipVersion,
  type RequestBatchItemSpec,
} from '../../src/client/requests.js';
import { CryptographicAlgorithm, ObjectType, Operation, RevocationReasonCode, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';

/** mulberry32: small, seedable, good enough to pick actions. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export type OpName = 'Create' | 'Register' | 'Activate' | 'Revoke' | 'Destroy';

/** One key as the clients know it. `state` is acknowledged (or reconciled after a crash). */
export interface KeyModel {
  readonly uid: string;
  readonly name: string;
  readonly client: number;
  /** Key bytes: known for Register; for Create, the bytes first read back after a crash. */
  bytes?: Buffer;
  readonly registered: boolean;
  state: number;
  /** The operation in flight on this key when the server was killed, and the state it leads to. */
  pending?: { readonly op: OpName; readonly to: number };
}

/** A Create/Register whose response never came (the uid is unknown to the client). */
export interface PendingCreate {
  readonly name: string;
  readonly client: number;
  readonly bytes?: Buffer;
  /** Create + Activate in one batch: either item may be durable (Activate only with Create). */
  readonly activate: boolean;
}

export interface AckedOp {
  readonly op: OpName;
  readonly uid: string;
  readonly cycle: number;
}

/** A read-only request whose response arrived: its audit record must be in the log. */
export interface AckedRead {
  readonly op: 'Get' | 'GetAttributes';
  readonly uid: string;
  readonly identity: string;
  readonly cycle: number;
}

export class CrashModel {
  readonly keys = new Map<string, KeyModel>();
  readonly acked: AckedOp[] = [];
  readonly ackedReads: AckedRead[] = [];
  pendingCreates: PendingCreate[] = [];
  private seq = 0;

  nextName(cycle: number, client: number): string {
    return `crash-${cycle}-${client}-${++this.seq}`;
  }

  ownedBy(client: number, states: readonly number[]): KeyModel[] {
    return [...this.keys.values()].filter((k) => k.client === client && k.pending === undefined && states.includes(k.state));
  }
}

export interface ClientSpec {
  readonly index: number;
  readonly identity: string;
  readonly version: KmipVersion;
}

function isConnectionLoss(e: unknown): boolean {
  return e instanceof KmipClientError && (e.code === 'CLOSED' || e.code === 'NETWORK' || e.code === 'TIMEOUT' || e.code === 'CONNECT');
}

const USAGE = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

async function send(client: KmipClient, version: KmipVersion, batch: RequestBatchItemSpec[]) {
  const r = parseResponse(await client.send(requestMessage({ version, batch })));
  return r.items.map((it) => expectSuccess(it));
}

function revokePayload(uid: string) {
  return t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, RevocationReasonCode.CessationOfOperation)])]);
}

/**
 * Run one client until its connection is lost (the server was killed). Every KMIP failure is
 * a bug (the workload only asks for valid transitions) and rejects.
 */
export async function runClient(model: CrashModel, spec: ClientSpec, client: KmipClient, cycle: number, rand: () => number, opts: { readonly reads?: number } = {}): Promise<number> {
  const { index, version } = spec;
  const reads = opts.reads ?? 0;
  let done = 0;
  for (;;) {
    if (reads > 0 && rand() < reads) {
      const readable = model.ownedBy(index, [State.PreActive, State.Active, State.Deactivated]);
      if (readable.length > 0) {
        try {
          await read(model, client, spec, readable[Math.floor(rand() * readable.length)]!, rand() < 0.7 ? 'Get' : 'GetAttributes', cycle);
          done++;
          continue;
        } catch (e) {
          if (isConnectionLoss(e)) return done;
          throw e;
        }
      }
    }
    const r = rand();
    const pre = model.ownedBy(index, [State.PreActive]);
    const active = model.ownedBy(index, [State.Active]);
    const destroyable = model.ownedBy(index, [State.PreActive, State.Deactivated]);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    try {
      if (r < 0.12 && pre.length > 0) {
        await transition(model, client, version, pick(pre), 'Activate', State.Active, Operation.Activate, activatePayload, cycle);
      } else if (r < 0.24 && active.length > 0) {
        await transition(model, client, version, pick(active), 'Revoke', State.Deactivated, Operation.Revoke, revokePayload, cycle);
      } else if (r < 0.38 && destroyable.length > 0) {
        await transition(model, client, version, pick(destroyable), 'Destroy', State.Destroyed, Operation.Destroy, destroyPayload, cycle);
      } else if (r < 0.58) {
        const bytes = Buffer.from(Array.from({ length: 32 }, () => Math.floor(rand() * 256)));
        await create(model, client, version, spec, cycle, { bytes, activate: false });
      } else if (r < 0.7) {
        await create(model, client, version, spec, cycle, { activate: true });
      } else {
        await create(model, client, version, spec, cycle, { activate: false });
      }
      done++;
    } catch (e) {
      if (isConnectionLoss(e)) return done;
      throw e;
    }
  }
}

async function read(model: CrashModel, client: KmipClient, spec: ClientSpec, key: KeyModel, op: AckedRead['op'], cycle: number): Promise<void> {
  const [payload] = await send(client, spec.version, [
    op === 'Get'
      ? { operation: Operation.Get, payload: getPayload(key.uid) }
      : { operation: Operation.GetAttributes, payload: t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, key.uid)]) },
  ]);
  if (op === 'Get' && key.bytes && !Buffer.from(keyMaterialOf(payload!)).equals(key.bytes)) throw new Error(`Get ${key.uid}: key bytes differ`);
  model.ackedReads.push({ op, uid: key.uid, identity: spec.identity, cycle });
}

async function transition(
  model: CrashModel,
  client: KmipClient,
  version: KmipVersion,
  key: KeyModel,
  op: OpName,
  to: number,
  operation: number,
  payload: (uid: string) => ReturnType<typeof activatePayload>,
  cycle: number,
): Promise<void> {
  key.pending = { op, to };
  await send(client, version, [{ operation, payload: payload(key.uid) }]);
  key.pending = undefined;
  key.state = to;
  model.acked.push({ op, uid: key.uid, cycle });
}

async function create(model: CrashModel, client: KmipClient, version: KmipVersion, spec: ClientSpec, cycle: number, how: { bytes?: Buffer; activate: boolean }): Promise<void> {
  const name = model.nextName(cycle, spec.index);
  const pending: PendingCreate = { name, client: spec.index, activate: how.activate, ...(how.bytes ? { bytes: how.bytes } : {}) };
  model.pendingCreates.push(pending);
  const batch: RequestBatchItemSpec[] = how.bytes
    ? [
        {
          operation: Operation.Register,
          payload: registerPayload(version, ObjectType.SymmetricKey, symmetricKeyObject(how.bytes, CryptographicAlgorithm.AES), [attr.name(name), attr.cryptographicUsageMask(USAGE)]),
        },
      ]
    : [{ operation: Operation.Create, payload: createSymmetricKeyPayload(version, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: USAGE, name }) }];
  if (how.activate) batch.push({ operation: Operation.Activate, payload: activatePayload() });
  const payloads = await send(client, version, batch);
  const uid = uniqueIdentifierOf(payloads[0]);
  model.pendingCreates.splice(model.pendingCreates.indexOf(pending), 1);
  model.keys.set(uid, {
    uid,
    name,
    client: spec.index,
    registered: how.bytes !== undefined,
    state: how.activate ? State.Active : State.PreActive,
    ...(how.bytes ? { bytes: how.bytes } : {}),
  });
  model.acked.push({ op: how.bytes ? 'Register' : 'Create', uid, cycle });
  if (how.activate) model.acked.push({ op: 'Activate', uid, cycle });
}
