/** A job payload that does not match its catalog schema. Never retried: it cannot get better. */
export class PayloadError extends Error {
  readonly code = 'JOB_PAYLOAD_INVALID';
  readonly jobName: string;
  readonly issues: ReadonlyArray<{ path: string; message: string }>;
  constructor(jobName: string, issues: ReadonlyArray<{ path: string; message: string }>) {
    super(
      `invalid ${jobName} payload: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
    );
    this.name = 'PayloadError';
    this.jobName = jobName;
    this.issues = issues;
  }
}
