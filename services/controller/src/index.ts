export * from './snapshot.ts';
export * from './control-loop.ts';
export * from './miner-selection.ts';
export * from './ports.ts';
export * from './service.ts';
export * from './gpu-steps.ts';
export * from './cluster.ts';
export * from './inference-orders.ts';
