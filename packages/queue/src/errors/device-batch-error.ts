/**
 * Some devices of a batch failed with errors worth retrying. The job's next attempt retries
 * only those devices: the others' outcomes are kept in the job's progress.
 */
export class DeviceBatchError extends Error {
  readonly code = 'DEVICE_BATCH_PARTIAL';
  readonly failed: Readonly<Record<string, string>>;
  constructor(message: string, failed: Readonly<Record<string, string>>) {
    super(message);
    this.name = 'DeviceBatchError';
    this.failed = failed;
  }
}
