// What the operator and price routes share: their options, 400 problems that name a field, the
// site a request means, and publishing a control event without holding the request up.
import type { FastifyBaseLogger } from 'fastify';
import type { Site } from '@switchyard/domain';
import type { Database } from '@switchyard/db';
import type { ControlEvent } from '@switchyard/queue';
import { HttpProblem } from '../problem.ts';
import type { FarmView } from './farm.ts';

export interface OperatorRouteOptions {
  db: Database;
  getFarm: () => FarmView;
  /** Publishes a control event (Redis pub/sub); without it the controller sees changes on its interval. */
  publishEvent?: ((event: ControlEvent) => Promise<unknown>) | undefined;
  /** The clock (tests). */
  now?: (() => Date) | undefined;
}

/** How long a write waits for its control event to be published. */
const PUBLISH_TIMEOUT_MS = 1000;

/** A 400 problem naming the field (a JSON pointer below the body or the query). */
export function invalid(path: string, message: string): HttpProblem {
  const field = path.replace(/^\//, '').replaceAll('/', '.');
  return new HttpProblem(400, 'validation', 'Request is invalid', `${field} ${message}`, {
    errors: [{ path: path.startsWith('/') ? path : `/${path}`, message }],
  });
}

export function notFound(what: string): HttpProblem {
  return new HttpProblem(404, 'not-found', 'Not found', what);
}

/**
 * The site a request names (`field` in the body or query), or the farm's first site when it
 * names none and `required` is false; with `required`, naming none is allowed only when the farm
 * has one site.
 */
export function siteOf(
  farm: FarmView['farm'],
  value: unknown,
  opts: { field?: string; required?: boolean } = {},
): Site {
  const field = opts.field ?? 'site';
  const names = farm.sites.map((s) => s.metadata.name);
  if (value === undefined || value === null) {
    if (farm.sites.length === 1 || (!opts.required && farm.sites.length > 0)) return farm.sites[0]!;
    throw invalid(field, `is required: the farm has ${names.length} sites (${names.join(', ')})`);
  }
  const site = typeof value === 'string' ? farm.sites.find((s) => s.metadata.name === value) : undefined;
  if (!site) throw invalid(field, `must be a site of the farm (${names.join(', ') || 'none'})`);
  return site;
}

/** Publishes, bounded in time; a failure is logged and reported as not notified. */
export async function notify(
  publish: OperatorRouteOptions['publishEvent'],
  event: ControlEvent,
  log: FastifyBaseLogger,
): Promise<boolean> {
  if (!publish) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      publish(event),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${PUBLISH_TIMEOUT_MS} ms`)),
          PUBLISH_TIMEOUT_MS,
        );
      }),
    ]);
    return true;
  } catch (err) {
    log.warn(
      { err, event },
      'control event not published; the controller will see the change on its next interval',
    );
    return false;
  } finally {
    clearTimeout(timer);
  }
}

const ISO_PARTS = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2}))?/;

/**
 * An ISO-8601 time the schema's pattern let through, or null when it names no real instant:
 * `new Date` would roll 2026-02-31 over to March 3 and take hour 24.
 */
export function parseIsoTime(value: string): Date | null {
  const m = ISO_PARTS.exec(value);
  const d = new Date(value);
  if (!m || Number.isNaN(d.getTime())) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map((x) => Number(x ?? 0)) as number[];
  const calendar = new Date(Date.UTC(year!, month! - 1, day!));
  const realDay = calendar.getUTCMonth() === month! - 1 && calendar.getUTCDate() === day;
  return realDay && hour! < 24 && minute! < 60 && second! < 60 ? d : null;
}

export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** Whole seconds from `from` to `to`, never negative. */
export const secondsBetween = (from: Date, to: Date): number =>
  Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
