import { ConfigError } from '@switchyard/config';
import { farmValidate } from './commands/farm-validate.ts';
import { migrate } from './commands/migrate.ts';
import { start } from './commands/start.ts';
import { sim } from './commands/sim.ts';
import { MINER_COMMANDS } from './commands/miner.ts';
import { planCommand } from './commands/plan.ts';
import { backtestCommand } from './commands/backtest.ts';
import { workerCommand } from './commands/worker.ts';
import { controllerCommand } from './commands/controller.ts';
import { DISPATCH_COMMANDS } from './commands/dispatch.ts';
import { KEYS_COMMANDS } from './commands/keys.ts';
import { UsageError, type CliContext, type Command } from './context.ts';

const COMMANDS: Record<string, Command> = {
  start,
  // The API alone, for deployments that run the controller and workers as their own processes.
  api: (args, ctx) => start(['--api-only', ...args], ctx),
  migrate,
  'farm validate': farmValidate,
  sim,
  ...MINER_COMMANDS,
  plan: planCommand,
  backtest: backtestCommand,
  worker: workerCommand,
  controller: controllerCommand,
  ...DISPATCH_COMMANDS,
  ...KEYS_COMMANDS,
};

export const USAGE = `Usage: switchyard <command> [options]

Commands:
  start [--farm FILE] [--port N]   run everything on the farm file (standalone mode): API, simulator,
                                   worker, controller; [--api-only] [--interval S] [--replay-speed N]
                                   [--time-compression N] [--sim-port N] (default 9090; 0: any);
                                   Prometheus metrics of all of it at the API's /metrics
  api [--farm FILE] [--port N]     run the API alone (start --api-only); metrics at its /metrics
  migrate                          apply database migrations (DATABASE_URL, or embedded PGlite)
  farm validate <file>             check a farm file; prints every problem, exit 1 on any
  sim --farm FILE [--speed N]      run the farm simulator (every miner on its own 127.x address)
  miner probe <host[:port]>        read one miner [--driver auto|antminer|luxos|braiins|whatsminer] [--json]
  miner sleep|wake <host>          put a miner to sleep or wake it
  miner power <host> <watts>       set a power target (or the nearest control the firmware has)
  miner scan <cidr>                find miners in a block [--concurrency N] [--timeout MS] [--json]
  plan --farm F --signals S.json   dry-run plan with its reasons [--json] [--solver milp|greedy] [--at T]
  backtest --farm F --signals CSV  replay a price history against baselines [--from T] [--to T] [--json]
                                   [--solver greedy|milp] [--strike-n N] [--strike-m M] [--skip-bad-rows]
  worker [--farm F] [--concurrency N] [--sim-url URL | --cluster]  run the job workers (REDIS_URL; SIM_ADDRESSES=true for the simulator; --cluster: GPU nodes and the leader Lease in Kubernetes)
                                   [--sim-url URL]: GPU nodes through the simulator's API (or SIM_URL)
                                   [--metrics-port N]: Prometheus metrics at :N/metrics (or METRICS_PORT)
  controller [--farm F] [--interval S] [--replay-speed N]  run the control loop (REDIS_URL, DATABASE_URL)
                                   [--metrics-port N]: Prometheus metrics at :N/metrics (or METRICS_PORT)
  dispatch create (--cap-kw N | --curtail-by-kw N) --duration D [--site S] [--api URL]
                                   send a grid dispatch to the API (D: 900, 15m, 1h30m; --starts-at T)
  dispatch list [--active] | show <id> | cancel <id>  [--api URL] [--api-key KEY] [--json]
                                   (the key defaults to SWITCHYARD_API_KEY)
  keys create --role ROLE [--broker ID] [--label L] [--expires-at T]
                                   issue an API key in the database (DATABASE_URL or PGLITE_DIR);
                                   prints its token once (ROLE: operator, viewer, compute-broker,
                                   energy-broker)
  keys list [--broker ID] [--active] | revoke <id> | rotate <id>   manage API keys
  brokers create --name N --kind compute|energy | brokers list     manage brokers
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
