// A small farm of GPU pools only, for the Kubernetes tests: site klab, pool hpool (3 H100 nodes
// selected by switchyard.io/pool and the GFD product label, hashing allowed) and pool nohash (1
// node, no hashing), with a policy that lets a node change mode every cycle. It has no miners, so
// no test using it takes an address block.
import { parseFarmYaml, type Farm } from '@switchyard/domain';

export const GPU_FARM_YAML = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: klab }
spec:
  interconnectKw: 200
  marketNode: HB_WEST
  pue: 1.1
  powerTree: { name: site, limitKw: 200, children: [{ name: pdu-1, limitKw: 100 }] }
  coolingZones: [{ name: hall, capacityKw: 200 }]
---
apiVersion: switchyard.io/v1alpha1
kind: AllocationPolicy
metadata: { name: klab-policy }
spec: { site: klab, minDwellSeconds: 0, maxCyclesPerDay: 288, hysteresisUsdPerMwh: 0 }
---
apiVersion: switchyard.io/v1alpha1
kind: GpuPool
metadata: { name: hpool }
spec:
  site: klab
  feed: pdu-1
  coolingZone: hall
  nodeSelector: { switchyard.io/pool: hpool, nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3 }
  nodes: 3
  gpuModel: H100-SXM-80GB
  gpusPerNode: 8
  vramGiB: 80
  nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 }
  hashing:
    enabled: true
    image: ghcr.io/switchyard/gpu-hasher:1.4.0
    args: [--intensity, high]
    payoutUsdPerGpuHour: 0.18
---
apiVersion: switchyard.io/v1alpha1
kind: GpuPool
metadata: { name: nohash }
spec:
  site: klab
  feed: pdu-1
  coolingZone: hall
  nodeSelector: { switchyard.io/pool: nohash }
  nodes: 1
  gpuModel: H100-SXM-80GB
  gpusPerNode: 8
  vramGiB: 80
  nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 }
`;

export function gpuFarm(): Farm {
  const parsed = parseFarmYaml(GPU_FARM_YAML);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.farm;
}
