// @switchyard/worker: the process that runs every job of the catalog (`switchyard worker`).
export * from './handlers.ts';
export * from './kube-handler.ts';
export * from './service.ts';
export * from './credentials.ts';
export * from './metrics.ts';
