// Parsing stock Antminer replies in the shapes the firmware sends, quirks included: `}{` in
// stats, `[,{` in pools, "GHS 5s" as a string, "Tenperature" in devs, "Pool Stale%%".
import { describe, expect, test } from '@jest/globals';
import { parseLenientJson } from '../rpc/lenient-json.ts';
import { toRpcReply } from '../rpc/rpc-client.ts';
import type { RpcReply } from '../rpc/rpc-client.ts';
import { antminerState, parseAntminerTelemetry } from './antminer-parse.ts';
import { minerConfPayload, minerModeOf } from './antminer-web.ts';

const STATUS = (code: number, msg: string) =>
  `"STATUS":[{"STATUS":"S","When":1700000000,"Code":${code},"Msg":"${msg}","Description":"bmminer 1.0.0"}]`;

/** Stock S19 Pro replies as raw text. */
const S19_REPLIES = {
  version: `{${STATUS(22, 'BMMiner versions')},"VERSION":[{"BMMiner":"1.0.0","API":"3.1","Miner":"uart_trans.1.3","CompileTime":"Thu Feb 10 17:22:32 CST 2022","Type":"Antminer S19 Pro"}],"id":1}`,
  summary: `{${STATUS(11, 'Summary')},"SUMMARY":[{"Elapsed":86400,"GHS 5s":"110123.45","GHS av":109876.54,"GHS 30m":109900.12,"Found Blocks":0,"Getworks":2880,"Accepted":51234,"Rejected":17,"Hardware Errors":102,"Utility":35.58,"Discarded":9000,"Stale":0,"Get Failures":0,"Local Work":1234567,"Remote Failures":0,"Network Blocks":144,"Total MH":9.49e+12,"Work Utility":1536000.11,"Difficulty Accepted":3.357e+09,"Difficulty Rejected":1114112.0,"Difficulty Stale":0.0,"Best Share":12345678901,"Device Hardware%":0.0001,"Device Rejected%":0.0332,"Pool Rejected%":0.0332,"Pool Stale%":0.0,"Last getwork":1700000000}],"id":1}`,
  // `}{`: no comma between the two STATS entries.
  stats: `{${STATUS(70, 'BMMiner stats')},"STATS":[{"BMMiner":"1.0.0","Miner":"uart_trans.1.3","CompileTime":"Thu Feb 10 17:22:32 CST 2022","Type":"Antminer S19 Pro"}{"STATS":0,"ID":"BC50","Elapsed":86400,"Calls":0,"Wait":0.0,"Max":0.0,"Min":99999999.0,"GHS 5s":"110123.45","GHS av":109876.54,"rate_30m":109900.12,"Mode":2,"miner_count":3,"frequency":"675","fan_num":4,"fan1":5520,"fan2":5460,"fan3":5520,"fan4":5400,"temp_num":3,"temp1":58,"temp2_1":73,"temp2":60,"temp2_2":75,"temp3":59,"temp2_3":74,"temp_pcb1":"58-58-73-73","temp_pcb2":"60-60-75-75","temp_pcb3":"59-59-74-74","temp_chip1":"66-66-81-81","temp_chip2":"68-68-83-83","temp_chip3":"67-67-82-82","total_rateideal":110000.0,"rate_unit":"GH","total_freqavg":675,"total_acn":342,"total_rate":110123.45,"chain_rateideal1":36666.0,"chain_rateideal2":36666.0,"chain_rateideal3":36666.0,"chain_acn1":114,"chain_acn2":114,"chain_acn3":114,"chain_rate1":"36700.10","chain_rate2":"36800.20","chain_rate3":"36623.15","chain_acs1":" oooooooo oooooooo","chain_hw1":34,"chain_hw2":30,"chain_hw3":38,"chain_acn4":0,"chain_rate4":"","miner_version":"uart_trans.1.3","miner_id":"8118b4c42c10481c"}],"id":1}`,
  // `[,{` before the first pool, and the doubled percent.
  pools: `{${STATUS(7, '2 Pool(s)')},"POOLS":[,{"POOL":0,"URL":"stratum+tcp://btc.pool.example:3333","Status":"Alive","Priority":0,"Quota":1,"Long Poll":"N","Getworks":2880,"Accepted":51234,"Rejected":17,"Discarded":9000,"Stale":0,"Get Failures":0,"Remote Failures":0,"User":"farm.s19-001","Last Share Time":"0:00:07","Diff":"65.5K","Diff1 Shares":0,"Proxy Type":"","Proxy":"","Difficulty Accepted":3.357e+09,"Difficulty Rejected":1114112.0,"Difficulty Stale":0.0,"Last Share Difficulty":65536.0,"Has Stratum":true,"Stratum Active":true,"Stratum URL":"btc.pool.example","Has GBT":false,"Best Share":12345678901,"Pool Rejected%":0.0332,"Pool Stale%%":0.0},{"POOL":1,"URL":"stratum+tcp://backup.pool.example:3333","Status":"Alive","Priority":1,"User":"farm.s19-001","Pool Stale%%":0.0}],"id":1}`,
  // "Tenperature": stock firmware's spelling.
  devs: `{${STATUS(9, '3 ASC(s)')},"DEVS":[{"ASC":0,"Name":"BTM_SOC0","ID":0,"Enabled":"Y","Status":"Alive","Tenperature":58.0,"MHS av":36600000.0,"MHS 5s":36700100.0},{"ASC":1,"Name":"BTM_SOC0","ID":1,"Enabled":"Y","Status":"Alive","Tenperature":60.0,"MHS av":36600000.0,"MHS 5s":36800200.0},{"ASC":2,"Name":"BTM_SOC0","ID":2,"Enabled":"Y","Status":"Alive","Tenperature":59.0,"MHS av":36600000.0,"MHS 5s":36623150.0}],"id":1}`,
};

function replies(texts: Partial<Record<string, string>>): Partial<Record<string, RpcReply>> {
  const out: Partial<Record<string, RpcReply>> = {};
  for (const [cmd, text] of Object.entries(texts)) {
    if (text !== undefined) out[cmd] = toRpcReply('10.0.0.5', cmd, parseLenientJson(text));
  }
  return out;
}

describe('parseAntminerTelemetry on stock S19 Pro replies', () => {
  const t = parseAntminerTelemetry({
    host: '10.0.0.5',
    port: 4028,
    replies: replies(S19_REPLIES),
    minerMode: 0,
  });

  test('identity, state, hashrate (string "GHS 5s"), uptime', () => {
    expect(t).toMatchObject({
      host: '10.0.0.5',
      port: 4028,
      driver: 'antminer',
      make: 'Bitmain',
      model: 'S19 Pro',
      firmware: 'Thu Feb 10 17:22:32 CST 2022',
      state: 'hashing',
      uptimeS: 86400,
      profile: 'normal',
      errors: [],
    });
    expect(t.hashrateThs).toBeCloseTo(110.12345);
    expect(t.hashrateAvgThs).toBeCloseTo(109.87654);
  });

  test('boards from chain_rate<n> strings, temp_chip/temp_pcb "a-b-c-d"; empty chain 4 skipped', () => {
    expect(t.boards).toHaveLength(3);
    expect(t.boards[0]).toEqual({
      index: 0,
      hashrateThs: expect.closeTo(36.7001, 4),
      chipTempC: 81,
      boardTempC: 73,
      chips: 114,
    });
    expect(t.boards.map((b) => b.chipTempC)).toEqual([81, 83, 82]);
  });

  test('fans and pools (after `[,{` and "Pool Stale%%")', () => {
    expect(t.fans).toEqual([5520, 5460, 5520, 5400]);
    expect(t.pools).toEqual([
      { url: 'stratum+tcp://btc.pool.example:3333', user: 'farm.s19-001', status: 'Alive', priority: 0 },
      { url: 'stratum+tcp://backup.pool.example:3333', user: 'farm.s19-001', status: 'Alive', priority: 1 },
    ]);
  });

  test('power is estimated from the profile and hashrate, never measured', () => {
    expect(t.powerSource).toBe('estimated');
    // S19 Pro normal: 3250 W at 110 TH/s; slightly above ideal → about 3253 W.
    expect(t.powerW).toBeGreaterThan(3200);
    expect(t.powerW).toBeLessThan(3300);
    expect(t.efficiencyJth).toBeCloseTo((t.powerW as number) / (t.hashrateThs as number), 1);
  });

  test('devs alone (with "Tenperature") still give boards', () => {
    const d = parseAntminerTelemetry({
      host: 'h',
      port: 4028,
      replies: replies({ summary: S19_REPLIES.summary, devs: S19_REPLIES.devs }),
      minerMode: null,
    });
    expect(d.boards.map((b) => [b.boardTempC, b.hashrateThs && Math.round(b.hashrateThs * 10) / 10])).toEqual(
      [
        [58, 36.7],
        [60, 36.8],
        [59, 36.6],
      ],
    );
    expect(d.profile).toBeNull();
  });
});

describe('Antminer state and power by mode', () => {
  const summaryAt = (ghs: string, elapsed: number) =>
    `{${STATUS(11, 'Summary')},"SUMMARY":[{"Elapsed":${elapsed},"GHS 5s":"${ghs}","GHS av":0}],"id":1}`;

  test('miner-mode 1 → sleeping, sleep draw estimated', () => {
    const t = parseAntminerTelemetry({
      host: 'h',
      port: 4028,
      replies: replies({ summary: summaryAt('0.00', 90000), version: S19_REPLIES.version }),
      minerMode: 1,
    });
    expect(t.state).toBe('sleeping');
    expect(t.powerW).toBe(30);
    expect(t.powerSource).toBe('estimated');
    expect(t.profile).toBeNull();
  });

  test('miner-mode 3 → low-power profile, estimated from the lowest profile', () => {
    const t = parseAntminerTelemetry({
      host: 'h',
      port: 4028,
      replies: replies({ summary: summaryAt('89700.00', 90000), version: S19_REPLIES.version }),
      minerMode: 3,
    });
    expect(t.profile).toBe('low-power');
    expect(t.state).toBe('hashing');
    // S19 Pro eco: 2438 W at 89.7 TH/s.
    expect(t.powerW).toBeCloseTo(2438, -1);
  });

  test('no hashrate long after start → fault, power at nameplate (worst case)', () => {
    const t = parseAntminerTelemetry({
      host: 'h',
      port: 4028,
      replies: replies({ summary: summaryAt('0.00', 90000), version: S19_REPLIES.version }),
      minerMode: 0,
    });
    expect(t.state).toBe('fault');
    expect(t.errors).toContain('no hashrate');
    expect(t).toMatchObject({ powerW: 3250, powerSource: 'nameplate' });
  });

  test('states: ramping after a recent start below 90 % of ideal', () => {
    expect(antminerState(0, 50, 110, 120)).toBe('ramping');
    expect(antminerState(0, 105, 110, 120)).toBe('hashing');
    expect(antminerState(0, 0, 110, 60)).toBe('ramping');
    expect(antminerState(0, 50, 110, 5000)).toBe('hashing');
    expect(antminerState(1, 100, 110, 5000)).toBe('sleeping');
    expect(antminerState(null, null, null, 5000)).toBe('fault');
  });

  test('an unknown model with no reference reports no power rather than a guess', () => {
    const t = parseAntminerTelemetry({
      host: 'h',
      port: 4028,
      replies: replies({ summary: summaryAt('100000.00', 90000) }),
      minerMode: 0,
    });
    expect(t.model).toBeNull();
    expect(t.powerW).toBeNull();
    expect(t.powerSource).toBeNull();
  });

  test('the web UI error is carried in errors', () => {
    const t = parseAntminerTelemetry({
      host: 'h',
      port: 4028,
      replies: replies({ summary: summaryAt('110000', 90000), version: S19_REPLIES.version }),
      minerMode: null,
      modeError: 'web UI rejected the credentials (HTTP 401)',
    });
    expect(t.errors).toEqual(['web UI: web UI rejected the credentials (HTTP 401)']);
    expect(t.state).toBe('hashing');
  });
});

describe('get_miner_conf / set_miner_conf', () => {
  const conf = parseLenientJson(
    '{"pools":[{"url":"stratum+tcp://a:3333","user":"u","pass":"p"}],"api-listen":true,"bitmain-fan-ctrl":false,"bitmain-fan-pwm":"100","bitmain-work-mode":"0","bitmain-freq-level":"100","miner-mode":0,"freq-level":"100"}',
  ) as Record<string, unknown>;

  test('mode from miner-mode (number) or bitmain-work-mode (string)', () => {
    expect(minerModeOf(conf)).toBe(0);
    expect(minerModeOf({ 'bitmain-work-mode': '1' })).toBe(1);
    expect(minerModeOf({ 'miner-mode': '3' })).toBe(3);
    expect(minerModeOf({ 'miner-mode': 7 })).toBeNull();
    expect(minerModeOf({})).toBeNull();
  });

  test('payload keeps pools and fan settings, writes the mode in each key with its own type', () => {
    expect(minerConfPayload(conf, 1)).toEqual({
      'bitmain-fan-ctrl': false,
      'bitmain-fan-pwm': '100',
      'freq-level': '100',
      pools: [{ url: 'stratum+tcp://a:3333', user: 'u', pass: 'p' }],
      'miner-mode': 1,
      'bitmain-work-mode': '1',
    });
    expect(minerConfPayload({}, 3)).toMatchObject({ 'miner-mode': 3, pools: [] });
  });
});
