/**
 * Server configuration: defaults, then a JSON config file, then KMS_… environment
 * variables, then command-line flags. Loading is strict: an unknown key or a value of the
 * wrong type fails the load with a message naming it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.js';
import { BUDGET_ENV_KEYS } from '../policy/budgets.js';
import type { IdentitySource } from './identity.js';
import type { AccessConfig } from '../policy/access.js';
import type { KeyCacheConfig } from '../hsm/caching-protector.js';
import { RESIDENCY_POLICIES, type ResidencyPolicy } from '../hsm/resident.js';
import { cryptoPolicyFrom, CryptoPolicyError, type CryptoPolicyConfig } from '../policy/crypto-policy.js';
import { MAX_READ_SYNC_WINDOW_MS, READ_SYNC_MODES, type ReadSync } from '../audit/read-durability.js';
import { ClientProfileError, parseClientProfiles, type ClientProfilesConfig } from '../policy/client-profiles.js';
import { CLIENTS_ENV_KEYS, parseClientsSection, type ClientsConfig } from './clients.js';
import { ASYNC_ENV_KEYS, parseAsyncConfig, type AsyncConfig } from './async.js';
import { parseRecordCache, RECORD_CACHE_ENV_KEYS } from './record-cache.js';
import type { RecordCacheConfig } from '../store/record-cache.js';
import { parseServerToClient, SERVER_TO_CLIENT_ENV_KEYS, type ServerToClientConfig } from './server-to-client.js';
import { parseRotationConfig, ROTATION_ENV_KEYS, RotationConfigError, type RotationConfig } from './rotation.js';
import { checkStoreUrl } from './store-url.js';
import { parseStorePool, STORE_POOL_ENV_KEYS, type StorePoolConfig } from './store-pool.js';
import { CONSOLE_ENV_KEYS, ConsoleConfigError, parseConsole, type ConsoleConfig } from './console.js';

export interface KmsConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /**
   * Where the objects, metadata and audit log live: absent, the data folder's LevelDB; a
   * postgresql:// URL, a database shared by the nodes of a cluster (src/config/store-url.ts,
   * docs/cluster-nodes.md). Never logged as given (its password is redacted).
   */
  readonly store?: string;
  /** How a node talks to a postgresql:// store (src/config/store-pool.ts). */
  readonly storePool?: StorePoolConfig;
  /** PEM files; when all are absent a development CA and certificates are made in the data folder. */
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  readonly identity: IdentitySource;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly logFormat: 'json' | 'pretty';
  /** Longest string a log record carries (client-supplied identifiers, names, identities are cut): src/server/log-bounds.ts. */
  readonly logMaxString?: number;
  readonly limits: ServerLimits;
  readonly access: AccessConfig;
  /** Protect key material with a KEK inside a PKCS#11 token; absent: the software master key. */
  readonly hsm?: HsmConfig;
  /** The audit trail (always on); this section only tunes it. */
  readonly audit?: AuditConfig;
  /** The bounded cache of unwrapped key material (src/hsm/caching-protector.ts); maxEntries 0 turns it off. */
  readonly keyCache?: KeyCacheConfig;
  /** The bounded cache of decoded records (src/config/record-cache.ts); a limit of 0 turns it off. */
  readonly recordCache?: RecordCacheConfig;
  /** Allowed algorithms and sizes (src/policy/crypto-policy.ts, CryptoPolicyConfig); safe defaults. */
  readonly cryptoPolicy?: CryptoPolicyConfig;
  /**
   * The HTTPS listener (src/http): KMIP over HTTPS, health, metrics. Absent or 0: off;
   * 'ephemeral': any free port. loadConfig sets 5697 unless given (ephemeral when `port` is 0).
   */
  readonly httpsPort?: number | 'ephemeral';
  /** Who may read GET /metrics on the HTTPS listener (default: loopback clients only). */
  readonly metrics?: MetricsConfig;
  /** Also write the log to this file (appended; reopened on SIGHUP for log rotation). */
  readonly logFile?: string;
  /** Per-client profiles (src/policy/client-profiles.ts, docs/client-profiles.md); absent: the default profile for every client. */
  readonly clientProfiles?: ClientProfilesConfig;
  /** The client-certificate registry's bounds and defaults (src/clients/config.ts, docs/clients-lifecycle.md). */
  readonly clients?: ClientsConfig;
  /** Asynchronous operations (src/operations/async-requests.ts, docs/async-and-s2c.md); absent keys: the defaults. */
  readonly async?: Partial<AsyncConfig>;
  /** Server-to-client Notify / Put (src/notify/hub.ts, docs/async-and-s2c.md); absent keys: the defaults. */
  readonly serverToClient?: Partial<ServerToClientConfig>;
  /** Key rotation policies and the scheduler's bounds (src/rotation/config.ts, docs/rotation.md); absent: the defaults. */
  readonly rotation?: Partial<RotationConfig>;
  /** The web console at /ui/ on the HTTPS listener (src/config/console.ts, docs/console.md). */
  readonly console?: ConsoleConfig;
}

/** The `metrics` section. */
export interface MetricsConfig {
  /** loopback (default), token (Authorization: Bearer, token read from tokenFile) or mtls (client certificate identity in `identities`). */
  readonly access?: 'loopback' | 'token' | 'mtls';
  /** File holding the bearer token (access token). */
  readonly tokenFile?: string;
  /** Client identities allowed under access mtls (default: access.administrators). */
  readonly identities?: readonly string[];
}

export const DEFAULT_HTTPS_PORT = 5697;

function parseMetrics(v: unknown, from: string, into: Mutable = {}): MetricsConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${from}: metrics must be an object`);
  const out: Mutable = { ...into };
  for (const [k, val] of Object.entries(v as Mutable)) {
    if (k === 'access') {
      if (val !== 'loopback' && val !== 'token' && val !== 'mtls') throw new ConfigError(`${from}: metrics.access must be one of loopback, token, mtls`);
    } else if (k === 'tokenFile') {
      if (typeof val !== 'string' || val === '') throw new ConfigError(`${from}: metrics.tokenFile must be a file name`);
    } else if (k === 'identities') {
      if (!Array.isArray(val) || !val.every((x) => typeof x === 'string')) throw new ConfigError(`${from}: metrics.identities must be a list of client identities`);
    } else {
      throw new ConfigError(`${from}: unknown key metrics.${k}`);
    }
    out[k] = val;
  }
  return out as MetricsConfig;
}

/** Environment variables for the metrics section. */
export const METRICS_ENV_KEYS: Readonly<Record<string, keyof MetricsConfig>> = {
  KMS_METRICS_ACCESS: 'access',
  KMS_METRICS_TOKEN_FILE: 'tokenFile',
};

const CRYPTO_POLICY_FLAGS: ReadonlySet<string> = new Set(['tripleDes', 'sha1Signatures', 'legacyKeys']);
const CRYPTO_POLICY_NUMBERS: ReadonlySet<string> = new Set(['rsaMinBits', 'rsaMinPublicExponent', 'hmacMinBits', 'pbkdf2MinIterations', 'pbkdf2MinSaltBytes']);

function parseCryptoPolicy(v: unknown, from: string, into: Mutable = {}): CryptoPolicyConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${from}: cryptoPolicy must be an object`);
  const out: Mutable = { ...into };
  for (const [k, raw] of Object.entries(v as Mutable)) {
    const val =
      typeof raw === 'string' && CRYPTO_POLICY_FLAGS.has(k)
        ? raw === 'true'
          ? true
          : raw === 'false'
            ? false
            : raw
        : typeof raw === 'string' && CRYPTO_POLICY_NUMBERS.has(k) && /^\d+$/.test(raw)
          ? Number(raw)
          : raw;
    if (CRYPTO_POLICY_FLAGS.has(k)) {
      if (typeof val !== 'boolean') throw new ConfigError(`${from}: cryptoPolicy.${k} must be true or false`);
    } else if (CRYPTO_POLICY_NUMBERS.has(k)) {
      if (typeof val !== 'number') throw new ConfigError(`${from}: cryptoPolicy.${k} must be a number`);
    } else if (k === 'ecCurves') {
      if (!Array.isArray(val) || !val.every((x) => typeof x === 'number')) throw new ConfigError(`${from}: cryptoPolicy.ecCurves must be a list of numbers (256, 384, 521)`);
    } else if (k === 'aesModes') {
      if (!Array.isArray(val) || !val.every((x) => typeof x === 'string')) throw new ConfigError(`${from}: cryptoPolicy.aesModes must be a list of mode names (CBC, ECB, CTR, GCM, XTS)`);
    } else {
      throw new ConfigError(`${from}: unknown key cryptoPolicy.${k}`);
    }
    out[k] = val;
  }
  try {
    cryptoPolicyFrom(out as CryptoPolicyConfig);
  } catch (e) {
    if (e instanceof CryptoPolicyError) throw new ConfigError(`${from}: ${e.message}`);
    throw e;
  }
  return out as CryptoPolicyConfig;
}

/** Environment variables for the cryptoPolicy section. */
export const CRYPTO_POLICY_ENV_KEYS: Readonly<Record<string, keyof CryptoPolicyConfig>> = {
  KMS_CRYPTO_TRIPLE_DES: 'tripleDes',
  KMS_CRYPTO_SHA1_SIGNATURES: 'sha1Signatures',
  KMS_CRYPTO_RSA_MIN_BITS: 'rsaMinBits',
  KMS_CRYPTO_RSA_MIN_PUBLIC_EXPONENT: 'rsaMinPublicExponent',
  KMS_CRYPTO_HMAC_MIN_BITS: 'hmacMinBits',
  KMS_CRYPTO_PBKDF2_MIN_ITERATIONS: 'pbkdf2MinIterations',
  KMS_CRYPTO_PBKDF2_MIN_SALT_BYTES: 'pbkdf2MinSaltBytes',
  KMS_CRYPTO_LEGACY_KEYS: 'legacyKeys',
};

function parseKeyCache(v: unknown, from: string): KeyCacheConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${from}: keyCache must be an object`);
  const out: Record<string, number> = {};
  for (const [k, val] of Object.entries(v as Mutable)) {
    if (k !== 'maxEntries' && k !== 'maxBytes' && k !== 'ttlMs') throw new ConfigError(`${from}: unknown key keyCache.${k}`);
    const n = typeof val === 'string' && /^\d+$/.test(val) ? Number(val) : val;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${from}: keyCache.${k} must be a non-negative integer`);
    out[k] = n;
  }
  return out;
}

/** The `audit` section. */
export interface AuditConfig {
  /** Also write each audit record to the log stream (for a SIEM). Default false. */
  readonly log?: boolean;
  /** Records between authenticated checkpoints. Default 1000. */
  readonly checkpointEvery?: number;
  /**
   * Where each checkpoint is also anchored, outside the data folder (src/audit/anchor.ts):
   * appended and fsynced. Default `<dataDir>.audit-anchor.jsonl` (skipped with a warning when it
   * cannot be written; a configured one that cannot be written refuses the start).
   */
  readonly anchorFile?: string;
  /** Read-only requests: "always" wait for the disk sync, or "batched" (src/audit/read-durability.ts). Default batched. */
  readonly readSync?: ReadSync;
  /** batched: longest a read record waits for its sync, ms (default 5, at most 1000). */
  readonly readSyncWindowMs?: number;
}

function parseAudit(v: unknown, from: string): AuditConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${from}: audit must be an object`);
  const out: { log?: boolean; checkpointEvery?: number; anchorFile?: string; readSync?: ReadSync; readSyncWindowMs?: number } = {};
  for (const [k, val] of Object.entries(v as Mutable)) {
    if (k === 'log') {
      if (typeof val !== 'boolean') throw new ConfigError(`${from}: audit.log must be true or false`);
      out.log = val;
    } else if (k === 'checkpointEvery') {
      if (typeof val !== 'number' || !Number.isSafeInteger(val) || val < 1) throw new ConfigError(`${from}: audit.checkpointEvery must be a positive integer`);
      out.checkpointEvery = val;
    } else if (k === 'anchorFile') {
      if (typeof val !== 'string' || val === '') throw new ConfigError(`${from}: audit.anchorFile must be a non-empty path`);
      out.anchorFile = resolve(val);
    } else if (k === 'readSync') {
      if (!READ_SYNC_MODES.includes(val as ReadSync)) throw new ConfigError(`${from}: audit.readSync must be ${READ_SYNC_MODES.join(' or ')}`);
      out.readSync = val as ReadSync;
    } else if (k === 'readSyncWindowMs') {
      const n = typeof val === 'string' && /^[0-9]+$/.test(val) ? Number(val) : val;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > MAX_READ_SYNC_WINDOW_MS) {
        throw new ConfigError(`${from}: audit.readSyncWindowMs must be an integer from 1 to ${MAX_READ_SYNC_WINDOW_MS}`);
      }
      out.readSyncWindowMs = n;
    } else {
      throw new ConfigError(`${from}: unknown key audit.${k}`);
    }
  }
  return out;
}

/** The `hsm` section: a PKCS#11 module and token, and where its PIN comes from. */
export interface HsmConfig {
  /** Path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  readonly module: string;
  /** The token, by label or by slot id (exactly one). */
  readonly tokenLabel?: string;
  readonly slot?: number;
  /** At most one of these; with none the PIN is read from KMS_HSM_PIN when the server starts. */
  readonly pin?: string;
  readonly pinFile?: string;
  readonly pinEnv?: string;
  /** Cap on concurrent PKCS#11 sessions (default 8; the token's limit applies too). */
  readonly maxSessions?: number;
  /**
   * Least time between two re-reads of the token's objects after a key lookup missed (default
   * 1000; 0: never): another process (a cluster node) may have made the key after this one last
   * read the token's object list (docs/cluster-nodes.md, HSM).
   */
  readonly refreshIntervalMs?: number;
  /** Label of a new folder's KEK (default kms-kek-<random>), or a legacy folder's current KEK; then custody.json (src/folder/custody.ts) names it. */
  readonly kekLabel?: string;
  /** Which keys Create makes inside the HSM (never, requested: Extractable false, always). Default requested. */
  readonly residentKeys?: ResidencyPolicy;
}

export const DEFAULT_CONFIG: KmsConfig = {
  host: '127.0.0.1',
  port: 5696,
  dataDir: 'kms-data',
  identity: 'cn',
  logLevel: 'info',
  logFormat: 'json',
  limits: DEFAULT_SERVER_LIMITS,
  access: { administrators: [], grants: [] },
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Environment variables, each overriding one config key. */
export const ENV_KEYS: Readonly<Record<string, string>> = {
  ...BUDGET_ENV_KEYS,
  KMS_HOST: 'host',
  KMS_PORT: 'port',
  KMS_DATA_DIR: 'dataDir',
  KMS_STORE: 'store',
  KMS_CERT: 'cert',
  KMS_KEY: 'key',
  KMS_CA: 'ca',
  KMS_IDENTITY: 'identity',
  KMS_LOG_LEVEL: 'logLevel',
  KMS_LOG_FORMAT: 'logFormat',
  KMS_LOG_FILE: 'logFile',
  KMS_HTTPS_PORT: 'httpsPort',
  KMS_LOG_MAX_STRING: 'logMaxString',
  KMS_MAX_CONNECTIONS: 'limits.maxConnections',
  KMS_HANDSHAKE_TIMEOUT_MS: 'limits.handshakeTimeoutMs',
  KMS_IDLE_TIMEOUT_MS: 'limits.idleTimeoutMs',
  KMS_MAX_MESSAGE_BYTES: 'limits.maxMessageBytes',
  // Connection hardening (docs/connections.md).
  KMS_MAX_HANDSHAKES: 'limits.maxHandshakes',
  KMS_MAX_HANDSHAKES_PER_ADDRESS: 'limits.maxHandshakesPerAddress',
  KMS_REQUEST_TIMEOUT_MS: 'limits.requestTimeoutMs',
  KMS_TLS_TICKET_KEY_ROTATION_MS: 'limits.tlsTicketKeyRotationMs',
};

/** Environment variables for the keyCache section. */
export const KEY_CACHE_ENV_KEYS: Readonly<Record<string, keyof KeyCacheConfig>> = {
  KMS_KEY_CACHE_MAX_ENTRIES: 'maxEntries',
  KMS_KEY_CACHE_MAX_BYTES: 'maxBytes',
  KMS_KEY_CACHE_TTL_MS: 'ttlMs',
};

/** Environment variables for the hsm section (KMS_HSM_PIN is the PIN itself, read at start, never stored in the config). */
export const HSM_ENV_KEYS: Readonly<Record<string, keyof HsmConfig>> = {
  KMS_HSM_MODULE: 'module',
  KMS_HSM_TOKEN_LABEL: 'tokenLabel',
  KMS_HSM_SLOT: 'slot',
  KMS_HSM_PIN_FILE: 'pinFile',
  KMS_HSM_PIN_ENV: 'pinEnv',
  KMS_HSM_MAX_SESSIONS: 'maxSessions',
  KMS_HSM_REFRESH_INTERVAL_MS: 'refreshIntervalMs',
  KMS_HSM_KEK_LABEL: 'kekLabel',
  KMS_HSM_RESIDENT_KEYS: 'residentKeys',
};

const HSM_STRING_KEYS = ['module', 'tokenLabel', 'pin', 'pinFile', 'pinEnv', 'kekLabel', 'residentKeys'] as const;
const HSM_INT_KEYS = ['slot', 'maxSessions', 'refreshIntervalMs'] as const;

function setHsmKey(target: Mutable, key: string, raw: unknown, from: string): void {
  if ((HSM_STRING_KEYS as readonly string[]).includes(key)) {
    if (typeof raw !== 'string' || raw === '') throw new ConfigError(`${from}: hsm.${key} must be a non-empty string`);
    if (key === 'residentKeys' && !(RESIDENCY_POLICIES as readonly string[]).includes(raw))
      throw new ConfigError(`${from}: hsm.residentKeys must be one of ${RESIDENCY_POLICIES.join(', ')}`);
    target[key] = raw;
  } else if ((HSM_INT_KEYS as readonly string[]).includes(key)) {
    const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${from}: hsm.${key} must be a non-negative integer`);
    if (key === 'maxSessions' && (n < 1 || n > 1024)) throw new ConfigError(`${from}: hsm.maxSessions must be 1 to 1024`);
    if (key === 'refreshIntervalMs' && n > 3_600_000) throw new ConfigError(`${from}: hsm.refreshIntervalMs must be 0 to 3600000`);
    target[key] = n;
  } else {
    throw new ConfigError(`${from}: unknown key hsm.${key}`);
  }
}

function parseHsm(v: unknown, from: string, into: Mutable | undefined): Mutable {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${from}: hsm must be an object`);
  const out: Mutable = { ...(into ?? {}) };
  for (const [k, val] of Object.entries(v as Mutable)) setHsmKey(out, k, val, from);
  return out;
}

function checkHsm(h: Mutable): void {
  if (typeof h.module !== 'string') throw new ConfigError('hsm.module (KMS_HSM_MODULE) is required: the path of the PKCS#11 library');
  if ((h.tokenLabel === undefined) === (h.slot === undefined)) throw new ConfigError('hsm: give exactly one of tokenLabel (KMS_HSM_TOKEN_LABEL) and slot (KMS_HSM_SLOT)');
  const pins = ['pin', 'pinFile', 'pinEnv'].filter((k) => h[k] !== undefined);
  if (pins.length > 1) throw new ConfigError(`hsm: give at most one of pin, pinFile and pinEnv (got ${pins.join(', ')})`);
}

const ENUMS: Readonly<Record<string, readonly string[]>> = {
  identity: ['cn', 'san', 'dn'],
  logLevel: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  logFormat: ['json', 'pretty'],
};

type Mutable = Record<string, unknown>;

function setPath(target: Mutable, path: string, raw: unknown, from: string): void {
  const parts = path.split('.');
  let obj: Mutable = target;
  for (const p of parts.slice(0, -1)) obj = obj[p] as Mutable;
  const key = parts[parts.length - 1]!;
  const current = obj[key] ?? (DEFAULT_CONFIG as unknown as Mutable)[key];
  let value: unknown = raw;
  const numeric = path.startsWith('limits.') || path === 'port' || path === 'httpsPort' || path === 'logMaxString';
  if (numeric) {
    value = typeof raw === 'string' ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new ConfigError(`${from}: ${path} must be a non-negative integer`);
  } else if (typeof value !== 'string' && ((current !== undefined && typeof current === 'string') || path === 'logFile' || path === 'store')) {
    throw new ConfigError(`${from}: ${path} must be a string`);
  }
  if (path === 'store') asConfigError(() => checkStoreUrl(value as string, from));
  const allowed = ENUMS[path];
  if (allowed && !allowed.includes(value as string)) throw new ConfigError(`${from}: ${path} must be one of ${allowed.join(', ')}`);
  obj[key] = value;
}

function applyFile(cfg: Mutable, file: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`${file}: must hold a JSON object`);
  for (const [k, v] of Object.entries(parsed as Mutable)) {
    if (k === 'limits') {
      if (typeof v !== 'object' || v === null) throw new ConfigError(`${file}: limits must be an object`);
      for (const [lk, lv] of Object.entries(v as Mutable)) {
        if (!(lk in DEFAULT_SERVER_LIMITS)) throw new ConfigError(`${file}: unknown key limits.${lk}`);
        setPath(cfg, `limits.${lk}`, lv, file);
      }
    } else if (k === 'access') {
      cfg.access = parseAccess(v, file);
    } else if (k === 'audit') {
      cfg.audit = parseAudit(v, file);
    } else if (k === 'keyCache') {
      cfg.keyCache = parseKeyCache(v, file);
    } else if (k === 'cryptoPolicy') {
      cfg.cryptoPolicy = parseCryptoPolicy(v, file);
    } else if (k === 'metrics') {
      cfg.metrics = parseMetrics(v, file);
    } else if (k === 'storePool') {
      cfg.storePool = asConfigError(() => parseStorePool(v, file, cfg.storePool as StorePoolConfig | undefined));
    } else if (k === 'hsm') {
      cfg.hsm = parseHsm(v, file, cfg.hsm as Mutable | undefined);
    } else if (k === 'clients') {
      cfg.clients = clientsSection(v, file, cfg.clients);
    } else if (k === 'serverToClient') {
      cfg.serverToClient = asConfigError(() => parseServerToClient(v, file, cfg.serverToClient as Partial<ServerToClientConfig> | undefined));
    } else if (k === 'async') {
      cfg.async = asConfigError(() => parseAsyncConfig(v, file, cfg.async as Partial<AsyncConfig> | undefined));
    } else if (k === 'recordCache') {
      cfg.recordCache = asConfigError(() => parseRecordCache(v, file, cfg.recordCache as RecordCacheConfig | undefined));
    } else if (k === 'rotation') {
      try {
        cfg.rotation = parseRotationConfig(v, file);
      } catch (e) {
        throw e instanceof RotationConfigError ? new ConfigError(e.message) : e;
      }
    } else if (k === 'console') {
      try {
        cfg.console = parseConsole(v, file, cfg.console as ConsoleConfig | undefined);
      } catch (e) {
        throw e instanceof ConsoleConfigError ? new ConfigError(e.message) : e;
      }
    } else if (k === 'clientProfiles') {
      try {
        cfg.clientProfiles = parseClientProfiles(v, file);
      } catch (e) {
        throw e instanceof ClientProfileError ? new ConfigError(e.message) : e;
      }
    } else if (k in DEFAULT_CONFIG || k === 'cert' || k === 'key' || k === 'ca' || k === 'httpsPort' || k === 'logFile' || k === 'logMaxString' || k === 'store') {
      setPath(cfg, k, v, file);
    } else {
      throw new ConfigError(`${file}: unknown key ${k}`);
    }
  }
}

function clientsSection(v: unknown, from: string, into: unknown): ClientsConfig {
  try {
    return parseClientsSection(v, from, into as ClientsConfig | undefined);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** A section parser's plain Error as a ConfigError. */
function asConfigError<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof ConfigError ? e : new ConfigError((e as Error).message);
  }
}

function parseAccess(v: unknown, from: string): AccessConfig {
  const o = v as { administrators?: unknown; grants?: unknown };
  if (typeof v !== 'object' || v === null) throw new ConfigError(`${from}: access must be an object`);
  for (const k of Object.keys(o)) if (k !== 'administrators' && k !== 'grants') throw new ConfigError(`${from}: unknown key access.${k}`);
  const admins = o.administrators ?? [];
  if (!Array.isArray(admins) || !admins.every((a) => typeof a === 'string')) throw new ConfigError(`${from}: access.administrators must be a list of identities`);
  const grants = o.grants ?? [];
  if (!Array.isArray(grants)) throw new ConfigError(`${from}: access.grants must be a list`);
  return {
    administrators: admins as string[],
    grants: grants.map((g: unknown, i) => {
      const gg = g as { identity?: unknown; objectGroup?: unknown; operations?: unknown };
      if (typeof gg?.identity !== 'string' || typeof gg.objectGroup !== 'string' || !Array.isArray(gg.operations) || !gg.operations.every((x) => typeof x === 'string')) {
        throw new ConfigError(`${from}: access.grants[${i}] needs identity, objectGroup and operations (a list of operation names or "*")`);
      }
      return { identity: gg.identity, objectGroup: gg.objectGroup, operations: gg.operations as string[] };
    }),
  };
}

export interface ConfigSources {
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Flag values, by config key (e.g. { port: '5697', dataDir: '/var/lib/kms' }). */
  readonly flags?: Readonly<Record<string, string | undefined>>;
}

export function loadConfig(sources: ConfigSources = {}): KmsConfig {
  const cfg = structuredClone(DEFAULT_CONFIG) as unknown as Mutable;
  const env = sources.env ?? {};
  const file = sources.flags?.config ?? sources.file ?? env.KMS_CONFIG;
  if (file) applyFile(cfg, file);
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(cfg, key, v, `environment ${name}`);
  }
  for (const [name, key] of Object.entries(HSM_ENV_KEYS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const h = (cfg.hsm ??= {}) as Mutable;
    setHsmKey(h, key, v, `environment ${name}`);
  }
  if (cfg.hsm !== undefined) checkHsm(cfg.hsm as Mutable);
  for (const [name, key] of Object.entries(KEY_CACHE_ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') cfg.keyCache = { ...(cfg.keyCache as KeyCacheConfig | undefined), ...parseKeyCache({ [key]: v }, `environment ${name}`) };
  }
  for (const [name, key] of Object.entries(CRYPTO_POLICY_ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') cfg.cryptoPolicy = parseCryptoPolicy({ [key]: v }, `environment ${name}`, cfg.cryptoPolicy as Mutable | undefined);
  }
  for (const [name, key] of Object.entries(METRICS_ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') cfg.metrics = parseMetrics({ [key]: v }, `environment ${name}`, cfg.metrics as Mutable | undefined);
  }
  for (const [name, key] of Object.entries(CLIENTS_ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') cfg.clients = clientsSection({ [key]: v }, `environment ${name}`, cfg.clients);
  }
  for (const [name, key] of Object.entries(SERVER_TO_CLIENT_ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '')
      cfg.serverToClient = asConfigError(() => parseServerToClient({ [key]: v }, `environment ${name}`, cfg.serverToClient as Partial<ServerToClientConfig> | undefined));
  }
  for (const [name, key] of Object.entries(STORE_POOL_ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') cfg.storePool = asConfigError(() => parseStorePool({ [key]: v }, `environment ${name}`, cfg.storePool as StorePoolConfig | undefined));
  }
  for (const [name, key] of Object.entries(ASYNC_ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') cfg.async = asConfigError(() => parseAsyncConfig({ [key]: v }, `environment ${name}`, cfg.async as Partial<AsyncConfig> | undefined));
  }
  for (const [name, key] of Object.entries(RECORD_CACHE_ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') cfg.recordCache = asConfigError(() => parseRecordCache({ [key]: v }, `environment ${name}`, cfg.recordCache as RecordCacheConfig | undefined));
  }
  for (const [name, key] of Object.entries(ROTATION_ENV_KEYS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    try {
      cfg.rotation = parseRotationConfig({ [key]: v }, `environment ${name}`, cfg.rotation as Partial<RotationConfig> | undefined);
    } catch (e) {
      throw e instanceof RotationConfigError ? new ConfigError(e.message) : e;
    }
  }
  for (const [name, key] of Object.entries(CONSOLE_ENV_KEYS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    try {
      cfg.console = parseConsole({ [key]: v }, `environment ${name}`, cfg.console as ConsoleConfig | undefined);
    } catch (e) {
      throw e instanceof ConsoleConfigError ? new ConfigError(e.message) : e;
    }
  }
  if (env.KMS_AUDIT_READ_SYNC) cfg.audit = { ...(cfg.audit as AuditConfig | undefined), ...parseAudit({ readSync: env.KMS_AUDIT_READ_SYNC }, 'environment KMS_AUDIT_READ_SYNC') };
  if (env.KMS_AUDIT_READ_SYNC_WINDOW_MS)
    cfg.audit = { ...(cfg.audit as AuditConfig | undefined), ...parseAudit({ readSyncWindowMs: env.KMS_AUDIT_READ_SYNC_WINDOW_MS }, 'environment KMS_AUDIT_READ_SYNC_WINDOW_MS') };
  if (env.KMS_AUDIT_ANCHOR_FILE) cfg.audit = { ...(cfg.audit as AuditConfig | undefined), ...parseAudit({ anchorFile: env.KMS_AUDIT_ANCHOR_FILE }, 'environment KMS_AUDIT_ANCHOR_FILE') };
  for (const [key, v] of Object.entries(sources.flags ?? {})) {
    if (key === 'config' || v === undefined) continue;
    if (key === 'auditAnchorFile') {
      cfg.audit = { ...(cfg.audit as AuditConfig | undefined), ...parseAudit({ anchorFile: v }, '--audit-anchor') };
      continue;
    }
    setPath(cfg, key, v, `--${key}`);
  }
  const out = cfg as unknown as KmsConfig;
  const tls = [out.cert, out.key, out.ca].filter((x) => x !== undefined).length;
  if (tls !== 0 && tls !== 3) throw new ConfigError('give all of cert, key and ca, or none (development certificates are then made in the data folder)');
  if (out.port > 65535) throw new ConfigError('port must be at most 65535');
  if (typeof out.httpsPort === 'number' && out.httpsPort > 65535) throw new ConfigError('httpsPort must be at most 65535');
  if (out.metrics?.access === 'token' && !out.metrics.tokenFile) throw new ConfigError('metrics.access token needs metrics.tokenFile (KMS_METRICS_TOKEN_FILE)');
  if (out.logMaxString !== undefined && out.logMaxString < 64) throw new ConfigError('logMaxString must be at least 64');
  // The HTTPS listener is on by default; beside an ephemeral KMIP port (tests) it takes one too.
  const httpsPort = out.httpsPort ?? (out.port === 0 ? 'ephemeral' : DEFAULT_HTTPS_PORT);
  return { ...out, httpsPort, dataDir: resolve(out.dataDir) };
}
