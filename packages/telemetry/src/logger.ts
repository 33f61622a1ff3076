// One pino logger per process; secrets are redacted wherever they appear in a log object.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'databaseUrl',
  'redisUrl',
];

export interface LoggerConfig {
  level: string;
  pretty?: boolean;
  name?: string;
  /** Where to write; defaults to stdout. Tests pass a stream to inspect output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(cfg: LoggerConfig): Logger {
  const opts: LoggerOptions = {
    level: cfg.level,
    name: cfg.name ?? 'switchyard',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    base: { pid: process.pid },
  };
  if (cfg.pretty && !cfg.destination) {
    return pino({
      ...opts,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return cfg.destination ? pino(opts, cfg.destination as pino.DestinationStream) : pino(opts);
}

/** Strips credentials from a connection URL before it is logged or shown. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
