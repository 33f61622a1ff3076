// The kinds the fake API server serves: the built-in ones Switchyard touches, and custom
// resources registered from CustomResourceDefinition objects (or registerKind). Each kind
// carries the few strategy switches in which the real server's kinds differ.
import { badRequest, type StatusCause } from './status.ts';
import { isObject, type JsonObject, type KubeObject } from './objects.ts';
import type { JSONSchemaProps } from './schema.ts';

export interface ResourceKind {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  /** A `/status` subresource: the main endpoint ignores status, `/status` writes only status. */
  statusSubresource: boolean;
  /** A custom resource: no strategic merge, a PUT needs a resourceVersion, list items keep kind. */
  custom: boolean;
  /** PUT creates a missing object (Leases, Events), instead of 404. */
  createOnUpdate: boolean;
  /** Fields a fieldSelector may use besides metadata.name and metadata.namespace. */
  selectableFields: string[];
  shortNames: string[];
  schema?: JSONSchemaProps;
  /** What the server sets on create (e.g. a Pod's phase); default: status dropped when separate. */
  onCreate?: (obj: KubeObject) => void;
  /** Decoding: throws 400 for a body the typed decoder would refuse. */
  decode?: (obj: KubeObject) => void;
  /** Kind-specific validation: causes of a 422. */
  validate?: (obj: KubeObject) => StatusCause[];
}

/** What registerKind takes. */
export interface KindRegistration {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  statusSubresource?: boolean;
  singular?: string;
  listKind?: string;
  shortNames?: string[];
  schema?: JSONSchemaProps;
  selectableFields?: string[];
}

export const apiVersionOf = (k: { group: string; version: string }) =>
  k.group ? `${k.group}/${k.version}` : k.version;
/** Where objects of a kind live: shared by all its versions. */
export const storageKey = (k: { group: string; plural: string }) => `${k.group}/${k.plural}`;

export function customKind(r: KindRegistration): ResourceKind {
  return {
    group: r.group,
    version: r.version,
    plural: r.plural,
    singular: r.singular ?? r.kind.toLowerCase(),
    kind: r.kind,
    listKind: r.listKind ?? `${r.kind}List`,
    namespaced: r.namespaced,
    statusSubresource: r.statusSubresource ?? false,
    custom: true,
    createOnUpdate: false,
    selectableFields: r.selectableFields ?? [],
    shortNames: r.shortNames ?? [],
    ...(r.schema ? { schema: r.schema } : {}),
  };
}

// metav1.MicroTime only decodes RFC 3339 with exactly six fractional digits.
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

function decodeLease(obj: KubeObject): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  for (const field of ['acquireTime', 'renewTime']) {
    const v = spec[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !MICRO_TIME.test(v))
      throw badRequest(
        `Lease in version "v1" cannot be handled as a Lease: parsing time "${String(v)}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse as RFC 3339 with microseconds`,
      );
  }
}

function validateLease(obj: KubeObject): StatusCause[] {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const out: StatusCause[] = [];
  const d = spec.leaseDurationSeconds;
  if (d !== undefined && d !== null && !(Number.isInteger(d) && (d as number) > 0))
    out.push({
      reason: 'FieldValueInvalid',
      field: 'spec.leaseDurationSeconds',
      message: `Invalid value: ${JSON.stringify(d)}: must be greater than 0`,
    });
  const t = spec.leaseTransitions;
  if (t !== undefined && t !== null && !(Number.isInteger(t) && (t as number) >= 0))
    out.push({
      reason: 'FieldValueInvalid',
      field: 'spec.leaseTransitions',
      message: `Invalid value: ${JSON.stringify(t)}: must be greater than or equal to 0`,
    });
  return out;
}

function builtin(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  extra: Partial<ResourceKind> = {},
): ResourceKind {
  return {
    group,
    version,
    plural,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced,
    statusSubresource: true,
    custom: false,
    createOnUpdate: false,
    selectableFields: [],
    shortNames: [],
    ...extra,
  };
}

export function builtinKinds(): ResourceKind[] {
  return [
    builtin('', 'v1', 'Namespace', 'namespaces', false, {
      shortNames: ['ns'],
      selectableFields: ['status.phase'],
      onCreate: (o) => void (o.status = { phase: 'Active' }),
    }),
    // A kubelet registers its Node with a status, so a Node keeps the status it is created with.
    builtin('', 'v1', 'Node', 'nodes', false, {
      shortNames: ['no'],
      selectableFields: ['spec.unschedulable'],
      onCreate: () => undefined,
    }),
    builtin('', 'v1', 'Pod', 'pods', true, {
      shortNames: ['po'],
      selectableFields: [
        'spec.nodeName',
        'spec.schedulerName',
        'spec.serviceAccountName',
        'status.phase',
        'status.podIP',
      ],
      onCreate: (o) => void (o.status = { phase: 'Pending' }),
    }),
    builtin('', 'v1', 'Event', 'events', true, {
      statusSubresource: false,
      createOnUpdate: true,
      shortNames: ['ev'],
    }),
    builtin('', 'v1', 'ConfigMap', 'configmaps', true, { statusSubresource: false, shortNames: ['cm'] }),
    builtin('apps', 'v1', 'Deployment', 'deployments', true, { shortNames: ['deploy'] }),
    builtin('apps', 'v1', 'DaemonSet', 'daemonsets', true, { shortNames: ['ds'] }),
    builtin('batch', 'v1', 'Job', 'jobs', true, { selectableFields: ['status.successful'] }),
    builtin('coordination.k8s.io', 'v1', 'Lease', 'leases', true, {
      statusSubresource: false,
      createOnUpdate: true,
      decode: decodeLease,
      validate: validateLease,
    }),
    builtin('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', false, {
      statusSubresource: false,
      shortNames: ['pc'],
    }),
    builtin('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, { shortNames: ['pdb'] }),
    builtin('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, {
      shortNames: ['crd', 'crds'],
      onCreate: () => undefined,
    }),
  ];
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** The kinds (one per served version) a CustomResourceDefinition object declares. */
export function kindsFromCrd(crd: unknown): ResourceKind[] {
  if (
    !isObject(crd) ||
    crd.kind !== 'CustomResourceDefinition' ||
    crd.apiVersion !== 'apiextensions.k8s.io/v1'
  )
    throw badRequest('not an apiextensions.k8s.io/v1 CustomResourceDefinition');
  const spec = isObject(crd.spec) ? crd.spec : {};
  const names = isObject(spec.names) ? spec.names : {};
  const group = str(spec.group);
  const plural = str(names.plural);
  const kind = str(names.kind);
  if (!group || !plural || !kind)
    throw badRequest(
      'CustomResourceDefinition: spec.group, spec.names.plural and spec.names.kind are required',
    );
  const meta = isObject(crd.metadata) ? crd.metadata : {};
  if (meta.name !== `${plural}.${group}`)
    throw badRequest(
      `CustomResourceDefinition: metadata.name must be spec.names.plural+"."+spec.group ("${plural}.${group}")`,
    );
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster')
    throw badRequest('CustomResourceDefinition: spec.scope must be Namespaced or Cluster');
  const versions = Array.isArray(spec.versions) ? (spec.versions as JsonObject[]) : [];
  if (versions.filter((v) => v.storage === true).length !== 1)
    throw badRequest('CustomResourceDefinition: exactly one version must be the storage version');
  return versions
    .filter((v) => v.served === true && str(v.name))
    .map((v) => {
      const schema =
        isObject(v.schema) && isObject(v.schema.openAPIV3Schema) ? v.schema.openAPIV3Schema : undefined;
      const sub = isObject(v.subresources) ? v.subresources : {};
      const selectable = Array.isArray(v.selectableFields) ? (v.selectableFields as JsonObject[]) : [];
      return customKind({
        group,
        version: v.name as string,
        plural,
        kind,
        namespaced: spec.scope === 'Namespaced',
        statusSubresource: sub.status !== undefined,
        ...(str(names.singular) ? { singular: names.singular as string } : {}),
        ...(str(names.listKind) ? { listKind: names.listKind as string } : {}),
        ...(Array.isArray(names.shortNames) ? { shortNames: names.shortNames as string[] } : {}),
        ...(schema ? { schema: schema as JSONSchemaProps } : {}),
        selectableFields: selectable.map((f) => String(f.jsonPath ?? '').replace(/^\./, '')),
      });
    });
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** An APIResourceList for one group/version, for discovery. */
export function resourceList(groupVersion: string, kinds: ResourceKind[]): JsonObject {
  const resources: JsonObject[] = [];
  for (const k of kinds) {
    resources.push({
      name: k.plural,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: VERBS,
      ...(k.shortNames.length ? { shortNames: k.shortNames } : {}),
    });
    if (k.statusSubresource)
      resources.push({
        name: `${k.plural}/status`,
        singularName: '',
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: ['get', 'patch', 'update'],
      });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}
