#!/usr/bin/env node
// The simulator's command line: node services/simulator/src/main.ts --farm examples/farm.yaml
// (options in cli.ts; the same command is `switchyard sim`).
import { runSimCli } from './cli.ts';

process.exitCode = await runSimCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});
