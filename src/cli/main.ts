#!/usr/bin/env node
/** The `kms` command: one entry point, one module per subcommand. */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CliIo, Command } from './command.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { auditCommand } from './audit.js';
import { benchCommand } from './bench.js';
import { certsCommand } from './certs.js';
import { hsmCommand } from './hsm.js';
import { keysCommand } from './keys.js';
import { serveCommand } from './serve.js';
import { ttlvCommand } from './ttlv.js';
import { initCommand } from './init.js';
import { backupCommand } from './backup.js';
import { restoreCommand } from './restore.js';
import { statusCommand } from './status.js';
import { configCommand } from './config-check.js';
import { protectorCommand } from './protector.js';
import { recoveryCommand } from './recovery.js';
import { loadConformanceCommand } from './conformance.js';
import { adminCommand } from './admin.js';
import { storeCommand } from './store.js';

export type { CliIo, Command } from './command.js';

const COMMANDS: readonly Command[] = [
  serveCommand,
  statusCommand,
  configCommand,
  initCommand,
  certsCommand,
  backupCommand,
  restoreCommand,
  storeCommand,
  recoveryCommand,
  adminCommand,
  auditCommand,
  hsmCommand,
  protectorCommand,
  keysCommand,
  ttlvCommand,
  benchCommand,
  ...(await loadConformanceCommand().then((c) => (c ? [c] : []))),
]; // conformance/ is not in the published package

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'kms: a KMIP key management server and its tools',
    '',
    'Usage: kms <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show help (also: kms <command> --help)',
    '  -v, --version  show the version',
    '',
    `Exit codes: ${ExitCode.Ok} ok, ${ExitCode.InvalidInput} invalid input, ${ExitCode.Usage} usage error, ${ExitCode.Io} I/O error, ${ExitCode.Refused} refused, ${ExitCode.NotFound} not found, ${ExitCode.Custody} key custody (docs/custody.md).`,
  ].join('\n');
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const topic = first === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write((topic ? topic.help : mainHelp()) + '\n');
    return first === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (first === '-v' || first === '--version') {
    io.stdout.write(version() + '\n');
    return ExitCode.Ok;
  }
  const cmd = COMMANDS.find((c) => c.name === first);
  if (!cmd) {
    io.stderr.write(`kms: unknown command '${first}'\n\n${mainHelp()}\n`);
    return ExitCode.Usage;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.stdout.write(cmd.help + '\n');
    return ExitCode.Ok;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`kms ${cmd.name}: ${e.message}\n(see kms ${cmd.name} --help)\n`);
      return ExitCode.Usage;
    }
    throw e;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`kms: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
