/** A part of a deterministic job id that BullMQ or the id format cannot carry. */
export class JobIdError extends Error {
  readonly code = 'JOB_ID_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'JobIdError';
  }
}
