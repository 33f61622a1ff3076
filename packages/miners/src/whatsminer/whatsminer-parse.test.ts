// Reply text as btminer (API v2) and API v3 firmware send it: numbers where other firmwares
// send strings, STATUS as a string for Whatsminer's own commands, trailing commas and raw
// newlines inside strings (repaired by the lenient JSON parser before these readers run).
import { describe, expect, it } from '@jest/globals';
import { parseLenientJson } from '../rpc/lenient-json.ts';
import { parseStatus, statusOk } from '../rpc/fields.ts';
import {
  parseV2DevDetails,
  parseV2Devs,
  parseV2MinerInfo,
  parseV2Pools,
  parseV2Status,
  parseV2Summary,
  parseV2Token,
  parseV2Version,
  parseV3DeviceInfo,
  parseV3Edevs,
  parseV3Pools,
  parseV3Reply,
  parseV3Summary,
  whatsminerModel,
} from './whatsminer-parse.ts';

// An M30S++ summary in btminer's own words, with the trailing ",}" btminer leaves behind.
const SUMMARY_TEXT =
  '{"STATUS":[{"STATUS":"S","Msg":"Summary"}],"SUMMARY":[{"Elapsed":3200,"MHS av":101194341.67,' +
  '"MHS 5s":103624432.37,"MHS 1m":102968880.12,"HS RT":102153066.37,"Accepted":1129,"Rejected":1,' +
  '"Temperature":66.00,"freq_avg":620,"Fan Speed In":5130,"Fan Speed Out":5160,"Power":3296,' +
  '"Power Rate":32.24,"Uptime":3324,"Hash Stable":true,"Hash Stable Cost Seconds":1250,' +
  '"Target Freq":618,"Env Temp":26.00,"Power Mode":"Normal","Firmware Version":"\'20230911.22.REL\'",' +
  '"MAC":"C4:11:04:01:2A:3B","Factory GHS":104235,"Power Limit":3600,"Chip Temp Min":70.80,' +
  '"Chip Temp Max":86.33,"Chip Temp Avg":80.09,"Error Code Count":1,"Error Code 0":"531",' +
  '"Debug":"-0.0_100.0_354","Btminer Fast Boot":"disable",}],"id":1}\x00';

describe('API v2 (btminer)', () => {
  it('reads a summary with a trailing comma, a NUL and quoted firmware version', () => {
    const s = parseV2Summary(parseLenientJson(SUMMARY_TEXT));
    expect(s).toEqual({
      hashrateThs: 103.62443237,
      hashrateAvgThs: 101.19434167,
      powerW: 3296,
      elapsedS: 3200,
      hashStable: true,
      hashStableCostS: 1250,
      fans: [5130, 5160],
      mac: 'C4:11:04:01:2A:3B',
      firmware: '20230911.22.REL',
      powerLimitW: 3600,
      errorCodes: ['531'],
    });
  });

  it('reads a ramping miner and treats Power -1 as no reading', () => {
    const s = parseV2Summary({ SUMMARY: [{ Elapsed: 120, 'MHS 5s': 1e7, Power: -1, 'Hash Stable': false }] });
    expect([s.hashStable, s.powerW, s.hashrateThs]).toEqual([false, null, 10]);
  });

  it('reads Whatsminer-own replies whose STATUS is a string, with raw newlines inside strings', () => {
    const text =
      '{"STATUS":"S","When":1643294839,"Code":131,"Msg":{"btmineroff":"false","Firmware Version":"\'20230911.22.REL\'",' +
      '"mineroff_reason":"line one\nline two",},"Description":""}';
    const reply = parseLenientJson(text);
    const status = parseStatus(reply);
    expect(status).toMatchObject({ status: 'S', code: 131 });
    expect(statusOk(status)).toBe(true);
    expect(parseV2Status(reply)).toEqual({ minerOff: false });
    expect(parseV2Status({ STATUS: 'S', Msg: { mineroff: 'true' } })).toEqual({ minerOff: true });
    expect(parseV2Status({ STATUS: 'S', Msg: 'odd' })).toEqual({ minerOff: null });
  });

  it('reads an error reply in the string form', () => {
    const status = parseStatus(
      parseLenientJson('{"STATUS":"E","When":1,"Code":135,"Msg":"check token error","Description":""}'),
    );
    expect(status).toMatchObject({ status: 'E', code: 135, msg: 'check token error' });
    expect(statusOk(status)).toBe(false);
  });

  it('reads get_token, get_version, get_miner_info and devdetails', () => {
    expect(
      parseV2Token({ STATUS: 'S', Code: 134, Msg: { time: '1634', salt: 'BQ5hoXV9', newsalt: 'jbzkfQls' } }),
    ).toEqual({
      time: '1634',
      salt: 'BQ5hoXV9',
      newsalt: 'jbzkfQls',
    });
    expect(parseV2Token({ STATUS: 'E', Code: 136, Msg: 'over max connect' })).toBeNull();
    expect(parseV2Token({ Msg: { time: '1', salt: 'a$b', newsalt: 'x' } })).toBeNull();
    expect(
      parseV2Version({
        STATUS: 'S',
        Code: 131,
        Msg: { api_ver: 'whatsminer v2.0.5', fw_ver: '20230911.22.REL' },
      }),
    ).toEqual({
      apiVersion: '2.0.5',
      firmware: '20230911.22.REL',
    });
    expect(
      parseV2MinerInfo({ Msg: { hostname: 'WhatsMiner', mac: 'c4:11:04:01:2a:3b', ip: '10.0.0.2' } }),
    ).toEqual({
      hostname: 'WhatsMiner',
      mac: 'C4:11:04:01:2A:3B',
    });
    expect(parseV2DevDetails({ DEVDETAILS: [{ DEVDETAILS: 0, Name: 'SM', Model: 'M30S++V10' }] })).toEqual({
      model: 'M30S++',
    });
  });

  it('reads devs and pools', () => {
    const devs = parseV2Devs(
      parseLenientJson(
        '{"STATUS":[{"STATUS":"S"}],"DEVS":[{"ASC":0,"Slot":0,"Temperature":62.0,"MHS 5s":34541477.1,' +
          '"Effective Chips":111,"Chip Temp Max":85.5,"Chip Temp Avg":80.1,},{"ASC":1,"Slot":1,"Temperature":0,' +
          '"MHS 5s":"oops","Effective Chips":111}]}',
      ),
    );
    expect(devs).toEqual([
      { index: 0, hashrateThs: 34.5414771, chipTempC: 85.5, boardTempC: 62, chips: 111 },
      { index: 1, hashrateThs: null, chipTempC: null, boardTempC: null, chips: 111 },
    ]);
    expect(
      parseV2Pools({
        POOLS: [
          {
            POOL: 0,
            URL: 'stratum+tcp://btc.pool:3333',
            Status: 'Alive',
            Priority: 0,
            User: 'farm.m1',
            'Stratum Active': true,
          },
          { POOL: 1, URL: '', Status: 'Dead' },
        ],
      }),
    ).toEqual([{ url: 'stratum+tcp://btc.pool:3333', user: 'farm.m1', status: 'Alive', priority: 0 }]);
  });

  it('normalizes model names with hardware variants', () => {
    expect(whatsminerModel('M30S++V10')).toBe('M30S++');
    expect(whatsminerModel('M50SVH30')).toBe('M50S');
    expect(whatsminerModel('M60S_VL20')).toBe('M60S');
    expect(whatsminerModel('WhatsMiner M60S')).toBe('M60S');
    expect(whatsminerModel(null)).toBeNull();
  });
});

describe('API v3', () => {
  it('reads the reply envelope', () => {
    expect(parseV3Reply({ code: 0, when: 1_700_000_000, msg: 'ok', desc: 'set.miner.service' })).toEqual({
      code: 0,
      msg: 'ok',
      desc: 'set.miner.service',
    });
    expect(parseV3Reply({ code: -4, msg: 'access denied' }).code).toBe(-4);
    expect(parseV3Reply('x')).toEqual({ code: null, msg: null, desc: null });
  });

  it('reads get.device.info', () => {
    const msg = {
      network: { ip: '10.11.0.7', mac: 'c4:11:04:01:2a:3b', hostname: 'WhatsMiner' },
      miner: { type: 'M60S_VL20', working: 'true', 'miner-sn': 'HKS123', pcbsn0: 'A' },
      system: { api: '3.0.1', platform: 'H616', fwversion: '20250101.22.REL', ledstatus: 'auto' },
      power: { fanspeed: 7000 },
      salt: 'BQ5hoXV9',
    };
    expect(parseV3DeviceInfo(msg)).toEqual({
      model: 'M60S',
      firmware: '20250101.22.REL',
      apiVersion: '3.0.1',
      hostname: 'WhatsMiner',
      mac: 'C4:11:04:01:2A:3B',
      working: true,
      salt: 'BQ5hoXV9',
    });
    expect(parseV3DeviceInfo({ miner: { working: 'false' } }).working).toBe(false);
    expect(parseV3DeviceInfo({ salt: 'bad salt!' }).salt).toBeNull();
  });

  it('reads get.miner.status summary, edevs and pools', () => {
    const summary = {
      summary: {
        elapsed: 3600,
        'bootup-time': 3700,
        'hash-realtime': 186.2,
        'hash-average': 185.9,
        'hash-1min': 186,
        'power-realtime': 3441,
        'power-limit': 3600,
        'up-freq-finish': 1,
        'fan-speed-in': 6500,
        'fan-speed-out': 6450,
        'environment-temperature': 24,
      },
    };
    expect(parseV3Summary(summary)).toEqual({
      hashrateThs: 186.2,
      hashrateAvgThs: 185.9,
      powerW: 3441,
      elapsedS: 3600,
      upFreqFinished: true,
      fans: [6500, 6450],
      powerLimitW: 3600,
    });
    expect(parseV3Summary({ summary: { 'up-freq-finish': 0 } }).upFreqFinished).toBe(false);
    expect(
      parseV3Edevs({
        edevs: [
          { id: 0, slot: 0, 'hash-average': 62.1, 'effective-chips': 156, 'chip-temp-max': 78.5 },
          'junk',
        ],
      }),
    ).toEqual([{ index: 0, hashrateThs: 62.1, chipTempC: 78.5, boardTempC: null, chips: 156 }]);
    expect(
      parseV3Pools({ pools: [{ id: 1, url: 'stratum+tcp://p:3333', status: 'alive', account: 'farm.m1' }] }),
    ).toEqual([{ url: 'stratum+tcp://p:3333', user: 'farm.m1', status: 'alive', priority: 1 }]);
  });
});
