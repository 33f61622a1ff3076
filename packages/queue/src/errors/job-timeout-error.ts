/** An attempt ran past its catalog timeout. Retryable: the next attempt starts from the job's progress. */
export class JobTimeoutError extends Error {
  readonly code = 'JOB_TIMEOUT';
  readonly timeoutMs: number;
  constructor(jobName: string, timeoutMs: number) {
    super(`${jobName} did not finish within ${timeoutMs} ms`);
    this.name = 'JobTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}
