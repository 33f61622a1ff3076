// `switchyard worker [--farm F] [--concurrency N]`: serves every job of the catalog until
// SIGTERM or SIGINT, then finishes running jobs and exits (see docs/worker.md).
import { loadFarm } from '@switchyard/simulator';
import { toSimHost } from '@switchyard/simulator';
import { startWorkerService } from '@switchyard/worker';
import { parseCommandArgs, UsageError, type Command } from '../context.ts';

export const workerCommand: Command = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    { farm: { type: 'string' }, concurrency: { type: 'string' } },
    false,
  );
  const redisUrl = ctx.env.REDIS_URL;
  if (!redisUrl) throw new UsageError('REDIS_URL is required (a redis:// URL)');
  let concurrency: number | undefined;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024)
      throw new UsageError(
        `--concurrency must be an integer between 1 and 1024 (got "${values.concurrency}")`,
      );
  }
  const farmFile = values.farm ?? ctx.env.FARM_FILE ?? 'examples/farm.yaml';
  const farm = await loadFarm(farmFile);
  const sim = ctx.env.SIM_ADDRESSES === 'true';
  const portOffset = Number(ctx.env.SIM_PORT_OFFSET ?? 0);
  const log = (level: string) => (obj: object, msg: string) =>
    (level === 'info' ? ctx.stdout : ctx.stderr).write(`${level} ${msg} ${JSON.stringify(obj)}\n`);
  const service = await startWorkerService({
    redisUrl,
    farm,
    databaseUrl: ctx.env.DATABASE_URL,
    concurrency,
    mapHost: sim ? toSimHost : undefined,
    portOffset: Number.isInteger(portOffset) && portOffset > 0 ? portOffset : undefined,
    evictionCheck: ctx.env.REDIS_EVICTION_CHECK === 'warn' ? 'warn' : 'refuse',
    handleSignals: false,
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
  });
  ctx.stdout.write(
    `worker serving every job for ${farmFile}${sim ? ' (simulator addresses)' : ''}; SIGTERM to stop\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      ctx.stdout.write(`${sig}: finishing running jobs\n`);
      void service.close().finally(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
};
