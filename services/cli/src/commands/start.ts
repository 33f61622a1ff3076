import { apiEnvSchema, parseEnv } from '@switchyard/config';
import { startApi } from '@switchyard/api';
import { createLogger } from '@switchyard/telemetry';
import { parseCommandArgs, type Command } from '../context.ts';

/** `switchyard start`: runs the system in one process until SIGTERM or SIGINT. */
export const start: Command = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    { farm: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    false,
  );
  const env = parseEnv(apiEnvSchema, {
    ...ctx.env,
    ...(values.farm ? { FARM_FILE: values.farm } : {}),
    ...(values.port ? { PORT: values.port } : {}),
    ...(values.host ? { HOST: values.host } : {}),
  });
  const logger = createLogger({ level: env.LOG_LEVEL, pretty: env.LOG_PRETTY, name: 'switchyard' });
  const api = await startApi(env, logger);
  ctx.stdout.write(
    `\nSwitchyard is running.\n  health:    ${api.url}/healthz\n  readiness: ${api.url}/readyz\n  farm:      ${api.url}/api/v1/farm\nPress Ctrl-C to stop.\n\n`,
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
      void api.close().then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('stopped');
  return 0;
};
