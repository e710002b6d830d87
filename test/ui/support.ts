/** Helpers for the console tests: HTTPS requests with a chosen client certificate, and keys made over KMIP. */
import { request } from 'node:https';
import type { KmipClient } from '../../src/client/index.js';
import { attr, createSymmetricKeyPayload, expectSuccess, parseResponse, requestMessage, uniqueIdentifierOf } from '../../src/client/requests.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { tlsFiles } from '../support/kms.js';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface UiRequest {
  /** Client certificate identity; null: none. Default admin. */
  readonly identity?: string | null;
  readonly method?: string;
  readonly form?: Record<string, string>;
  readonly headers?: Record<string, string>;
}

export function ui(port: number, path: string, o: UiRequest = {}): Promise<Reply> {
  const identity = o.identity === undefined ? 'admin' : o.identity;
  const files = identity === null ? { ca: tlsFiles().ca } : tlsFiles(identity);
  const body = o.form ? new URLSearchParams(o.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        path,
        method: o.method ?? (body !== undefined ? 'POST' : 'GET'),
        agent: false,
        ...files,
        headers: {
          ...(body !== undefined ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(Buffer.byteLength(body)) } : {}),
          ...o.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The CSRF token in a page's forms. */
export function csrfOf(page: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!m) throw new Error('no CSRF token in the page');
  return m[1]!;
}

const V21 = { major: 2, minor: 1 };

export async function createKey(client: KmipClient, name: string, group?: string): Promise<string> {
  const payload = createSymmetricKeyPayload(V21, {
    algorithm: CryptographicAlgorithm.AES,
    length: 256,
    usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt,
    name,
    ...(group !== undefined && { attributes: [attr.objectGroup(group)] }),
  });
  const res = parseResponse(await client.send(requestMessage({ version: V21, batch: [{ operation: Operation.Create, payload }] })));
  return uniqueIdentifierOf(expectSuccess(res.items[0]!));
}
