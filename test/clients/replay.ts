/**
 * A small table-driven harness for the client replays (docs/clients.md) and the tolerance
 * catalogue (docs/tolerance.md): a client's message sequence is a list of steps; each step
 * builds its request payload from what earlier steps saved (uids), sends it as one request
 * message over mutual TLS with the header options the client uses, and checks the answer.
 *
 * A step either expects success (then `check` looks at the payload and `save` keeps values for
 * later steps) or names the Result Reason the client must get. `replay` fails with the step's
 * number and name, so a broken sequence says which message of which client broke.
 */
import { expect } from 'vitest';
import {
  findChild,
  findChildren,
  parseResponse,
  requestMessage,
  uniqueIdentifierOf,
  type KmipClient,
  type KmipVersion,
  type ParsedResponse,
  type RequestMessageSpec,
  type ResponseItem,
} from '../../src/client/index.js';
import { ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import type { StructureNode, TtlvNode } from '../../src/ttlv/index.js';
import { readGetAttributes, type AttributeView } from '../support/kmip-session.js';

/** Values saved by earlier steps (uids by the names the steps give them). */
export type Vars = Map<string, string>;

export interface Step {
  /** What the client does, in words ("vCenter creates the host's key"). */
  readonly does: string;
  /** Operation enumeration value. */
  readonly op: number;
  /** The Request Payload, from the values earlier steps saved. */
  readonly payload: (vars: Vars) => StructureNode;
  /** Header options this client sends with the message (everything but version and batch). */
  readonly header?: Omit<RequestMessageSpec, 'version' | 'batch'>;
  /** The Unique Batch Item ID the client puts on the item (echoed back). */
  readonly batchItemId?: Uint8Array;
  /** Result Reason the client must get; absent: the step must succeed. */
  readonly refused?: number;
  /** Checks on a successful answer. */
  readonly check?: (payload: StructureNode, vars: Vars, response: ParsedResponse) => void;
  /** Save the answer's Unique Identifier under this name. */
  readonly saveUid?: string;
  /** Send as another enrolled identity (a second device of the same product, a reader with a grant). */
  readonly as?: string;
}

export interface Replay {
  /** The client, as docs/clients.md names it. */
  readonly client: string;
  readonly version: KmipVersion;
  /**
   * Where the sequence comes from: the public document or capture it follows, named (nothing
   * copied), and whether it is a capture or inferred from documentation.
   */
  readonly source: string;
  readonly basis: 'capture' | 'documentation' | 'client source';
  readonly steps: readonly Step[];
}

function stepLabel(i: number, s: Step): string {
  return `step ${i + 1} (${s.does})`;
}

/** Send one step's message; the parsed response. */
export async function sendStep(client: KmipClient, version: KmipVersion, step: Step, vars: Vars): Promise<ParsedResponse> {
  const msg = requestMessage({
    ...step.header,
    version,
    batch: [{ operation: step.op, payload: step.payload(vars), ...(step.batchItemId !== undefined && { uniqueBatchItemId: step.batchItemId }) }],
  });
  return parseResponse(await client.send(msg));
}

export interface ReplayOptions {
  /** Values saved by an earlier replay. */
  readonly vars?: Vars;
  /** A connection for a step's `as` identity. */
  readonly connect?: (identity: string) => Promise<KmipClient>;
}

/** Replay every step in order (on `client`, or on the step's `as` identity); the saved values. */
export async function replay(client: KmipClient, r: Replay, opts: ReplayOptions = {}): Promise<Vars> {
  const vars = opts.vars ?? new Map<string, string>();
  const others = new Map<string, KmipClient>();
  const clientFor = async (step: Step): Promise<KmipClient> => {
    if (step.as === undefined) return client;
    if (!opts.connect) throw new Error(`${r.client}: a step runs as ${step.as} but no connect was given`);
    let other = others.get(step.as);
    if (!other) others.set(step.as, (other = await opts.connect(step.as)));
    return other;
  };
  for (const [i, step] of r.steps.entries()) {
    const label = `${r.client} ${stepLabel(i, step)}${step.as !== undefined ? ` as ${step.as}` : ''}`;
    const res = await sendStep(await clientFor(step), r.version, step, vars);
    expect(res.items, label).toHaveLength(1);
    const item = res.items[0]!;
    expect(item.operation, `${label}: operation echoed`).toBe(step.op);
    if (step.batchItemId !== undefined) expect(Buffer.from(item.uniqueBatchItemId ?? []).equals(Buffer.from(step.batchItemId)), `${label}: batch item id echoed`).toBe(true);
    if (step.refused !== undefined) {
      expect(item.status, `${label}: should be refused`).toBe(ResultStatus.OperationFailed);
      expect(item.reason, `${label}: reason (${item.message ?? ''})`).toBe(step.refused);
      continue;
    }
    expect(item.status, `${label}: ${item.message ?? ''}`).toBe(ResultStatus.Success);
    const body = item.payload ?? ({ tag: Tag.ResponsePayload, type: 'Structure', value: [] } as StructureNode);
    if (step.saveUid !== undefined) vars.set(step.saveUid, uniqueIdentifierOf(body));
    step.check?.(body, vars, res);
  }
  return vars;
}

/** The saved value `name` (a step that needs it fails loudly when an earlier one did not save it). */
export function v(vars: Vars, name: string): string {
  const value = vars.get(name);
  if (value === undefined) throw new Error(`no saved value ${name}`);
  return value;
}

/** Unique Identifiers in a Locate answer. */
export function located(body: StructureNode): string[] {
  return findChildren(body, Tag.UniqueIdentifier).map((n) => (n.type === 'TextString' ? n.value : '?'));
}

/** A Get Attributes answer as name → values (kmip-session's reader). */
export function attributesOf(version: KmipVersion, body: StructureNode): AttributeView {
  return readGetAttributes(version, body);
}

/** The one value of an attribute in a Get Attributes answer (its number, text or nodes). */
export function valueOf(version: KmipVersion, body: StructureNode, name: string): number | string | bigint | boolean | TtlvNode | undefined {
  const n = attributesOf(version, body).get(name)?.[0];
  if (n === undefined) return undefined;
  return n.type === 'Structure' ? n : (n.value as number | string | bigint | boolean);
}

/** The payload's child with this tag, or a test failure. */
export function child(body: TtlvNode, tag: number): TtlvNode {
  const c = findChild(body, tag);
  if (c === undefined) throw new Error(`no 0x${tag.toString(16)} in the answer`);
  return c;
}

/** A failed item's reason (for ad-hoc sends outside a replay). */
export function reasonOf(item: ResponseItem): number | undefined {
  expect(item.status).not.toBe(ResultStatus.Success);
  return item.reason;
}
