/**
 * Start a KMS from a configuration: data folder, key protector, store, certificates,
 * logger, listener. Used by `kms serve` and by the end-to-end tests (which start real
 * servers on port 0).
 */
import { ClientProfiles } from '../policy/client-profiles.js';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { KmsConfig } from '../config/config.js';
import { DataFolder } from '../folder/data-folder.js';
import { setStoreHooks } from '../folder/store-choice.js';
import { EVERYTHING } from '../store/object-store.js';
import { redactStoreUrl } from '../config/store-url.js';
import { secureDataFolder, warnReadablePin } from './file-modes.js';
import { boundedFormatters, DEFAULT_LOG_MAX_STRING } from './log-bounds.js';
import { CachingProtector } from '../hsm/caching-protector.js';
import { withRecordCache } from '../store/record-cache.js';
import type { ObjectStore } from '../store/object-store.js';
import type { ResidentKeys } from '../hsm/resident.js';
import { cryptoPolicyFrom } from '../policy/crypto-policy.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { HANDLERS } from '../operations/index.js';
import type { ServerServices } from '../operations/context.js';
import { AsyncRequests, DEFAULT_ASYNC_CONFIG } from '../operations/async-requests.js';
import { DEFAULT_SERVER_TO_CLIENT, ServerToClientHub } from '../notify/hub.js';
import { ensureDevCerts } from '../pki/dev-certs.js';
import { AccessPolicy } from '../policy/access.js';
import { KmipServer, type TlsMaterial } from './server.js';
import type { AuditKey } from '../audit/audit-key.js';
import type { AuditTrail } from '../audit/trail.js';
import { startAdminSocket, type AdminSocket } from './admin-socket.js';
import { adminQueries } from '../admin/queries.js';
import { KmsMetrics } from '../http/metrics.js';
import { MeteredProtector } from '../http/metered-protector.js';
import { HttpsFace, type MetricsAccess } from '../http/https-server.js';
import { serverStatus } from '../http/status.js';
import { ClientRegistry } from '../clients/registry.js';
import { revocationCheckOf } from '../clients/deny-list.js';
import { clientAdminHandlers } from '../clients/admin.js';
import { readTlsFiles, type TlsFiles, type TlsReloaded } from '../clients/tls-reload.js';
import { RotationScheduler } from '../rotation/scheduler.js';
import { rotationQueries } from '../rotation/admin.js';
import { ConsoleApp } from '../http/ui/console.js';

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
  /** The data folder's store itself; services.store may be the record cache in front of it (src/store/record-cache.ts). */
  readonly store: ObjectStore;
  /** Where the development certificates are, when they were made for this data folder. */
  readonly devCerts?: { ca: string; clientCert: string; clientKey: string };
  /** The client-certificate registry (src/clients/): list, issue, sign, revoke, deny list, CRL. */
  readonly clients: ClientRegistry;
  /** Re-read the server certificate, key and CA bundle; new handshakes use them (SIGHUP, kms certs reload). */
  reloadTls(): Promise<TlsReloaded>;
  /** The key rotation scheduler (src/rotation/, docs/rotation.md); started when rotation.enabled. */
  readonly rotation: RotationScheduler;
  close(): Promise<void>;
}

/**
 * The server's logger: JSON to stdout (or pretty), or, with `logFile`, JSON appended to that
 * file; `reopen` reopens the file (call it on SIGHUP, after logrotate moved it).
 */
export function makeLogOutput(config: Pick<KmsConfig, 'logLevel' | 'logFormat' | 'logFile'> & { readonly logMaxString?: number }): { log: Logger; reopen?: () => void } {
  if (!config.logFile) return { log: makeLogger(config) };
  const dest = pino.destination({ dest: config.logFile, append: true, mkdir: true, sync: false });
  const log = pino(loggerOptions(config), dest);
  return { log, reopen: () => dest.reopen() };
}

function loggerOptions(config: Pick<KmsConfig, 'logLevel'> & { readonly logMaxString?: number }) {
  return {
    level: config.logLevel,
    base: { svc: 'kms' },
    // Client-supplied strings (identifiers, names, identities) are cut: src/server/log-bounds.ts.
    formatters: boundedFormatters(config.logMaxString ?? DEFAULT_LOG_MAX_STRING),
    // Defence in depth: fields that could ever carry key material are cut from every record.
    redact: { paths: ['*.keyMaterial', '*.key', '*.secret', '*.password', '*.payload', 'payload', 'keyMaterial'], censor: '[redacted]' },
  };
}

export function makeLogger(config: Pick<KmsConfig, 'logLevel' | 'logFormat'> & { readonly logMaxString?: number }): Logger {
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

export async function startKms(
  config: KmsConfig,
  deps: { log?: Logger; clock?: () => number; /** The config file it was loaded from (a PIN in a readable file is warned about). */ configFile?: string } = {},
): Promise<RunningKms> {
  const startedAt = Date.now();
  const log = deps.log ?? makeLogger(config);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  secureDataFolder(config.dataDir, log);
  warnReadablePin(deps.configFile, config, log);

  // The data folder (src/folder/data-folder.ts): its lock (LevelDB's) comes first, so nothing is
  // made in a token, and no key file written, for a folder another process holds; then the keys
  // its custody record names (made and recorded at its first start).
  const folder = await DataFolder.open({
    dataDir: config.dataDir,
    keys: 'create',
    ...(config.store !== undefined && { storeUrl: config.store }),
    ...(config.storePool && { storePool: config.storePool }),
    ...(config.hsm && { hsm: config.hsm }),
    ...(config.audit?.readSyncWindowMs !== undefined && { syncWindowMs: config.audit.readSyncWindowMs }),
    log: { warn: (obj, msg) => log.warn(obj, msg) },
  });
  const store = folder.store;
  const keys = folder.keys!;
  // Again now that the store and keys are open: what LevelDB (re)made at open is 0600 too.
  try {
    secureDataFolder(config.dataDir);
  } catch (e) {
    await folder.close();
    throw e;
  }

  let tls: TlsMaterial;
  let devCerts: RunningKms['devCerts'];
  let tlsFiles: TlsFiles;
  try {
    if (config.cert && config.key && config.ca) {
      tlsFiles = { cert: config.cert, key: config.key, ca: config.ca };
      tls = { cert: readFileSync(config.cert), key: readFileSync(config.key), ca: readFileSync(config.ca) };
    } else {
      const paths = await ensureDevCerts(folder.layout.certs);
      tlsFiles = { cert: paths.server.cert, key: paths.server.key, ca: paths.ca.cert };
      tls = { cert: readFileSync(paths.server.cert), key: readFileSync(paths.server.key), ca: readFileSync(paths.ca.cert) };
      devCerts = { ca: paths.ca.cert, clientCert: paths.client.cert, clientKey: paths.client.key };
      log.warn(
        { ca: paths.ca.cert, clientCert: paths.client.cert, clientKey: paths.client.key },
        'using development certificates from the data folder: point a client at this CA, client certificate and key (for production, give --cert, --key and --ca)',
      );
    }
  } catch (e) {
    await folder.close();
    throw e;
  }

  // The folder's keys are indirections a protector migration on the running server repoints
  // (src/folder/protector-migration.ts, through the admin socket).
  const live = { protector: keys.protector, auditKey: keys.auditKey };
  const keyProtector: KeyProtector = live.protector;
  const auditKey: AuditKey = live.auditKey;
  const resident: ResidentKeys | undefined = keys.backend && config.hsm ? { backend: keys.backend, policy: config.hsm.residentKeys ?? 'requested' } : undefined;
  if (keys.backend) {
    log.info(
      { protector: keyProtector.description, kekId: keyProtector.kekId, custody: keys.how, maxSessions: keys.backend.capabilities().maxSessions },
      'key material is protected by a KEK inside the HSM',
    );
  } else {
    log.warn({ protector: keyProtector.description, custody: keys.how }, 'key material is protected by a SOFTWARE master key, not an HSM');
  }
  if (keys.how === 'adopted') log.warn({ custody: keys.custody.origin }, 'a data folder without a custody record: its keys are recorded now (custody.json)');

  let audit: AuditTrail;
  try {
    audit = await folder.openTrail({
      log,
      ...(config.audit && { audit: config.audit }),
      checkpointEvery: config.audit?.checkpointEvery,
      logRecords: config.audit?.log,
      clock: deps.clock,
      ...(config.audit?.readSync && { readSync: config.audit.readSync }),
    });
  } catch (e) {
    await folder.close();
    throw e;
  }
  setStoreHooks(store, { deferredSyncFailed: (e) => log.error({ err: e }, 'AUDIT: a due sync of read records failed; retried') });
  log.info({ auditKey: auditKey.id, head: store.audit.head().seq, readSync: audit.readSync, recordFormat: audit.recordFormat }, 'audit trail open');
  if (config.store !== undefined) log.info({ store: redactStoreUrl(config.store), custody: keys.how }, 'store: the PostgreSQL database shared by the cluster (docs/cluster-nodes.md)');

  // The client-certificate registry and its deny list (src/clients/), shared through the store.
  let clients: ClientRegistry;
  try {
    clients = await ClientRegistry.open({
      store,
      dataDir: config.dataDir,
      policy: cryptoPolicyFrom(config.cryptoPolicy),
      config: config.clients,
      audit,
      ...(deps.clock && { clock: deps.clock }),
      onError: (e) => log.error({ err: e }, 'client registry: reloading the deny list failed (retried at the next change)'),
    });
  } catch (e) {
    await folder.close();
    throw e;
  }
  const expiring = clients.expiring();
  if (expiring.length > 0) {
    log.warn(
      {
        within: clients.settings.expiryWarningDays,
        certificates: expiring.slice(0, 20).map((c) => ({ name: c.name, fingerprint: c.fingerprint, notAfter: c.notAfter })),
        count: expiring.length,
      },
      'client certificates expire within clients.expiryWarningDays (kms certs expiring)',
    );
  }

  // Metrics are collected when the HTTPS listener (which serves them) is on.
  const httpsPort = config.httpsPort === 'ephemeral' ? 0 : config.httpsPort;
  const httpsOn = httpsPort !== undefined && (httpsPort !== 0 || config.httpsPort === 'ephemeral');
  let cached: CachingProtector;
  let metrics: KmsMetrics | undefined;
  if (httpsOn) {
    const m = new KmsMetrics({ store, keyCache: () => cached.stats(), certificates: { server: tls.cert, ca: tls.ca }, clientCertificates: () => clients.list() });
    metrics = m;
    cached = new CachingProtector(new MeteredProtector(keyProtector, m), config.keyCache);
    setStoreHooks(store, { groupWritten: (n, secs) => m.storeGroupWritten(n, secs) });
  } else {
    cached = new CachingProtector(keyProtector, config.keyCache);
  }
  // Records another node changed: their cached plaintext is dropped at once, so a Destroy or
  // Re-key on any node of a cluster leaves nothing of the old key in this node's memory. (The
  // cache is keyed by the sealed bytes, so a stale entry is never served anyway; this node's own
  // commits are handled by the unit of work, which forgets exactly the bodies a commit replaced
  // or destroyed: forgetting on every local change would throw away a hot key each time its
  // record changes without its body, e.g. the first Get clearing Fresh.)
  const stopForgetting = store.onRecordsChanged?.((uids, origin) => {
    if (origin === 'local') return;
    if (uids.includes(EVERYTHING)) cached.forgetAll();
    else for (const uid of uids) cached.forget(uid);
  });
  // Requests read records through the record cache (src/store/record-cache.ts): every record
  // change is made through services.store, which drops what it touches before it resolves.
  // (Only over a store this process writes alone, LevelDB: a cluster's store gets none.)
  const base: ServerServices = {
    store: withRecordCache(store, config.recordCache),
    protector: cached,
    access: new AccessPolicy(config.access),
    log,
    clock: deps.clock ?? Date.now,
    info: { vendor: 'kmip-kms', product: 'kms', version: packageVersion() },
    versions: SERVED_VERSIONS,
    budgets: config.limits,
    audit,
    ...(resident && { resident }),
    cryptoPolicy: cryptoPolicyFrom(config.cryptoPolicy),
    ...(metrics && { metrics }),
    clientProfiles: new ClientProfiles(config.clientProfiles),
    asyncRequests: new AsyncRequests({ ...DEFAULT_ASYNC_CONFIG, ...config.async }, log.child({ component: 'async' })),
  };
  // The hub reads the services (access, audit, metrics); the dispatcher hands it committed changes.
  const services: ServerServices = { ...base, serverToClient: new ServerToClientHub(base, { ...DEFAULT_SERVER_TO_CLIENT, ...config.serverToClient }) };
  // Key rotation policies (src/rotation/): the scheduler runs every rotation.checkIntervalSeconds
  // (started once the listeners are up); the admin socket and the console show its status.
  const rotation = new RotationScheduler({ services, handlers: HANDLERS, ...(config.rotation && { config: config.rotation }) });
  const server = new KmipServer({
    host: config.host,
    port: config.port,
    tls,
    identity: config.identity,
    limits: config.limits,
    services,
    handlers: HANDLERS,
    revocation: revocationCheckOf(clients),
  });
  let address: AddressInfo;
  try {
    address = await server.listen();
  } catch (e) {
    await folder.close();
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
        revocation: revocationCheckOf(clients),
        crl: () =>
          clients.crl().catch((e: unknown) => {
            if ((e as { code?: unknown }).code === 'NO_CA') return undefined;
            throw e;
          }),
        // The web console at /ui/ (docs/console.md), unless console.enabled is false.
        ...(config.console?.enabled !== false && {
          console: new ConsoleApp({
            config,
            identity: config.identity,
            services,
            handlers: HANDLERS,
            health: { store, protector: keyProtector, audit },
            ...(metrics && { metrics }),
            protector: keyProtector,
            auditKey,
            trail: audit,
            certificates: { server: tls.cert, ca: tls.ca },
            startedAt,
            rotation,
            clients,
          }),
        }),
      });
      httpsAddress = await https.listen();
    } catch (e) {
      await server.close();
      await folder.close();
      await cached.close(); // the key cache's entries are wiped (the folder closed the protector)
      throw e;
    }
    log.info({ host: httpsAddress.address, port: httpsAddress.port }, 'HTTPS listening (KMIP over HTTPS, /livez, /readyz, /version, /metrics, /crl)');
  }
  // Server certificate renewal without downtime (src/clients/tls-reload.ts).
  const reloadTls = async (): Promise<TlsReloaded> => {
    const { material, summary } = readTlsFiles(tlsFiles);
    server.setTls(material);
    https?.setTls(material);
    metrics?.setCertificateExpiry('server', material.cert);
    metrics?.setCertificateExpiry('ca', material.ca);
    log.info({ certificate: summary }, 'TLS certificate reloaded: new connections use it');
    return summary;
  };
  rotation.start();
  // The admin socket (kms backup, hsm rotate-kek, protector migrate, status and queries on the
  // running server): a Unix socket only the server's user can reach.
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
    // kms hsm status, kms audit verify / report on the running server (src/admin/queries.ts).
    const queries = {
      ...adminQueries({ config, services, protector: keyProtector, auditKey, trail: audit, log }),
      ...rotationQueries(rotation),
      ...clientAdminHandlers({ registry: clients, reloadTls, log }),
    };
    admin = await startAdminSocket(config.dataDir, services, log, live, status, queries);
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
    store,
    devCerts,
    clients,
    reloadTls,
    rotation,
    close() {
      closed ??= (async () => {
        await rotation.stop();
        await https?.close();
        await server.close();
        await admin?.close();
        clients.close();
        // Asynchronous items still running finish (and commit) before the store closes.
        await services.asyncRequests?.drain();
        services.asyncRequests?.close();
        if (services.serverToClient instanceof ServerToClientHub) services.serverToClient.close();
        // The trail's shutdown checkpoint and anchors, the store, then the keys (the token).
        stopForgetting?.();
        await folder.close();
        await cached.close(); // the key cache's entries are wiped (the folder closed the protector)
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
