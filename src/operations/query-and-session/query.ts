/**
 * Query. KMIP 1.4 §4.25, KMIP 2.1 §6.1.40 (Tables 282-284).
 * Operations and object types are read from the same handler table the dispatcher uses,
 * filtered by the request's version, so what is advertised is what is served; Poll and Cancel are
 * in it. Notify and Put (server-to-client) are listed exactly when the server can send them to the
 * asking client (ServerToClientSink.canSendTo: the feature on and a 2.x client, which can take the
 * client role with Set Endpoint Role).
 * Each Query Function is answered only in the versions that define it (the registry), with what
 * is true of this server (operations/query-and-session/query-info.ts); one with nothing to state adds nothing.
 * Result Reasons: Invalid Field.
 */
import { is2x } from '../../kmip/version-rules.js';
import { CapabilityInformation } from './capabilities.js';
import { ObjectType, Operation, QueryFunction } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { payload, readPayload, repeated } from '../../kmip/payload.js';
import { enumDef, isAvailable } from '../../kmip/registry.js';
import type { TtlvNode } from '../../ttlv/node.js';
import type { HandlerTable, OperationHandler } from '../context.js';
import { servedIn } from '../dispatcher.js';
import { defaultsInformation, profileInformation, protectionStorageMasks } from './query-info.js';
import { serverRngParameters } from '../../objects/server-set.js';
import type { KmipVersion } from '../../kmip/spec-types.js';
import { item } from '../../kmip/items.js';

/** Whether Query Function `fn` exists in protocol `v` (the registry's enumeration). */
function queryFunctionIn(fn: number, v: KmipVersion): boolean {
  const def = enumDef('QueryFunction')?.values.find((d) => d.value === fn);
  return def !== undefined && isAvailable(def, v);
}

const Request = { functions: repeated(Tag.QueryFunction, 'Enumeration') };

/** Object types the server stores (Register) — kept beside the handlers that serve them. */
export const SERVED_OBJECT_TYPES: readonly number[] = [
  ObjectType.Certificate,
  ObjectType.SymmetricKey,
  ObjectType.PublicKey,
  ObjectType.PrivateKey,
  ObjectType.SplitKey,
  ObjectType.SecretData,
  ObjectType.OpaqueObject,
  ObjectType.PGPKey,
  ObjectType.CertificateRequest,
  ObjectType.Template,
];

/**
 * Whether `objectType` can be stored in protocol `v`: one of SERVED_OBJECT_TYPES that the
 * version defines. Template is a 1.x object only (KMIP 2.0 removed it; its value is reserved).
 */
export function servesObjectType(objectType: number, v: { readonly major: number; readonly minor: number }): boolean {
  if (!SERVED_OBJECT_TYPES.includes(objectType)) return false;
  if (objectType === ObjectType.Template) return !is2x(v);
  const def = enumDef('ObjectType')?.values.find((d) => d.value === objectType);
  return def !== undefined && isAvailable(def, v);
}

export function makeQuery(table: () => HandlerTable): OperationHandler {
  return {
    operation: Operation.Query,
    name: 'Query',
    async handle(ctx, node) {
      const req = readPayload(node, Request, { what: 'Query request payload' });
      const fns = new Set(req.functions.map((f) => f.value));
      const v = ctx.version;
      // A function is answered only in the versions that define it; any other is ignored.
      const asks = (fn: QueryFunction) => fns.has(fn) && queryFunctionIn(fn, v);
      const out: TtlvNode[] = [];
      // Items in the order of the response payload table (2.1 Table 283).
      if (asks(QueryFunction.QueryOperations)) {
        const ops = [...table().keys()].filter((op) => servedIn(table(), op, v) !== undefined);
        // Server-to-client operations: listed when the server can send them to this client (src/notify/hub.ts).
        if (ctx.services.serverToClient?.canSendTo(ctx.principal, v)) ops.push(Operation.Notify, Operation.Put);
        ops.sort((a, b) => a - b);
        for (const op of ops) out.push(item('Operation', op));
      }
      if (asks(QueryFunction.QueryObjects)) {
        for (const t of SERVED_OBJECT_TYPES) {
          if (servesObjectType(t, v)) out.push(item('ObjectType', t));
        }
      }
      if (asks(QueryFunction.QueryServerInformation)) {
        const info = ctx.services.info;
        out.push(item('VendorIdentification', `${info.vendor} ${info.product} ${info.version}`));
        out.push(item('ServerInformation', []));
      }
      // Query Application Namespaces, Extension List / Map, Attestation Types, Validations and
      // Client Registration Methods: the server has none to state (operations/query-and-session/query-info.ts).
      if (asks(QueryFunction.QueryRNGs)) out.push(serverRngParameters());
      if (asks(QueryFunction.QueryProfiles)) out.push(...profileInformation(v));
      if (asks(QueryFunction.QueryCapabilities)) out.push(CapabilityInformation);
      if (asks(QueryFunction.QueryDefaultsInformation)) out.push(defaultsInformation());
      if (asks(QueryFunction.QueryStorageProtectionMasks)) out.push(protectionStorageMasks(ctx.services.resident !== undefined));
      return payload(Tag.ResponsePayload, out);
    },
  };
}
