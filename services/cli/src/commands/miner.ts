// `switchyard miner probe|sleep|wake|power|scan`: talk to one miner (or a block of them) directly.
import {
  MINER_DRIVERS,
  findMinerModel,
  intToIpv4,
  parseAddress,
  parseCidr,
  type MinerDriverName,
} from '@switchyard/domain';
import {
  createMinerDriver,
  detectMiner,
  FACTORY_CREDENTIALS,
  forEachLimited,
  MinerError,
  telemetryForError,
  type MinerDriver,
  type MinerTelemetry,
} from '@switchyard/miners';
import { parseCommandArgs, UsageError, type CliContext, type Command } from '../context.ts';

const COMMON = {
  driver: { type: 'string', default: 'auto' },
  json: { type: 'boolean' },
  user: { type: 'string' },
  password: { type: 'string' },
  'web-port': { type: 'string' },
  'v3-port': { type: 'string' },
  timeout: { type: 'string', default: '3000' },
} as const;

interface Common {
  driver?: string | undefined;
  json?: boolean | undefined;
  user?: string | undefined;
  password?: string | undefined;
  'web-port'?: string | undefined;
  'v3-port'?: string | undefined;
  timeout?: string | undefined;
}

function intOption(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer between ${min} and ${max} (got "${v}")`);
  return n;
}

interface Target {
  host: string;
  port: number | undefined;
}

function parseTarget(s: string | undefined): Target {
  if (!s) throw new UsageError('expects a host, e.g. 10.11.0.7 or 10.11.0.7:4028');
  const hasPort = /:\d+$/.test(s);
  const a = parseAddress(s, 4028);
  if (typeof a === 'string') throw new UsageError(a);
  return { host: a.host, port: hasPort ? a.port : undefined };
}

/** Picks the driver: the one named, or the one detection finds (exit 1 when none). */
async function openDriver(t: Target, v: Common, ctx: CliContext): Promise<MinerDriver | null> {
  const timeoutMs = intOption('timeout', v.timeout, 100, 120_000) ?? 3000;
  const webPort = intOption('web-port', v['web-port'], 1, 65535);
  const v3Port = intOption('v3-port', v['v3-port'], 1, 65535);
  const password = v.password ?? ctx.env.SWITCHYARD_MINER_PASSWORD;
  const creds = (d: MinerDriverName) =>
    v.user || password
      ? {
          username: v.user ?? FACTORY_CREDENTIALS[d].username,
          password: password ?? FACTORY_CREDENTIALS[d].password,
        }
      : FACTORY_CREDENTIALS[d];
  let driver: MinerDriverName;
  let model: string | undefined;
  if (!v.driver || v.driver === 'auto') {
    const allCreds = Object.fromEntries(MINER_DRIVERS.map((d) => [d, creds(d)]));
    const found = await detectMiner({
      host: t.host,
      port: t.port,
      webPort,
      v3Port,
      timeoutMs,
      credentials: allCreds,
    });
    if (found.driver === null) {
      ctx.stderr.write(`${t.host}: ${found.reason}\n${found.evidence.map((e) => `  ${e}`).join('\n')}\n`);
      return null;
    }
    driver = found.driver;
    model = found.identity?.model ?? undefined;
  } else if ((MINER_DRIVERS as readonly string[]).includes(v.driver)) {
    driver = v.driver as MinerDriverName;
  } else {
    throw new UsageError(`--driver must be auto, ${MINER_DRIVERS.join(', ')} (got "${v.driver}")`);
  }
  return createMinerDriver(driver, {
    host: t.host,
    port: t.port ?? (driver === 'braiins' ? (webPort ?? 80) : 4028),
    webPort,
    v3Port,
    timeoutMs,
    credentials: creds(driver),
    model,
  });
}

function summary(t: MinerTelemetry): string {
  const f = (x: number | null, unit: string, digits = 1) =>
    x === null ? '—' : `${x.toFixed(digits)} ${unit}`;
  const lines = [
    `${t.host}:${t.port}  ${t.driver ?? '?'}  ${[t.make, t.model].filter(Boolean).join(' ') || 'unknown model'}  firmware ${t.firmware ?? '?'}`,
    `  state      ${t.state}${t.profile ? ` (profile ${t.profile})` : ''}`,
    `  hashrate   ${f(t.hashrateThs, 'TH/s')} now, ${f(t.hashrateAvgThs, 'TH/s')} average`,
    `  power      ${f(t.powerW, 'W', 0)}${t.powerSource ? ` (${t.powerSource})` : ''}, efficiency ${f(t.efficiencyJth, 'J/TH')}`,
    `  boards     ${t.boards.map((b) => `#${b.index} ${f(b.hashrateThs, 'TH/s')} ${f(b.chipTempC, '°C', 0)}`).join(', ') || '—'}`,
    `  fans       ${t.fans.join(', ') || '—'}`,
    `  pools      ${t.pools.map((p) => `${p.url} (${p.status ?? '?'})`).join(', ') || '—'}`,
    `  uptime     ${t.uptimeS === null ? '—' : `${t.uptimeS} s`}`,
  ];
  if (t.errors.length) lines.push(`  errors     ${t.errors.join('; ')}`);
  return `${lines.join('\n')}\n`;
}

async function withDriver(
  args: string[],
  ctx: CliContext,
  extra: Record<string, { type: 'string' | 'boolean' }>,
  run: (d: MinerDriver, v: Common, positionals: string[]) => Promise<number>,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...COMMON, ...extra }, true);
  const target = parseTarget(positionals[0]);
  const driver = await openDriver(target, values as Common, ctx);
  if (!driver) return 1;
  try {
    return await run(driver, values as Common, positionals.slice(1));
  } catch (e) {
    if (e instanceof MinerError) {
      ctx.stderr.write(`${target.host}: ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await driver.close();
  }
}

const probe: Command = (args, ctx) =>
  withDriver(args, ctx, {}, async (d, v) => {
    let t: MinerTelemetry;
    try {
      t = await d.read();
    } catch (e) {
      t = telemetryForError(
        {
          fleet: '',
          site: '',
          feed: '',
          host: d.host,
          port: d.port,
          driver: d.name,
          nameplateW: 0,
          sleepW: 0,
        },
        e,
      );
    }
    ctx.stdout.write(v.json ? `${JSON.stringify(t, null, 2)}\n` : summary(t));
    return t.state === 'offline' || t.state === 'fault' ? 1 : 0;
  });

const control =
  (action: 'sleep' | 'wake'): Command =>
  (args, ctx) =>
    withDriver(args, ctx, {}, async (d, v) => {
      await d[action]();
      const t = await d.read();
      const out = { host: d.host, driver: d.name, action, state: t.state, powerW: t.powerW };
      ctx.stdout.write(
        v.json
          ? `${JSON.stringify(out)}\n`
          : `${d.host}: ${action} sent; now ${t.state}${t.powerW === null ? '' : `, ${Math.round(t.powerW)} W`}\n`,
      );
      return 0;
    });

const power: Command = (args, ctx) =>
  withDriver(args, ctx, {}, async (d, v, rest) => {
    const watts = Number(rest[0]);
    if (!rest[0] || !Number.isFinite(watts) || watts <= 0)
      throw new UsageError('expects a power in watts: switchyard miner power <host> <watts>');
    const caps = await d.capabilities();
    let done: string;
    if (caps.powerTarget && d.setPowerTarget) {
      await d.setPowerTarget(watts);
      done = `power target ${watts} W`;
    } else if (caps.profiles && d.setProfile) {
      // The highest profile at or below the requested power, from the model's profile table;
      // firmwares whose profiles are modes (Antminer: normal, low-power) get the lowest one
      // unless the request reaches the nameplate.
      const id = await d.identify();
      const model = id.model ? findMinerModel(id.model) : undefined;
      const known = (model?.profiles ?? []).filter((p) => caps.profiles?.includes(p.name));
      let pick: string | undefined;
      if (known.length > 0 && known.length === caps.profiles.length) {
        pick = [...known].reverse().find((p) => p.powerW <= watts)?.name;
        if (!pick)
          throw new MinerError(
            'invalid-argument',
            d.host,
            `${watts} W is below the lowest profile (${known[0]?.name} at ${known[0]?.powerW} W)`,
          );
      } else {
        const low = caps.profiles.find((n) => /low|eco/i.test(n)) ?? caps.profiles[0];
        const normal =
          caps.profiles.find((n) => /normal|default/i.test(n)) ?? caps.profiles[caps.profiles.length - 1];
        pick = model && watts < model.nameplateW ? low : normal;
      }
      if (!pick) throw new MinerError('unsupported', d.host, 'the miner lists no profiles');
      await d.setProfile(pick);
      done = `profile ${pick}`;
    } else if (caps.powerPercent && d.setPowerPercent) {
      const t = await d.read();
      const full = t.powerW && t.state === 'hashing' ? t.powerW : null;
      if (!full)
        throw new MinerError(
          'unsupported',
          d.host,
          'cannot convert watts to a power percentage while the miner does not report its draw',
        );
      const pct = Math.max(
        caps.powerPercent.min,
        Math.min(caps.powerPercent.max, Math.round((watts / full) * 100)),
      );
      await d.setPowerPercent(pct);
      done = `power ${pct} %`;
    } else {
      throw new MinerError('unsupported', d.host, `${d.name} has no power control`);
    }
    ctx.stdout.write(
      v.json
        ? `${JSON.stringify({ host: d.host, driver: d.name, applied: done })}\n`
        : `${d.host}: ${done}\n`,
    );
    return 0;
  });

const scan: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    { ...COMMON, concurrency: { type: 'string', default: '64' } },
    true,
  );
  const cidr = positionals[0] ? parseCidr(positionals[0]) : 'expects a CIDR block, e.g. 10.11.0.0/22';
  if (typeof cidr === 'string') throw new UsageError(cidr);
  if (cidr.hostCount > 65_536)
    throw new UsageError(`${positionals[0]} has ${cidr.hostCount} addresses; scan at most a /16`);
  const concurrency = intOption('concurrency', values.concurrency, 1, 1024) ?? 64;
  const timeoutMs = intOption('timeout', values.timeout, 100, 60_000) ?? 1500;
  const hosts = Array.from({ length: cidr.hostCount }, (_, i) => intToIpv4(cidr.firstHost + i));
  const found: Array<{ host: string; driver: string; model: string | null; firmware: string | null }> = [];
  await forEachLimited(hosts, concurrency, async (host) => {
    const r = await detectMiner({ host, timeoutMs });
    if (r.driver)
      found.push({
        host,
        driver: r.driver,
        model: r.identity?.model ?? null,
        firmware: r.identity?.firmware ?? null,
      });
  });
  found.sort((a, b) => hosts.indexOf(a.host) - hosts.indexOf(b.host));
  if (values.json) ctx.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
  else {
    for (const f of found)
      ctx.stdout.write(
        `${f.host.padEnd(16)} ${f.driver.padEnd(11)} ${(f.model ?? '?').padEnd(10)} ${f.firmware ?? ''}\n`,
      );
    ctx.stdout.write(`${found.length} miner(s) found in ${hosts.length} address(es)\n`);
  }
  return 0;
};

export const MINER_COMMANDS: Record<string, Command> = {
  'miner probe': probe,
  'miner sleep': control('sleep'),
  'miner wake': control('wake'),
  'miner power': power,
  'miner scan': scan,
};
