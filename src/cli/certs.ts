/**
 * `kms certs`: the client-certificate lifecycle (src/clients/, docs/clients-lifecycle.md).
 * issue, sign, list, revoke and expiring work on a running server through its admin socket,
 * and on a stopped data folder directly; reload (the server certificate) needs a running server.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KmsConfig } from '../config/config.js';
import { adminSocketPath } from '../folder/layout.js';
import { askServer, type AdminAnswer } from '../clients/admin.js';
import { caPaths, hasFolderCa } from '../clients/ca.js';
import { CLIENT_NAME_RE, newClientKeyPair } from '../clients/certificates.js';
import { isRevocationReason, REVOCATION_REASONS } from '../clients/crl.js';
import { ClientsError } from '../clients/errors.js';
import { openFolderRegistry } from '../clients/offline.js';
import type { ClientCertificate, ClientRegistry, Issued } from '../clients/registry.js';
import type { TlsReloaded } from '../clients/tls-reload.js';
import { cliConfig, parseCli } from './args.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms certs <subcommand> [options]

The client certificates of the data folder's CA (DIR/certs/ca.pem + ca.key): enrol agents,
list them, revoke them, watch their expiry; reload the server certificate.

  issue --client NAME [--days N] [--out DIR] [--force]
        Make a key pair here and a certificate CN=NAME (clientAuth) for it; writes
        NAME.pem and NAME.key (mode 0600) into DIR/certs/clients (or --out). Refused
        (exit 4) when NAME has a valid certificate or its files exist, unless --force:
        the old certificate is then revoked (reason superseded).
  sign --csr FILE --client NAME [--days N] [--out FILE] [--force] [--override-cn]
        Sign a PKCS#10 request (PEM or DER; e.g. vCenter's "make KMS trust vCenter"). Its
        signature must verify, its key be within the crypto policy, its subject CN be
        NAME (or --override-cn: the certificate's subject is CN=NAME), and an extended key
        usage it asks for must include clientAuth. Writes the certificate to --out
        (default DIR/certs/clients/NAME.pem) and prints it.
  list [--json]
        Every certificate recorded: name, subject, fingerprint, not-after, revoked.
  revoke NAME|FINGERPRINT [--reason R]
        Revoke every valid certificate of NAME, or the one with that SHA-256 fingerprint.
        R: ${Object.keys(REVOCATION_REASONS).join(', ')} (default unspecified).
        The next handshake with it fails on every node; the CRL (GET /crl) is regenerated.
  expiring [--days N] [--json]
        Certificates not revoked that expire within N days (default clients.expiryWarningDays, 30).
  reload
        The running server re-reads its certificate, key and CA bundle (as on SIGHUP):
        new connections use them, open ones continue.

Options:
  --data-dir DIR   the data folder (KMS_DATA_DIR; default ./kms-data)
  --config FILE    read the data folder (and the crypto policy, clients section) from the
                   server's config file
  -h, --help       this help

On a running server these go through its admin socket (DIR/admin/kms.sock) and are audited
as "local-operator"; on a stopped folder they open it (audited as the operator).
Exit codes: 0 ok, 1 the CSR or certificate is not acceptable, 2 usage error, 3 no CA, the
folder could not be opened, files not written, or no running server (reload), 4 refused
(the name has a valid certificate: --force; registry full; changed meanwhile), 5 no such
certificate (revoke).`;

const OPTIONS = {
  client: { type: 'string' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  out: { type: 'string' },
  days: { type: 'string' },
  force: { type: 'boolean' },
  csr: { type: 'string' },
  'override-cn': { type: 'boolean' },
  json: { type: 'boolean' },
  reason: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseCli<typeof OPTIONS>>['values'];

const EXIT_OF: Readonly<Record<string, number>> = {
  NO_CA: ExitCode.Io,
  EXISTS: ExitCode.Refused,
  LIMIT: ExitCode.Refused,
  CONFLICT: ExitCode.Refused,
  NOT_FOUND: ExitCode.NotFound,
  BAD_REQUEST: ExitCode.InvalidInput,
};

const SUBS = ['issue', 'sign', 'list', 'revoke', 'expiring', 'reload'] as const;
type Sub = (typeof SUBS)[number];

function operator(): string {
  return `operator (kms certs, uid ${process.getuid?.() ?? '?'})`;
}

function writeAtomic(path: string, data: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function days(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw new UsageError('--days must be a whole number from 1 to 3650');
  return n;
}

function clientName(v: string | undefined): string {
  if (!v || !CLIENT_NAME_RE.test(v) || v === 'ca' || v === 'server') throw new UsageError('--client NAME is required (letters, digits, ".", "_", "-"; at most 64; not "ca" or "server")');
  return v;
}

function table(certs: readonly ClientCertificate[]): string {
  const rows = [
    ['NAME', 'SUBJECT', 'FINGERPRINT (SHA-256)', 'NOT-AFTER', 'REVOKED'],
    ...certs.map((c) => [c.name, c.subject, c.fingerprint, c.notAfter, c.revokedAt ? `${c.revokedAt} (${c.reason ?? 'unspecified'})` : '-']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function expiringTable(certs: readonly ClientCertificate[], now: number): string {
  const rows = [
    ['NAME', 'FINGERPRINT (SHA-256)', 'NOT-AFTER', 'DAYS LEFT'],
    ...certs.map((c) => [c.name, c.fingerprint, c.notAfter, String(Math.floor((Date.parse(c.notAfter) - now) / 86_400_000))]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** Run `online` on the running server, else `offline` on the stopped folder; map errors to exit codes. */
async function run<R>(
  config: KmsConfig,
  io: CliIo,
  sub: Sub,
  online: () => Promise<AdminAnswer<R> | undefined>,
  offline: ((reg: ClientRegistry) => Promise<R>) | undefined,
  write: boolean,
  done: (r: R, where: string) => number,
): Promise<number> {
  const fail = (code: string, message: string): number => {
    io.stderr.write(`kms certs ${sub}: ${message}\n`);
    return EXIT_OF[code] ?? ExitCode.Io;
  };
  let answer: AdminAnswer<R> | undefined;
  try {
    answer = await online();
  } catch (e) {
    return fail('ERROR', `the running server: ${(e as Error).message}`);
  }
  if (answer) return answer.ok ? done(answer.result, 'the running server') : fail(answer.code ?? 'ERROR', answer.error);
  if (!offline) return fail('ERROR', `no running server answers on ${adminSocketPath(config.dataDir)}`);
  let folder;
  try {
    folder = await openFolderRegistry(config, write);
  } catch (e) {
    return fail('ERROR', (e as Error).message);
  }
  try {
    const r = await offline(folder.registry);
    await folder.close();
    return done(r, config.dataDir);
  } catch (e) {
    await folder.close().catch(() => undefined);
    if (e instanceof ClientsError) return fail(e.code, e.message);
    return fail('ERROR', (e as Error).message);
  }
}

export const certsCommand: Command = {
  name: 'certs',
  summary: 'client certificates: issue, sign a CSR, list, revoke, expiring; reload the server certificate',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCli(argv, OPTIONS);
    const sub = positionals[0] as Sub | undefined;
    if (sub === undefined || !SUBS.includes(sub)) throw new UsageError(sub === undefined ? `a subcommand is required: ${SUBS.join(', ')}` : `unknown subcommand '${sub}'`);
    if (positionals.length > (sub === 'revoke' ? 2 : 1)) throw new UsageError(`unexpected argument '${positionals[sub === 'revoke' ? 2 : 1]}'`);
    const config = cliConfig(values);
    const sock = adminSocketPath(config.dataDir);
    switch (sub) {
      case 'issue':
        return issue(config, sock, values, io);
      case 'sign':
        return sign(config, sock, values, io);
      case 'list':
        return run<{ certificates: ClientCertificate[] }>(
          config,
          io,
          sub,
          () => askServer(sock, { op: 'certs-list' }),
          async (reg) => {
            return { certificates: reg.list() };
          },
          false,
          (r) => {
            io.stdout.write(values.json ? JSON.stringify(r.certificates, null, 2) + '\n' : table(r.certificates));
            return ExitCode.Ok;
          },
        );
      case 'expiring': {
        const d = days(values.days);
        return run<{ days: number; certificates: ClientCertificate[] }>(
          config,
          io,
          sub,
          () => askServer(sock, { op: 'certs-expiring', ...(d !== undefined && { days: d }) }),
          async (reg) => {
            const n = d ?? reg.settings.expiryWarningDays;
            return { days: n, certificates: reg.expiring(n) };
          },
          false,
          (r) => {
            if (values.json) io.stdout.write(JSON.stringify(r.certificates, null, 2) + '\n');
            else if (r.certificates.length === 0) io.stdout.write(`no client certificate expires within ${r.days} days\n`);
            else io.stdout.write(`${r.certificates.length} client certificate(s) expire within ${r.days} days:\n${expiringTable(r.certificates, Date.now())}`);
            return ExitCode.Ok;
          },
        );
      }
      case 'revoke': {
        const target = positionals[1];
        if (!target) throw new UsageError('revoke: give a client NAME or a certificate FINGERPRINT');
        const reason = values.reason;
        if (reason !== undefined && !isRevocationReason(reason)) throw new UsageError(`--reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}`);
        return run<{ revoked: ClientCertificate[] }>(
          config,
          io,
          sub,
          () => askServer(sock, { op: 'certs-revoke', target, ...(reason !== undefined && { reason }) }),
          async (reg) => {
            return { revoked: await reg.revoke({ target, ...(reason !== undefined && { reason }), actor: operator() }) };
          },
          true,
          (r, where) => {
            for (const c of r.revoked) io.stdout.write(`revoked ${c.name}: ${c.fingerprint} (serial ${c.serial}, ${c.reason ?? 'unspecified'}) by ${where}\n`);
            return ExitCode.Ok;
          },
        );
      }
      case 'reload':
        return run<TlsReloaded>(
          config,
          io,
          sub,
          () => askServer(sock, { op: 'certs-reload' }),
          undefined,
          false,
          (r) => {
            io.stdout.write(`the running server now presents ${r.subject} (${r.fingerprint}, until ${r.notAfter}) to new connections; ${r.caCertificates} CA certificate(s)\n`);
            return ExitCode.Ok;
          },
        );
    }
  },
};

async function issue(config: KmsConfig, sock: string, values: Values, io: CliIo): Promise<number> {
  const name = clientName(values.client);
  const d = days(values.days);
  if (!hasFolderCa(config.dataDir)) {
    io.stderr.write(`kms certs issue: no CA in ${caPaths(config.dataDir).dir} (start 'kms serve --data-dir ${config.dataDir}' once to make it)\n`);
    return ExitCode.Io;
  }
  const out = resolve(values.out ?? join(caPaths(config.dataDir).dir, 'clients'));
  const certFile = join(out, `${name}.pem`);
  const keyFile = join(out, `${name}.key`);
  if (!values.force && (existsSync(certFile) || existsSync(keyFile))) {
    io.stderr.write(`kms certs issue: ${certFile} or ${keyFile} exists: give --force to replace ${name}'s certificate (the old one is revoked)\n`);
    return ExitCode.Refused;
  }
  // The key pair is made here, of the CA's kind; only the public key goes to the server.
  const caKey = new X509Certificate(readFileSync(caPaths(config.dataDir).cert)).publicKey;
  const keys = newClientKeyPair({ key: caKey });
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const force = values.force === true;
  return run<{ pem: string; record: ClientCertificate; superseded: ClientCertificate[] }>(
    config,
    io,
    'issue',
    () => askServer(sock, { op: 'certs-issue', name, spki, ...(d !== undefined && { days: d }), force }),
    async (reg) => {
      const r: Issued = await reg.issue({ name, publicKey: keys.publicKey, ...(d !== undefined && { days: d }), force, actor: operator() });
      return { pem: r.certificate.pem, record: r.record, superseded: [...r.superseded] };
    },
    true,
    (r) => {
      try {
        writeAtomic(keyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
        writeAtomic(certFile, r.pem, 0o644);
      } catch (e) {
        io.stderr.write(`kms certs issue: the certificate was issued and recorded (${r.record.fingerprint}) but the files could not be written: ${(e as Error).message}\n`);
        return ExitCode.Io;
      }
      io.stdout.write(
        `issued ${name}: ${certFile}\n         key: ${keyFile} (mode 0600)\n          CA: ${caPaths(config.dataDir).cert}\n fingerprint: ${r.record.fingerprint}\n   not after: ${r.record.notAfter}\n`,
      );
      for (const s of r.superseded) io.stdout.write(`  superseded: ${s.fingerprint} (revoked)\n`);
      return ExitCode.Ok;
    },
  );
}

async function sign(config: KmsConfig, sock: string, values: Values, io: CliIo): Promise<number> {
  const name = clientName(values.client);
  const d = days(values.days);
  if (!values.csr) throw new UsageError('sign: --csr FILE is required');
  let csr: string;
  try {
    const raw = readFileSync(values.csr);
    csr = raw.includes('-----BEGIN') ? raw.toString('latin1') : `-----BEGIN CERTIFICATE REQUEST-----\n${raw.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  } catch (e) {
    io.stderr.write(`kms certs sign: cannot read ${values.csr}: ${(e as Error).message}\n`);
    return ExitCode.Io;
  }
  const out = resolve(values.out ?? join(caPaths(config.dataDir).dir, 'clients', `${name}.pem`));
  if (!values.force && existsSync(out)) {
    io.stderr.write(`kms certs sign: ${out} exists: give --force to replace ${name}'s certificate (the old one is revoked)\n`);
    return ExitCode.Refused;
  }
  const force = values.force === true;
  const overrideCn = values['override-cn'] === true;
  return run<{ pem: string; record: ClientCertificate; superseded: ClientCertificate[] }>(
    config,
    io,
    'sign',
    () => askServer(sock, { op: 'certs-sign', name, ...(d !== undefined && { days: d }), force, overrideCn }, [JSON.stringify({ csr })]),
    async (reg) => {
      const r = await reg.sign({ name, csr, ...(d !== undefined && { days: d }), force, overrideCn, actor: operator() });
      return { pem: r.certificate.pem, record: r.record, superseded: [...r.superseded] };
    },
    true,
    (r) => {
      try {
        writeAtomic(out, r.pem, 0o644);
      } catch (e) {
        io.stderr.write(`kms certs sign: the certificate was signed and recorded (${r.record.fingerprint}) but ${out} could not be written: ${(e as Error).message}\n`);
        io.stdout.write(r.pem);
        return ExitCode.Io;
      }
      io.stderr.write(
        `signed ${name}: ${out}\n fingerprint: ${r.record.fingerprint}\n     subject: ${r.record.subject}\n   not after: ${r.record.notAfter}\n          CA: ${caPaths(config.dataDir).cert}\n`,
      );
      for (const s of r.superseded) io.stderr.write(`  superseded: ${s.fingerprint} (revoked)\n`);
      io.stdout.write(r.pem);
      return ExitCode.Ok;
    },
  );
}
