import { describe, expect, test } from '@jest/globals';
import { parseLenientJson } from '../rpc/lenient-json.ts';
import { toRpcReply } from '../rpc/rpc-client.ts';
import type { RpcReply } from '../rpc/rpc-client.ts';
import { activeProfile, curtailSleeping, parseLuxosTelemetry, profileNames } from './luxos-parse.ts';

const S = (code: number, msg: string) =>
  `"STATUS":[{"STATUS":"S","When":1700000000,"Code":${code},"Msg":"${msg}","Description":"LUXminer 2024.6.10.205339-0e99f25e"}]`;

const LUXOS = {
  version: `{${S(22, 'LUXminer versions')},"VERSION":[{"API":"3.7","LUXminer":"2024.6.10.205339-0e99f25e","Miner":"2024.6.10.205339-0e99f25e","Type":"Antminer S19k Pro"}],"id":1}`,
  config: `{${S(33, 'LUXminer config')},"CONFIG":[{"ASC Count":3,"PGA Count":0,"Pool Count":2,"Strategy":"Failover","Log Interval":5,"Device Code":"","OS":"Linux","CurtailMode":"None","Hostname":"lux-007","MACAddr":"02:1a:2b:3c:4d:5e"}],"id":1}`,
  summary: `{${S(11, 'Summary')},"SUMMARY":[{"Elapsed":7200,"GHS 5s":120345.6,"GHS av":119800.1,"Accepted":4000,"Rejected":2}],"id":1}`,
  stats: `{${S(70, 'LUXminer stats')},"STATS":[{"LUXminer":"2024.6.10","Type":"Antminer S19k Pro"},{"STATS":0,"Elapsed":7200,"total_rateideal":120000.0,"rate_unit":"GH","fan_num":4,"fan1":4800,"fan2":4860,"fan3":4830,"fan4":4890,"chain_rate1":40100.2,"chain_acn1":77,"temp1":71,"temp2_1":58,"chain_rate2":40200.3,"chain_acn2":77,"temp1_2":0,"temp2":73,"temp2_2":60,"chain_rate3":40045.1,"chain_acn3":77,"temp3":72,"temp2_3":59}],"id":1}`,
  pools: `{${S(7, '1 Pool(s)')},"POOLS":[{"POOL":0,"URL":"stratum+tcp://pool.example:700","Status":"Alive","Priority":0,"User":"farm.lux-007","Stratum Active":true}],"id":1}`,
  devs: `{${S(9, '3 ASC(s)')},"DEVS":[{"ASC":0,"Enabled":"Y","Status":"Alive","Temperature":58.0,"MHS 5s":40100200,"Profile":"normal","IsRamping":false},{"ASC":1,"Enabled":"Y","Status":"Alive","Temperature":60.0,"MHS 5s":40200300,"Profile":"normal","IsRamping":false},{"ASC":2,"Enabled":"Y","Status":"Alive","Temperature":59.0,"MHS 5s":40045100,"Profile":"normal","IsRamping":false}],"id":1}`,
  power: `{${S(30, 'Power')},"POWER":[{"PSU":true,"Watts":2761}],"id":1}`,
  profiles: `{${S(321, 'Profiles')},"PROFILES":[{"Profile Name":"190MHz","Frequency":190,"Hashrate":39.2,"Watts":784,"IsTuned":true},{"Profile Name":"default","Frequency":265,"Hashrate":54.8,"Watts":1090},{"Profile Name":"290MHz","Frequency":290,"Hashrate":59.8,"Watts":1188}],"id":1}`,
};

function replies(texts: Partial<Record<string, string>>): Partial<Record<string, RpcReply>> {
  const out: Partial<Record<string, RpcReply>> = {};
  for (const [cmd, text] of Object.entries(texts)) {
    if (text !== undefined) out[cmd] = toRpcReply('h', cmd, parseLenientJson(text));
  }
  return out;
}

describe('parseLuxosTelemetry', () => {
  test('a hashing S19k Pro: measured power, boards, fans, profile', () => {
    const t = parseLuxosTelemetry({ host: '10.1.0.7', port: 4028, replies: replies(LUXOS) });
    expect(t).toMatchObject({
      driver: 'luxos',
      make: 'Bitmain',
      model: 'S19k Pro',
      firmware: 'LuxOS 2024.6.10.205339-0e99f25e',
      state: 'hashing',
      powerW: 2761,
      powerSource: 'measured',
      uptimeS: 7200,
      profile: 'normal',
      fans: [4800, 4860, 4830, 4890],
      errors: [],
    });
    expect(t.hashrateThs).toBeCloseTo(120.3456);
    expect(t.efficiencyJth).toBeCloseTo(22.94, 1);
    expect(t.boards.map((b) => [b.chipTempC, b.boardTempC, b.chips])).toEqual([
      [71, 58, 77],
      [73, 60, 77],
      [72, 59, 77],
    ]);
    expect(t.pools).toHaveLength(1);
  });

  test('CurtailMode Sleep → sleeping; IsRamping → ramping', () => {
    const sleeping = LUXOS.config.replace('"CurtailMode":"None"', '"CurtailMode":"Sleep"');
    expect(
      parseLuxosTelemetry({ host: 'h', port: 1, replies: replies({ ...LUXOS, config: sleeping }) }).state,
    ).toBe('sleeping');
    const ramping = LUXOS.devs.replace('"IsRamping":false', '"IsRamping":true');
    expect(
      parseLuxosTelemetry({ host: 'h', port: 1, replies: replies({ ...LUXOS, devs: ramping }) }).state,
    ).toBe('ramping');
  });

  test('without a power reading the draw is estimated, and labelled so', () => {
    const t = parseLuxosTelemetry({ host: 'h', port: 1, replies: replies({ ...LUXOS, power: undefined }) });
    expect(t.powerSource).toBe('estimated');
    expect(t.powerW).toBeGreaterThan(2000);
    const bad = LUXOS.power.replace('2761', '-5');
    const u = parseLuxosTelemetry({ host: 'h', port: 1, replies: replies({ ...LUXOS, power: bad }) });
    expect(u.powerSource).toBe('estimated');
    expect(u.errors).toContain('power reading missing or implausible');
  });

  test('helpers: profiles list, active profile, curtail mode', () => {
    const r = replies(LUXOS);
    expect(profileNames(r.profiles)).toEqual(['190MHz', 'default', '290MHz']);
    expect(activeProfile(r.devs)).toBe('normal');
    expect(curtailSleeping(r.config)).toBe(false);
    expect(curtailSleeping(undefined)).toBeNull();
  });
});
