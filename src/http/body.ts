/**
 * Reading a request body with a size bound: the KMIP-over-HTTPS body (limits.maxMessageBytes) and
 * the console's forms (console.maxFormBytes). Past the bound the rest is drained unread and the
 * caller's error (a 413 with `Connection: close`) rejects, before anything more is buffered.
 */
import type { IncomingMessage } from 'node:http';

export function readBoundedBody(req: IncomingMessage, max: number, overLimit: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(overLimit());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, n)));
    req.on('error', reject);
  });
}
