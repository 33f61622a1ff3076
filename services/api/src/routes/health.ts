// Liveness says the process serves HTTP; readiness says its dependencies answer.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { sendProblem } from '../problem.ts';
import { problemWith, StringEnum, useTypeBox } from '../schemas/common.ts';

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

const Checks = Type.Record(
  Type.String({ description: 'The dependency: database, redis' }),
  Type.Object({
    status: StringEnum(['ok', 'failing']),
    ms: Type.Integer({ minimum: 0, description: 'How long the check took, ms.' }),
    error: Type.Optional(Type.String({ description: 'Why it failed.' })),
  }),
  { description: 'Each dependency checked.' },
);

// Probes are public: no API key (`security: []`).
const livenessSchema = {
  operationId: 'getLiveness',
  summary: 'Liveness: the process serves HTTP',
  tags: ['health'],
  security: [],
  response: { 200: Type.Object({ status: Type.Literal('ok') }) },
};

const readinessSchema = {
  operationId: 'getReadiness',
  summary: 'Readiness: the database and Redis answer',
  description: `Every check runs at once and gets ${CHECK_TIMEOUT_MS} ms.`,
  tags: ['health'],
  security: [],
  response: {
    200: Type.Object({ status: Type.Literal('ready'), checks: Checks }),
    503: problemWith('Not ready: a dependency does not answer (`checks` says which).', { checks: Checks }),
  },
};

export const healthRoutes: FastifyPluginAsync<{ checks: ReadinessCheck[] }> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  app.get('/healthz', { logLevel: 'warn', schema: livenessSchema }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { logLevel: 'warn', schema: readinessSchema }, async (_req, reply) => {
    const results = await Promise.all(opts.checks.map(runCheck));
    const checks = Object.fromEntries(
      results.map((r) => [
        r.name,
        r.ok ? { status: 'ok' as const, ms: r.ms } : { status: 'failing' as const, error: r.error, ms: r.ms },
      ]),
    );
    if (results.every((r) => r.ok)) return { status: 'ready' as const, checks };
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
