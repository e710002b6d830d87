/**
 * RNG Seed. KMIP 1.4 §4.36 (Tables 243-244, errors §11.37 Table 360), KMIP 2.1 §6.1.50
 * (Tables 319-321). The server accepts the Data and reports its length as the Data Length
 * "accepted". Honestly: node's CSPRNG (OpenSSL's DRBG, seeded from the operating system) offers no
 * way to add seed material, so the data is discarded and does not influence RNG Retrieve. The
 * spec leaves the use of the seed to the server ("the amount of seed data accepted"); a client
 * needing a guarantee should not rely on RNG Seed here.
 *
 * Result Reasons:
 * - Invalid Field: Data missing or over the limit; a malformed payload.
 */
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { payload, readPayload, required } from '../../kmip/payload.js';
import { CIPHER_POLICY } from '../../policy/crypto-policy.js';
import type { OperationHandler } from '../context.js';
import { item } from '../../kmip/items.js';

const Request = { data: required(Tag.Data, 'ByteString') };

export const rngSeed: OperationHandler = {
  operation: Operation.RNGSeed,
  name: 'RNGSeed',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'RNG Seed request payload' });
    const n = req.data.value.length;
    if (n > CIPHER_POLICY.rngMaxBytes) throw new KmipError(ResultReason.InvalidField, `Data is limited to ${CIPHER_POLICY.rngMaxBytes} bytes`);
    ctx.log.debug({ bytes: n }, "RNG Seed: data accepted; node's CSPRNG cannot be seeded, so it is not used");
    return payload(Tag.ResponsePayload, [item('DataLength', n)]);
  },
};
