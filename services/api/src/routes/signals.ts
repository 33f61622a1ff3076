// The signal readings as recorded in signal_readings: the latest of every source, signal and
// subject, with its age and whether it is stale by the hub's default staleness limits
// (docs/signals.md). Readings observed in the future (the later points of a pushed price curve)
// are not the latest yet and are left out.
import type { FastifyPluginAsync } from 'fastify';
import { DEFAULT_SIGNAL_POLICY, readingAgeSeconds, SignalRepository } from '@switchyard/signals';
import { useTypeBox } from '../schemas/common.ts';
import { listSignalsSchema } from '../schemas/operator.ts';
import type { OperatorRouteOptions } from './operator-support.ts';

export const signalRoutes: FastifyPluginAsync<OperatorRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const now = opts.now ?? (() => new Date());
  const repo = new SignalRepository(opts.db);

  app.get('/signals', { schema: listSignalsSchema }, async (req) => {
    const q = req.query;
    const at = now();
    const readings = await repo.latestPerSeries({
      since: new Date(at.getTime() - (q.sinceHours ?? 168) * 3_600_000),
      until: at,
      ...(q.signal !== undefined && { signal: q.signal }),
      ...(q.source !== undefined && { source: q.source }),
    });
    return {
      at: at.toISOString(),
      items: readings.map((r) => {
        const age = readingAgeSeconds(r, at);
        const soft = DEFAULT_SIGNAL_POLICY.staleness[r.signal].softSeconds;
        return {
          source: r.source,
          signal: r.signal,
          subject: r.subject ?? null,
          value: r.value,
          unit: r.unit,
          status: r.status,
          observedAt: r.observedAt.toISOString(),
          fetchedAt: r.fetchedAt.toISOString(),
          validUntil: r.validUntil ? r.validUntil.toISOString() : null,
          ageSeconds: Math.round(age),
          stale: r.stale || age > soft,
          staleAfterSeconds: soft,
        };
      }),
    };
  });
};
