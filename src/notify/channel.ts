/**
 * A channel to one client in the client role: a KMIP connection after Set Endpoint Role Client
 * (connection-channel.ts) or a configured endpoint the server connects to (endpoint-channel.ts).
 */
import type { KmipVersion } from '../kmip/spec-types.js';
import type { Principal } from '../policy/access.js';
import type { StructureNode, TtlvNode } from '../ttlv/node.js';

/** One client endpoint the server can send requests to. */
export interface S2cChannel {
  /** The connection id (events caused by it are not sent back to it). */
  readonly id: string;
  readonly principal: Principal;
  readonly version: KmipVersion;
  readonly remote?: string;
  /** Send one Request Message; resolves with the Response Message (rejects on timeout or close). */
  exchange(message: StructureNode, timeoutMs: number): Promise<TtlvNode>;
  readonly closed: boolean;
}
