// @switchyard/queue: Redis connections, the BullMQ job catalog, producers, the worker harness,
// leader fencing, the idempotent device-command handler and the control-event channel.
export * from './redis.ts';
export * from './errors/index.ts';
export * from './job-id.ts';
export * from './job-catalog.ts';
export * from './queues.ts';
export * from './lease.ts';
export * from './redis-lease.ts';
export * from './worker-harness.ts';
export * from './device-handlers.ts';
export * from './phase-handler.ts';
export * from './events.ts';
// The BullMQ types and the error callers need, so they do not depend on bullmq themselves.
export {
  UnrecoverableError,
  QueueEvents,
  type Job,
  type Queue,
  type Worker,
  type FlowProducer,
} from 'bullmq';
