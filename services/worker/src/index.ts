// @switchyard/worker: the process that runs every job of the catalog (`switchyard worker`).
export * from './handlers.ts';
export * from './service.ts';
