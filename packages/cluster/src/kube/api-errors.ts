// Failures of @kubernetes/client-node calls as ClusterErrors. The client throws ApiException
// { code, body } for any non-2xx answer, where body is the raw text of the server's `Status`
// document; network failures come from undici (a TypeError whose cause has the errno); an
// aborted call rejects with the signal's reason.
import { ClusterError, type ClusterErrorCode } from '../errors.ts';

/** The parts of a Kubernetes `Status` that say what went wrong. */
export interface KubeStatusInfo {
  code: number;
  reason: string;
  message: string;
  /** details.retryAfterSeconds, or a Retry-After header. */
  retryAfterSeconds?: number;
}

interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers?: Record<string, string>;
}

function isApiException(e: unknown): e is ApiExceptionLike {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'number' && 'body' in e;
}

function parseBody(body: unknown): Record<string, unknown> | undefined {
  if (typeof body === 'string') {
    try {
      const v: unknown = JSON.parse(body);
      return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
  return body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : undefined;
}

/** The server's Status from a client failure; undefined when the server did not answer. */
export function kubeStatusOf(e: unknown): KubeStatusInfo | undefined {
  if (!isApiException(e)) return undefined;
  const body = parseBody(e.body);
  const details = (body?.details ?? {}) as { retryAfterSeconds?: unknown };
  const header = Number(e.headers?.['retry-after']);
  const retry =
    typeof details.retryAfterSeconds === 'number'
      ? details.retryAfterSeconds
      : header > 0
        ? header
        : undefined;
  return {
    code: e.code,
    reason: typeof body?.reason === 'string' ? body.reason : '',
    message: typeof body?.message === 'string' ? body.message : '',
    ...(retry !== undefined ? { retryAfterSeconds: retry } : {}),
  };
}

const hasStatus = (e: unknown, code: number, reason?: string) => {
  const s = kubeStatusOf(e);
  return s !== undefined && s.code === code && (reason === undefined || s.reason === reason);
};

/** 409 Conflict: the object changed since it was read (a stale resourceVersion). */
export const isConflict = (e: unknown) => hasStatus(e, 409, 'Conflict');
export const isAlreadyExists = (e: unknown) => hasStatus(e, 409, 'AlreadyExists');
export const isNotFound = (e: unknown) => hasStatus(e, 404);
/** 410: the resourceVersion is older than the server's history; list again. */
export const isGone = (e: unknown) => hasStatus(e, 410);

function codeOf(status: KubeStatusInfo): ClusterErrorCode {
  const { code, reason } = status;
  if (code === 404) return 'not-found';
  if (code === 408 || code === 504) return 'timeout';
  // The object moved on since it was read (Conflict) or the read is too old (Gone): read again.
  if ((code === 409 && reason !== 'AlreadyExists') || code === 410 || code === 429) return 'busy';
  if (code === 401 || code === 403) return 'invalid-config';
  if (code >= 500) return 'server-error';
  return 'invalid-request';
}

function errnoOf(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * A client failure as a ClusterError whose message starts with `what` (e.g. "PATCH node
 * gpu-1"). 401/403 are `invalid-config`: the ServiceAccount or its RBAC is wrong.
 */
export function clusterErrorFromKube(e: unknown, what: string, signal?: AbortSignal): ClusterError {
  if (e instanceof ClusterError) return e;
  const status = kubeStatusOf(e);
  if (status) {
    const detail = [status.reason, status.message].filter(Boolean).join(': ');
    return new ClusterError(codeOf(status), `${what}: ${status.code}${detail ? ` ${detail}` : ''}`, {
      status: status.code,
      cause: e,
    });
  }
  if (signal?.aborted) return new ClusterError('aborted', `${what}: aborted`, { cause: e });
  const name = (e as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError') return new ClusterError('timeout', `${what}: no answer in time`, { cause: e });
  if (name === 'AbortError') return new ClusterError('aborted', `${what}: aborted`, { cause: e });
  if (e instanceof SyntaxError)
    return new ClusterError('bad-response', `${what}: the answer is not JSON`, { cause: e });
  const errno = errnoOf(e);
  return new ClusterError('unreachable', `${what}: unreachable${errno ? ` (${errno})` : ''}`, { cause: e });
}
