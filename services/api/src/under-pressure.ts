// Load shedding (@fastify/under-pressure): while the process is overloaded — the event loop's
// mean delay or the heap (or, if set, the resident set) above its threshold, sampled every
// `sampleIntervalMs` — every request but the health probes answers 503 with a problem document
// and Retry-After, before any work is done for it (no key is checked, no body read). Shedding
// stops by itself with the next sample below the thresholds.
import underPressure from '@fastify/under-pressure';
import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from './problem.ts';

export interface LoadSheddingConfig {
  /** Mean event-loop delay over a sample above which requests are shed, ms; 0: not checked. */
  maxEventLoopDelayMs: number;
  /** Heap used above which requests are shed, bytes; 0: not checked. */
  maxHeapUsedBytes: number;
  /** Resident set size above which requests are shed, bytes; 0: not checked. */
  maxRssBytes: number;
  /** How often the process is measured, ms. */
  sampleIntervalMs: number;
  /** Retry-After of a shed request, s. */
  retryAfterSeconds: number;
}

/** 90 % of V8's heap limit: past it, garbage collection takes over the process. */
export const defaultMaxHeapUsedBytes = () => Math.floor(getHeapStatistics().heap_size_limit * 0.9);

export const DEFAULT_LOAD_SHEDDING: LoadSheddingConfig = {
  maxEventLoopDelayMs: 1000,
  maxHeapUsedBytes: 0, // filled in by loadSheddingConfig: defaultMaxHeapUsedBytes()
  maxRssBytes: 0,
  sampleIntervalMs: 1000,
  retryAfterSeconds: 10,
};

const REASONS: Record<string, string> = {
  eventLoopDelay: 'the event loop is delayed',
  heapUsedBytes: 'the heap is nearly full',
  rssBytes: 'memory use is too high',
  eventLoopUtilization: 'the event loop is saturated',
  healthCheck: 'a dependency is unhealthy',
};

const WARN_EVERY_MS = 10_000;

export async function registerLoadShedding(
  app: FastifyInstance,
  cfg: LoadSheddingConfig,
  exempt: (req: FastifyRequest) => boolean,
): Promise<void> {
  let lastWarning = 0;
  let shed = 0;
  await app.register(underPressure, {
    maxEventLoopDelay: cfg.maxEventLoopDelayMs,
    maxHeapUsedBytes: cfg.maxHeapUsedBytes,
    maxRssBytes: cfg.maxRssBytes,
    sampleInterval: cfg.sampleIntervalMs,
    retryAfter: cfg.retryAfterSeconds,
    pressureHandler: (req: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => {
      if (exempt(req)) return; // the probes answer for themselves
      shed += 1;
      const now = Date.now();
      if (now - lastWarning >= WARN_EVERY_MS) {
        lastWarning = now;
        app.log.warn({ type, value, shed }, 'overloaded: shedding requests with 503');
        shed = 0;
      }
      reply.header('retry-after', String(cfg.retryAfterSeconds));
      // Sent here; fastify then stops the request (under-pressure's documented way).
      sendProblem(reply, {
        type: 'https://switchyard.io/problems/overloaded',
        title: 'Service overloaded',
        status: 503,
        detail: `the server is shedding load (${REASONS[type] ?? type}); try again in ${cfg.retryAfterSeconds} s`,
        instance: req.url,
      });
    },
  });
}
