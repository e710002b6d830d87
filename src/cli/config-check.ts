/**
 * `kms config check`: load the configuration exactly as `kms serve` would (defaults, config
 * file, KMS_* environment) and check what can be checked without starting: every key and
 * type (the loader is strict), the TLS files (readable PEM, the key matches the certificate,
 * the certificate current and chaining to the CA), the HSM module file, the metrics token
 * file, and the data folder. Prints the effective settings (never a PIN or token).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, loadConfig, type KmsConfig } from '../config/config.js';
import { parseCli } from './args.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms config check [--config FILE]

Validate a configuration without starting the server: the config file (KMS_CONFIG) and
the KMS_* environment are read exactly as 'kms serve' reads them (an unknown key or a
wrong type is an error), then the files it names are checked: the server certificate,
key and CA (readable PEM, the key matches the certificate, the certificate is current and
issued by the CA), the PKCS#11 module, the metrics token file, and that the data folder
is writable. Prints the effective settings (secrets left out).

Exit codes: 0 the configuration is good, 2 it is not (each problem is printed).`;

/** Problems with the files a loaded configuration names (empty: none). */
export function checkConfigFiles(config: KmsConfig, now = Date.now()): string[] {
  const problems: string[] = [];
  const read = (what: string, file: string | undefined): Buffer | undefined => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      problems.push(`${what} ${file}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const certPem = read('cert', config.cert);
  const keyPem = read('key', config.key);
  const caPem = read('ca', config.ca);
  let cert: X509Certificate | undefined;
  let ca: X509Certificate | undefined;
  try {
    if (certPem) cert = new X509Certificate(certPem);
  } catch (e) {
    problems.push(`cert ${config.cert}: not a PEM certificate (${(e as Error).message})`);
  }
  try {
    if (caPem) ca = new X509Certificate(caPem);
  } catch (e) {
    problems.push(`ca ${config.ca}: not a PEM certificate (${(e as Error).message})`);
  }
  if (keyPem && cert) {
    try {
      if (!cert.checkPrivateKey(createPrivateKey(keyPem))) problems.push(`key ${config.key} does not belong to the certificate ${config.cert}`);
    } catch (e) {
      problems.push(`key ${config.key}: not a usable private key (${(e as Error).message})`);
    }
  }
  if (cert) {
    if (Date.parse(cert.validTo) < now) problems.push(`cert ${config.cert} expired on ${cert.validTo}`);
    if (Date.parse(cert.validFrom) > now) problems.push(`cert ${config.cert} is not valid before ${cert.validFrom}`);
    if (ca && !cert.checkIssued(ca)) problems.push(`cert ${config.cert} was not issued by the CA in ${config.ca}`);
  }
  if (config.hsm && !existsSync(config.hsm.module)) problems.push(`hsm.module ${config.hsm.module}: no such file`);
  if (config.hsm?.pinFile) read('hsm.pinFile', config.hsm.pinFile);
  if (config.metrics?.access === 'token') {
    const t = read('metrics.tokenFile', config.metrics.tokenFile);
    if (t && t.toString('utf8').trim().length < 16) problems.push(`metrics.tokenFile ${config.metrics.tokenFile}: the token must be at least 16 characters`);
  }
  // The data folder: writable if it exists, else its parent must be.
  const dir = existsSync(config.dataDir) ? config.dataDir : dirname(config.dataDir);
  try {
    if (!statSync(dir).isDirectory()) problems.push(`dataDir ${config.dataDir}: ${dir} is not a folder`);
    else accessSync(dir, constants.W_OK);
  } catch (e) {
    problems.push(`dataDir ${config.dataDir}: ${(e as Error).message}`);
  }
  if (config.logFile) {
    const logDir = dirname(config.logFile);
    try {
      accessSync(existsSync(config.logFile) ? config.logFile : logDir, constants.W_OK);
    } catch (e) {
      problems.push(`logFile ${config.logFile}: ${(e as Error).message}`);
    }
  }
  return problems;
}

function summary(c: KmsConfig): string {
  const https = c.httpsPort === 'ephemeral' ? 'any free port' : c.httpsPort === 0 || c.httpsPort === undefined ? 'off' : String(c.httpsPort);
  return [
    `KMIP:      ${c.host}:${c.port}`,
    `HTTPS:     ${https}`,
    `data:      ${c.dataDir}`,
    `TLS:       ${c.cert ? `${c.cert}, ${c.key}, CA ${c.ca}` : 'development certificates in the data folder'}`,
    `identity:  ${c.identity}`,
    `protector: ${c.hsm ? `PKCS#11 ${c.hsm.module} (${c.hsm.tokenLabel !== undefined ? `token ${c.hsm.tokenLabel}` : `slot ${c.hsm.slot}`})` : 'software master key'}`,
    `metrics:   ${c.metrics?.access ?? 'loopback'}`,
    `log:       ${c.logLevel}, ${c.logFile ? `file ${c.logFile}` : `stdout (${c.logFormat})`}`,
  ].join('\n');
}

export const configCommand: Command = {
  name: 'config',
  summary: 'check a configuration without starting (kms config check)',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCli(argv, { config: { type: 'string' } } as const);
    if (positionals[0] !== 'check' || positionals.length !== 1) throw new UsageError('usage: kms config check [--config FILE]');
    let config: KmsConfig;
    try {
      config = loadConfig({ env: process.env, flags: { config: values.config } });
    } catch (e) {
      if (e instanceof ConfigError) {
        io.stderr.write(`kms config check: ${e.message}\n`);
        return ExitCode.Usage;
      }
      throw e;
    }
    const problems = checkConfigFiles(config);
    io.stdout.write(summary(config) + '\n');
    if (problems.length > 0) {
      for (const p of problems) io.stderr.write(`kms config check: ${p}\n`);
      return ExitCode.Usage;
    }
    io.stdout.write('configuration OK\n');
    return ExitCode.Ok;
  },
};
