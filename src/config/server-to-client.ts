/**
 * The `serverToClient` config section: Notify / Put delivery (src/notify/, docs/async-and-s2c.md)
 * and the client endpoints the server connects to.
 */

export interface EndpointConfig {
  /** The client identity the endpoint receives events for (as its certificate would name it). */
  readonly identity: string;
  readonly host: string;
  readonly port: number;
  /** Protocol version of the messages sent, "1.4" (default "2.1"). */
  readonly version?: string;
  /** PEM files: the CA the endpoint's certificate chains to, and the server's client certificate and key. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** Name to verify the endpoint's certificate against (default: host, when it is not an IP address). */
  readonly servername?: string;
}

/** Check one `serverToClient.endpoints` entry (strict). */
export function parseEndpoint(v: unknown, where: string): EndpointConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where} must be an object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['identity', 'host', 'port', 'version', 'ca', 'cert', 'key', 'servername'].includes(k)) throw new Error(`${where}: unknown key ${k}`);
  for (const k of ['identity', 'host', 'ca', 'cert', 'key']) if (typeof o[k] !== 'string' || o[k] === '') throw new Error(`${where}.${k} must be a non-empty string`);
  if (typeof o.port !== 'number' || !Number.isSafeInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error(`${where}.port must be 1 to 65535`);
  if (o.version !== undefined && (typeof o.version !== 'string' || !/^[12]\.\d$/.test(o.version))) throw new Error(`${where}.version must be a protocol version such as "1.4" or "2.1"`);
  if (o.servername !== undefined && typeof o.servername !== 'string') throw new Error(`${where}.servername must be a string`);
  return o as unknown as EndpointConfig;
}

export interface ServerToClientConfig {
  /** Serve Set Endpoint Role Client and send Notify / Put (default true). */
  readonly enabled: boolean;
  /** Events queued per channel; more are dropped. */
  readonly maxQueue: number;
  /** A message not answered within this is retried (or given up). */
  readonly responseTimeoutMs: number;
  /** Attempts per message. */
  readonly maxAttempts: number;
  /** First retry delay; doubled each attempt. */
  readonly retryBaseMs: number;
  /** Client endpoints the server connects to (any protocol version; endpoint-channel.ts). */
  readonly endpoints?: readonly EndpointConfig[];
}

export const DEFAULT_SERVER_TO_CLIENT: ServerToClientConfig = { enabled: true, maxQueue: 1000, responseTimeoutMs: 10_000, maxAttempts: 3, retryBaseMs: 500 };

export const SERVER_TO_CLIENT_ENV_KEYS: Readonly<Record<string, keyof ServerToClientConfig>> = {
  KMS_S2C_ENABLED: 'enabled',
  KMS_S2C_MAX_QUEUE: 'maxQueue',
  KMS_S2C_RESPONSE_TIMEOUT_MS: 'responseTimeoutMs',
  KMS_S2C_MAX_ATTEMPTS: 'maxAttempts',
  KMS_S2C_RETRY_BASE_MS: 'retryBaseMs',
};

/** Parse (part of) a `serverToClient` section; strict. */
export function parseServerToClient(v: unknown, from: string, into?: Partial<ServerToClientConfig>): Partial<ServerToClientConfig> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${from}: serverToClient must be an object`);
  const out: Record<string, unknown> = { ...(into ?? {}) };
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'endpoints') {
      if (!Array.isArray(raw)) throw new Error(`${from}: serverToClient.endpoints must be a list`);
      out[k] = raw.map((e, i) => parseEndpoint(e, `${from}: serverToClient.endpoints[${i}]`));
    } else if (k === 'enabled') {
      const b = raw === 'true' ? true : raw === 'false' ? false : raw;
      if (typeof b !== 'boolean') throw new Error(`${from}: serverToClient.enabled must be true or false`);
      out[k] = b;
    } else if (k === 'maxQueue' || k === 'responseTimeoutMs' || k === 'maxAttempts' || k === 'retryBaseMs') {
      const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new Error(`${from}: serverToClient.${k} must be a positive integer`);
      out[k] = n;
    } else {
      throw new Error(`${from}: unknown key serverToClient.${k}`);
    }
  }
  return out as Partial<ServerToClientConfig>;
}
