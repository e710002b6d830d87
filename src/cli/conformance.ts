/**
 * `kms conformance`: replay the OASIS KMIP test cases against the server and report per
 * version and profile. The runner lives in conformance/ (also `npm run conformance`), outside
 * src/: src/ never imports it. It is loaded at run time from where the build puts it
 * (dist/conformance/ beside dist/src/; conformance/*.ts when src/ runs under a TypeScript
 * loader such as vitest), and the command is absent where it is not shipped (the published
 * package has no conformance/).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CliIo, Command } from './command.js';
import { UsageError } from './exit-codes.js';

/** What src/cli needs of conformance/command.ts (checked against it by test/cli/conformance-command.test.ts). */
export interface ConformanceRunner {
  readonly CONFORMANCE_HELP: string;
  readonly ConformanceUsageError: abstract new (...args: never[]) => Error;
  runConformance(argv: string[], io: Pick<CliIo, 'stdout' | 'stderr'>): Promise<number>;
}

/** Where the runner is: ../../conformance/command.{js,ts} from this file (src/cli or dist/src/cli). */
export function conformanceRunnerUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`../../conformance/command${ext}`, import.meta.url);
}

/** The `kms conformance` command, or undefined where conformance/ is not shipped. */
export async function loadConformanceCommand(url: URL = conformanceRunnerUrl()): Promise<Command | undefined> {
  if (!existsSync(fileURLToPath(url))) return undefined;
  const runner = (await import(url.href)) as ConformanceRunner;
  return {
    name: 'conformance',
    summary: 'replay the OASIS KMIP test cases against the server',
    help: runner.CONFORMANCE_HELP,
    async run(argv: string[], io: CliIo): Promise<number> {
      try {
        return await runner.runConformance(argv, io);
      } catch (e) {
        if (e instanceof runner.ConformanceUsageError) throw new UsageError(e.message);
        throw e;
      }
    },
  };
}
