// `switchyard worker [--farm F] [--concurrency N] [--metrics-port N] [--sim-url URL | --cluster]`: serves every job of the
// catalog until SIGTERM or SIGINT, then finishes running jobs and exits (see docs/worker.md).
import { loadFarm } from '@switchyard/simulator';
import { toSimHost } from '@switchyard/simulator';
import { DEFAULT_CREDENTIALS_DIR, fileCredentialsResolver, startWorkerService } from '@switchyard/worker';
import { FACTORY_CREDENTIALS } from '@switchyard/miners';
import type { MinerDriverName } from '@switchyard/domain';
import { parseCommandArgs, UsageError, type Command } from '../context.ts';
import { clusterMode } from './cluster-mode.ts';
import { metricsEndpoint } from './inputs.ts';

export const workerCommand: Command = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    {
      farm: { type: 'string' },
      concurrency: { type: 'string' },
      'sim-url': { type: 'string' },
      cluster: { type: 'boolean' },
      'metrics-port': { type: 'string' },
    },
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
  // kube.action drives the simulator's GPU nodes when its API is given.
  const simUrl = values['sim-url'] ?? ctx.env.SIM_URL;
  if (simUrl !== undefined && !/^https?:\/\/[^/]/.test(simUrl))
    throw new UsageError(`--sim-url (or SIM_URL) must be an http(s) URL (got "${simUrl}")`);
  const farmFile = values.farm ?? ctx.env.FARM_FILE ?? 'examples/farm.yaml';
  // In a cluster: the farm is the switchyard.io resources, kube.action moves Kubernetes nodes,
  // and the fence reads the controller's Lease.
  const kube = values.cluster ? clusterMode(ctx.env) : undefined;
  const farm = kube ? await kube.farm() : await loadFarm(farmFile);
  if (kube && simUrl !== undefined) throw new UsageError('--cluster and --sim-url exclude each other');
  const sim = ctx.env.SIM_ADDRESSES === 'true';
  const portOffset = Number(ctx.env.SIM_PORT_OFFSET ?? 0);
  const log = (level: string) => (obj: object, msg: string) =>
    (level === 'info' ? ctx.stdout : ctx.stderr).write(`${level} ${msg} ${JSON.stringify(obj)}\n`);
  const metrics = await metricsEndpoint(values['metrics-port'], ctx.env, ctx.stdout);
  const service = await startWorkerService({
    metrics: metrics.registry,
    redisUrl,
    farm,
    databaseUrl: ctx.env.DATABASE_URL,
    concurrency,
    mapHost: sim ? toSimHost : undefined,
    portOffset: Number.isInteger(portOffset) && portOffset > 0 ? portOffset : undefined,
    simUrl,
    ...(kube && { clusterDriver: kube.driver(farm), lease: kube.leaseReader() }),
    // The simulated firmware accepts each family's factory credentials; real miners get theirs
    // from the Secret-style directory (CREDENTIALS_DIR, default /etc/switchyard/credentials).
    resolveCredentials: sim
      ? async (_ref: string, driver: MinerDriverName) => FACTORY_CREDENTIALS[driver]
      : fileCredentialsResolver(ctx.env.CREDENTIALS_DIR ?? DEFAULT_CREDENTIALS_DIR),
    evictionCheck: ctx.env.REDIS_EVICTION_CHECK === 'warn' ? 'warn' : 'refuse',
    handleSignals: false,
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
  });
  ctx.stdout.write(
    `worker serving every job for ${farmFile}${sim ? ' (simulator addresses)' : ''}` +
      `${simUrl ? '; GPU nodes through the simulator' : ''}; SIGTERM to stop\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      ctx.stdout.write(`${sig}: finishing running jobs\n`);
      void service
        .close()
        .then(() => metrics.close())
        .finally(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
};
