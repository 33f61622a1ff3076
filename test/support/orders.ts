// Bids placed straight in the test's database, for controller tests that need open orders.
import { createHash } from 'node:crypto';
import { OrderRepository, type Database, type OrderRecord, type OrderTerms } from '@switchyard/db';

/** An 8-GPU on-demand H100 bid at 3 USD per GPU-hour for an hour, changed by `terms`. */
export async function placeBid(
  db: Database,
  brokerId: string,
  key: string,
  terms: Partial<OrderTerms> = {},
  workload: { image?: string; args?: string[] } = {},
): Promise<OrderRecord> {
  const placed = await new OrderRepository(db).create({
    brokerId,
    idempotencyKey: key,
    requestHash: createHash('sha256').update(key).digest('hex'),
    image: workload.image ?? 'ghcr.io/acme/llm:1',
    args: workload.args ?? [],
    bid: {
      tier: 'on-demand',
      gpuModels: ['H100-SXM-80GB'],
      gpuCount: 8,
      minVramGib: 0,
      maxUsdPerGpuHour: '3',
      durationSeconds: 3600,
      endBy: null,
      noticeSeconds: 300,
      ...terms,
    },
  });
  if (placed.outcome !== 'created') throw new Error(`bid ${key}: ${placed.outcome}`);
  return placed.order;
}
