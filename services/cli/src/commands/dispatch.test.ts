import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { UsageError, type CliContext } from '../context.ts';
import { DISPATCH_COMMANDS, formatDispatch, parseDuration } from './dispatch.ts';

function ctx(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => out.push(c.toString()));
  stderr.on('data', (c: Buffer) => err.push(c.toString()));
  const c: CliContext = { env, stdout, stderr };
  return { c, out: () => out.join(''), err: () => err.join('') };
}

const run = (name: string, args: string[], env: Record<string, string> = {}) =>
  DISPATCH_COMMANDS[name]!(args, ctx(env).c);

describe('parseDuration', () => {
  it.each([
    ['900', 900],
    ['90s', 90],
    ['15m', 900],
    ['2h', 7200],
    ['1h30m', 5400],
    ['1h0m30s', 3630],
  ])('%s is %d s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '15 minutes', '1.5h', 'm', '30s15m', '-60'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(UsageError);
  });
});

describe('dispatch usage errors', () => {
  it.each([
    ['dispatch create', ['--cap-kw', '1', '--curtail-by-kw', '1', '--duration', '60'], /exactly one of/],
    ['dispatch create', ['--duration', '60'], /exactly one of/],
    ['dispatch create', ['--cap-kw', '1'], /--duration is required/],
    ['dispatch create', ['--cap-kw', 'lots', '--duration', '60'], /--cap-kw must be a positive number/],
    ['dispatch create', ['--curtail-by-kw', '0', '--duration', '60'], /--curtail-by-kw must be a positive/],
    ['dispatch create', ['--cap-kw', '1', '--duration', '15 minutes'], /--duration must be seconds/],
    ['dispatch create', ['--cap-kw', '1', '--duration', '60', 'extra'], /unexpected argument "extra"/],
    ['dispatch create', ['--cap', '1'], /Unknown option '--cap'/],
    ['dispatch show', [], /expects one dispatch id/],
    ['dispatch cancel', ['a', 'b'], /expects one dispatch id/],
    ['dispatch list', ['--api', 'ftp://x'], /--api must be an http or https URL/],
    ['dispatch list', ['--api', 'not a url'], /--api must be a URL/],
    ['dispatch list', ['--api-key', ''], /--api-key must not be empty/],
    ['dispatch list', ['--api-key', 'sy_a b'], /must not contain spaces/],
  ])('%s %j', async (name, args, message) => {
    await expect(run(name, args)).rejects.toThrow(message);
    await expect(run(name, args)).rejects.toBeInstanceOf(UsageError);
  });

  it('refuses a bad SWITCHYARD_API_URL as it would --api', async () => {
    await expect(run('dispatch list', [], { SWITCHYARD_API_URL: 'nope' })).rejects.toThrow(
      /--api must be a URL/,
    );
  });

  it('prints its usage for `dispatch`, `dispatch help` and an unknown subcommand', async () => {
    const none = ctx();
    expect(await DISPATCH_COMMANDS.dispatch!([], none.c)).toBe(2);
    expect(none.err()).toContain('expects a subcommand');
    const help = ctx();
    expect(await DISPATCH_COMMANDS.dispatch!(['help'], help.c)).toBe(0);
    expect(help.out()).toContain('switchyard dispatch create (--cap-kw N | --curtail-by-kw N)');
    const bad = ctx();
    expect(await DISPATCH_COMMANDS.dispatch!(['launch'], bad.c)).toBe(2);
    expect(bad.err()).toContain('unknown subcommand "launch"');
  });
});

describe('formatDispatch', () => {
  it('shows a curtail-by with its baseline and the performance so far', () => {
    const text = formatDispatch({
      id: 'd-1',
      site: 'west-1',
      kind: 'curtail-by',
      kw: 5000,
      capKw: 40_000,
      baselineKw: 45_000,
      brokerId: null,
      state: 'acknowledged',
      startsAt: '2026-07-01T17:00:00.000Z',
      endsAt: '2026-07-01T17:15:00.000Z',
      durationSeconds: 900,
      receivedAt: '2026-07-01T16:59:59.000Z',
      acknowledgedAt: '2026-07-01T17:00:00.500Z',
      expectedKw: 39_500,
      performance: {
        capKw: 40_000,
        baselineKw: 45_000,
        maxKw: 44_000,
        meanKw: 41_000.04,
        compliantSamples: 3,
        totalSamples: 4,
        compliance: 0.75,
        firstCompliantAt: '2026-07-01T17:00:30.000Z',
        energyOverCapKwh: 33.333,
      },
      notified: true,
    });
    expect(text.split('\n')).toEqual([
      'dispatch d-1',
      '  state        acknowledged',
      '  site         west-1',
      '  cap          40,000 kW (curtail by 5,000 kW from a baseline of 45,000 kW)',
      '  window       2026-07-01T17:00:00.000Z → 2026-07-01T17:15:00.000Z (900 s)',
      '  received     2026-07-01T16:59:59.000Z',
      '  acknowledged 2026-07-01T17:00:00.500Z, expecting 39,500 kW',
      '  performance  4 samples, 75 % at or under the cap, max 44,000 kW, mean 41,000 kW, 33.3 kWh over the cap, first under the cap at 2026-07-01T17:00:30.000Z',
      '  controller   notified',
    ]);
  });
});
