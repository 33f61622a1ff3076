#!/usr/bin/env node
// The `switchyard` command line. Each command lives in commands/<name>.ts and returns an exit
// code; usage errors exit 2, validation failures 1.
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});
