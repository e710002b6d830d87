/**
 * What a `kms` subcommand is: its name, its help and its run function, and the streams it
 * talks through. Subcommands import this, never main.ts (which imports them).
 */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

export interface CliIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}
