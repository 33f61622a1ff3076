// Liveness says the process serves HTTP; readiness says its dependencies answer.
import type { FastifyPluginAsync } from 'fastify';
import { sendProblem } from '../problem.ts';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

const CHECK_TIMEOUT_MS = 2000;

async function runCheck(
  c: ReadinessCheck,
): Promise<{ name: string; ok: boolean; error?: string; ms: number }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      c.check(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { name: c.name, ok: true, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    return { name: c.name, ok: false, error: (e as Error).message, ms: Math.round(performance.now() - t0) };
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsync<{ checks: ReadinessCheck[] }> = async (app, opts) => {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn' }, async (_req, reply) => {
    const results = await Promise.all(opts.checks.map(runCheck));
    const checks = Object.fromEntries(
      results.map((r) => [
        r.name,
        r.ok ? { status: 'ok', ms: r.ms } : { status: 'failing', error: r.error, ms: r.ms },
      ]),
    );
    if (results.every((r) => r.ok)) return { status: 'ready', checks };
    return sendProblem(reply, {
      type: 'https://switchyard.io/problems/not-ready',
      title: 'Not ready',
      status: 503,
      detail: `failing: ${results
        .filter((r) => !r.ok)
        .map((r) => r.name)
        .join(', ')}`,
      checks,
    });
  });
};
