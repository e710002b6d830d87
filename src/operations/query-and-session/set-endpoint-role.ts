/**
 * Set Endpoint Role. KMIP 2.1 §6.1.54 (Tables 331-333), KMIP 2.0 §6.1.48; the Endpoint Role
 * enumeration is 2.1 §11.19 (Tables 451-452). A KMIP 2.x operation: the registry marks it added
 * in 2.0, so the dispatcher answers Operation Not Supported in 1.x and Query lists it from 2.0 on
 * (no `since` is needed, unlike Export/Import whose enumeration value exists in 1.4).
 *
 * The client names the role the server shall take for the rest of this connection: Server
 * ("receives requests and sends responses") or Client ("sends requests and receives responses";
 * after it the server would send server-to-client operations, §6.2, over the same channel and the
 * client would answer them). The response echoes the role "as applied by the server".
 *
 * What this server answers:
 * - Endpoint Role Server: Success, Endpoint Role Server. It is the role the server already has,
 *   so nothing changes on the connection.
 * - Endpoint Role Client, on a KMIP-port connection with server-to-client operations on
 *   (`serverToClient.enabled`, the default): Success, Endpoint Role Client. Once this response is
 *   written the connection is a server-to-client channel (src/notify/connection-channel.ts): the
 *   server sends Notify and Put Request Messages on it (src/notify/hub.ts, docs/async-and-s2c.md)
 *   and the client answers them; it may still send its own requests.
 * - Endpoint Role Client over KMIP over HTTPS (no connection to send on) or with the feature off:
 *   Operation Failed, Feature Not Supported (in Table 333); Permission Denied would suggest another
 *   principal might be allowed.
 * - Any other Endpoint Role value (the extension range 8XXXXXXX, or one the enumeration does not
 *   define): Invalid Field. So is a payload without Endpoint Role, or with anything else in it.
 */
import { EndpointRole, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { payload, readPayload, required } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';
import { item } from '../../kmip/items.js';

const Request = { role: required(Tag.EndpointRole, 'Enumeration') };

export const setEndpointRole: OperationHandler = {
  operation: Operation.SetEndpointRole,
  name: 'SetEndpointRole',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Set Endpoint Role request payload' });
    const role = req.role.value;
    if (role === EndpointRole.Client) {
      if (!ctx.connection?.takeClientRole(ctx.principal, ctx.version)) {
        const why = ctx.connection
          ? 'server-to-client operations are turned off (serverToClient.enabled)'
          : 'this transport has no connection to send server-to-client requests on (use the KMIP port)';
        throw new KmipError(ResultReason.FeatureNotSupported, `Endpoint Role Client is not available: ${why}`);
      }
      return payload(Tag.ResponsePayload, [item('EndpointRole', EndpointRole.Client)]);
    }
    if (role !== EndpointRole.Server) throw new KmipError(ResultReason.InvalidField, `Endpoint Role ${role} is not defined (Client or Server)`);
    return payload(Tag.ResponsePayload, [item('EndpointRole', EndpointRole.Server)]);
  },
};
