// The one error type signal sources throw. The code says what went wrong; `retryable` says
// whether asking again soon can help (a timeout or a 503 can, a malformed body cannot).

export type SignalErrorCode =
  | 'TIMEOUT'
  | 'NETWORK'
  | 'HTTP_STATUS'
  | 'RATE_LIMITED'
  | 'AUTH'
  | 'BODY_TOO_LARGE'
  | 'MALFORMED'
  | 'NO_DATA'
  | 'ABORTED'
  | 'SOURCE_FAILED';

export interface SignalSourceErrorOptions {
  retryable?: boolean;
  status?: number;
  cause?: unknown;
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<SignalErrorCode> = new Set([
  'TIMEOUT',
  'NETWORK',
  'RATE_LIMITED',
  'SOURCE_FAILED',
]);

export class SignalSourceError extends Error {
  readonly code: SignalErrorCode;
  readonly retryable: boolean;
  /** HTTP status, when the error is an HTTP answer. */
  readonly status: number | undefined;

  constructor(code: SignalErrorCode, message: string, opts: SignalSourceErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SignalSourceError';
    this.code = code;
    this.retryable = opts.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.status = opts.status;
  }
}

/** Wraps anything thrown into a SignalSourceError (unknown errors count as retryable). */
export function toSignalSourceError(err: unknown): SignalSourceError {
  if (err instanceof SignalSourceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SignalSourceError('SOURCE_FAILED', message, { cause: err });
}
