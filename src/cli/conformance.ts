/**
 * `kms conformance`: replay the OASIS KMIP test cases against the server and report per
 * version and profile. The runner lives in conformance/ (also `npm run conformance`).
 */
import { CONFORMANCE_HELP, ConformanceUsageError, runConformance } from '../../conformance/command.js';
import { UsageError } from './exit-codes.js';
import type { CliIo, Command } from './main.js';

export const conformanceCommand: Command = {
  name: 'conformance',
  summary: 'replay the OASIS KMIP test cases against the server',
  help: CONFORMANCE_HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    try {
      return await runConformance(argv, io);
    } catch (e) {
      if (e instanceof ConformanceUsageError) throw new UsageError(e.message);
      throw e;
    }
  },
};
