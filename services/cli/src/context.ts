import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CliContext {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export type Command = (args: string[], ctx: CliContext) => Promise<number>;

export class UsageError extends Error {}

/** parseArgs that turns its TypeErrors into usage errors with the option's name. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  allowPositionals: boolean,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
