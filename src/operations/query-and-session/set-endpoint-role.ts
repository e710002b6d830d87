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
 * What this server answers (it only ever acts as the server endpoint and sends no
 * server-to-client operations — no Notify, Put, server-side Query or Discover Versions):
 * - Endpoint Role Server: Success, Endpoint Role Server. It is the role the server already has,
 *   so nothing changes on the connection; the answer is true.
 * - Endpoint Role Client: Operation Failed, Feature Not Supported (in Table 333). Taking the
 *   client role would mean sending requests to the client, which this server never does; the
 *   operation itself is served, only this role is not, so Operation Not Supported would mislead.
 *   Permission Denied (also in the table) would suggest another principal might be allowed.
 * - Any other Endpoint Role value (the extension range 8XXXXXXX, or one the enumeration does not
 *   define): Invalid Field. So is a payload without Endpoint Role, or with anything else in it.
 * Nothing is stored or remembered per connection: the answer is the same every time.
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
  async handle(_ctx, node) {
    const req = readPayload(node, Request, { what: 'Set Endpoint Role request payload' });
    const role = req.role.value;
    if (role === EndpointRole.Client) {
      throw new KmipError(ResultReason.FeatureNotSupported, 'this server acts only as the server endpoint and sends no server-to-client operations; Endpoint Role Client is not supported');
    }
    if (role !== EndpointRole.Server) throw new KmipError(ResultReason.InvalidField, `Endpoint Role ${role} is not defined (Client or Server)`);
    return payload(Tag.ResponsePayload, [item('EndpointRole', EndpointRole.Server)]);
  },
};
