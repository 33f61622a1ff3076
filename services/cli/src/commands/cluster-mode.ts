// `--cluster` for `switchyard controller` and `switchyard worker`: GPU nodes through Kubernetes
// (KubernetesClusterDriver) and leadership on a coordination.k8s.io Lease (KubeLeaderLease),
// whose transitions are the fencing epoch the workers check. The kubeconfig is found as kubectl
// finds it (KUBECONFIG, ~/.kube/config, or the Pod's ServiceAccount); the Lease lives in
// POD_NAMESPACE (the chart sets it from the downward API; else the ServiceAccount's namespace,
// else "default"), held under POD_NAME (else the host name). GPU_POWER_PROMETHEUS_URL: a Prometheus
// with dcgm-exporter's metrics, for measured GPU power.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  KubeFarmSource,
  KubeLeaderLease,
  KubernetesClusterDriver,
  KubeWorkloads,
  ORDER_LABEL,
  kubeConfigFromEnvironment,
} from '@switchyard/cluster';
import { startClusterController, type ClusterControllerOptions } from '@switchyard/controller';
import type { Farm } from '@switchyard/domain';

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface ClusterMode {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The farm as the switchyard.io custom resources describe it now. */
  farm(): Promise<Farm>;
  /** The worker's node driver for a farm. */
  driver(farm: Farm): KubernetesClusterDriver;
  /** A reader of the controller's Lease (the worker's fence). */
  leaseReader(): KubeLeaderLease;
  /** The controller: farm from the resources, Lease, nodes, order Jobs, status written back. */
  startController(
    o: Omit<ClusterControllerOptions, 'kubeConfig' | 'namespace'>,
  ): Promise<{ lease: KubeLeaderLease; close(): Promise<void> }>;
}

function namespaceOf(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(SA_NAMESPACE, 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

export function clusterMode(env: NodeJS.ProcessEnv, kubeConfig?: KubeConfig): ClusterMode {
  const kc = kubeConfig ?? kubeConfigFromEnvironment();
  const namespace = namespaceOf(env);
  const leaseName = env.LEASE_NAME ?? 'switchyard-controller';
  return {
    kubeConfig: kc,
    namespace,
    async farm() {
      const source = new KubeFarmSource({ kubeConfig: kc });
      try {
        return await source.start();
      } finally {
        await source.close();
      }
    },
    // The worker's driver: a node leaving serving has the orders' pods evicted first.
    driver: (farm) => {
      const workloads = new KubeWorkloads({ kubeConfig: kc, namespace });
      return new KubernetesClusterDriver({
        kubeConfig: kc,
        farm,
        drain: (node) => workloads.drainNode(node, { podSelector: ORDER_LABEL }),
      });
    },
    leaseReader: () => new KubeLeaderLease({ kubeConfig: kc, namespace, name: leaseName }),
    async startController(o) {
      const cc = await startClusterController({
        ...o,
        kubeConfig: kc,
        namespace,
        leaseName,
        holderId: `${env.POD_NAME ?? os.hostname()}-${process.pid}`,
        prometheusUrl: env.GPU_POWER_PROMETHEUS_URL,
      });
      return { lease: cc.lease, close: () => cc.close() };
    },
  };
}
