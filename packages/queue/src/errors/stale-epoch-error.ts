/**
 * A fenced job whose epoch is not the current leader's: it was dispatched by a leader that has
 * since been replaced. The worker drops it (completes it without acting), never retries it.
 */
export class StaleEpochError extends Error {
  readonly code = 'STALE_EPOCH';
  readonly jobEpoch: number;
  readonly currentEpoch: number;
  constructor(jobEpoch: number, currentEpoch: number) {
    super(
      jobEpoch < currentEpoch
        ? `dropped: stale epoch ${jobEpoch} < ${currentEpoch}`
        : `dropped: epoch ${jobEpoch} is ahead of the current epoch ${currentEpoch}`,
    );
    this.name = 'StaleEpochError';
    this.jobEpoch = jobEpoch;
    this.currentEpoch = currentEpoch;
  }
}
