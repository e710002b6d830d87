/**
 * The operation mixes of `kms bench`, as KMIP 1.2 requests (the version both our server and
 * PyKMIP's speak by default). One "op" is one iteration of a mix: Create+Get is two requests,
 * the lifecycle five. Each mix has a setup, run once per server on one connection, whose
 * result (identifiers, names) every worker gets.
 *
 * Requests that do not change between iterations are encoded once; each response is decoded
 * and every batch item must be a success (anything else counts as an error).
 */
import { randomBytes } from 'node:crypto';
import { KmipClient, type KmipClientOptions } from '../client/client.js';
import { attr, attributeV1, createSymmetricKeyPayload, getPayload, locatePayload, parseResponse, requestMessage, uniqueIdentifierOf } from '../client/requests.js';
import { BlockCipherMode, CryptographicAlgorithm, Operation, ResultStatus, RevocationReasonCode, State } from '../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../kmip/generated/masks.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import type { KmipVersion } from '../kmip/spec-types.js';
import { decode, encode, t, type StructureNode, type TtlvNode } from '../ttlv/index.js';

export const BENCH_VERSION: KmipVersion = { major: 1, minor: 2 };
const V = BENCH_VERSION;

export const MIX_NAMES = ['get', 'create', 'create-get', 'locate', 'encrypt', 'lifecycle', 'connect', 'connect-resume', 'get-spread', 'read-write'] as const;
/**
 * Mixes that read keys preloaded into the server's store (server stopped) rather than made by
 * the setup: reads spread over all of them, not one hot key. The count is `--spread-keys`.
 */
export const SPREAD_MIXES: readonly MixName[] = ['get-spread', 'read-write'];
export const DEFAULT_SPREAD_KEYS = 10_000;
/** The write share of the read-write mix. */
export const READ_WRITE_WRITE_SHARE = 0.1;
/** Mixes of the --preload scale run (they read preloaded objects). */
export const SCALE_MIX_NAMES = ['get', 'locate', 'locate-custom', 'locate-state'] as const;
export type MixName = (typeof MIX_NAMES)[number] | (typeof SCALE_MIX_NAMES)[number];

export const MIX_TITLES: Record<MixName, string> = {
  get: 'Get',
  create: 'Create AES-256',
  'create-get': 'Create+Get',
  locate: 'Locate by name',
  encrypt: 'Encrypt 1 KiB AES-GCM',
  lifecycle: 'Lifecycle (5 ops)',
  connect: 'New mTLS conn + Get',
  'connect-resume': 'Resumed mTLS conn + Get',
  'get-spread': 'Get, spread over preloaded keys',
  'read-write': '90% Get spread / 10% Create',
  'locate-custom': 'Locate by custom attr',
  'locate-state': 'Locate by state (max 10)',
};

/** What a mix's setup made, sent to the workers (structured-clone safe). */
export interface MixSetup {
  readonly uids?: readonly string[];
  readonly names?: readonly string[];
  readonly customValues?: readonly string[];
  readonly uid?: string;
}

/** The custom attribute the preloaded objects carry (1.x name; 2.x Vendor Attribute x / bench-app). */
export const CUSTOM_ATTRIBUTE = 'x-bench-app';

export class BenchRequestError extends Error {
  override readonly name = 'BenchRequestError';
}

const USAGE = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

/** Send one encoded request; return the payloads of its items, all of which must have succeeded. */
export async function exchange(c: KmipClient, bytes: Uint8Array): Promise<(StructureNode | undefined)[]> {
  const res = parseResponse(decode(await c.sendRaw(bytes)));
  return res.items.map((it) => {
    if (it.status !== ResultStatus.Success) throw new BenchRequestError(`operation ${it.operation ?? '?'} failed: reason ${it.reason ?? '?'} ${it.message ?? ''}`.trim());
    return it.payload;
  });
}

function message(operation: number, payload: StructureNode): Uint8Array {
  return encode(requestMessage({ version: V, batch: [{ operation, payload }] }));
}

let createBytes: Uint8Array | undefined; // encoded on first use: `kms serve` imports this module too

async function createKey(c: KmipClient, name?: string): Promise<string> {
  const bytes =
    name === undefined
      ? (createBytes ??= message(Operation.Create, createSymmetricKeyPayload(V, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: USAGE })))
      : message(Operation.Create, createSymmetricKeyPayload(V, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: USAGE, name }));
  const [p] = await exchange(c, bytes);
  return uniqueIdentifierOf(p);
}

const uidOnly = (operation: number, uid: string): Uint8Array => message(operation, t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, uid)]));

function revokeBytes(uid: string): Uint8Array {
  return message(
    Operation.Revoke,
    t.struct(Tag.RequestPayload, [t.text(Tag.UniqueIdentifier, uid), t.struct(Tag.RevocationReason, [t.enum(Tag.RevocationReasonCode, RevocationReasonCode.CessationOfOperation)])]),
  );
}

function customAttribute(value: string): StructureNode {
  return t.struct(Tag.Attribute, [t.text(Tag.AttributeName, CUSTOM_ATTRIBUTE), t.text(Tag.AttributeValue, value)]);
}

function locateBytes(attributes: readonly TtlvNode[], maximumItems?: number): Uint8Array {
  return message(Operation.Locate, t.struct(Tag.RequestPayload, [...(maximumItems !== undefined ? [t.int(Tag.MaximumItems, maximumItems)] : []), ...attributes]));
}

const encryptData = new Uint8Array(1024).fill(0x5a);
/** A fresh 96-bit IV each time (PyKMIP does not take Random IV). */
function encryptBytes(uid: string): Uint8Array {
  return message(
    Operation.Encrypt,
    t.struct(Tag.RequestPayload, [
      t.text(Tag.UniqueIdentifier, uid),
      t.struct(Tag.CryptographicParameters, [t.enum(Tag.BlockCipherMode, BlockCipherMode.GCM), t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES), t.int(Tag.TagLength, 16)]),
      t.bytes(Tag.Data, encryptData),
      t.bytes(Tag.IVCounterNonce, randomBytes(12)),
    ]),
  );
}

/** A mix bound to its setup: `run` performs one iteration on a connection. */
export interface BoundMix {
  run(c: KmipClient): Promise<void>;
  /** Open a connection per iteration (handshake cost). */
  readonly perConnection: boolean;
  /**
   * With perConnection: offer each connection the TLS session the previous one of its slot got
   * (a device reconnecting with a ticket); a connection offered one that is not resumed is an error.
   */
  readonly resume?: boolean;
}

function pick<T>(list: readonly T[] | undefined): T {
  if (!list || list.length === 0) throw new Error('mix setup is empty');
  return list[Math.floor(Math.random() * list.length)] as T;
}

/** Pre-encode what can be, per setup value. */
function encodedFor<T>(values: readonly T[] | undefined, f: (v: T) => Uint8Array): Uint8Array[] {
  return (values ?? []).map(f);
}

export function bindMix(name: MixName, setup: MixSetup): BoundMix {
  switch (name) {
    case 'get':
    case 'connect':
    case 'connect-resume': {
      const reqs = encodedFor(setup.uids, (u) => message(Operation.Get, getPayload(u)));
      return { perConnection: name !== 'get', resume: name === 'connect-resume', run: async (c) => void (await exchange(c, pick(reqs))) };
    }
    case 'get-spread': {
      const reqs = encodedFor(setup.uids, (u) => message(Operation.Get, getPayload(u)));
      return { perConnection: false, run: async (c) => void (await exchange(c, pick(reqs))) };
    }
    case 'read-write': {
      const reqs = encodedFor(setup.uids, (u) => message(Operation.Get, getPayload(u)));
      return {
        perConnection: false,
        run: async (c) => {
          if (Math.random() < READ_WRITE_WRITE_SHARE) await createKey(c);
          else await exchange(c, pick(reqs));
        },
      };
    }
    case 'create':
      return { perConnection: false, run: async (c) => void (await createKey(c)) };
    case 'create-get':
      return {
        perConnection: false,
        run: async (c) => {
          const uid = await createKey(c);
          await exchange(c, message(Operation.Get, getPayload(uid)));
        },
      };
    case 'locate': {
      const reqs = encodedFor(setup.names, (n) => message(Operation.Locate, locatePayload(V, [attr.name(n)])));
      return { perConnection: false, run: async (c) => void (await expectFound(c, pick(reqs))) };
    }
    case 'locate-custom': {
      const reqs = encodedFor(setup.customValues, (v) => locateBytes([customAttribute(v)]));
      return { perConnection: false, run: async (c) => void (await expectFound(c, pick(reqs))) };
    }
    case 'locate-state': {
      const req = locateBytes([attributeV1(attr.state(State.Active))], 10);
      return { perConnection: false, run: async (c) => void (await expectFound(c, req)) };
    }
    case 'encrypt': {
      const uid = setup.uid ?? '';
      return { perConnection: false, run: async (c) => void (await exchange(c, encryptBytes(uid))) };
    }
    case 'lifecycle':
      return {
        perConnection: false,
        run: async (c) => {
          const uid = await createKey(c);
          await exchange(c, uidOnly(Operation.Activate, uid));
          await exchange(c, message(Operation.Get, getPayload(uid)));
          await exchange(c, revokeBytes(uid));
          await exchange(c, uidOnly(Operation.Destroy, uid));
        },
      };
  }
}

/** A Locate must find something (an empty answer means the query did not do what we measure). */
async function expectFound(c: KmipClient, req: Uint8Array): Promise<void> {
  const [p] = await exchange(c, req);
  if (!p?.value.some((n) => n.tag === Tag.UniqueIdentifier)) throw new BenchRequestError('Locate found nothing');
}

/**
 * Make what a mix needs on the server (setup is not measured). `preloaded`: the uids of the
 * keys preloaded into the server's store, for the spread mixes.
 */
export async function setupMix(name: MixName, opts: KmipClientOptions, runTag: string, preloaded: readonly string[] = []): Promise<MixSetup> {
  const c = await KmipClient.connect(opts);
  try {
    switch (name) {
      case 'get-spread':
      case 'read-write': {
        if (preloaded.length === 0) throw new Error('this mix needs keys preloaded into the store');
        // One Get now, so a server that cannot read the preloaded keys is found out before the run.
        await exchange(c, message(Operation.Get, getPayload(pick(preloaded))));
        return { uids: preloaded };
      }
      case 'get':
      case 'connect':
      case 'connect-resume': {
        const uids: string[] = [];
        for (let i = 0; i < 32; i++) uids.push(await createKey(c));
        return { uids };
      }
      case 'locate': {
        const names: string[] = [];
        for (let i = 0; i < 32; i++) {
          const n = `bench-${runTag}-${i}`;
          await createKey(c, n);
          names.push(n);
        }
        return { names };
      }
      case 'encrypt': {
        const uid = await createKey(c);
        await exchange(c, uidOnly(Operation.Activate, uid));
        // One request now, so a server that cannot do it is found out before the run.
        await exchange(c, encryptBytes(uid));
        return { uid };
      }
      default:
        return {};
    }
  } finally {
    await c.close();
  }
}
