/** A queue prefix without a Redis Cluster hash tag: queues and flows would span slots. */
export class PrefixError extends Error {
  readonly code = 'QUEUE_PREFIX_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'PrefixError';
  }
}
