/** What the subcommands share: strict flag parsing and loading the config, both as usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, type KmsConfig } from '../config/config.js';
import { UsageError } from './exit-codes.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs (strict; positionals allowed unless `positionals` is false), a bad flag or an
 * unexpected argument reported as a usage error.
 */
export function parseCli<O extends Options>(
  argv: string[],
  options: O,
  opts: { positionals?: boolean } = {},
): ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: opts.positionals ?? true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The configuration from --config / --data-dir and the KMS_* environment; a bad one is a usage error. */
export function cliConfig(values: {
  'data-dir'?: string | boolean | (string | boolean)[];
  config?: string | boolean | (string | boolean)[];
  store?: string | boolean | (string | boolean)[];
}): KmsConfig {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  try {
    return loadConfig({ env: process.env, flags: { dataDir: str(values['data-dir']), config: str(values.config), store: str(values.store) } });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}
