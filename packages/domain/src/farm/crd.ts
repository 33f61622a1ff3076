// The CustomResourceDefinitions of Switchyard's kinds, built from the same zod schemas as the farm
// file: each spec (and status) schema goes through z.toJSONSchema and toStructuralSchema. The
// farm's kinds (Site, MinerFleet, GpuPool, AllocationPolicy) are cluster-scoped: they describe
// the site's physical plant and make the controller act on Nodes, which are cluster-scoped, so
// editing them takes cluster-level rights, and names referenced across kinds are unambiguous.
// InferenceOrder is namespaced: a user's order in the user's namespace, as a Job is.
// Pure: scripts/crds writes crdFiles() to charts/switchyard/crd-files/.
import { stringify } from 'yaml';
import { z } from 'zod';
import { toStructuralSchema, type StructuralSchema } from './crd-schema.ts';
import { inferenceOrderSpecSchema, inferenceOrderStatusSchema } from './inference-order-schema.ts';
import {
  allocationPolicySpecSchema,
  API_VERSION,
  gpuPoolSpecSchema,
  minerFleetSpecSchema,
  resourceName,
  siteSpecSchema,
  type FarmResource,
} from './resource-schema.ts';
import {
  allocationPolicyStatusSchema,
  CONDITION_READY,
  gpuPoolStatusSchema,
  minerFleetStatusSchema,
  siteStatusSchema,
} from './status-schema.ts';

export const CRD_GROUP = 'switchyard.io';
export const CRD_VERSION = 'v1alpha1';
/** `switchyard.io/v1alpha1`, the apiVersion of the farm file's documents and of the CRs. */
export const CRD_API_VERSION = API_VERSION;
export const CRD_CATEGORY = 'switchyard';
/** Where scripts/crds writes the CRDs, one file each (crdFiles()). */
export const CRD_DIR = 'charts/switchyard/crd-files';
/** A power tree may be this many levels below its root (farm-validation's limit). */
export const POWER_TREE_MAX_DEPTH = 16;

export const CRD_KINDS = ['Site', 'MinerFleet', 'GpuPool', 'AllocationPolicy', 'InferenceOrder'] as const;
export type CrdKind = (typeof CRD_KINDS)[number];

export interface PrinterColumn {
  name: string;
  type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

/** A CustomResourceDefinition (apiextensions.k8s.io/v1) as a plain object. */
export interface CustomResourceDefinitionObject {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Cluster' | 'Namespaced';
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: StructuralSchema };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
    }>;
  };
}

interface KindDefinition {
  plural: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  /** Constraints on metadata.name beyond the API server's own (a farm name is a DNS-1123 label). */
  dnsLabelName: boolean;
  columns: PrinterColumn[];
}

const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const READY: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: `.status.conditions[?(@.type=="${CONDITION_READY}")].status`,
};
const col = (
  name: string,
  type: PrinterColumn['type'],
  jsonPath: string,
  description: string,
  priority = 0,
) => ({ name, type, jsonPath, description, ...(priority ? { priority } : {}) }) satisfies PrinterColumn;

export const CRD_DEFINITIONS: Record<CrdKind, KindDefinition> = {
  Site: {
    plural: 'sites',
    shortNames: ['swsite'],
    scope: 'Cluster',
    description:
      'A site: its grid interconnect, power tree and cooling zones. Status: the last plan made for it.',
    spec: siteSpecSchema,
    status: siteStatusSchema,
    dnsLabelName: true,
    columns: [
      col('Load kW', 'number', '.status.lastPlan.facilityKw', 'Facility load of the last plan, kW'),
      col('Interconnect kW', 'number', '.spec.interconnectKw', 'The grid connection limit, kW'),
      col('Net $/h', 'number', '.status.lastPlan.netUsdPerHour', 'Net USD per hour of the last plan', 1),
      col('Solver', 'string', '.status.lastPlan.solver', 'The solver of the last plan', 1),
      col('Last Plan', 'date', '.status.lastPlan.at', 'When the last plan was made'),
      READY,
      AGE,
    ],
  },
  MinerFleet: {
    plural: 'minerfleets',
    shortNames: ['mfleet', 'mf'],
    scope: 'Cluster',
    description:
      'ASICs of one model and firmware on one feed and cooling zone. Status: hashrate, power and miners by state.',
    spec: minerFleetSpecSchema,
    status: minerFleetStatusSchema,
    dnsLabelName: true,
    columns: [
      col('Hashrate TH/s', 'number', '.status.hashrateThs', 'Hashrate of the fleet, TH/s'),
      col('Power kW', 'number', '.status.powerKw', 'Draw of the fleet, kW'),
      col('Hashing', 'integer', '.status.miners.hashing', 'Miners hashing'),
      col('Sleeping', 'integer', '.status.miners.sleeping', 'Miners asleep'),
      col('Offline', 'integer', '.status.miners.offline', 'Miners not answering'),
      col('Fault', 'integer', '.status.miners.fault', 'Miners reporting a fault', 1),
      col('Model', 'string', '.spec.model', 'Miner model', 1),
      col('Feed', 'string', '.spec.feed', 'Power-tree node the fleet draws through', 1),
      AGE,
    ],
  },
  GpuPool: {
    plural: 'gpupools',
    shortNames: ['gpool'],
    scope: 'Cluster',
    description:
      'GPU nodes of one model on one feed and cooling zone, selected by labels. Status: nodes by mode.',
    spec: gpuPoolSpecSchema,
    status: gpuPoolStatusSchema,
    dnsLabelName: true,
    columns: [
      col('GPU', 'string', '.spec.gpuModel', 'GPU model'),
      col('Serving', 'integer', '.status.nodes.serving', 'Nodes serving inference'),
      col('Hashing', 'integer', '.status.nodes.hashing', 'Nodes whose GPUs hash'),
      col('Idle', 'integer', '.status.nodes.idle', 'Idle nodes'),
      col(
        'Unavailable',
        'integer',
        '.status.nodes.unavailable',
        'Cordoned, not ready or unreachable nodes',
        1,
      ),
      col('Power kW', 'number', '.status.powerKw', 'Draw of the pool, kW', 1),
      AGE,
    ],
  },
  AllocationPolicy: {
    plural: 'allocationpolicies',
    shortNames: ['apolicy'],
    scope: 'Cluster',
    description: "How a site's power is allocated: interval, margins, ramp, dwell, hysteresis and wear.",
    spec: allocationPolicySpecSchema,
    status: allocationPolicyStatusSchema,
    dnsLabelName: true,
    columns: [
      col('Site', 'string', '.spec.site', 'The Site it applies to'),
      col('Interval', 'integer', '.spec.intervalSeconds', 'Planning interval, seconds'),
      col('Margin %', 'number', '.spec.safetyMarginPct', 'Safety margin on every limit, %', 1),
      READY,
      AGE,
    ],
  },
  InferenceOrder: {
    plural: 'inferenceorders',
    shortNames: ['iorder'],
    scope: 'Namespaced',
    description:
      "A compute order placed in the cluster: GPUs of some models for a time, at a tier and a price cap, running the given image. Status: the order's state.",
    spec: inferenceOrderSpecSchema,
    status: inferenceOrderStatusSchema,
    dnsLabelName: false,
    columns: [
      col('State', 'string', '.status.state', "The order's state"),
      col('GPUs', 'integer', '.spec.gpuCount', 'GPUs ordered'),
      col('Tier', 'string', '.spec.tier', 'reserved, on-demand or interruptible'),
      col('Pool', 'string', '.status.pool', 'The GpuPool it runs on'),
      col('Max $/GPU-h', 'number', '.spec.maxUsdPerGpuHour', 'The most paid, USD per GPU-hour', 1),
      col('Preempt At', 'date', '.status.preemptAt', 'When it will be taken back, while preempting', 1),
      AGE,
    ],
  },
};

/** The structural schema of a zod schema (input side: defaulted fields are optional). */
export function zodToStructural(schema: z.ZodType): StructuralSchema {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0' }) as Record<string, unknown>;
  return toStructuralSchema(json, { maxRecursion: POWER_TREE_MAX_DEPTH + 1 });
}

export function crdName(kind: CrdKind): string {
  return `${CRD_DEFINITIONS[kind].plural}.${CRD_GROUP}`;
}

/**
 * The API path of a kind's collection, e.g. for an informer: `/apis/switchyard.io/v1alpha1/sites`,
 * or `.../namespaces/<ns>/inferenceorders` (InferenceOrder across all namespaces without one).
 */
export function crdCollectionPath(kind: CrdKind, namespace?: string): string {
  const d = CRD_DEFINITIONS[kind];
  const ns = d.scope === 'Namespaced' && namespace ? `/namespaces/${namespace}` : '';
  return `/apis/${CRD_GROUP}/${CRD_VERSION}${ns}/${d.plural}`;
}

function openApiSchema(kind: CrdKind): StructuralSchema {
  const d = CRD_DEFINITIONS[kind];
  const metadata: StructuralSchema = d.dnsLabelName
    ? { type: 'object', properties: { name: zodToStructural(resourceName) } }
    : { type: 'object' };
  return {
    description: d.description,
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata,
      spec: zodToStructural(d.spec),
      status: zodToStructural(d.status),
    },
    required: ['spec'],
  };
}

export function crdObject(kind: CrdKind): CustomResourceDefinitionObject {
  const d = CRD_DEFINITIONS[kind];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName(kind), labels: { 'app.kubernetes.io/part-of': 'switchyard' } },
    spec: {
      group: CRD_GROUP,
      names: {
        kind,
        listKind: `${kind}List`,
        plural: d.plural,
        singular: kind.toLowerCase(),
        shortNames: d.shortNames,
        categories: [CRD_CATEGORY],
      },
      scope: d.scope,
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchema(kind) },
          subresources: { status: {} },
          additionalPrinterColumns: d.columns,
        },
      ],
    },
  };
}

/** Every CRD, in CRD_KINDS order. */
export function crdObjects(): CustomResourceDefinitionObject[] {
  return CRD_KINDS.map(crdObject);
}

/** `switchyard.io_sites.yaml`: the file name of a kind's CRD in CRD_DIR. */
export function crdFileName(kind: CrdKind): string {
  return `${CRD_GROUP}_${CRD_DEFINITIONS[kind].plural}.yaml`;
}

const HEADER = [
  '# Generated by scripts/crds from the zod schemas in packages/domain/src/farm; do not edit.',
  '# Regenerate with ./scripts/crds (test/crds/crds.test.ts fails until the files match).',
].join('\n');

/** The text of a CRD file: a comment header and the CRD as YAML. */
export function crdYaml(crd: CustomResourceDefinitionObject): string {
  return `${HEADER}\n${stringify(crd, { lineWidth: 0, singleQuote: true, aliasDuplicateObjects: false })}`;
}

/** Every CRD file: its name in CRD_DIR, its kind and its text. */
export function crdFiles(): Array<{ file: string; kind: CrdKind; text: string }> {
  return CRD_KINDS.map((kind) => ({ file: crdFileName(kind), kind, text: crdYaml(crdObject(kind)) }));
}

/** A custom resource as a cluster stores it (no status; a farm kind has no namespace). */
export interface CustomResource {
  apiVersion: string;
  kind: CrdKind;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: unknown;
}

/** A farm-file document, parsed (a FarmResource) or as written. */
export interface FarmDocument {
  kind: FarmResource['kind'];
  metadata: FarmResource['metadata'];
  spec: unknown;
}

/**
 * A farm-file document as the custom resource to apply: the same apiVersion, kind, name,
 * labels, annotations and spec. The farm's kinds are cluster-scoped, so a namespace is dropped;
 * status is written by Switchyard, not applied.
 */
export function toCustomResource(resource: FarmDocument): CustomResource {
  const { name, labels, annotations } = resource.metadata;
  return {
    apiVersion: CRD_API_VERSION,
    kind: resource.kind,
    metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: resource.spec,
  };
}
