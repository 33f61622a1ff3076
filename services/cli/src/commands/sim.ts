import { runSimCli } from '@switchyard/simulator';
import type { Command } from '../context.ts';

/** `switchyard sim --farm F [--speed N] ...`: the farm simulator (see docs/simulator.md). */
export const sim: Command = (args, ctx) => runSimCli(args, ctx);
