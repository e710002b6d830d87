/** `kms serve`: run the KMIP server until SIGTERM/SIGINT, then stop cleanly and exit 0. */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { startKms } from '../server/bootstrap.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './main.js';

const HELP = `Usage: kms serve [options]

Run the KMIP server: binary TTLV over mutual TLS.

Options (each also settable by the environment variable shown, or in the config file):
  --host HOST        address to listen on (KMS_HOST; default 127.0.0.1; 0.0.0.0 for all)
  --port PORT        TCP port (KMS_PORT; default 5696)
  --data-dir DIR     data folder: database, master key, development certificates
                     (KMS_DATA_DIR; default ./kms-data)
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
  --config FILE      JSON config file (KMS_CONFIG); keys: host, port, dataDir, cert,
                     key, ca, identity, logLevel, logFormat, limits {maxConnections,
                     handshakeTimeoutMs, idleTimeoutMs, maxMessageBytes, maxDepth,
                     maxItems, maxPipelined}, access {administrators, grants},
                     hsm {module, tokenLabel | slot, pin | pinFile | pinEnv,
                     maxSessions, kekLabel},
                     clientProfiles {default, profiles [{name, identities,
                     getAllAttributes full | pykmip-0.10, omitAttributes,
                     defaultProtocolVersion}]} (docs/client-profiles.md)

Key protection: by default a software master key in DIR/master.key (not an HSM).
With an hsm section (config file or KMS_HSM_* variables) key material is sealed
with AES-256-GCM by a key-encryption key generated inside a PKCS#11 token
(sensitive, non-extractable, label kms-kek-*), made on the first start:
  KMS_HSM_MODULE        PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)
  KMS_HSM_TOKEN_LABEL   token label (or KMS_HSM_SLOT, the slot id)
  KMS_HSM_PIN           the user PIN, unless hsm.pin, hsm.pinFile (KMS_HSM_PIN_FILE)
                        or hsm.pinEnv (KMS_HSM_PIN_ENV, another variable's name) is set
  KMS_HSM_MAX_SESSIONS  session pool cap (default 8; the token's limit applies too)
  KMS_HSM_KEK_LABEL     the KEK's label, when the token holds several kms-kek-* keys
  -h, --help         this help

Precedence: defaults < config file < environment < flags.
Exit codes: 0 stopped cleanly, 2 bad configuration, 3 could not start (port, files).`;

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
          ['host', 'port', 'data-dir', 'cert', 'key', 'ca', 'identity', 'log-level', 'log-format', 'config'].map((k) => [k, { type: 'string' as const }]),
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
          dataDir: values['data-dir'],
          cert: values.cert,
          key: values.key,
          ca: values.ca,
          identity: values.identity,
          logLevel: values['log-level'],
          logFormat: values['log-format'],
          config: values.config,
        },
      });
    } catch (e) {
      if (e instanceof ConfigError) {
        io.stderr.write(`kms serve: ${e.message}\n`);
        return ExitCode.Usage;
      }
      throw e;
    }
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
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    try {
      let kms;
      try {
        kms = await startKms(config);
      } catch (e) {
        io.stderr.write(`kms serve: cannot start: ${(e as Error).message}\n`);
        return ExitCode.Io;
      }
      if (signalled === undefined) await new Promise<void>((resolve) => (wake = resolve));
      kms.services.log.info({ signal: signalled }, 'stopping: no new connections, finishing requests in flight');
      await kms.close();
    } finally {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    }
    return ExitCode.Ok;
  },
};
