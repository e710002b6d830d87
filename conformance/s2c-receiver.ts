/**
 * The runner's server-to-client endpoint: a small mutual-TLS listener on loopback that takes the
 * Notify and Put Request Messages an embedded server sends (src/notify/endpoint-channel.ts) and
 * answers each with Success. Every embedded server gets it as `serverToClient.endpoints` for the
 * runner's identity, so the server can really deliver Notify and Put to the runner at any
 * protocol version — which is what its Query then says (operations/query-and-session/query.ts: Notify and Put are
 * listed exactly when they can be sent to the asking client). One listener serves the whole run;
 * it does not keep the process alive.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { decode } from '../src/ttlv/decode.js';
import { encode } from '../src/ttlv/encode.js';
import { TtlvFramer } from '../src/ttlv/framer.js';
import type { StructureNode, TtlvNode } from '../src/ttlv/node.js';
import { ResultStatus } from '../src/kmip/generated/enums.gen.js';
import { Tag } from '../src/kmip/generated/tags.gen.js';

let started: Promise<number> | undefined;

function answer(request: StructureNode): TtlvNode {
  const header = request.value.find((c) => c.tag === Tag.RequestHeader) as StructureNode | undefined;
  const pv = header?.value.find((c) => c.tag === Tag.ProtocolVersion);
  const item = request.value.find((c) => c.tag === Tag.BatchItem) as StructureNode | undefined;
  const keep = (item?.value ?? []).filter((c) => c.tag === Tag.Operation || c.tag === Tag.UniqueBatchItemID);
  return {
    tag: Tag.ResponseMessage,
    type: 'Structure',
    value: [
      {
        tag: Tag.ResponseHeader,
        type: 'Structure',
        value: [...(pv ? [pv] : []), { tag: Tag.TimeStamp, type: 'DateTime', value: BigInt(Math.floor(Date.now() / 1000)) }, { tag: Tag.BatchCount, type: 'Integer', value: 1 }],
      },
      { tag: Tag.BatchItem, type: 'Structure', value: [...keep, { tag: Tag.ResultStatus, type: 'Enumeration', value: ResultStatus.Success }] },
    ],
  };
}

/** The receiver's port (started on first use) for servers whose certificates are in `certsDir`. */
export function s2cReceiverPort(certsDir: string): Promise<number> {
  started ??= new Promise((resolve, reject) => {
    const server = tls.createServer(
      {
        cert: readFileSync(join(certsDir, 'server.pem')),
        key: readFileSync(join(certsDir, 'server.key')),
        ca: readFileSync(join(certsDir, 'ca.pem')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket) => {
        const framer = new TtlvFramer({ maxMessageBytes: 16 * 1024 * 1024 });
        socket.on('data', (chunk: Buffer) => {
          try {
            for (const frame of framer.push(chunk)) {
              const node = decode(frame);
              if (node.tag === Tag.RequestMessage && node.type === 'Structure') socket.write(encode(answer(node)));
            }
          } catch {
            socket.destroy();
          }
        });
        socket.on('error', () => undefined);
      },
    );
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve((server.address() as AddressInfo).port);
    });
  });
  return started;
}
