// The CustomResourceDefinitions: the files in charts/switchyard/crd-files/ are what the generator makes
// from the zod schemas (scripts/crds writes them), every schema is structural, every CRD passes
// Kubernetes' own CRD schema (kubernetes-models), the example farm's resources validate against
// their CRD and bad ones are refused naming the field, the order kind keeps the broker API's
// bounds, and the printer columns point at fields that exist.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import {
  allocationPolicySpecSchema,
  CRD_API_VERSION,
  CRD_CATEGORY,
  CRD_DIR,
  CRD_GROUP,
  CRD_KINDS,
  crdCollectionPath,
  crdFileName,
  crdFiles,
  crdObjects,
  FLEET_MINER_STATES,
  INFERENCE_ORDER_STATES,
  inferenceOrderSpecSchema,
  ORDER_BOUNDS,
  ORDER_GPU_MODEL_PATTERN,
  ORDER_IMAGE_PATTERN,
  ORDER_TIERS,
  parseFarmYaml,
  POOL_NODE_MODES,
  RESOURCE_SCHEMAS,
  structuralProblems,
  toCustomResource,
  validateFarmResources,
  type CrdKind,
  type CustomResourceDefinitionObject,
  type FarmDocument,
  type ResourceKind,
  type StructuralSchema,
} from '@switchyard/domain';
import { ORDER_STATES, ORDER_TIERS as DB_ORDER_TIERS } from '@switchyard/db';
import * as api from '../../services/api/src/schemas/orders.ts';

const REGENERATE = 'run ./scripts/crds and commit charts/switchyard/crd-files/';
const FARM_FILE = 'examples/farm.yaml';
type Json = Record<string, unknown>;

const crds = crdObjects();
const crdOf = (kind: CrdKind) => crds.find((c) => c.spec.names.kind === kind)!;
const schemaOf = (kind: CrdKind) => crdOf(kind).spec.versions[0]!.schema.openAPIV3Schema;

// ---------------------------------------------------------------- the API server, approximately

/**
 * The schema as ajv (draft-07) reads it, with what the API server does beyond JSON Schema:
 * boolean exclusive bounds become numeric ones, and unknown fields are refused as under strict
 * field validation (kubectl's default, `--validate=strict`) — but not in
 * metadata, which the API server checks itself, nor where unknown fields are preserved.
 */
function forAjv(s: StructuralSchema, at = ''): Json {
  const out: Json = { ...s };
  for (const [flag, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (s[flag] === true) {
      out[flag] = s[bound];
      delete out[bound];
    } else delete out[flag];
  }
  if (s.properties) {
    out.properties = Object.fromEntries(
      Object.entries(s.properties).map(([k, v]) => [k, forAjv(v, `${at}/${k}`)]),
    );
    if (!s['x-kubernetes-preserve-unknown-fields'] && at !== '/metadata') out.additionalProperties = false;
  }
  if (s.items) out.items = forAjv(s.items, `${at}/items`);
  if (s.additionalProperties) out.additionalProperties = forAjv(s.additionalProperties, `${at}/*`);
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const)
    if (s[k]) out[k] = s[k].map((b) => forAjv(b, `${at}/${k}`));
  return out;
}

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, useDefaults: true });
  const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;
  addFormats(ajv);
  ajv.addVocabulary([
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-int-or-string',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
    // CEL rules run only in the API server.
    'x-kubernetes-validations',
  ]);
  // The API server refuses duplicates in a set, and two items with the same keys in a map.
  ajv.addKeyword({
    keyword: 'x-kubernetes-list-type',
    type: 'array',
    schemaType: 'string',
    errors: false,
    validate: (listType: string, data: unknown[], parent?: Json) => {
      if (listType === 'atomic') return true;
      const keys = (parent?.['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
      const id = (v: unknown) => JSON.stringify(listType === 'map' ? keys.map((k) => (v as Json)[k]) : v);
      return new Set(data.map(id)).size === data.length;
    },
  });
  return ajv;
}

const ajv = makeAjv();
const validators = new Map<CrdKind, ValidateFunction>(
  CRD_KINDS.map((k) => [k, ajv.compile(forAjv(schemaOf(k)))]),
);

/** The fields an object is refused for, as `/spec/pue`, or [] when the CRD takes it. */
function refusals(kind: CrdKind, object: unknown): string[] {
  const validate = validators.get(kind)!;
  if (validate(object)) return [];
  return (validate.errors ?? []).map(explain);
}

function explain(e: ErrorObject): string {
  const extra = e.keyword === 'additionalProperties' ? `/${String(e.params.additionalProperty)}` : '';
  return `${e.instancePath}${extra} ${e.message ?? e.keyword}`;
}

/**
 * Each object checked by kubernetes-models (`new CustomResourceDefinition(obj).validate()`), in
 * node: null, or why it is refused. See kube-models-check.ts.
 */
function kubeModelsCheck(objects: unknown[]): Array<string | null> {
  const r = spawnSync(process.execPath, ['test/crds/kube-models-check.ts'], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`kube-models-check.ts failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<string | null>;
}

/** The schema node of a CRD object at a path of property names. */
function schemaAt(crd: Json, names: string[]): Json {
  const versions = (crd.spec as { versions: Array<{ schema: { openAPIV3Schema: Json } }> }).versions;
  let at = versions[0]!.schema.openAPIV3Schema;
  for (const n of names) at = (at.properties as Record<string, Json>)[n]!;
  return at;
}

// ---------------------------------------------------------------- fixtures

const farmText = readFileSync(FARM_FILE, 'utf8');
const farmDocs = parseAllDocuments(farmText).map((d) => d.toJSON() as FarmDocument);
const docOf = (kind: ResourceKind) => structuredClone(farmDocs.find((d) => d.kind === kind)!);

const order = (spec: Json = {}): Json => ({
  apiVersion: CRD_API_VERSION,
  kind: 'InferenceOrder',
  metadata: { name: 'llama-eval', namespace: 'ml-team' },
  spec: {
    gpuModels: ['H100-SXM-80GB'],
    gpuCount: 16,
    durationSeconds: 7200,
    tier: 'on-demand',
    maxUsdPerGpuHour: 3,
    noticeSeconds: 600,
    image: 'ghcr.io/acme/vllm-server:0.6.3',
    args: ['--model', 'meta-llama/Llama-3.1-70B'],
    ...spec,
  },
});

/** A power tree `levels` deep below its root, one node per level. */
function chain(levels: number): Json {
  let node: Json = { name: `n${levels}`, limitKw: 100 };
  for (let i = levels - 1; i >= 0; i--) node = { name: `n${i}`, limitKw: 100, children: [node] };
  return node;
}

/** Sets a field at a dotted path (`spec.powerTree.children`), creating nothing. */
function withField(doc: FarmDocument | Json, dotted: string, value: unknown): Json {
  const copy = structuredClone(doc) as Json;
  const keys = dotted.split('.');
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Json;
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
  return copy;
}

// ---------------------------------------------------------------- tests

describe('generated CRD files', () => {
  it('are the files in charts/switchyard/crd-files/, byte for byte, and no others', () => {
    const problems: string[] = [];
    for (const f of crdFiles()) {
      let committed: string | undefined;
      try {
        committed = readFileSync(path.join(CRD_DIR, f.file), 'utf8');
      } catch {
        problems.push(`${f.file} is missing`);
      }
      if (committed !== undefined && committed !== f.text)
        problems.push(`${f.file} differs from the generator`);
    }
    const extra = readdirSync(CRD_DIR).filter(
      (f) => f.startsWith(`${CRD_GROUP}_`) && !crdFiles().some((g) => g.file === f),
    );
    problems.push(...extra.map((f) => `${f} is not generated by any kind`));
    if (problems.length > 0) throw new Error(`${problems.join('; ')}: ${REGENERATE}`);
  });

  it('parse back to the generator’s objects', () => {
    for (const f of crdFiles()) {
      const parsed = parseYaml(
        readFileSync(path.join(CRD_DIR, f.file), 'utf8'),
      ) as CustomResourceDefinitionObject;
      expect(parsed).toEqual(crdOf(f.kind));
    }
  });

  it('scripts/write-crds.ts writes them, --check fails on a changed or stray file, and a rewrite fixes it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'crds-'));
    try {
      const run = (...args: string[]) =>
        spawnSync(process.execPath, ['scripts/write-crds.ts', '--dir', dir, ...args], { encoding: 'utf8' });
      cpSync(CRD_DIR, dir, { recursive: true });
      const ok = run('--check');
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      writeFileSync(path.join(dir, 'switchyard.io_gpupools.yaml'), '# edited\n');
      writeFileSync(path.join(dir, 'switchyard.io_oldkinds.yaml'), 'kind: CustomResourceDefinition\n');
      const stale = run('--check');
      expect(stale.status).toBe(1);
      expect(stale.stderr).toContain('switchyard.io_gpupools.yaml is missing or out of date');
      expect(stale.stderr).toContain('switchyard.io_oldkinds.yaml is not generated by any kind');
      const write = run();
      expect(write.status).toBe(0);
      expect(write.stdout).toContain('wrote');
      expect(run('--check').status).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(
        crdFiles()
          .map((f) => f.file)
          .sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CRDs', () => {
  it('define the five kinds in switchyard.io/v1alpha1 with a status subresource', () => {
    expect(crds.map((c) => c.spec.names.kind)).toEqual([
      'Site',
      'MinerFleet',
      'GpuPool',
      'AllocationPolicy',
      'InferenceOrder',
    ]);
    for (const c of crds) {
      expect(`${c.spec.group}/${c.spec.versions[0]!.name}`).toBe(CRD_API_VERSION);
      expect(c.metadata.name).toBe(`${c.spec.names.plural}.${CRD_GROUP}`);
      expect(c.spec.versions).toHaveLength(1);
      expect(c.spec.versions[0]).toMatchObject({ served: true, storage: true, subresources: { status: {} } });
      expect(c.spec.names.categories).toEqual([CRD_CATEGORY]);
      expect(c.spec.scope).toBe(c.spec.names.kind === 'InferenceOrder' ? 'Namespaced' : 'Cluster');
    }
    expect(crdCollectionPath('Site')).toBe('/apis/switchyard.io/v1alpha1/sites');
    expect(crdCollectionPath('Site', 'ignored')).toBe('/apis/switchyard.io/v1alpha1/sites');
    expect(crdCollectionPath('InferenceOrder', 'ml-team')).toBe(
      '/apis/switchyard.io/v1alpha1/namespaces/ml-team/inferenceorders',
    );
    const names = crds.flatMap((c) => [
      c.spec.names.plural,
      c.spec.names.singular,
      ...c.spec.names.shortNames,
    ]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('pass Kubernetes’ CustomResourceDefinition schema (kubernetes-models), which refuses broken ones', () => {
    const noPlural = structuredClone(crdOf('Site'));
    delete (noPlural.spec.names as Partial<typeof noPlural.spec.names>).plural;
    const textBound = structuredClone(crdOf('MinerFleet')) as unknown as Json;
    const model = schemaAt(textBound, ['spec', 'model']);
    model.maxLength = '64';
    expect(kubeModelsCheck([...crds, noPlural, textBound])).toEqual([
      ...crds.map(() => null),
      'data/spec/names must have required property plural',
      'data/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/model/maxLength must be integer',
    ]);
  });

  it.each(CRD_KINDS)('%s has a structural schema', (kind) => {
    const schema = schemaOf(kind);
    expect(structuralProblems(schema)).toEqual([]);
    // And, walked here independently: every node has a type or keeps unknown fields.
    const untyped: string[] = [];
    const walk = (s: StructuralSchema, at: string) => {
      if (!s.type && !s['x-kubernetes-preserve-unknown-fields'] && !s['x-kubernetes-int-or-string'])
        untyped.push(at);
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${at}.${k}`);
      if (s.items) walk(s.items, `${at}[]`);
      if (s.additionalProperties) walk(s.additionalProperties, `${at}.*`);
    };
    walk(schema, kind);
    expect(untyped).toEqual([]);
    expect(JSON.stringify(schema)).not.toMatch(/"\$ref"|"additionalProperties":false|"uniqueItems"/);
  });

  it('have defaults only outside junctors, each valid for its own field', () => {
    const problems: string[] = [];
    const walk = (node: StructuralSchema, at: string, inJunctor: boolean) => {
      if (node.default !== undefined) {
        const { default: value, ...rest } = node;
        if (inJunctor) problems.push(`${at}: a default inside a junctor`);
        else if (!ajv.validate(forAjv(rest), value)) problems.push(`${at}: default ${JSON.stringify(value)}`);
      }
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${at}.${k}`, inJunctor);
      if (node.items) walk(node.items, `${at}[]`, inJunctor);
      for (const k of ['allOf', 'anyOf', 'oneOf'] as const)
        node[k]?.forEach((b) => walk(b, `${at}.${k}`, true));
    };
    for (const kind of CRD_KINDS) walk(schemaOf(kind), kind, false);
    expect(problems).toEqual([]);
    const defaults = Object.entries(schemaOf('AllocationPolicy').properties!.spec!.properties!).filter(
      ([, v]) => v.default !== undefined,
    );
    expect(defaults.length).toBe(9);
  });

  it('keep unknown fields nowhere in the farm kinds', () => {
    for (const kind of CRD_KINDS)
      expect(JSON.stringify(schemaOf(kind))).not.toContain('preserve-unknown-fields');
  });

  it.each(CRD_KINDS)('%s has status.observedGeneration and metav1.Condition conditions', (kind) => {
    const status = schemaOf(kind).properties!.status!;
    expect(status.properties!.observedGeneration).toMatchObject({ type: 'integer', minimum: 0 });
    const conditions = status.properties!.conditions!;
    expect(conditions).toMatchObject({
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    });
    expect(conditions.items).toMatchObject({
      type: 'object',
      required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
      properties: {
        type: { type: 'string', maxLength: 316 },
        status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
        observedGeneration: { type: 'integer', minimum: 0 },
        lastTransitionTime: { type: 'string', format: 'date-time' },
        reason: { type: 'string', minLength: 1, maxLength: 1024 },
        message: { type: 'string', maxLength: 32768 },
      },
    });
  });

  it('give fleets, pools, sites and orders the status fields the controller writes', () => {
    const status = (kind: CrdKind) => schemaOf(kind).properties!.status!.properties!;
    expect(Object.keys(status('MinerFleet').miners!.properties!)).toEqual([...FLEET_MINER_STATES]);
    expect(status('MinerFleet')).toHaveProperty('hashrateThs.type', 'number');
    expect(status('MinerFleet')).toHaveProperty('powerKw.type', 'number');
    expect(Object.keys(status('GpuPool').nodes!.properties!)).toEqual([...POOL_NODE_MODES]);
    expect(Object.keys(status('Site').lastPlan!.properties!)).toEqual([
      'planId',
      'at',
      'solver',
      'netUsdPerHour',
      'facilityKw',
    ]);
    expect(Object.keys(status('AllocationPolicy'))).toEqual(['observedGeneration', 'conditions']);
    expect(status('InferenceOrder').state!.enum).toEqual([...INFERENCE_ORDER_STATES]);
    for (const f of ['pool', 'startedAt', 'endedAt', 'preemptAt', 'orderId'])
      expect(status('InferenceOrder')).toHaveProperty(f);
  });

  it.each(CRD_KINDS)('%s has printer columns that point at fields of the right type, and Age', (kind) => {
    const crd = crdOf(kind);
    const columns = crd.spec.versions[0]!.additionalPrinterColumns;
    expect(columns.at(-1)).toEqual({ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' });
    const wrong: string[] = [];
    for (const c of columns.slice(0, -1)) {
      const field = fieldAt(schemaOf(kind), c.jsonPath);
      const fieldType = field?.type === 'string' && field.format === 'date-time' ? 'date' : field?.type;
      const fits =
        fieldType === c.type ||
        (c.type === 'number' && fieldType === 'integer') ||
        (c.type === 'string' && fieldType === 'array');
      if (!fits) wrong.push(`${c.name} (${c.jsonPath}): a ${c.type} column on ${fieldType ?? 'nothing'}`);
    }
    expect(wrong).toEqual([]);
  });

  it('show a fleet’s hashrate, power and state counts, a pool’s modes, a site’s load and plan age, an order’s state', () => {
    const paths = (kind: CrdKind) =>
      crdOf(kind).spec.versions[0]!.additionalPrinterColumns.map((c) => c.jsonPath);
    expect(paths('MinerFleet')).toEqual(
      expect.arrayContaining([
        '.status.hashrateThs',
        '.status.powerKw',
        '.status.miners.hashing',
        '.status.miners.sleeping',
        '.status.miners.offline',
      ]),
    );
    expect(paths('GpuPool')).toEqual(
      expect.arrayContaining(['.status.nodes.serving', '.status.nodes.hashing', '.status.nodes.idle']),
    );
    expect(paths('Site')).toEqual(
      expect.arrayContaining(['.status.lastPlan.facilityKw', '.status.lastPlan.at']),
    );
    expect(paths('InferenceOrder')).toEqual(
      expect.arrayContaining(['.status.state', '.spec.gpuCount', '.spec.tier', '.status.pool']),
    );
  });
});

/** The schema node a printer column's JSONPath reads (`[?(...)]` filters read an item). */
function fieldAt(schema: StructuralSchema, jsonPath: string): StructuralSchema | undefined {
  let at: StructuralSchema | undefined = schema;
  for (const part of jsonPath
    .replace(/\[\?\(.*?\)\]/g, '.[]')
    .split('.')
    .slice(1)) {
    if (part === '[]') at = at?.items;
    else if (part === 'metadata') return { type: 'object' };
    else at = at?.properties?.[part];
  }
  return at;
}

describe('the example farm as custom resources', () => {
  it('has every document of examples/farm.yaml valid for its CRD', () => {
    expect(parseFarmYaml(farmText).ok).toBe(true);
    const kinds = new Set<string>();
    const problems: string[] = [];
    for (const doc of farmDocs) {
      const cr = toCustomResource(doc);
      kinds.add(cr.kind);
      expect(cr.apiVersion).toBe(CRD_API_VERSION);
      for (const r of refusals(cr.kind, cr)) problems.push(`${cr.kind}/${cr.metadata.name}: ${r}`);
    }
    expect(problems).toEqual([]);
    expect([...kinds].sort()).toEqual(['AllocationPolicy', 'GpuPool', 'MinerFleet', 'Site']);
    expect(farmDocs).toHaveLength(21);
  });

  it('drops the namespace and status of a document: the farm kinds are cluster-scoped', () => {
    const doc = { ...docOf('GpuPool'), metadata: { name: 'h100', namespace: 'farm' }, status: { x: 1 } };
    const cr = toCustomResource(doc);
    expect(cr.metadata).toEqual({ name: 'h100' });
    expect(cr).not.toHaveProperty('status');
  });

  it('fills an AllocationPolicy’s defaults as the farm file does', () => {
    const policy = toCustomResource({
      kind: 'AllocationPolicy',
      metadata: { name: 'p' },
      spec: { site: 'west-1' },
    }) as unknown as Json;
    expect(refusals('AllocationPolicy', policy)).toEqual([]); // useDefaults: the API server's defaulting
    expect(policy.spec).toEqual(allocationPolicySpecSchema.parse({ site: 'west-1' }));
  });

  // Each case: a change to an example document, the field the CRD names, and the zod schema of
  // the farm file refuses it too.
  it.each<[ResourceKind, string, unknown, string]>([
    ['Site', 'spec.pue', 5, '/spec/pue must be <= 3'],
    ['Site', 'spec.interconnectKw', 0, '/spec/interconnectKw must be > 0'],
    ['Site', 'spec.coolingZones', [], '/spec/coolingZones must NOT have fewer than 1 items'],
    [
      'Site',
      'spec.powerTree.type',
      'busbar',
      '/spec/powerTree/type must be equal to one of the allowed values',
    ],
    [
      'Site',
      'spec.energyContract.pricing',
      undefined,
      "/spec/energyContract must have required property 'pricing'",
    ],
    ['Site', 'metadata.name', 'West_1', '/metadata/name must match pattern'],
    ['MinerFleet', 'spec.driver', 'cgminer', '/spec/driver must be equal to one of the allowed values'],
    ['MinerFleet', 'spec.coolingzone', 'zone-a', '/spec/coolingzone must NOT have additional properties'],
    ['MinerFleet', 'spec.endpoints.count', 1.5, '/spec/endpoints/count must be integer'],
    ['MinerFleet', 'spec.profiles', [{ name: 'eco', powerW: -1, hashrateThs: 1 }], '/spec/profiles/0/powerW'],
    ['GpuPool', 'spec.gpusPerNode', 0, '/spec/gpusPerNode must be >= 1'],
    [
      'GpuPool',
      'spec.nodeSelector',
      { zone: 'x'.repeat(64) },
      '/spec/nodeSelector/zone must NOT have more than 63',
    ],
    ['GpuPool', 'spec.hashing.enabled', 'yes', '/spec/hashing/enabled must be boolean'],
    ['AllocationPolicy', 'spec.safetyMarginPct', 80, '/spec/safetyMarginPct must be <= 50'],
    ['AllocationPolicy', 'spec.site', undefined, "/spec must have required property 'site'"],
  ])('refuses a %s with %s = %j, naming the field', (kind, field, value, expected) => {
    const bad = withField(docOf(kind), field, value);
    const errors = refusals(kind, toCustomResource(bad as unknown as FarmDocument));
    expect(errors.some((e) => e.startsWith(expected))).toBe(true);
    expect(RESOURCE_SCHEMAS[kind].safeParse(bad).success).toBe(false);
  });

  it('takes a power tree exactly as deep as the farm file does', () => {
    const site = (levels: number) => {
      const doc = withField(docOf('Site'), 'spec.powerTree', chain(levels)) as unknown as FarmDocument;
      const r = validateFarmResources([doc]);
      return { cr: toCustomResource(doc), farmIssues: r.ok ? [] : r.issues.map((i) => i.message) };
    };
    const deepest = site(16);
    expect(refusals('Site', deepest.cr)).toEqual([]);
    expect(deepest.farmIssues).toEqual([]);
    const tooDeep = site(17);
    expect(refusals('Site', tooDeep.cr)).toEqual([
      `/spec/powerTree${'/children/0'.repeat(16)}/children must NOT have more than 0 items`,
    ]);
    expect(tooDeep.farmIssues).toEqual(['power tree is deeper than 16 levels']);
  });
});

describe('InferenceOrder', () => {
  it('takes an order in the shape of a broker’s bid, with its defaults filled', () => {
    const o = order();
    expect(refusals('InferenceOrder', o)).toEqual([]);
    expect((o.spec as Json).minVramGiB).toBe(0);
    expect(inferenceOrderSpecSchema.safeParse(order().spec).success).toBe(true);
    expect(
      refusals('InferenceOrder', order({ durationSeconds: undefined, endBy: '2026-07-01T17:00:00-05:00' })),
    ).toEqual([]);
  });

  it.each<[string, Json, string]>([
    [
      'both a duration and an end',
      { endBy: '2026-07-01T17:00:00Z' },
      '/spec must match exactly one schema in oneOf',
    ],
    [
      'neither a duration nor an end',
      { durationSeconds: undefined },
      '/spec must match exactly one schema in oneOf',
    ],
    [
      'a GPU model twice',
      { gpuModels: ['H100', 'H100'] },
      '/spec/gpuModels must pass "x-kubernetes-list-type"',
    ],
    ['no GPU model', { gpuModels: [] }, '/spec/gpuModels must NOT have fewer than 1 items'],
    ['too many GPUs', { gpuCount: 4097 }, '/spec/gpuCount must be <= 4096'],
    ['a short order', { durationSeconds: 59 }, '/spec/durationSeconds must be >= 60'],
    ['an unknown tier', { tier: 'spot' }, '/spec/tier must be equal to one of the allowed values'],
    ['a price too high', { maxUsdPerGpuHour: 10_001 }, '/spec/maxUsdPerGpuHour must be <= 10000'],
    ['an image with upper case', { image: 'ghcr.io/Acme/Server' }, '/spec/image must match pattern'],
    [
      'an end that is no time',
      { durationSeconds: undefined, endBy: 'tomorrow' },
      '/spec/endBy must match format',
    ],
    ['a broker field', { broker: 'acme' }, '/spec/broker must NOT have additional properties'],
  ])('refuses %s, naming the field', (_, change, expected) => {
    // Fields set to undefined drop out, as they would from YAML.
    const clean = JSON.parse(JSON.stringify(order(change))) as Json;
    const errors = refusals('InferenceOrder', clean);
    expect(errors.some((e) => e.startsWith(expected))).toBe(true);
    expect(inferenceOrderSpecSchema.safeParse(clean.spec).success).toBe(false);
  });

  it('states the on-demand notice rule for the API server as CEL, and zod applies it', () => {
    const spec = schemaOf('InferenceOrder').properties!.spec!;
    expect(spec['x-kubernetes-validations']).toEqual([
      expect.objectContaining({
        rule: "self.tier != 'on-demand' || !has(self.noticeSeconds) || self.noticeSeconds >= 60",
        fieldPath: '.noticeSeconds',
      }),
    ]);
    const parsed = inferenceOrderSpecSchema.safeParse(
      (order({ noticeSeconds: 30 }) as { spec: unknown }).spec,
    );
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['noticeSeconds']);
  });

  it('refuses a bad status: an unknown state, a condition status, two conditions of one type', () => {
    const condition = {
      type: 'Ready',
      status: 'True',
      lastTransitionTime: '2026-07-01T17:00:00Z',
      reason: 'Admitted',
      message: '',
    };
    const withStatus = (status: Json) => ({ ...order(), status });
    expect(refusals('InferenceOrder', withStatus({ state: 'running', conditions: [condition] }))).toEqual([]);
    expect(refusals('InferenceOrder', withStatus({ state: 'paused' }))[0]).toMatch(/^\/status\/state /);
    expect(
      refusals('InferenceOrder', withStatus({ conditions: [{ ...condition, status: 'Maybe' }] }))[0],
    ).toMatch(/^\/status\/conditions\/0\/status /);
    expect(refusals('InferenceOrder', withStatus({ conditions: [condition, condition] }))[0]).toMatch(
      /^\/status\/conditions must pass "x-kubernetes-list-type"/,
    );
  });

  it('keeps the bounds of a broker’s order through the API (services/api/src/schemas/orders.ts)', () => {
    expect(ORDER_BOUNDS).toMatchObject({
      maxGpuModels: api.MAX_GPU_MODELS,
      maxGpuCount: api.MAX_GPU_COUNT,
      maxVramGiB: api.MAX_VRAM_GIB,
      minOrderSeconds: api.MIN_ORDER_SECONDS,
      maxOrderSeconds: api.MAX_ORDER_SECONDS,
      maxUsdPerGpuHour: api.MAX_USD_PER_GPU_HOUR,
      maxNoticeSeconds: api.MAX_NOTICE_SECONDS,
      maxImageLength: api.MAX_IMAGE_LENGTH,
      maxArgs: api.MAX_ARGS,
      maxArgLength: api.MAX_ARG_LENGTH,
    });
    expect(ORDER_GPU_MODEL_PATTERN).toBe(api.GPU_MODEL_PATTERN);
    expect(ORDER_IMAGE_PATTERN).toBe(api.IMAGE_PATTERN);
    expect([...INFERENCE_ORDER_STATES]).toEqual([...ORDER_STATES]);
    expect([...ORDER_TIERS]).toEqual([...DB_ORDER_TIERS]);
    // Field by field, against the API's request body schema.
    const body = api.CreateOrderBody as unknown as { properties: Record<string, Json> };
    const spec = schemaOf('InferenceOrder').properties!.spec!.properties!;
    const BOUNDS = ['minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems'];
    const differ: string[] = [];
    // endBy is a date-time here (the API server checks the format), a pattern there.
    for (const [name, ours] of Object.entries(spec).filter(([n]) => n !== 'endBy')) {
      const theirs = body.properties[name];
      if (!theirs) {
        differ.push(`${name}: not in the API's order body`);
        continue;
      }
      for (const [a, b] of [
        [ours as Json, theirs],
        [(ours as Json).items as Json, theirs.items as Json],
      ] as const) {
        if (!a || !b) continue;
        for (const k of BOUNDS) if (k in b && a[k] !== b[k]) differ.push(`${name}.${k}: ${a[k]} vs ${b[k]}`);
        if (
          typeof b.pattern === 'string' &&
          new RegExp(a.pattern as string).source !== new RegExp(b.pattern).source
        )
          differ.push(`${name}: pattern`);
      }
    }
    expect(differ).toEqual([]);
  });
});

describe('docs/crds.md', () => {
  const doc = readFileSync('docs/crds.md', 'utf8');

  it('names every kind with its file, every status field and every printer column', () => {
    const missing: string[] = [];
    for (const crd of crds) {
      const kind = crd.spec.names.kind as CrdKind;
      for (const f of [`\`${kind}\``, `\`${crd.spec.names.plural}\``, `\`${crdFileName(kind)}\``])
        if (!doc.includes(f)) missing.push(f);
      for (const c of crd.spec.versions[0]!.additionalPrinterColumns)
        if (!doc.includes(`\`${c.name}\``)) missing.push(`${kind} column ${c.name}`);
      for (const field of leafPaths(schemaOf(kind).properties!.status!, 'status')) {
        // `status.miners.hashing`, or `.hashing` after its parent in the same cell.
        const last = field.split('.').at(-1)!;
        if (
          !doc.includes(`\`${field}\``) &&
          !doc.includes(`\`.${last}\``) &&
          !field.startsWith('status.conditions')
        )
          missing.push(`${kind} ${field}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('shows an InferenceOrder the CRD and the zod schema take', () => {
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parseYaml(m[1]!) as Json);
    const example = blocks.find((b) => b.kind === 'InferenceOrder');
    expect(example).toBeDefined();
    expect(refusals('InferenceOrder', example)).toEqual([]);
    expect(inferenceOrderSpecSchema.safeParse(example!.spec).success).toBe(true);
  });
});

/** Every leaf field below a schema node, as dotted paths. */
function leafPaths(s: StructuralSchema, at: string): string[] {
  const props = Object.entries(s.properties ?? {});
  if (props.length === 0) return [at];
  return props.flatMap(([k, v]) => leafPaths(v, `${at}.${k}`));
}
