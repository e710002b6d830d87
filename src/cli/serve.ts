/** `kms serve`: run the KMIP server until SIGTERM/SIGINT, then stop cleanly and exit 0. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { makeLogOutput, startKms } from '../server/bootstrap.js';
import { CustodyError } from '../folder/custody.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';
import { budgetsHelp } from '../policy/budgets.js';
import { clientsHelp } from '../config/clients.js';
import { consoleHelp } from '../config/console.js';
import { storePoolHelp } from '../config/store-pool.js';
import { recordCacheHelp } from '../config/record-cache.js';

const HELP = `Usage: kms serve [options]

Run the KMIP server: binary TTLV over mutual TLS.

Options (each also settable by the environment variable shown, or in the config file):
  --host HOST        address to listen on (KMS_HOST; default 127.0.0.1; 0.0.0.0 for all)
  --port PORT        TCP port (KMS_PORT; default 5696)
  --https-port PORT  HTTPS port: KMIP over HTTPS (POST /kmip, TTLV/XML/JSON), /livez,
                     /readyz, /version, /metrics (KMS_HTTPS_PORT; default 5697, any free
                     port when --port is 0; 0 turns it off). See docs/http.md.
  --data-dir DIR     data folder: database, master key, development certificates
                     (KMS_DATA_DIR; default ./kms-data)
  --store URL        a postgresql://USER:PASSWORD@HOST:PORT/DB database shared by the
                     nodes of a cluster instead of DIR's own LevelDB (KMS_STORE; config
                     key store; the password is never logged). Each node keeps its own
                     DIR (certificates, keys, lock); a new DIR joins the database's
                     keys (docs/cluster-nodes.md)
  --cert FILE        server certificate, PEM (KMS_CERT)
  --key FILE         server private key, PEM (KMS_KEY)
  --ca FILE          CA bundle that client certificates must chain to, PEM (KMS_CA)
                     With none of --cert/--key/--ca, a development CA, a server
                     certificate and a client certificate are made in DIR/certs on the
                     first start; the log says where.
  --identity WHAT    client identity from the certificate: cn (default), san or dn
                     (KMS_IDENTITY)
  --log-level LEVEL  fatal, error, warn, info (default), debug, trace (KMS_LOG_LEVEL)
  --log-format FMT   json (default) or pretty (KMS_LOG_FORMAT)
  --log-file FILE    write the log (JSON) to FILE instead of stdout, reopened on SIGHUP
                     (KMS_LOG_FILE). SIGHUP also reloads --cert/--key/--ca (or the
                     development ones): new connections use them (kms certs reload).
                     Log records cut every string to logMaxString characters (config
                     key; KMS_LOG_MAX_STRING; default 1024, at least 64): client-supplied
                     identifiers, names and identities never fill the log.
  --audit-anchor FILE  where each audit checkpoint is also anchored, outside the
                     data folder: appended, fsynced (KMS_AUDIT_ANCHOR_FILE;
                     audit.anchorFile; default DIR.audit-anchor.jsonl)
                     Read-only requests (Get, Get Attributes, Locate, Query, crypto that
                     changes nothing): audit.readSync (KMS_AUDIT_READ_SYNC) "batched"
                     (default) writes their record before the response, synced within
                     audit.readSyncWindowMs (KMS_AUDIT_READ_SYNC_WINDOW_MS; default 5, at
                     most 1000); "always" waits for the sync. Changes always wait.
  --config FILE      JSON config file (KMS_CONFIG); keys: host, port, dataDir, store, cert,
                     key, ca, identity, logLevel, logFormat, limits {maxConnections,
                     handshakeTimeoutMs, idleTimeoutMs, maxMessageBytes, maxDepth,
                     maxItems, maxPipelined, maxHandshakes, maxHandshakesPerAddress,
                     requestTimeoutMs, tlsTicketKeyRotationMs}, access {administrators, grants},
                     hsm {module, tokenLabel | slot, pin | pinFile | pinEnv,
                     maxSessions, refreshIntervalMs, kekLabel}, audit {log, checkpointEvery,
                     anchorFile, readSync, readSyncWindowMs}, httpsPort, logFile,
                     metrics {access: loopback | token | mtls, tokenFile, identities}
                     (KMS_METRICS_ACCESS, KMS_METRICS_TOKEN_FILE),
                     clientProfiles {default, profiles [{name, identities,
                     getAllAttributes full | pykmip-0.10, omitAttributes,
                     defaultProtocolVersion}]} (docs/client-profiles.md),
                     clients {maxCertificates, crlValidityHours, defaultDays,
                     expiryWarningDays} (docs/clients-lifecycle.md),
                     rotation {…} (below)

Key rotation (config rotation section, or the variable; docs/rotation.md): keys with
Rotate Automatic + Rotate Interval (KMIP 2.1), or in an Object Group of
rotation.policies [{objectGroup, everyDays, overlapDays}], are re-keyed when due:
  rotation.enabled               KMS_ROTATION_ENABLED (default true)
  rotation.checkIntervalSeconds  KMS_ROTATION_CHECK_INTERVAL_SECONDS (default 3600, 1-86400)
  rotation.warnDays              KMS_ROTATION_WARN_DAYS: report keys due within (default 14)
  rotation.overlapDays           KMS_ROTATION_OVERLAP_DAYS: per-key policies' overlap (default 7)
  rotation.retryMinutes          KMS_ROTATION_RETRY_MINUTES: after a failure (default 60)
  rotation.maxPerRun             KMS_ROTATION_MAX_PER_RUN (default 100)
  rotation.leaseSeconds          KMS_ROTATION_LEASE_SECONDS (default 300)
  rotation.maxHistory            KMS_ROTATION_MAX_HISTORY: runs kept (default 50)

Resource budgets (config file limits section, or the variable; 0 turns one off;
docs/limits.md says what a client gets when it reaches one):
${budgetsHelp()}

Key protection: by default a software master key in DIR/master.key (not an HSM).
With an hsm section (config file or KMS_HSM_* variables) key material is sealed
with AES-256-GCM by a key-encryption key generated inside a PKCS#11 token
(sensitive, non-extractable, label kms-kek-*), made on the first start:
  KMS_HSM_MODULE        PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)
  KMS_HSM_TOKEN_LABEL   token label (or KMS_HSM_SLOT, the slot id)
  KMS_HSM_PIN           the user PIN, unless hsm.pin, hsm.pinFile (KMS_HSM_PIN_FILE)
                        or hsm.pinEnv (KMS_HSM_PIN_ENV, another variable's name) is set
  KMS_HSM_MAX_SESSIONS  session pool cap (default 8; the token's limit applies too)
  KMS_HSM_REFRESH_INTERVAL_MS  hsm.refreshIntervalMs: least time between two re-reads
                        of the token's objects after a key lookup missed (a key another
                        node made; default 1000, 0 never, at most 3600000)
  KMS_HSM_KEK_LABEL     the KEK's label for a new folder (or a legacy folder's current
                        KEK); after that DIR/custody.json names the folder's keys

Connection limits (limits.*; docs/connections.md), each also an environment variable:
  maxConnections          established connections (KMS_MAX_CONNECTIONS; default 1024)
  maxHandshakes           connections still in the TLS handshake, a budget of their own
                          (KMS_MAX_HANDSHAKES; default 128)
  maxHandshakesPerAddress of those, from one client address
                          (KMS_MAX_HANDSHAKES_PER_ADDRESS; default 16)
  handshakeTimeoutMs      whole TLS handshake, from the TCP accept
                          (KMS_HANDSHAKE_TIMEOUT_MS; default 10000)
  requestTimeoutMs        whole request, from its first byte (KMS_REQUEST_TIMEOUT_MS;
                          default 30000)
  idleTimeoutMs           no traffic at all (KMS_IDLE_TIMEOUT_MS; default 300000)
  tlsTicketKeyRotationMs  TLS session resumption: ticket key replaced this often, 0 = off
                          (KMS_TLS_TICKET_KEY_ROTATION_MS; default 3600000)

  -h, --help         this help

Asynchronous operations (config section async; docs/async-and-s2c.md): a client that
allows it (Asynchronous Indicator) gets Operation Pending, then Poll / Cancel:
  KMS_ASYNC_PENDING_AFTER_MS          async.pendingAfterMs: an eligible item not done by
                                      then is answered Pending (300; 0 = at once)
  KMS_ASYNC_OPERATIONS                async.operations: eligible operations, comma list
                                      (CreateKeyPair, ReKeyKeyPair, Certify, ReCertify,
                                      DeriveKey, split keys, Locate, crypto)
  KMS_ASYNC_MAX_PENDING_PER_IDENTITY  async.maxPendingPerIdentity: results held per
                                      client identity (64)
  KMS_ASYNC_MAX_PENDING               async.maxPending: results held in total (4096)
  KMS_ASYNC_RESULT_TTL_MS             async.resultTtlMs: an unpolled result is
                                      forgotten after (600000)

Server-to-client Notify / Put (config section serverToClient; docs/async-and-s2c.md): to a
2.x connection that sent Set Endpoint Role Client, and to serverToClient.endpoints
[{identity, host, port, version, ca, cert, key, servername}] (config file only; any version):
  KMS_S2C_ENABLED                     serverToClient.enabled (true)
  KMS_S2C_MAX_QUEUE                   serverToClient.maxQueue: events queued per
                                      subscriber, more are dropped (1000)
  KMS_S2C_RESPONSE_TIMEOUT_MS         serverToClient.responseTimeoutMs (10000)
  KMS_S2C_MAX_ATTEMPTS                serverToClient.maxAttempts (3)
  KMS_S2C_RETRY_BASE_MS               serverToClient.retryBaseMs: first retry delay,
                                      doubled each attempt (500)

${consoleHelp()}

${storePoolHelp()}

${recordCacheHelp()}

Crypto policy (config section cryptoPolicy, src/policy/; a refusal names its setting).
For every key, generated or given (Register, Import, Re-key, Derive Key) and each
protecting use (Encrypt, Sign, wrap, MAC):
  KMS_CRYPTO_RSA_MIN_BITS             rsaMinBits: smallest RSA modulus (2048; 3072, 4096)
  KMS_CRYPTO_RSA_MIN_PUBLIC_EXPONENT  rsaMinPublicExponent: smallest RSA e (65537)
  KMS_CRYPTO_HMAC_MIN_BITS            hmacMinBits: smallest HMAC key (112)
  KMS_CRYPTO_PBKDF2_MIN_ITERATIONS    pbkdf2MinIterations: Derive Key PBKDF2 (1000)
  KMS_CRYPTO_PBKDF2_MIN_SALT_BYTES    pbkdf2MinSaltBytes: Derive Key PBKDF2 salt (16)
  KMS_CRYPTO_LEGACY_KEYS              legacyKeys: accept client keys the above refuse (false)
  KMS_CRYPTO_TRIPLE_DES, KMS_CRYPTO_SHA1_SIGNATURES: tripleDes, sha1Signatures (false);
  ecCurves (256, 384, 521) and aesModes (CBC, ECB, CTR, GCM, XTS): config file only.
  Single DES is never accepted.

${clientsHelp()}

Precedence: defaults < config file < environment < flags.
Exit codes: 0 stopped cleanly, 2 bad configuration, 3 could not start (port, files,
folder modes), 6 key custody: the configured protector is not the one the data folder
is sealed under, or a key it recorded is missing (docs/custody.md).`;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the KMIP server (mutual TLS, port 5696)',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    let values: Record<string, string | undefined>;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: Object.fromEntries(
          ['host', 'port', 'https-port', 'data-dir', 'store', 'cert', 'key', 'ca', 'identity', 'log-level', 'log-format', 'log-file', 'config', 'audit-anchor'].map((k) => [
            k,
            { type: 'string' as const },
          ]),
        ),
      }) as { values: Record<string, string | undefined> });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    let config;
    try {
      config = loadConfig({
        env: process.env,
        flags: {
          host: values.host,
          port: values.port,
          httpsPort: values['https-port'],
          logFile: values['log-file'],
          dataDir: values['data-dir'],
          store: values.store,
          cert: values.cert,
          key: values.key,
          ca: values.ca,
          identity: values.identity,
          logLevel: values['log-level'],
          logFormat: values['log-format'],
          config: values.config,
          auditAnchorFile: values['audit-anchor'],
        },
      });
    } catch (e) {
      if (e instanceof ConfigError) {
        io.stderr.write(`kms serve: ${e.message}\n`);
        return ExitCode.Usage;
      }
      throw e;
    }
    // Files the server makes later (LevelDB tables, logs) are private too: folders 0700, files 0600.
    process.umask(0o077);
    // Signals are handled from the start: one that arrives while starting stops the server
    // as soon as it is up.
    let signalled: string | undefined;
    let wake: (() => void) | undefined;
    const onSignal = (signal: string) => {
      signalled ??= signal;
      wake?.();
    };
    const onTerm = () => onSignal('SIGTERM');
    const onInt = () => onSignal('SIGINT');
    const output = makeLogOutput(config);
    let running: Awaited<ReturnType<typeof startKms>> | undefined;
    // SIGHUP: reopen the log file, and reload the server certificate, key and CA (src/clients/tls-reload.ts).
    const onHup = () => {
      output.reopen?.();
      running?.reloadTls().catch((e: unknown) => output.log.error({ err: e }, 'TLS certificate reload refused: the previous certificate stays in use'));
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', onHup);
    try {
      let kms;
      try {
        kms = await startKms(config, { log: output.log, configFile: values.config ?? (process.env.KMS_CONFIG || undefined) });
        running = kms;
      } catch (e) {
        io.stderr.write(`kms serve: cannot start: ${(e as Error).message}\n`);
        return e instanceof CustodyError ? ExitCode.Custody : ExitCode.Io;
      }
      if (signalled === undefined) await new Promise<void>((resolve) => (wake = resolve));
      kms.services.log.info({ signal: signalled }, 'stopping: no new connections, finishing requests in flight');
      await kms.close();
    } finally {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('SIGHUP', onHup);
      output.log.flush();
    }
    return ExitCode.Ok;
  },
};
