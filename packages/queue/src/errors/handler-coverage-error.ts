/** The worker was given handlers that do not match the job catalog: it refuses to start. */
export class HandlerCoverageError extends Error {
  readonly code = 'JOB_HANDLERS_INCOMPLETE';
  readonly missing: readonly string[];
  readonly unknown: readonly string[];
  constructor(missing: readonly string[], unknown: readonly string[]) {
    const parts: string[] = [];
    if (missing.length) parts.push(`no handler for ${missing.join(', ')}`);
    if (unknown.length) parts.push(`handlers for jobs not in the catalog: ${unknown.join(', ')}`);
    super(`refusing to start workers: ${parts.join('; ')}`);
    this.name = 'HandlerCoverageError';
    this.missing = missing;
    this.unknown = unknown;
  }
}
