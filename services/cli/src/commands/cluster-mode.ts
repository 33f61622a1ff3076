// `--cluster` for `switchyard controller` and `switchyard worker`: GPU nodes through Kubernetes
// (KubernetesClusterDriver) and leadership on a coordination.k8s.io Lease (KubeLeaderLease),
// whose transitions are the fencing epoch the workers check. The kubeconfig is found as kubectl
// finds it (KUBECONFIG, ~/.kube/config, or the Pod's ServiceAccount); the Lease lives in
// POD_NAMESPACE (the chart sets it from the downward API; else the ServiceAccount's namespace,
// else "default"), held under POD_NAME (else the host name).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeLeaderLease, KubernetesClusterDriver, kubeConfigFromEnvironment } from '@switchyard/cluster';
import type { Farm } from '@switchyard/domain';

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface ClusterMode {
  kubeConfig: KubeConfig;
  driver: KubernetesClusterDriver;
  /** The controller's Lease; `ttlMs` is rounded up to whole seconds. */
  lease(ttlMs: number): KubeLeaderLease;
}

function namespaceOf(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(SA_NAMESPACE, 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

export function clusterMode(farm: Farm, env: NodeJS.ProcessEnv, kubeConfig?: KubeConfig): ClusterMode {
  const kc = kubeConfig ?? kubeConfigFromEnvironment();
  return {
    kubeConfig: kc,
    driver: new KubernetesClusterDriver({ kubeConfig: kc, farm }),
    lease: (ttlMs) =>
      new KubeLeaderLease({
        kubeConfig: kc,
        namespace: namespaceOf(env),
        name: env.LEASE_NAME ?? 'switchyard-controller',
        holderId: `${env.POD_NAME ?? os.hostname()}-${process.pid}`,
        leaseDurationSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      }),
  };
}
