#!/usr/bin/env node
/** `npm run conformance`: the conformance runner without the rest of the `kms` command. */
import { CONFORMANCE_HELP, ConformanceUsageError, runConformance } from './command.js';

const argv = process.argv.slice(2);
if (argv.includes('-h') || argv.includes('--help')) {
  process.stdout.write(CONFORMANCE_HELP + '\n');
} else {
  runConformance(argv, { stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof ConformanceUsageError) {
        process.stderr.write(`conformance: ${e.message}\n(see npm run conformance -- --help)\n`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`conformance: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
