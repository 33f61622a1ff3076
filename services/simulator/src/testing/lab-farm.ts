// A small farm for tests: one site, a transformer and three PDUs; 20 S21 (braiins) on pdu-a,
// whose 76 kW limit holds them on "normal" (70 kW) but not on "turbo" (77 kW); 30 M50S
// (whatsminer) on pdu-b; 4 H100 nodes on pdu-g. Addresses 10.201.x.y (127.201.x.y), so tests
// never collide with the example farm.
import { parseFarmYaml, type Farm } from '@switchyard/domain';

export const LAB_FARM_YAML = `
apiVersion: switchyard.io/v1alpha1
kind: Site
metadata: { name: lab }
spec:
  interconnectKw: 500
  marketNode: HB_WEST
  pue: 1.1
  powerTree:
    name: site
    type: feed
    limitKw: 500
    children:
      - name: tx
        type: transformer
        limitKw: 400
        children:
          - { name: pdu-a, type: pdu, limitKw: 76 }
          - { name: pdu-b, type: pdu, limitKw: 200 }
          - { name: pdu-g, type: pdu, limitKw: 50 }
  coolingZones:
    - name: hall
      capacityKw: 400
      ambientDerate: { ratedAmbientC: 35, pctPerDegreeC: 2 }
---
apiVersion: switchyard.io/v1alpha1
kind: AllocationPolicy
metadata: { name: lab-policy }
spec: { site: lab, safetyMarginPct: 5 }
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: fa }
spec:
  site: lab
  feed: pdu-a
  coolingZone: hall
  model: S21
  driver: braiins
  endpoints: { cidr: 10.201.0.0/27, count: 20 }
---
apiVersion: switchyard.io/v1alpha1
kind: MinerFleet
metadata: { name: fb }
spec:
  site: lab
  feed: pdu-b
  coolingZone: hall
  model: M50S
  driver: whatsminer
  endpoints: { cidr: 10.201.1.0/26, count: 30 }
---
apiVersion: switchyard.io/v1alpha1
kind: GpuPool
metadata: { name: gpu }
spec:
  site: lab
  feed: pdu-g
  coolingZone: hall
  nodeSelector: { switchyard.io/pool: gpu }
  nodes: 4
  gpuModel: H100-SXM-80GB
  gpusPerNode: 8
  vramGiB: 80
  nodePowerKw: { idle: 1.6, serving: 10.2, hashing: 8.4 }
  hashing: { enabled: true, image: example/hasher:1, payoutUsdPerGpuHour: 0.2 }
`;

export function labFarm(): Farm {
  const r = parseFarmYaml(LAB_FARM_YAML);
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.document} ${i.path}: ${i.message}`).join('\n'));
  return r.farm;
}
