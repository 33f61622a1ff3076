import { apiEnvSchema, parseEnv } from '@switchyard/config';
import { startApi } from '@switchyard/api';
import { createLogger } from '@switchyard/telemetry';
import { parseCommandArgs, UsageError, type Command } from '../context.ts';
import { compressPolicyTime, startFarmRun, type RunningFarm } from './farm-run.ts';
import { intOption } from './inputs.ts';

/** `switchyard start`: runs the system in one process until SIGTERM or SIGINT. */
export const start: Command = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    {
      farm: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'api-only': { type: 'boolean' },
      'replay-speed': { type: 'string' },
      'time-compression': { type: 'string' },
      interval: { type: 'string' },
      'sim-port': { type: 'string' },
    },
    false,
  );
  const replaySpeed = Number(values['replay-speed'] ?? 7200);
  const compression = Number(values['time-compression'] ?? 20);
  if (!(replaySpeed > 0)) throw new UsageError('--replay-speed must be a positive number');
  if (!(compression >= 1 && compression <= 3600))
    throw new UsageError('--time-compression must be a number from 1 to 3600');
  const intervalOption = values.interval === undefined ? undefined : Number(values.interval);
  if (
    intervalOption !== undefined &&
    (!Number.isInteger(intervalOption) || intervalOption < 5 || intervalOption > 3600)
  ) {
    throw new UsageError('--interval must be whole seconds from 5 to 3600');
  }
  const simPort = intOption('sim-port', values['sim-port'], 0, 65_535) ?? 9090;
  const env = parseEnv(apiEnvSchema, {
    ...ctx.env,
    ...(values.farm ? { FARM_FILE: values.farm } : {}),
    ...(values.port ? { PORT: values.port } : {}),
    ...(values.host ? { HOST: values.host } : {}),
  });
  const logger = createLogger({ level: env.LOG_LEVEL, pretty: env.LOG_PRETTY, name: 'switchyard' });
  const api = await startApi(env, logger, { bootstrapOperatorKey: !values['api-only'] });
  let farmRun: RunningFarm | undefined;
  let intervalSeconds = 0;
  if (!values['api-only']) {
    try {
      const farm = compressPolicyTime(api.farm, compression);
      const policyInterval = farm.policies[0]?.spec.intervalSeconds ?? 15;
      intervalSeconds = intervalOption ?? Math.max(5, policyInterval);
      farmRun = await startFarmRun({
        farm,
        db: api.db,
        redisUrl: env.REDIS_URL,
        logger,
        historyFile: 'examples/history-synthetic.csv',
        replaySpeed,
        intervalSeconds,
        simHttpPort: simPort,
        metrics: api.metrics,
      });
    } catch (e) {
      await api.close();
      throw e;
    }
  }
  ctx.stdout.write(
    `\nSwitchyard is running.\n  health:    ${api.url}/healthz\n  readiness: ${api.url}/readyz\n  farm:      ${api.url}/api/v1/farm\n` +
      (farmRun
        ? `  plans:     ${api.url}/api/v1/plans/latest (every ${intervalSeconds} s; prices replayed ${replaySpeed}x from examples/history-synthetic.csv; policy clock ${compression}x)\n  dispatch:  switchyard dispatch create --cap-kw 30000 --duration 2m   (a grid dispatch: watch the farm shed)\n  simulator: ${farmRun.simUrl}/sim/power, ${farmRun.simUrl}/sim/miners, ${farmRun.simUrl}/sim/violations\n`
        : '') +
      (api.bootstrapToken
        ? `\nNo operator API key existed, so one was created. Its token is shown this once and never again:\n\n` +
          `  export SWITCHYARD_API_KEY=${api.bootstrapToken}\n\n` +
          `The CLI sends it as Authorization: Bearer; more keys: switchyard keys create --role operator.\n`
        : '') +
      `Press Ctrl-C to stop.\n\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      const force = setTimeout(
        () => {
          logger.error('shutdown took too long; exiting');
          process.exit(1);
        },
        env.SHUTDOWN_GRACE_SECONDS * 1000 + 5000,
      );
      force.unref();
      void (farmRun ? farmRun.close() : Promise.resolve()).then(() => api.close()).then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('stopped');
  return 0;
};
