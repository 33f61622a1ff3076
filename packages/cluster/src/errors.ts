// Why a cluster call failed, and whether trying again can help.

export const CLUSTER_ERROR_CODES = [
  'unreachable', // connection refused, reset, DNS failure
  'timeout', // no answer in time
  'aborted', // the caller's signal aborted the call
  'busy', // the cluster asked to slow down (429)
  'server-error', // 5xx
  'bad-response', // an answer that is not the expected document
  'not-ready', // the node is cordoned, NotReady or unreachable: not controlled now
  'not-found', // no such pool or node
  'not-allowed', // the node cannot take that mode (e.g. the pool does not allow hashing)
  'invalid-request', // any other 4xx: the request itself is wrong
  'invalid-config', // the driver is misconfigured (e.g. a base URL that is not http(s))
] as const;
export type ClusterErrorCode = (typeof CLUSTER_ERROR_CODES)[number];

const PERMANENT: ReadonlySet<ClusterErrorCode> = new Set([
  'not-found',
  'not-allowed',
  'invalid-request',
  'invalid-config',
]);

export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  /** The HTTP status, when the cluster answered with one. */
  readonly status: number | undefined;
  constructor(code: ClusterErrorCode, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClusterError';
    this.code = code;
    this.status = options?.status;
  }
  /** Errors after which retrying the same call cannot succeed. */
  get permanent(): boolean {
    return PERMANENT.has(this.code);
  }
}

export function isPermanentClusterError(e: unknown): e is ClusterError {
  return e instanceof ClusterError && e.permanent;
}
