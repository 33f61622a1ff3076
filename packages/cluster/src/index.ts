// @switchyard/cluster: the ClusterDriver seam over the GPU nodes of the farm's pools, its
// simulator implementation (standalone mode) and the pure choice of nodes a pool step moves.
export * from './driver.ts';
export * from './errors.ts';
export * from './select.ts';
export * from './simulator-driver.ts';
// Kubernetes client helpers and the leader election on a coordination.k8s.io/v1 Lease.
export * from './kube/api-errors.ts';
export * from './kube/call-options.ts';
export * from './kube/kubeconfig.ts';
export * from './kube/lease-election.ts';
// The farm read from custom resources, and status written back to them.
export * from './kube/farm-source.ts';
export * from './kube/status-writer.ts';
// The GPU workloads: orders' Jobs, the pools' hashing DaemonSets, node drains.
export * from './kube/manifests.ts';
export * from './kube/workloads.ts';
export * from './kube-driver.ts';
export * from './gpu-power.ts';
