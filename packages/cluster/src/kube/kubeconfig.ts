// A KubeConfig for one API server URL, without a kubeconfig file: what the controller uses when
// it is given a server URL (and what tests use against the fake API server). In a Pod the usual
// loadFromCluster() / loadFromDefault() applies instead (kubeConfigFromEnvironment).
import { KubeConfig } from '@kubernetes/client-node';
import { ClusterError } from '../errors.ts';

export interface KubeConfigForOptions {
  /** The API server, e.g. https://10.0.0.1:6443 or http://127.0.0.1:41234. */
  server: string;
  /** A bearer token (a ServiceAccount token); also what tells clients apart on the fake server. */
  token?: string;
  /** The context's default namespace. */
  namespace?: string;
  /** PEM of the server's CA, for https. */
  caPem?: string;
  /** Accept any server certificate. Always on for http:, where client-node requires it. */
  skipTLSVerify?: boolean;
  /** Name of the cluster, user and context entries (default "switchyard"). */
  name?: string;
}

export function kubeConfigFor(opts: KubeConfigForOptions): KubeConfig {
  let url: URL;
  try {
    url = new URL(opts.server);
  } catch {
    throw new ClusterError('invalid-config', `Kubernetes API server "${opts.server}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ClusterError('invalid-config', `Kubernetes API server ${url.origin} is not http(s)`);
  if (url.username || url.password)
    throw new ClusterError(
      'invalid-config',
      'credentials in the API server URL are not supported; give a token',
    );
  const name = opts.name ?? 'switchyard';
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name,
        server: opts.server.replace(/\/+$/, ''),
        // client-node refuses plain http unless TLS checks are off, which mean nothing there.
        skipTLSVerify: url.protocol === 'http:' || opts.skipTLSVerify === true,
        ...(opts.caPem ? { caData: Buffer.from(opts.caPem).toString('base64') } : {}),
      },
    ],
    users: [{ name, ...(opts.token ? { token: opts.token } : {}) }],
    contexts: [{ name, cluster: name, user: name, ...(opts.namespace ? { namespace: opts.namespace } : {}) }],
    currentContext: name,
  });
  return kc;
}

/** KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount, as kubectl finds them. */
export function kubeConfigFromEnvironment(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  if (!kc.getCurrentCluster())
    throw new ClusterError(
      'invalid-config',
      'no Kubernetes cluster configured (KUBECONFIG, ~/.kube/config or in-cluster)',
    );
  return kc;
}
