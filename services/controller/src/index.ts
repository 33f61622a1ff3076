export * from './snapshot.ts';
export * from './control-loop.ts';
