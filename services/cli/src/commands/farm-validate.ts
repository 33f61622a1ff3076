import { readFile } from 'node:fs/promises';
import { formatIssue, parseFarmYaml } from '@switchyard/domain';
import { endpointCount } from '@switchyard/domain';
import { parseCommandArgs, UsageError, type Command } from '../context.ts';

/** `switchyard farm validate <file> [--json]`: prints every problem; exit 1 on any. */
export const farmValidate: Command = async (args, ctx) => {
  const { positionals, values } = parseCommandArgs(args, { json: { type: 'boolean' } }, true);
  if (positionals.length !== 1)
    throw new UsageError('expects exactly one file: switchyard farm validate <file>');
  const file = positionals[0] as string;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    ctx.stderr.write(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
    return 1;
  }
  const r = parseFarmYaml(text);
  if (values.json) {
    ctx.stdout.write(
      `${JSON.stringify(r.ok ? { valid: true } : { valid: false, issues: r.issues }, null, 2)}\n`,
    );
    return r.ok ? 0 : 1;
  }
  if (!r.ok) {
    for (const i of r.issues) ctx.stderr.write(`${formatIssue(i, file)}\n`);
    ctx.stderr.write(`${file}: ${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  const { farm } = r;
  const miners = farm.fleets.reduce((n, f) => n + endpointCount(f.spec), 0);
  ctx.stdout.write(
    `${file}: valid — ${farm.sites.length} site(s), ${farm.fleets.length} miner fleet(s) with ${miners} miners, ` +
      `${farm.pools.length} GPU pool(s), ${farm.policies.length} policy(ies)\n`,
  );
  return 0;
};
