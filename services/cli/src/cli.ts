import { ConfigError } from '@switchyard/config';
import { farmValidate } from './commands/farm-validate.ts';
import { migrate } from './commands/migrate.ts';
import { start } from './commands/start.ts';
import { UsageError, type CliContext, type Command } from './context.ts';

const COMMANDS: Record<string, Command> = {
  start,
  migrate,
  'farm validate': farmValidate,
};

export const USAGE = `Usage: switchyard <command> [options]

Commands:
  start [--farm FILE] [--port N]   run the API on the farm file (standalone mode)
  migrate                          apply database migrations (DATABASE_URL, or embedded PGlite)
  farm validate <file>             check a farm file; prints every problem, exit 1 on any
  help                             show this text

Environment variables are listed in the README (Configuration).`;

export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const [first, second] = argv;
  if (!first || first === 'help' || first === '--help' || first === '-h') {
    ctx.stdout.write(`${USAGE}\n`);
    return first ? 0 : 2;
  }
  const two = second !== undefined ? `${first} ${second}` : '';
  const [name, rest] = COMMANDS[two] ? [two, argv.slice(2)] : [first, argv.slice(1)];
  const cmd = COMMANDS[name];
  if (!cmd) {
    ctx.stderr.write(`switchyard: unknown command "${argv.join(' ')}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await cmd(rest, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      ctx.stderr.write(`switchyard ${name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      ctx.stderr.write(`switchyard ${name}: ${e.message}\n`);
      return 2;
    }
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) {
      ctx.stderr.write(`switchyard ${name}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}
