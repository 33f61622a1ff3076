import { describe, expect, it } from '@jest/globals';
import { parseFarmYaml, type Farm } from '@switchyard/domain';
import type { PollResult } from '@switchyard/miners';
import { StaleEpochError, UnrecoverableError, type JobContext } from '@switchyard/queue';
import { createConfirmHandler, fleetsUnder } from './handlers.ts';

const parsed = parseFarmYaml(`
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: u }
spec:
  interconnectKw: 100
  marketNode: HB_WEST
  pue: 1.1
  powerTree:
    name: site
    limitKw: 100
    children:
      - name: tx
        limitKw: 90
        children: [{ name: pdu-1, limitKw: 40 }, { name: pdu-2, limitKw: 40 }]
  coolingZones: [{ name: hall, capacityKw: 100 }]
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: fa }
spec: { site: u, feed: pdu-1, coolingZone: hall, model: S19j Pro, driver: luxos, endpoints: { cidr: 10.205.9.0/30, count: 2 } }
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: fb }
spec: { site: u, feed: pdu-2, coolingZone: hall, model: S19j Pro, driver: luxos, endpoints: { cidr: 10.205.9.4/30, count: 2 } }
`);
if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
const farm: Farm = parsed.farm;

const result = (kw: Record<string, number>): PollResult => ({
  startedAt: new Date(0),
  durationMs: 1,
  fleets: [],
  nodes: Object.entries(kw).map(([node, powerKw]) => ({
    node,
    site: 'u',
    powerKw,
    hashrateThs: 0,
    miners: 2,
  })),
  degraded: [],
});
const ctx = (fence: () => Promise<void> = async () => undefined) =>
  ({ signal: new AbortController().signal, fence, attempt: 1, job: {} }) as unknown as JobContext;
const payload = {
  planId: 'p',
  stepId: 's',
  epoch: 1,
  nodes: ['pdu-1'],
  expectLoadAtMostKw: 1,
  timeoutMs: 5000,
};

describe('fleetsUnder', () => {
  it('finds the fleets fed by a node or any of its descendants', () => {
    expect(fleetsUnder(farm, ['pdu-1'])).toEqual({ fleets: ['fa'], unknown: [] });
    expect(fleetsUnder(farm, ['tx']).fleets).toEqual(['fa', 'fb']);
    expect(fleetsUnder(farm, ['pdu-9']).unknown).toEqual(['pdu-9']);
  });
});

describe('createConfirmHandler', () => {
  it('polls only the fleets under the nodes until the load is at or below the expectation', async () => {
    const loads = [7, 3, 0.5];
    const asked: string[][] = [];
    const h = createConfirmHandler({
      farm,
      intervalMs: 1,
      poll: async (fleets) => {
        asked.push([...fleets]);
        return result({ 'pdu-1': loads.shift() as number });
      },
    });
    await expect(h(payload, ctx())).resolves.toMatchObject({
      status: 'confirmed',
      polls: 3,
      loadsKw: { 'pdu-1': 0.5 },
    });
    expect(asked).toEqual([['fa'], ['fa'], ['fa']]);
  });

  it('checks the epoch before finishing', async () => {
    const h = createConfirmHandler({ farm, intervalMs: 1, poll: async () => result({ 'pdu-1': 0 }) });
    const stale = new StaleEpochError(1, 2);
    await expect(
      h(
        payload,
        ctx(async () => Promise.reject(stale)),
      ),
    ).rejects.toBe(stale);
  });

  it('fails for good on an unknown node and after the timeout', async () => {
    const h = createConfirmHandler({ farm, intervalMs: 1, poll: async () => result({ 'pdu-1': 9 }) });
    await expect(h({ ...payload, nodes: ['nope'] }, ctx())).rejects.toThrow(/unknown power-tree node/);
    const err = await h({ ...payload, timeoutMs: 20 }, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(/timed out after 20 ms .*pdu-1 at 9 kW > 1 kW/);
  });
});
