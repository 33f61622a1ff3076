// @switchyard/cluster: the ClusterDriver seam over the GPU nodes of the farm's pools, its
// simulator implementation (standalone mode) and the pure choice of nodes a pool step moves.
export * from './driver.ts';
export * from './errors.ts';
export * from './select.ts';
export * from './simulator-driver.ts';
