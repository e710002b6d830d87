/**
 * Start a KMS from a configuration: data folder, key protector, store, certificates,
 * logger, listener. Used by `kms serve` and by the end-to-end tests (which start real
 * servers on port 0).
 */
import { ClientProfiles } from '../policy/client-profiles.js';
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
  readonly services: ServerServices;
  /** Where the development certificates are, when they were made for this data folder. */
  readonly devCerts?: { ca: string; clientCert: string; clientKey: string };
  close(): Promise<void>;
}

export function makeLogger(config: Pick<KmsConfig, 'logLevel' | 'logFormat'>): Logger {
  const opts = {
    level: config.logLevel,
    base: { svc: 'kms' },
    // Defence in depth: fields that could ever carry key material are cut from every record.
    redact: { paths: ['*.keyMaterial', '*.key', '*.secret', '*.password', '*.payload', 'payload', 'keyMaterial'], censor: '[redacted]' },
  };
  return config.logFormat === 'pretty' ? pino({ ...opts, transport: { target: 'pino-pretty', options: { colorize: true } } }) : pino(opts);
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
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

  const cached = new CachingProtector(keyProtector, config.keyCache);
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
    clientProfiles: new ClientProfiles(config.clientProfiles),
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
  // Backups of the running server (kms backup): a Unix socket only the server's user can reach.
  let admin: AdminSocket | undefined;
  try {
    admin = await startAdminSocket(config.dataDir, services, log);
  } catch (e) {
    log.warn({ err: e }, 'admin socket not available: kms backup will not reach this running server');
  }
  let closed: Promise<void> | undefined;
  return {
    server,
    address,
    services,
    devCerts,
    close() {
      closed ??= (async () => {
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
