/**
 * `kms admin token create|list|revoke`: bearer tokens for the web console (/ui/) and /metrics,
 * never for KMIP (src/http/ui/tokens.ts). Only each token's SHA-256 is kept, in
 * DATA/console-tokens.json; the token is printed once. A running server picks up changes at
 * its next request (a revoked token stops working at once).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { consoleSettings } from '../config/console.js';
import { createToken, readTokens, revokeToken, TokenError } from '../http/ui/tokens.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms admin token <create|list|revoke> [options]

Console tokens: a bearer token for the web console at /ui/ on the HTTPS port (log in at
/ui/login, or send Authorization: Bearer) and for /metrics; never accepted on KMIP. A token
acts as the identity it was made for, which must be in access.administrators when used.

  create --identity ID [--ttl DURATION] [--name LABEL]
           make a token and print it once (only its SHA-256 is stored). DURATION: 30m,
           8h, 7d (default 8h; at most console.tokenMaxTtlHours, default 2160 = 90 days)
  list     id, name, identity, created, expires, revoked (never the tokens)
  revoke ID
           revoke a token (a running server refuses it from its next request)

Options:
  --data-dir DIR   the server's data folder (KMS_DATA_DIR; default ./kms-data); tokens are
                   kept in DIR/console-tokens.json (mode 0600)
  --config FILE    read the data folder and console settings from the server's config
  --json           list as JSON
  -h, --help       this help

Exit codes: 0 ok, 2 usage error, 3 the token file could not be read or written,
5 no such token (revoke).`;

function parseTtl(s: string): number {
  const m = /^(\d+)([mhd])$/.exec(s);
  if (!m) throw new UsageError('--ttl must be a number and a unit: 30m, 8h, 7d');
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
}

export const adminCommand: Command = {
  name: 'admin',
  summary: 'console tokens for the web console and /metrics (kms admin token create|list|revoke)',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const [group, sub, ...rest] = argv;
    if (group !== 'token') throw new UsageError(group === undefined ? 'give a subcommand: token' : `unknown subcommand '${group}'`);
    let values: Record<string, string | boolean | undefined>;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { identity: { type: 'string' }, ttl: { type: 'string' }, name: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } },
      }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    let config;
    try {
      config = loadConfig({ env: process.env, flags: { dataDir: values['data-dir'] as string | undefined, config: values.config as string | undefined } });
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
    const dataDir = config.dataDir;
    try {
      if (sub === 'create') {
        const identity = values.identity as string | undefined;
        if (!identity || identity.length > 256) throw new UsageError('--identity ID is required: the administrator the token acts as');
        const ttlMs = parseTtl((values.ttl as string | undefined) ?? '8h');
        const maxHours = consoleSettings(config.console).tokenMaxTtlHours;
        if (ttlMs > maxHours * 3_600_000) throw new UsageError(`--ttl is over console.tokenMaxTtlHours (${maxHours} h)`);
        const name = (values.name as string | undefined) ?? identity;
        if (!config.access.administrators.includes(identity))
          io.stderr.write(`kms admin token: warning: ${identity} is not in access.administrators of this configuration; the server refuses the token until it is\n`);
        const { token, stored } = createToken(dataDir, { identity, name, ttlMs });
        io.stderr.write(`token ${stored.id} for ${identity}, expires ${stored.expires}; it is shown only now:\n`);
        io.stdout.write(token + '\n');
        return ExitCode.Ok;
      }
      if (sub === 'list') {
        const tokens = readTokens(dataDir).map(({ sha256: _h, ...t }) => t);
        if (values.json) io.stdout.write(JSON.stringify(tokens, null, 2) + '\n');
        else {
          const now = Date.now();
          io.stdout.write(
            [
              'id            name                 identity             expires                   status',
              ...tokens.map(
                (t) =>
                  `${t.id.padEnd(13)} ${t.name.padEnd(20)} ${t.identity.padEnd(20)} ${t.expires.padEnd(25)} ${t.revoked ? `revoked ${t.revoked}` : Date.parse(t.expires) <= now ? 'expired' : 'current'}`,
              ),
            ].join('\n') + '\n',
          );
        }
        return ExitCode.Ok;
      }
      if (sub === 'revoke') {
        const id = positionals[0];
        if (!id || !/^[0-9a-f]{12}$/.test(id)) throw new UsageError('give the token id to revoke (12 hex digits, from kms admin token list)');
        if (!revokeToken(dataDir, id)) {
          io.stderr.write(`kms admin token: no current token ${id}\n`);
          return ExitCode.NotFound;
        }
        io.stdout.write(`revoked ${id}\n`);
        return ExitCode.Ok;
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if (e instanceof TokenError || (e as NodeJS.ErrnoException).code !== undefined || e instanceof SyntaxError) {
        io.stderr.write(`kms admin token: ${(e as Error).message}\n`);
        return ExitCode.Io;
      }
      throw e;
    }
    throw new UsageError(sub === undefined ? 'give a token subcommand: create, list or revoke' : `unknown token subcommand '${sub}'`);
  },
};
