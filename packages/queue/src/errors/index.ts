export { JobIdError } from './job-id-error.ts';
export { PayloadError } from './payload-error.ts';
export { HandlerCoverageError } from './handler-coverage-error.ts';
export { StaleEpochError } from './stale-epoch-error.ts';
export { JobTimeoutError } from './job-timeout-error.ts';
export { PrefixError } from './prefix-error.ts';
export { DeviceBatchError } from './device-batch-error.ts';
