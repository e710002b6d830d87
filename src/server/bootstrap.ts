/**
 * Start a KMS from a configuration: data folder, key protector, store, certificates,
 * logger, listener. Used by `kms serve` and by the end-to-end tests (which start real
 * servers on port 0).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { HsmConfig, KmsConfig } from '../config/config.js';
import { HsmProtector } from '../hsm/hsm-protector.js';
import { readKekMarker } from '../hsm/kek-marker.js';
import { CachingProtector } from '../hsm/caching-protector.js';
import type { ResidentKeys } from '../hsm/resident.js';
import { cryptoPolicyFrom } from '../policy/crypto-policy.js';
import { Pkcs11Backend } from '../hsm/pkcs11/pkcs11-backend.js';
import { resolvePin } from '../hsm/pkcs11/pin.js';
import { SoftwareProtector } from '../hsm/software/software-protector.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { HANDLERS } from '../operations/index.js';
import type { ServerServices } from '../operations/context.js';
import { ensureDevCerts } from '../pki/dev-certs.js';
import { AccessPolicy } from '../policy/access.js';
import { openStore } from '../store/index.js';
import type { ObjectStore } from '../store/object-store.js';
import { KmipServer, type TlsMaterial } from './server.js';
import { HsmAuditKey, SoftwareAuditKey, type AuditKey } from '../audit/audit-key.js';
import { AuditTrail } from '../audit/trail.js';
import type { KeyBackend } from '../hsm/key-backend.js';
import { startAdminSocket, type AdminSocket } from '../backup/admin-socket.js';
import { LevelStore } from '../store/leveldb/index.js';
import { KmsMetrics } from '../http/metrics.js';
import { MeteredProtector } from '../http/metered-protector.js';
import { HttpsFace, type MetricsAccess } from '../http/https-server.js';
import { serverStatus } from '../http/status.js';

export const SERVED_VERSIONS = [
  { major: 2, minor: 1 },
  { major: 2, minor: 0 },
  { major: 1, minor: 4 },
  { major: 1, minor: 3 },
  { major: 1, minor: 2 },
  { major: 1, minor: 1 },
  { major: 1, minor: 0 },
] as const;

export interface RunningKms {
  readonly server: KmipServer;
  readonly address: AddressInfo;
  /** The HTTPS listener (KMIP over HTTPS, health, metrics), when config.httpsPort turns it on. */
  readonly https?: HttpsFace;
  readonly httpsAddress?: AddressInfo;
  readonly services: ServerServices;
  /** Where the development certificates are, when they were made for this data folder. */
  readonly devCerts?: { ca: string; clientCert: string; clientKey: string };
  close(): Promise<void>;
}

/**
 * The server's logger: JSON to stdout (or pretty), or, with `logFile`, JSON appended to that
 * file; `reopen` reopens the file (call it on SIGHUP, after logrotate moved it).
 */
export function makeLogOutput(config: Pick<KmsConfig, 'logLevel' | 'logFormat' | 'logFile'>): { log: Logger; reopen?: () => void } {
  if (!config.logFile) return { log: makeLogger(config) };
  const dest = pino.destination({ dest: config.logFile, append: true, mkdir: true, sync: false });
  const log = pino({ ...loggerOptions(config) }, dest);
  return { log, reopen: () => dest.reopen() };
}

function loggerOptions(config: Pick<KmsConfig, 'logLevel'>) {
  return {
    level: config.logLevel,
    base: { svc: 'kms' },
    // Defence in depth: fields that could ever carry key material are cut from every record.
    redact: { paths: ['*.keyMaterial', '*.key', '*.secret', '*.password', '*.payload', 'payload', 'keyMaterial'], censor: '[redacted]' },
  };
}

export function makeLogger(config: Pick<KmsConfig, 'logLevel' | 'logFormat'>): Logger {
  const opts = loggerOptions(config);
  return config.logFormat === 'pretty' ? pino({ ...opts, transport: { target: 'pino-pretty', options: { colorize: true } } }) : pino(opts);
}

function packageVersion(): string {
  // dist/src/server/ when built, src/server/ when run from source (tests).
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'kmip-kms') return pkg.version;
    } catch {
      // not this one
    }
  }
  return '0.0.0';
}

/** The HSM-backed protector: PKCS#11 backend, then the KEK found or generated inside the token. */
export async function openHsmProtector(hsm: HsmConfig, dataDir: string, log: Pick<Logger, 'info' | 'warn'>): Promise<{ protector: HsmProtector; backend: KeyBackend }> {
  const backend = await Pkcs11Backend.open({
    module: hsm.module,
    ...(hsm.tokenLabel !== undefined ? { tokenLabel: hsm.tokenLabel } : {}),
    ...(hsm.slot !== undefined ? { slot: hsm.slot } : {}),
    pin: resolvePin(hsm, process.env),
    ...(hsm.maxSessions !== undefined ? { maxSessions: hsm.maxSessions } : {}),
    log: { warn: (obj, msg) => log.warn(obj, msg) },
  });
  try {
    // An explicit hsm.kekLabel pins the KEK; otherwise the one a rotation named (hsm-kek.json), else the one kms-kek-* key.
    const kekLabel = hsm.kekLabel ?? readKekMarker(dataDir)?.label;
    const { protector, created } = await HsmProtector.open(backend, kekLabel !== undefined ? { kekLabel } : {});
    log.info({ protector: protector.description, kekId: protector.kekId, created, maxSessions: backend.capabilities().maxSessions }, 'key material is protected by a KEK inside the HSM');
    return { protector, backend };
  } catch (e) {
    await backend.close();
    throw e;
  }
}

export async function startKms(config: KmsConfig, deps: { log?: Logger; clock?: () => number } = {}): Promise<RunningKms> {
  const startedAt = Date.now();
  const log = deps.log ?? makeLogger(config);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  let tls: TlsMaterial;
  let devCerts: RunningKms['devCerts'];
  if (config.cert && config.key && config.ca) {
    tls = { cert: readFileSync(config.cert), key: readFileSync(config.key), ca: readFileSync(config.ca) };
  } else {
    const paths = await ensureDevCerts(join(config.dataDir, 'certs'));
    tls = { cert: readFileSync(paths.server.cert), key: readFileSync(paths.server.key), ca: readFileSync(paths.ca.cert) };
    devCerts = { ca: paths.ca.cert, clientCert: paths.client.cert, clientKey: paths.client.key };
    log.warn(
      { ca: paths.ca.cert, clientCert: paths.client.cert, clientKey: paths.client.key },
      'using development certificates from the data folder: point a client at this CA, client certificate and key (for production, give --cert, --key and --ca)',
    );
  }

  let keyProtector: KeyProtector;
  let auditKey: AuditKey;
  let resident: ResidentKeys | undefined;
  if (config.hsm) {
    const hsm = await openHsmProtector(config.hsm, config.dataDir, log);
    keyProtector = hsm.protector;
    resident = { backend: hsm.backend, policy: config.hsm.residentKeys ?? 'requested' };
    try {
      auditKey = await HsmAuditKey.open(hsm.backend);
    } catch (e) {
      await keyProtector.close();
      throw e;
    }
  } else {
    const { protector, created } = SoftwareProtector.openOrCreate(join(config.dataDir, 'master.key'));
    log.warn({ protector: protector.description, created }, 'key material is protected by a SOFTWARE master key, not an HSM');
    keyProtector = protector;
    auditKey = SoftwareAuditKey.fromMasterKeyFile(join(config.dataDir, 'master.key'));
  }

  let store: ObjectStore;
  try {
    store = await openStore({ kind: 'leveldb', path: join(config.dataDir, 'db') });
  } catch (e) {
    await auditKey.close();
    await keyProtector.close();
    throw e;
  }
  const audit = new AuditTrail({ store, key: auditKey, log, checkpointEvery: config.audit?.checkpointEvery, logRecords: config.audit?.log, clock: deps.clock });
  log.info({ auditKey: auditKey.id, head: store.audit.head().seq }, 'audit trail open');

  // Metrics are collected when the HTTPS listener (which serves them) is on.
  const httpsPort = config.httpsPort === 'ephemeral' ? 0 : config.httpsPort;
  const httpsOn = httpsPort !== undefined && (httpsPort !== 0 || config.httpsPort === 'ephemeral');
  let cached: CachingProtector;
  let metrics: KmsMetrics | undefined;
  if (httpsOn) {
    const m = new KmsMetrics({ store, keyCache: () => cached.stats(), certificates: { server: tls.cert, ca: tls.ca } });
    metrics = m;
    cached = new CachingProtector(new MeteredProtector(keyProtector, m), config.keyCache);
    if (store instanceof LevelStore) store.onGroupWritten = (n, secs) => m.storeGroupWritten(n, secs);
  } else {
    cached = new CachingProtector(keyProtector, config.keyCache);
  }
  const services: ServerServices = {
    store,
    protector: cached,
    access: new AccessPolicy(config.access),
    log,
    clock: deps.clock ?? Date.now,
    info: { vendor: 'kmip-kms', product: 'kms', version: packageVersion() },
    versions: SERVED_VERSIONS,
    audit,
    ...(resident && { resident }),
    cryptoPolicy: cryptoPolicyFrom(config.cryptoPolicy),
    ...(metrics && { metrics }),
  };
  const server = new KmipServer({
    host: config.host,
    port: config.port,
    tls,
    identity: config.identity,
    limits: config.limits,
    services,
    handlers: HANDLERS,
  });
  let address: AddressInfo;
  try {
    address = await server.listen();
  } catch (e) {
    await audit.close();
    await store.close();
    await keyProtector.close();
    throw e;
  }
  log.info({ host: address.address, port: address.port, dataDir: config.dataDir }, 'KMIP server listening');
  let https: HttpsFace | undefined;
  let httpsAddress: AddressInfo | undefined;
  if (httpsOn && httpsPort !== undefined) {
    try {
      https = new HttpsFace({
        host: config.host,
        port: httpsPort,
        tls,
        identity: config.identity,
        limits: config.limits,
        services,
        handlers: HANDLERS,
        health: { store, protector: keyProtector, audit },
        ...(metrics && { metrics }),
        metricsAccess: metricsAccessFrom(config),
      });
      httpsAddress = await https.listen();
    } catch (e) {
      await server.close();
      await audit.close();
      await store.close();
      await cached.close();
      throw e;
    }
    log.info({ host: httpsAddress.address, port: httpsAddress.port }, 'HTTPS listening (KMIP over HTTPS, /livez, /readyz, /version, /metrics)');
  }
  // Backups of the running server (kms backup): a Unix socket only the server's user can reach.
  let admin: AdminSocket | undefined;
  try {
    const h = https;
    const status = () =>
      serverStatus({
        services,
        health: { store, protector: keyProtector, audit },
        protector: keyProtector,
        startedAt,
        listeners: () => [
          { name: 'kmip' as const, address, connections: server.connections },
          ...(h && httpsAddress ? [{ name: 'https' as const, address: httpsAddress, connections: h.connections }] : []),
        ],
        keyCache: () => cached.stats(),
      });
    admin = await startAdminSocket(config.dataDir, services, log, status);
  } catch (e) {
    log.warn({ err: e }, 'admin socket not available: kms backup will not reach this running server');
  }
  let closed: Promise<void> | undefined;
  return {
    server,
    address,
    ...(https && { https }),
    ...(httpsAddress && { httpsAddress }),
    services,
    devCerts,
    close() {
      closed ??= (async () => {
        await https?.close();
        await server.close();
        await admin?.close();
        await audit.close();
        await store.close();
        await cached.close();
        log.info('KMIP server stopped');
      })();
      return closed;
    },
  };
}

/** The /metrics access rule from the config (the bearer token is read from its file here). */
function metricsAccessFrom(config: KmsConfig): MetricsAccess {
  const m = config.metrics;
  if (m?.access === 'token') {
    const token = readFileSync(m.tokenFile!, 'utf8').trim();
    if (token.length < 16) throw new Error(`metrics.tokenFile ${m.tokenFile}: the token must be at least 16 characters`);
    return { kind: 'token', token };
  }
  if (m?.access === 'mtls') return { kind: 'mtls', identities: m.identities ?? config.access.administrators };
  return { kind: 'loopback' };
}
