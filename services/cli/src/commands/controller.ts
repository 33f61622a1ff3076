// `switchyard controller [--farm F] [--interval S] [--replay-speed N]`: the control loop
// (snapshot → plan → persist → sequence → dispatch) as its own process, leader-elected in Redis.
import { startControllerService, type ControllerServiceOptions } from '@switchyard/controller';
import { toSimHost } from '@switchyard/simulator';
import { parseHistoryCsv } from '@switchyard/domain';
import {
  buildSignalHub,
  SignalRepository,
  ReplaySource,
  SignalHub,
  signalsConfigFromEnv,
  type StoredPriceSourceOptions,
} from '@switchyard/signals';
import { DEFAULT_RETENTION, openDatabase, type RetentionPolicy } from '@switchyard/db';
import { createLogger } from '@switchyard/telemetry';
import { SimulatorClusterDriver } from '@switchyard/cluster';
import { FACTORY_CREDENTIALS } from '@switchyard/miners';
import { DEFAULT_CREDENTIALS_DIR, fileCredentialsResolver } from '@switchyard/worker';
import type { MinerDriverName } from '@switchyard/domain';
import { UsageError, parseCommandArgs, type Command } from '../context.ts';
import { intOption, loadFarm, metricsEndpoint, readText } from './inputs.ts';
import { clusterMode } from './cluster-mode.ts';

export const CONTROLLER_USAGE = `controller [--farm F] [--site S] [--interval S] [--replay-speed N] [--replay-file CSV] [--sim-url URL] [--greedy] [--poll-every MS] [--lease-ttl MS] [--phase-timeout MS] [--confirm-timeout MS] [--fence-grace MS] [--keep-observations-days N] [--keep-signals-days N] [--keep-deliveries-days N] [--metrics-port N] [--cluster] (REDIS_URL, DATABASE_URL; SIM_ADDRESSES=true, SIM_PORT_OFFSET, SIM_URL for the simulator; --cluster: the farm from the custom resources, GPU nodes and the leader Lease in Kubernetes, POD_NAMESPACE, POD_NAME, LEASE_NAME, GPU_POWER_PROMETHEUS_URL)`;

export const controllerCommand: Command = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    {
      farm: { type: 'string' },
      site: { type: 'string' },
      interval: { type: 'string' },
      'replay-speed': { type: 'string' },
      'replay-file': { type: 'string' },
      'sim-url': { type: 'string' },
      greedy: { type: 'boolean' },
      'poll-every': { type: 'string' },
      'lease-ttl': { type: 'string' },
      'phase-timeout': { type: 'string' },
      'confirm-timeout': { type: 'string' },
      'fence-grace': { type: 'string' },
      'keep-observations-days': { type: 'string' },
      'keep-signals-days': { type: 'string' },
      'keep-deliveries-days': { type: 'string' },
      cluster: { type: 'boolean' },
      'metrics-port': { type: 'string' },
    },
    false,
  );
  const farmFile = values.farm ?? ctx.env.FARM_FILE ?? 'examples/farm.yaml';
  const intervalS = intOption('interval', values.interval, 1, 86_400) ?? 60;
  const speed = values['replay-speed'] === undefined ? undefined : Number(values['replay-speed']);
  if (speed !== undefined && !(speed > 0)) throw new UsageError('--replay-speed must be a positive number');
  const portOffset = Number(ctx.env.SIM_PORT_OFFSET ?? 0);
  if (!(Number.isInteger(portOffset) && portOffset >= 0))
    throw new UsageError('SIM_PORT_OFFSET must be a whole number');
  // In a cluster the farm is the switchyard.io custom resources, not a file.
  const kube = values.cluster ? clusterMode(ctx.env) : undefined;
  const farm = kube ? await kube.farm() : await loadFarm(farmFile, ctx);
  if (!farm) return 1;
  const site = values.site ?? farm.sites[0]?.metadata.name;
  if (!site || !farm.sites.some((s) => s.metadata.name === site))
    throw new UsageError(`site ${site ?? '(none)'} is not in ${kube ? 'the Site resources' : farmFile}`);
  const logger = createLogger({ level: ctx.env.LOG_LEVEL ?? 'info', name: 'switchyard-controller' });

  const prices = await pushedPrices(speed, ctx.env.DATABASE_URL, site);
  const hub = await signalHub(
    values['replay-speed'] === undefined ? undefined : speed,
    values['replay-file'],
    ctx,
    prices.options,
  );
  if (!hub) {
    await prices.close();
    return 1;
  }
  await hub.refresh().catch(() => undefined);
  hub.start(Math.min(intervalS * 1000, 60_000));

  const simUrl = values['sim-url'] ?? ctx.env.SIM_URL;
  if (simUrl !== undefined && !/^https?:\/\/[^/]/.test(simUrl))
    throw new UsageError(`--sim-url (or SIM_URL) must be an http(s) URL (got "${simUrl}")`);
  if (kube && simUrl !== undefined) throw new UsageError('--cluster and --sim-url exclude each other');
  const metrics = await metricsEndpoint(values['metrics-port'], ctx.env, ctx.stdout);
  const common: Omit<ControllerServiceOptions, 'farm'> = {
    metrics: metrics.registry,
    ...serviceOptions(ctx.env, portOffset, logger),
    site,
    signals: hub,
    intervalMs: intervalS * 1000,
    greedy: values.greedy === true,
    ...timingOptions(values),
    retention: retentionOptions(values),
  };
  const controller = kube
    ? await kube.startController(common)
    : await startControllerService({
        ...common,
        farm,
        ...(simUrl !== undefined && { cluster: new SimulatorClusterDriver({ baseUrl: simUrl }) }),
      });
  logger.info({ site, intervalS, epoch: controller.lease.epoch() }, 'controller started');
  ctx.stdout.write(`controller for site ${site} every ${intervalS} s; Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await controller.close();
  await metrics.close();
  await hub.close();
  await prices.close();
  return 0;
};

/**
 * The API's database, where the energy prices brokers push through the API (POST /prices) are
 * kept, for the hub to read; none when prices are replayed or there is no shared database.
 */
async function pushedPrices(
  speed: number | undefined,
  databaseUrl: string | undefined,
  site: string,
): Promise<{ options?: StoredPriceSourceOptions; close: () => Promise<void> }> {
  if (speed !== undefined || !databaseUrl) return { close: async () => {} };
  const db = await openDatabase({ url: databaseUrl, poolMax: 2, applicationName: 'switchyard-signals' });
  return { options: { db: db.db, site }, close: () => db.close() };
}

/**
 * Prices replayed from a history file (with --replay-speed), else the sources SIGNAL_* configures
 * and, given the API's database, the energy prices pushed through the API.
 */
async function signalHub(
  speed: number | undefined,
  replayFile: string | undefined,
  ctx: Parameters<Command>[1],
  storedPrices?: StoredPriceSourceOptions,
): Promise<SignalHub | null> {
  if (speed === undefined)
    // Given the API's database, the readings are stored too: the API's capacity prices, /signals
    // and /status read them there.
    return buildSignalHub(
      signalsConfigFromEnv(ctx.env),
      storedPrices ? { storedPrices, store: new SignalRepository(storedPrices.db) } : {},
    ).hub;
  const file = replayFile ?? 'examples/history-synthetic.csv';
  const text = await readText(file, ctx);
  if (text === null) return null;
  const parsed = parseHistoryCsv(text, { skipBadRows: true });
  if (!parsed.ok) {
    ctx.stderr.write(`${file}: not a price history\n`);
    return null;
  }
  return new SignalHub({
    sources: [{ source: new ReplaySource({ rows: parsed.history.rows, speed }), trusted: true }],
  });
}

/** What every controller takes from the environment: Redis, the database, miner access, logs. */
function serviceOptions(
  env: NodeJS.ProcessEnv,
  portOffset: number,
  logger: ReturnType<typeof createLogger>,
): Pick<
  ControllerServiceOptions,
  | 'redisUrl'
  | 'databaseUrl'
  | 'resolveCredentials'
  | 'mapHost'
  | 'mapPort'
  | 'onCycle'
  | 'onPhase'
  | 'onWarning'
  | 'onPruned'
> {
  const simulated = env.SIM_ADDRESSES === 'true';
  return {
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    databaseUrl: env.DATABASE_URL,
    // The simulated firmware takes each family's factory credentials; real miners' come from the
    // Secret-style directory, as the worker's do.
    resolveCredentials: simulated
      ? async (_ref: string, driver: MinerDriverName) => FACTORY_CREDENTIALS[driver]
      : fileCredentialsResolver(env.CREDENTIALS_DIR ?? DEFAULT_CREDENTIALS_DIR),
    ...(simulated && {
      mapHost: toSimHost,
      mapPort: (p: number) => (p < 1024 ? p + portOffset : p),
    }),
    onCycle: (r) => logger.info({ ...r }, `cycle ${r.outcome}`),
    onPhase: (r) => logger.info({ ...r }, `phase ${r.index} ${r.kind} ${r.status}`),
    onWarning: (m) => logger.warn(m),
    onPruned: (byTable) => logger.info({ pruned: byTable }, 'retention run'),
  };
}

type RetentionFlag = 'keep-observations-days' | 'keep-signals-days' | 'keep-deliveries-days';

/** The retention policy: DEFAULT_RETENTION with the flags given (0 keeps a table's rows forever). */
function retentionOptions(values: Partial<Record<RetentionFlag, string>>): RetentionPolicy {
  const days = (name: RetentionFlag, def: number) => intOption(name, values[name], 0, 36_500) ?? def;
  return {
    observationsDays: days('keep-observations-days', DEFAULT_RETENTION.observationsDays),
    signalsDays: days('keep-signals-days', DEFAULT_RETENTION.signalsDays),
    deliveriesDays: days('keep-deliveries-days', DEFAULT_RETENTION.deliveriesDays),
  };
}

type TimingFlag = 'poll-every' | 'lease-ttl' | 'phase-timeout' | 'confirm-timeout' | 'fence-grace';

/** The controller's timing flags, each a whole number of milliseconds within its bounds. */
function timingOptions(values: Partial<Record<TimingFlag, string>>) {
  const ms = (name: TimingFlag, min: number, max: number) => intOption(name, values[name], min, max);
  const all = {
    pollEveryMs: ms('poll-every', 0, 3_600_000),
    leaseTtlMs: ms('lease-ttl', 500, 600_000),
    phaseTimeoutMs: ms('phase-timeout', 100, 3_600_000),
    confirmTimeoutMs: ms('confirm-timeout', 100, 900_000),
    fenceGraceMs: ms('fence-grace', 0, 600_000),
  };
  // Only the flags given: the service's defaults stand for the others.
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Partial<
    Record<keyof typeof all, number>
  >;
}
