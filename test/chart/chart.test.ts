// The Helm chart, rendered with Helm's template semantics by tools/chart-render (Helm cannot be
// installed here; scripts/lib/render-chart builds the renderer) for the default values and every
// value set in test/chart/values/: every object passes the Kubernetes schemas (kubernetes-models),
// RBAC has no wildcards, every container but the power cap's runs with the restricted security
// context, values.schema.json accepts the value sets and refuses bad values, the CRD toggles
// work, and every value is documented in the chart's README.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

type Json = Record<string, unknown>;
interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  [field: string]: unknown;
}
interface Rendered {
  source: string;
  object: KubeObject;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: Json }>;
  envFrom?: Json[];
  ports?: Array<{ name?: string; containerPort: number }>;
  securityContext?: Json;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  readinessProbe?: Json;
  livenessProbe?: Json;
  startupProbe?: Json;
  resources?: Json;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Json;
  volumes?: Array<{ name: string; emptyDir?: Json; secret?: Json; configMap?: Json }>;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
}
interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

const CHART = 'charts/switchyard';
const VALUES_DIR = 'test/chart/values';
const VALUE_SETS = readdirSync(VALUES_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const ALL_SETS = ['(defaults)', ...VALUE_SETS];
const RELEASE = 'farm';
const NAMESPACE = 'switchyard';
const FULLNAME = 'farm-switchyard';
const CLUSTER_SCOPED = new Set([
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
]);
const WORKLOADS = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'Job']);

const scratch = mkdtempSync(path.join(tmpdir(), 'switchyard-chart-'));
let renderer = '';

beforeAll(() => {
  // Builds once (Go, from Debian's packages; cached in .tools/chart-render), then reuses it.
  const r = spawnSync('scripts/lib/render-chart', ['--build'], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`building tools/chart-render failed:\n${r.stderr}`);
  renderer = r.stdout.trim();
}, 600_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------- rendering

function runRenderer(valueFiles: string[], opts: { chart?: string; extra?: string[] } = {}) {
  return spawnSync(
    renderer,
    [
      '--chart',
      opts.chart ?? CHART,
      '--name',
      RELEASE,
      '--namespace',
      NAMESPACE,
      ...valueFiles.flatMap((f) => ['-f', f]),
      ...(opts.extra ?? []),
    ],
    { encoding: 'utf8' },
  );
}

/** `helm template`'s output, one object per document, each with its template. */
function parseStream(text: string): Rendered[] {
  const out: Rendered[] = [];
  for (const part of text.split(/^---\n/m)) {
    if (!part.trim()) continue;
    const source = /^# Source: (.+)\n/.exec(part)?.[1];
    if (!source) throw new Error(`a document without its Source line:\n${part}`);
    // YAML 1.1, as the API server's parser reads it.
    for (const doc of parseAllDocuments(part, { version: '1.1' })) {
      if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
      const object = doc.toJS() as KubeObject | null;
      if (object) out.push({ source, object });
    }
  }
  return out;
}

function render(valueFiles: string[], opts: { chart?: string; extra?: string[] } = {}): KubeObject[] {
  const r = runRenderer(valueFiles, opts);
  if (r.status !== 0) throw new Error(`chart-render failed:\n${r.stderr}`);
  return parseStream(r.stdout).map((x) => x.object);
}

const rendered = new Map<string, KubeObject[]>();
/** The objects of a value set (a file in test/chart/values, or the defaults), rendered once. */
function renderSet(set: string): KubeObject[] {
  let objects = rendered.get(set);
  if (!objects) {
    objects = render(set === '(defaults)' ? [] : [path.join(VALUES_DIR, set)]);
    rendered.set(set, objects);
  }
  return objects;
}

let tmpFiles = 0;
/** A values file made of `values`, for one-off renders. */
function valuesFile(values: Json): string {
  const file = path.join(scratch, `values-${++tmpFiles}.yaml`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

const ofKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
function named(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`)}`);
  return found;
}
const spec = (o: KubeObject) => o.spec as Json;
const podSpec = (o: KubeObject) => (spec(o).template as Json).spec as PodSpec;
const component = (o: KubeObject) => o.metadata.labels?.['app.kubernetes.io/component'];
const envOf = (c: Container, name: string) => c.env?.find((e) => e.name === name);

// ---------------------------------------------------------------- values, as Helm merges them

const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's coalescing of value files: maps merge, anything else replaces, null removes. */
function coalesce(base: Json, override: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete out[k];
    else if (isMap(out[k]) && isMap(v)) out[k] = coalesce(out[k] as Json, v);
    else out[k] = v;
  }
  return out;
}

const defaults = parseYaml(readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as Json;
const schema = JSON.parse(readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')) as Json;
const definitions = schema.definitions as Record<string, Json>;

/**
 * The values documented one by one: every key, descending into maps whose schema lists their
 * keys (additionalProperties false, not a shared definition); free-form maps (nodeSelector,
 * resources, security contexts) are one value each.
 */
function documentedPaths(value: unknown, node: Json | undefined, at: string[], out: string[]): string[] {
  const listed = node && node.$ref === undefined && node.additionalProperties === false;
  if (isMap(value) && Object.keys(value).length > 0 && listed) {
    const props = node.properties as Record<string, Json>;
    for (const [k, v] of Object.entries(value)) documentedPaths(v, props[k], [...at, k], out);
  } else out.push(at.join('.'));
  return out;
}

function schemaAt(dotted: string): Json | undefined {
  let node: Json | undefined = schema;
  for (const key of dotted.split('.')) {
    while (node?.$ref) node = definitions[String(node.$ref).split('/').pop()!];
    node = (node?.properties as Record<string, Json> | undefined)?.[key];
  }
  return node;
}

// ---------------------------------------------------------------- Kubernetes schemas

/** Each object checked by kubernetes-models in a Node process: null, or why it is refused. */
function kubeModelCheck(objects: KubeObject[]): Array<string | null> {
  const r = spawnSync(process.execPath, ['test/crds/kube-models-check.ts'], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`kube-models-check.ts failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<string | null>;
}

describe('rendering the chart', () => {
  it.each(ALL_SETS)('%s: objects with names, namespaces and the standard labels', (set) => {
    const objects = renderSet(set);
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const what = `${o.kind}/${o.metadata.name} (${set})`;
      expect([what, o.metadata.name]).toEqual([
        what,
        expect.stringMatching(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/),
      ]);
      if (o.kind !== 'CustomResourceDefinition')
        expect([what, o.metadata.name.length <= 63]).toEqual([what, true]);
      const expectedNamespace = CLUSTER_SCOPED.has(o.kind)
        ? undefined
        : set === 'monitoring.yaml' && o.metadata.name.includes('-dashboard-')
          ? 'monitoring'
          : NAMESPACE;
      expect([what, o.metadata.namespace]).toEqual([what, expectedNamespace]);
      expect([what, o.metadata.labels]).toEqual([
        what,
        expect.objectContaining({
          'app.kubernetes.io/name': 'switchyard',
          'app.kubernetes.io/instance': RELEASE,
          'app.kubernetes.io/managed-by': 'Helm',
          'app.kubernetes.io/part-of': 'switchyard',
          'helm.sh/chart': 'switchyard-0.1.0',
        }),
      ]);
    }
  });

  it('every object passes the Kubernetes schemas, and the check refuses a broken one', () => {
    const all = ALL_SETS.flatMap((set) => renderSet(set).map((object) => ({ set, object })));
    // The Prometheus Operator's kinds are not in kubernetes-models: their shape is checked below.
    const kube = all.filter((x) => !x.object.apiVersion.startsWith('monitoring.coreos.com/'));
    const unique = [...new Map(kube.map((x) => [JSON.stringify(x.object), x])).values()];
    // The check is live: a Deployment with a string for replicas must fail it.
    const broken = structuredClone(named(renderSet('(defaults)'), 'Deployment', `${FULLNAME}-api`));
    spec(broken).replicas = 'two';
    const results = kubeModelCheck([...unique.map((x) => x.object), broken]);
    expect(results.pop()).toMatch(/replicas/);
    const problems = unique
      .map((x, i) => ({ what: `${x.set}: ${x.object.kind}/${x.object.metadata.name}`, result: results[i] }))
      .filter((p) => p.result !== null);
    expect(problems).toEqual([]);
    expect(new Set(unique.map((x) => x.object.kind))).toEqual(
      new Set([
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        'CustomResourceDefinition',
        'DaemonSet',
        'Deployment',
        'HorizontalPodAutoscaler',
        'Job',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'PriorityClass',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ]),
    );
  });

  it('workloads select their own pod templates; Services and PDBs select pods of one component', () => {
    for (const set of ALL_SETS) {
      const objects = renderSet(set);
      for (const w of objects.filter((o) => WORKLOADS.has(o.kind) && o.kind !== 'Job')) {
        const selector = (spec(w).selector as Json).matchLabels as Record<string, string>;
        const labels = ((spec(w).template as Json).metadata as Metadata).labels!;
        expect(labels).toEqual(expect.objectContaining(selector));
        expect(selector['app.kubernetes.io/component']).toBe(component(w));
      }
      const pods = objects.filter((o) => WORKLOADS.has(o.kind));
      const podsMatching = (selector: Record<string, string>) =>
        pods.filter((w) => {
          const labels = ((spec(w).template as Json).metadata as Metadata).labels ?? {};
          return Object.entries(selector).every(([k, v]) => labels[k] === v);
        });
      for (const s of ofKind(objects, 'Service'))
        expect(podsMatching(spec(s).selector as Record<string, string>).map(component)).toEqual(['api']);
      for (const pdb of ofKind(objects, 'PodDisruptionBudget')) {
        const selector = (spec(pdb).selector as Json).matchLabels as Record<string, string>;
        expect(podsMatching(selector).map(component)).toEqual([component(pdb)]);
      }
    }
  });

  it('RBAC: no wildcard verbs, resources or API groups; least privilege per component', () => {
    for (const set of ALL_SETS) {
      const objects = renderSet(set);
      const roles = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
      expect(roles.length).toBeGreaterThan(0);
      for (const role of roles) {
        for (const rule of role.rules as PolicyRule[]) {
          const all = [...rule.verbs, ...(rule.resources ?? []), ...(rule.apiGroups ?? [])];
          expect([role.metadata.name, all.filter((x) => x.includes('*'))]).toEqual([role.metadata.name, []]);
          expect(rule.nonResourceURLs).toBeUndefined();
          // Nothing that reads credentials or widens its own rights.
          expect(rule.resources ?? []).not.toContain('secrets');
          expect(rule.verbs.filter((v) => ['escalate', 'bind', 'impersonate'].includes(v))).toEqual([]);
        }
      }
    }
    const objects = renderSet('(defaults)');
    const rulesOf = (kind: string, name: string) => named(objects, kind, name).rules as PolicyRule[];
    const can = (rules: PolicyRule[], group: string, resource: string, verb: string) =>
      rules.some(
        (r) => r.apiGroups?.includes(group) && r.resources?.includes(resource) && r.verbs.includes(verb),
      );
    const controller = rulesOf('ClusterRole', `${FULLNAME}-controller`);
    const worker = rulesOf('ClusterRole', `${FULLNAME}-worker`);
    const election = rulesOf('Role', `${FULLNAME}-controller-leader-election`);
    // The workers only read the Lease (the fence); they never write it.
    expect(rulesOf('Role', `${FULLNAME}-worker-lease-reader`)).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] },
    ]);
    for (const [group, resource, verb] of [
      ['', 'nodes', 'patch'],
      ['', 'nodes', 'watch'],
      ['', 'pods/eviction', 'create'],
      ['batch', 'jobs', 'create'],
      ['batch', 'jobs', 'delete'],
      ['policy', 'poddisruptionbudgets', 'list'],
      ['switchyard.io', 'gpupools', 'watch'],
      ['switchyard.io', 'minerfleets/status', 'patch'],
      ['switchyard.io', 'inferenceorders/status', 'update'],
    ] as const)
      expect([resource, verb, can(controller, group, resource, verb)]).toEqual([resource, verb, true]);
    // The controller writes status only, never the resources people apply.
    expect(can(controller, 'switchyard.io', 'gpupools', 'update')).toBe(false);
    expect(can(controller, 'switchyard.io', 'gpupools', 'patch')).toBe(false);
    // Leases only in the release namespace.
    expect(can(controller, 'coordination.k8s.io', 'leases', 'update')).toBe(false);
    expect(can(election, 'coordination.k8s.io', 'leases', 'update')).toBe(true);
    for (const [group, resource, verb] of [
      ['', 'nodes', 'patch'],
      ['', 'pods/eviction', 'create'],
      ['batch', 'jobs', 'create'],
      ['batch', 'jobs', 'delete'],
      ['', 'pods', 'deletecollection'],
      ['apps', 'daemonsets', 'create'],
      ['apps', 'daemonsets', 'patch'],
    ] as const)
      expect([resource, verb, can(worker, group, resource, verb)]).toEqual([resource, verb, true]);
    expect(can(worker, 'apps', 'daemonsets', 'delete')).toBe(false);
    expect(can(worker, 'switchyard.io', 'gpupools/status', 'patch')).toBe(false);
    // Every binding names an existing role and the ServiceAccount of its component; the API has none.
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    expect(bindings.map(component).sort()).toEqual(['controller', 'controller', 'worker', 'worker']);
    for (const b of bindings) {
      const ref = b.roleRef as { kind: string; name: string };
      named(objects, ref.kind, ref.name);
      const subjects = b.subjects as Array<{ kind: string; name: string; namespace: string }>;
      expect(subjects).toEqual([
        { kind: 'ServiceAccount', name: `${FULLNAME}-${component(b)}`, namespace: NAMESPACE },
      ]);
      named(objects, 'ServiceAccount', `${FULLNAME}-${component(b)}`);
    }
  });

  it('every container runs restricted with /tmp an emptyDir, but the power cap, which is privileged', () => {
    let checked = 0;
    let powerCaps = 0;
    for (const set of ALL_SETS) {
      for (const w of renderSet(set).filter((o) => WORKLOADS.has(o.kind))) {
        const pod = podSpec(w);
        const containers = [...pod.containers, ...(pod.initContainers ?? [])];
        if (component(w) === 'power-cap') {
          powerCaps++;
          expect(containers.map((c) => c.securityContext?.privileged)).toEqual([true]);
          continue;
        }
        expect((pod as unknown as Json).enableServiceLinks).toBe(false);
        const podContext = pod.securityContext ?? {};
        expect(podContext).toEqual(
          expect.objectContaining({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }),
        );
        expect(podContext.runAsUser).not.toBe(0);
        for (const c of containers) {
          const what = `${set}: ${w.kind}/${w.metadata.name} ${c.name}`;
          expect([what, c.securityContext]).toEqual([
            what,
            expect.objectContaining({
              runAsNonRoot: true,
              readOnlyRootFilesystem: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' },
            }),
          ]);
          expect(c.securityContext?.privileged).toBeUndefined();
          const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
          expect([what, pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir]).toEqual([
            what,
            expect.objectContaining({ sizeLimit: '256Mi' }),
          ]);
          expect(c.image).toMatch(/switchyard(:0\.1\.0|@sha256:[0-9a-f]{64})$/);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(ALL_SETS.length * 4);
    expect(powerCaps).toBe(1);
  });

  it('the API listens on 0.0.0.0 and is probed on /healthz and /readyz; only it has a Service', () => {
    const objects = renderSet('(defaults)');
    const api = named(objects, 'Deployment', `${FULLNAME}-api`);
    const c = podSpec(api).containers[0]!;
    expect(c.args).toEqual(['api']);
    expect(envOf(c, 'HOST')?.value).toBe('0.0.0.0');
    expect(envOf(c, 'PORT')?.value).toBe('8080');
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    const probe = (p: Json | undefined) => (p?.httpGet as Json | undefined) ?? {};
    expect(probe(c.readinessProbe)).toEqual({ path: '/readyz', port: 'http' });
    expect(probe(c.livenessProbe)).toEqual({ path: '/healthz', port: 'http' });
    expect(probe(c.startupProbe)).toEqual({ path: '/healthz', port: 'http' });
    // The API does not talk to Kubernetes: no token in its pods.
    expect(podSpec(api).automountServiceAccountToken).toBe(false);
    expect(spec(api).replicas).toBe(2);
    const service = named(objects, 'Service', `${FULLNAME}-api`);
    expect(spec(service).ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    expect(ofKind(objects, 'Service')).toHaveLength(1);
  });

  it('the controller runs two replicas, kept through drains by a PDB of minAvailable 1; workers scale', () => {
    const objects = renderSet('(defaults)');
    const controller = named(objects, 'Deployment', `${FULLNAME}-controller`);
    expect(spec(controller).replicas).toBe(2);
    expect(podSpec(controller).containers[0]!.args).toEqual([
      'controller',
      '--interval',
      '60',
      '--lease-ttl',
      '15000',
      '--metrics-port',
      '9464',
      '--cluster',
    ]);
    // Cluster mode: the Lease's holder is the Pod, in the release's namespace (downward API).
    const env = podSpec(controller).containers[0]!.env as Array<{ name: string; valueFrom?: unknown }>;
    expect(env.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom).toEqual({
      fieldRef: { fieldPath: 'metadata.namespace' },
    });
    expect(env.find((e) => e.name === 'POD_NAME')?.valueFrom).toEqual({
      fieldRef: { fieldPath: 'metadata.name' },
    });
    expect(podSpec(controller).automountServiceAccountToken).toBe(true);
    expect(spec(named(objects, 'PodDisruptionBudget', `${FULLNAME}-controller`)).minAvailable).toBe(1);
    expect(spec(named(objects, 'PodDisruptionBudget', `${FULLNAME}-api`)).minAvailable).toBe(1);
    const worker = named(objects, 'Deployment', `${FULLNAME}-worker`);
    expect(podSpec(worker).containers[0]!.args).toEqual(['worker', '--metrics-port', '9464', '--cluster']);
    expect(spec(worker).replicas).toBe(2);
    expect(ofKind(objects, 'HorizontalPodAutoscaler')).toEqual([]);
  });

  it('the controller and the worker serve /metrics on a port named metrics; metrics.enabled=false removes it', () => {
    /** The `--metrics-port` argument and the container ports of a component's Deployment. */
    const metricsOf = (objects: KubeObject[], name: string) => {
      const c = podSpec(named(objects, 'Deployment', `${FULLNAME}-${name}`)).containers[0]!;
      const at = c.args!.indexOf('--metrics-port');
      return { flag: at < 0 ? undefined : c.args![at + 1], ports: c.ports, env: envOf(c, 'METRICS_PORT') };
    };
    const served = (port: number) => ({
      flag: String(port),
      ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }],
      env: undefined,
    });
    for (const set of ALL_SETS) {
      const objects = renderSet(set);
      for (const name of ['controller', 'worker'])
        expect([set, name, metricsOf(objects, name)]).toEqual([set, name, served(9464)]);
      // The API's metrics are on its http port.
      const api = podSpec(named(objects, 'Deployment', `${FULLNAME}-api`)).containers[0]!;
      expect(api.ports!.map((p) => p.name)).toEqual(['http']);
    }
    const moved = render([valuesFile({ metrics: { port: 9100 } })]);
    const off = render([valuesFile({ metrics: { enabled: false } })]);
    for (const name of ['controller', 'worker']) {
      expect(metricsOf(moved, name)).toEqual(served(9100));
      expect(metricsOf(off, name)).toEqual({ flag: undefined, ports: undefined, env: undefined });
    }
    // Nothing else changes with it.
    const args = (objects: KubeObject[], name: string) =>
      podSpec(named(objects, 'Deployment', `${FULLNAME}-${name}`)).containers[0]!.args;
    expect(args(off, 'controller')).toEqual([
      'controller',
      '--interval',
      '60',
      '--lease-ttl',
      '15000',
      '--cluster',
    ]);
    expect(args(off, 'worker')).toEqual(['worker', '--cluster']);
    const deployments = [...ofKind(moved, 'Deployment'), ...ofKind(off, 'Deployment')];
    expect(kubeModelCheck(deployments)).toEqual(deployments.map(() => null));
  });

  it('migrations run as a pre-install/pre-upgrade hook Job, with only the database', () => {
    const job = named(renderSet('(defaults)'), 'Job', `${FULLNAME}-migrate`);
    expect(job.metadata.annotations).toEqual({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-weight': '-5',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    const pod = podSpec(job);
    const c = pod.containers[0]!;
    expect(c.args).toEqual(['migrate']);
    expect(c.env?.map((e) => e.name)).toEqual(['DATABASE_URL', 'LOG_LEVEL']);
    // Hooks run before the chart's ServiceAccounts exist.
    expect(pod.serviceAccountName).toBeUndefined();
    expect(pod.automountServiceAccountToken).toBe(false);
    expect((pod as unknown as Json).restartPolicy).toBe('Never');
    const withoutIt = render([valuesFile({ migrations: { enabled: false } })]);
    expect(ofKind(withoutIt, 'Job')).toEqual([]);
  });

  it('no Secret is rendered, and every credential comes from an existing Secret', () => {
    for (const set of ALL_SETS) {
      const objects = renderSet(set);
      expect(ofKind(objects, 'Secret')).toEqual([]);
      for (const w of objects.filter((o) => WORKLOADS.has(o.kind) && component(o) !== 'power-cap')) {
        for (const c of podSpec(w).containers) {
          for (const name of [
            'DATABASE_URL',
            'REDIS_URL',
            'SWITCHYARD_DATABASE_PASSWORD',
            'SWITCHYARD_REDIS_PASSWORD',
          ]) {
            const e = envOf(c, name);
            if (!e) continue;
            // From a Secret, or a URL whose password is the $(VAR) Kubernetes expands from one.
            if (e.value !== undefined)
              expect(e.value).toMatch(/^[a-z]+:\/\/[^:@]*(:\$\(SWITCHYARD_[A-Z]+_PASSWORD\))?@?[^:]+:\d+/);
            else
              expect(e.valueFrom).toEqual({
                secretKeyRef: expect.objectContaining({ name: expect.any(String) }),
              });
          }
          expect(envOf(c, 'DATABASE_URL')).toBeDefined();
        }
      }
    }
  });

  it('external databases by host: the URLs are built around the passwords in the Secrets', () => {
    const objects = renderSet('external-databases.yaml');
    const c = podSpec(named(objects, 'Deployment', `${FULLNAME}-worker`)).containers[0]!;
    const names = c.env!.map((e) => e.name);
    // $(VAR) expands only variables defined before it.
    expect(names.indexOf('SWITCHYARD_DATABASE_PASSWORD')).toBeLessThan(names.indexOf('DATABASE_URL'));
    expect(names.indexOf('SWITCHYARD_REDIS_PASSWORD')).toBeLessThan(names.indexOf('REDIS_URL'));
    expect(envOf(c, 'SWITCHYARD_DATABASE_PASSWORD')?.valueFrom).toEqual({
      secretKeyRef: { name: 'pg-app', key: 'password' },
    });
    expect(envOf(c, 'DATABASE_URL')?.value).toBe(
      'postgresql://switchyard:$(SWITCHYARD_DATABASE_PASSWORD)@pg-rw.databases.svc:5432/switchyard?sslmode=verify-full',
    );
    expect(envOf(c, 'SWITCHYARD_REDIS_PASSWORD')?.valueFrom).toEqual({
      secretKeyRef: { name: 'redis-auth', key: 'redis-password' },
    });
    expect(envOf(c, 'REDIS_URL')?.value).toBe(
      'rediss://switchyard:$(SWITCHYARD_REDIS_PASSWORD)@redis-master.databases.svc:6380',
    );
    // The farm, the miners' credentials, the signals and the image as given.
    expect(envOf(c, 'FARM_FILE')?.value).toBe('/etc/switchyard/farm/farm.yaml');
    expect(c.args).toEqual([
      'worker',
      '--farm',
      '/etc/switchyard/farm/farm.yaml',
      '--concurrency',
      '8',
      '--metrics-port',
      '9464',
      '--cluster',
    ]);
    expect(c.image).toBe(
      'registry.example/switchyard@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
    const mounts = Object.fromEntries(c.volumeMounts!.map((m) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries(
      podSpec(named(objects, 'Deployment', `${FULLNAME}-worker`)).volumes!.map((v) => [v.name, v]),
    );
    expect(volumes[mounts['/etc/switchyard/credentials/antminer-web']!]!.secret).toEqual(
      expect.objectContaining({ secretName: 'antminer-web' }),
    );
    expect(volumes[mounts['/etc/switchyard/credentials/luxos-admin']!]!.secret).toEqual(
      expect.objectContaining({ secretName: 'luxos-admin' }),
    );
    const farm = named(objects, 'ConfigMap', `${FULLNAME}-farm`);
    expect((farm.data as Record<string, string>)['farm.yaml']).toMatch(
      /^apiVersion: switchyard.io\/v1alpha1\nkind: Site\n/,
    );
    expect(volumes[mounts['/etc/switchyard/farm']!]!.configMap).toEqual(
      expect.objectContaining({ name: `${FULLNAME}-farm` }),
    );
    const controller = podSpec(named(objects, 'Deployment', `${FULLNAME}-controller`)).containers[0]!;
    expect(controller.args).toEqual([
      'controller',
      '--farm',
      '/etc/switchyard/farm/farm.yaml',
      '--site',
      'west-1',
      '--interval',
      '60',
      '--lease-ttl',
      '15000',
      '--metrics-port',
      '9464',
      '--cluster',
      '--greedy',
    ]);
    expect(controller.envFrom).toEqual([
      { configMapRef: { name: `${FULLNAME}-signals` } },
      { secretRef: { name: 'switchyard-signals' } },
    ]);
    expect(named(objects, 'ConfigMap', `${FULLNAME}-signals`).data).toEqual({
      SIGNAL_ERCOT_SETTLEMENT_POINT: 'HB_WEST',
      SIGNAL_MEMPOOL_ENABLED: 'true',
      SIGNAL_TIMEOUT_MS: '5000',
    });
    // Large numbers print as integers, not as Go's floats (1e+06).
    const apiContainer = podSpec(named(objects, 'Deployment', `${FULLNAME}-api`)).containers[0]!;
    expect(envOf(apiContainer, 'API_RATE_LIMIT_PER_KEY')?.value).toBe('2000000');
    expect(named(objects, 'PriorityClass', 'switchyard-inference').value).toBe(1000000);
    // The API gets neither the miners' credentials nor the signals.
    const api = podSpec(named(objects, 'Deployment', `${FULLNAME}-api`)).containers[0]!;
    expect(api.volumeMounts!.map((m) => m.mountPath)).toEqual(['/tmp', '/etc/switchyard/farm']);
    expect(api.envFrom).toBeUndefined();
  });

  it('database URLs from Secret keys, the farm from an existing ConfigMap', () => {
    const objects = renderSet('database-urls.yaml');
    const api = named(objects, 'Deployment', `${FULLNAME}-api`);
    const c = podSpec(api).containers[0]!;
    expect(envOf(c, 'DATABASE_URL')?.valueFrom).toEqual({
      secretKeyRef: { name: 'switchyard-pg-app', key: 'uri' },
    });
    expect(envOf(c, 'REDIS_URL')?.valueFrom).toEqual({
      secretKeyRef: { name: 'switchyard-redis', key: 'url' },
    });
    expect(envOf(c, 'FARM_FILE')?.value).toBe('/etc/switchyard/farm/west-1.yaml');
    expect(podSpec(api).volumes!.find((v) => v.name === 'farm')?.configMap).toEqual({
      name: 'farm',
      items: [{ key: 'west-1.yaml', path: 'west-1.yaml' }],
    });
    expect(ofKind(objects, 'ConfigMap')).toEqual([]);
    expect(ofKind(objects, 'ServiceAccount').map((s) => s.metadata.annotations)).toEqual([
      { 'example.com/role': 'switchyard' },
      { 'example.com/role': 'switchyard' },
      { 'example.com/role': 'switchyard' },
    ]);
    // Giving the farm both ways is refused.
    const both = runRenderer([valuesFile({ farm: { inline: 'x: 1', existingConfigMap: 'farm' } })]);
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/farm.inline and farm.existingConfigMap are both set/);
  });

  it('autoscaling: an autoscaling/v2 HPA on CPU for the worker Deployment, which then sets no replicas', () => {
    const objects = renderSet('autoscaling.yaml');
    const hpa = named(objects, 'HorizontalPodAutoscaler', `${FULLNAME}-worker`);
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(spec(hpa)).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `${FULLNAME}-worker` },
      minReplicas: 3,
      maxReplicas: 12,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } },
        },
      ],
    });
    const worker = named(objects, 'Deployment', `${FULLNAME}-worker`);
    expect(spec(worker).replicas).toBeUndefined();
    expect(podSpec(worker).containers[0]!.resources).toEqual(
      expect.objectContaining({ requests: expect.anything() }),
    );
    expect(spec(named(objects, 'PodDisruptionBudget', `${FULLNAME}-worker`)).minAvailable).toBe(2);
  });

  it('network policies: the API reachable only from the allowed peers; egress only where listed', () => {
    const objects = renderSet('network-policy.yaml');
    const policies = ofKind(objects, 'NetworkPolicy');
    expect(policies.map(component).sort()).toEqual(['api', 'controller', 'migrate', 'worker']);
    for (const p of policies) {
      expect(spec(p).policyTypes).toEqual(['Ingress', 'Egress']);
      // An ingress rule without `from` would let everyone in.
      for (const rule of spec(p).ingress as Json[])
        expect((rule.from as unknown[]).length).toBeGreaterThan(0);
    }
    const api = spec(named(objects, 'NetworkPolicy', `${FULLNAME}-api`));
    expect(api.ingress).toEqual([
      {
        ports: [{ port: 'http', protocol: 'TCP' }],
        from: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
          { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'broker-gateway' } } },
        ],
      },
    ]);
    // The controller's and the worker's metrics port (the one their container names) from the same peers.
    for (const name of ['controller', 'worker']) {
      expect(spec(named(objects, 'NetworkPolicy', `${FULLNAME}-${name}`)).ingress).toEqual([
        { ports: [{ port: 'metrics', protocol: 'TCP' }], from: (api.ingress as Json[])[0]!.from },
      ]);
      const c = podSpec(named(objects, 'Deployment', `${FULLNAME}-${name}`)).containers[0]!;
      expect(c.ports?.map((p) => p.name)).toContain('metrics');
    }
    expect(spec(named(objects, 'NetworkPolicy', `${FULLNAME}-migrate`)).ingress).toEqual([]);
    type Egress = { ports?: Array<{ port: number; protocol: string }>; to?: Json[] };
    const egressOf = (name: string) =>
      spec(named(objects, 'NetworkPolicy', `${FULLNAME}-${name}`)).egress as Egress[];
    const ports = (rules: Egress[]) =>
      rules.flatMap((r) => (r.ports ?? []).map((p) => `${p.protocol}/${p.port}`)).sort();
    expect(ports(egressOf('api'))).toEqual(['TCP/53', 'TCP/5432', 'TCP/6379', 'UDP/53']);
    expect(ports(egressOf('migrate'))).toEqual(['TCP/53', 'TCP/5432', 'UDP/53']);
    for (const name of ['controller', 'worker']) {
      const rules = egressOf(name);
      expect(ports(rules)).toEqual([
        'TCP/443',
        'TCP/443',
        'TCP/53',
        'TCP/5432',
        'TCP/6379',
        'TCP/6443',
        'UDP/53',
      ]);
      const miners = rules.find((r) => r.ports === undefined)!;
      expect(miners.to).toEqual(
        ['10.11.0.0/16', '10.12.0.0/16', '10.21.0.0/16'].map((cidr) => ({ ipBlock: { cidr } })),
      );
      const kubeApi = rules.find((r) => r.ports?.some((p) => p.port === 6443))!;
      expect(kubeApi.to).toEqual([
        { ipBlock: { cidr: '172.20.0.10/32' } },
        { ipBlock: { cidr: '172.20.0.11/32' } },
      ]);
    }
    expect(egressOf('api').find((r) => r.ports?.[0]?.port === 5432)?.to).toEqual([
      { ipBlock: { cidr: '10.40.0.0/24' } },
    ]);
    expect(ofKind(renderSet('(defaults)'), 'NetworkPolicy')).toEqual([]);
    // With no peer allowed, nothing gets in (an ingress rule without `from` would admit everyone).
    const closed = render([valuesFile({ networkPolicy: { enabled: true } })]);
    for (const name of ['api', 'controller', 'worker'])
      expect(spec(named(closed, 'NetworkPolicy', `${FULLNAME}-${name}`)).ingress).toEqual([]);
  });

  it("network policies: metricsFrom replaces the API's peers on the metrics ports; without metrics, none", () => {
    const prometheus = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
    };
    const scraped = [{ ports: [{ port: 'metrics', protocol: 'TCP' }], from: [prometheus] }];
    const ingressOf = (objects: KubeObject[], name: string) =>
      spec(named(objects, 'NetworkPolicy', `${FULLNAME}-${name}`)).ingress;
    const set = path.join(VALUES_DIR, 'network-policy.yaml');
    const apiIngress = ingressOf(renderSet('network-policy.yaml'), 'api');
    const own = render([set, valuesFile({ networkPolicy: { metricsFrom: [prometheus] } })]);
    // Only Prometheus's peers, with or without peers for the API.
    const onlyMetrics = render([valuesFile({ networkPolicy: { enabled: true, metricsFrom: [prometheus] } })]);
    const off = render([set, valuesFile({ metrics: { enabled: false } })]);
    expect(ingressOf(own, 'api')).toEqual(apiIngress);
    expect(ingressOf(onlyMetrics, 'api')).toEqual([]);
    expect(ingressOf(off, 'api')).toEqual(apiIngress);
    for (const name of ['controller', 'worker']) {
      expect(ingressOf(own, name)).toEqual(scraped);
      expect(ingressOf(onlyMetrics, name)).toEqual(scraped);
      expect(ingressOf(off, name)).toEqual([]);
    }
    const policies = [own, onlyMetrics, off].flatMap((objects) => ofKind(objects, 'NetworkPolicy'));
    expect(kubeModelCheck(policies)).toEqual(policies.map(() => null));
  });

  it('the power cap: a privileged DaemonSet setting nvidia-smi -pl on GPU nodes, only when asked and given watts', () => {
    const objects = renderSet('power-cap.yaml');
    const ds = named(objects, 'DaemonSet', `${FULLNAME}-power-cap`);
    const pod = podSpec(ds);
    const c = pod.containers[0]!;
    expect(c.args!.join('\n')).toMatch(/nvidia-smi -pl "\$POWER_LIMIT_WATTS"/);
    expect(envOf(c, 'POWER_LIMIT_WATTS')?.value).toBe('300');
    expect(c.securityContext).toEqual({ privileged: true, runAsUser: 0 });
    // Helm merges maps: the value set's label comes on top of the default one.
    expect((pod as unknown as Json).nodeSelector).toEqual({
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
    });
    expect((pod as unknown as Json).runtimeClassName).toBe('nvidia');
    // It takes no GPU from the device plugin.
    expect(JSON.stringify(c.resources)).not.toMatch(/nvidia\.com\/gpu/);
    expect(ofKind(renderSet('(defaults)'), 'DaemonSet')).toEqual([]);
    const noWatts = runRenderer([valuesFile({ powerCap: { enabled: true } })]);
    expect(noWatts.status).toBe(1);
    expect(noWatts.stderr).toMatch(/powerCap.watts is required/);
  });

  it('PriorityClasses: GPU hashing below everything and preempting nothing; inference above it', () => {
    const classes = ofKind(renderSet('(defaults)'), 'PriorityClass');
    const byName = Object.fromEntries(classes.map((c) => [c.metadata.name, c]));
    expect(byName['switchyard-gpu-hashing']).toEqual(
      expect.objectContaining({ value: -100, preemptionPolicy: 'Never', globalDefault: false }),
    );
    expect(byName['switchyard-inference']).toEqual(
      expect.objectContaining({
        value: 1000,
        preemptionPolicy: 'PreemptLowerPriority',
        globalDefault: false,
      }),
    );
    const renamed = render([
      valuesFile({
        priorityClasses: { gpuHashing: { name: 'farm-hashing' }, inference: { name: 'farm-inference' } },
      }),
    ]);
    expect(ofKind(renamed, 'PriorityClass').map((c) => c.metadata.name)).toEqual([
      'farm-hashing',
      'farm-inference',
    ]);
    expect(ofKind(render([valuesFile({ priorityClasses: { create: false } })]), 'PriorityClass')).toEqual([]);
  });

  it('NOTES.txt renders with the first-key command, and warns when no farm is given', () => {
    const withDefaults = runRenderer([], { extra: ['--notes'] });
    expect(withDefaults.status).toBe(0);
    const notes = withDefaults.stdout.slice(withDefaults.stdout.indexOf('\nNOTES:\n'));
    expect(notes).toContain(
      `kubectl -n ${NAMESPACE} exec deploy/${FULLNAME}-api -- switchyard keys create --role operator`,
    );
    expect(notes).toMatch(/WARNING: no farm was given/);
    const withFarm = runRenderer([path.join(VALUES_DIR, 'external-databases.yaml')], { extra: ['--notes'] });
    expect(withFarm.stdout).not.toMatch(/WARNING: no farm was given/);
  });
});

// ---------------------------------------------------------------- the renderer itself

describe('tools/chart-render: the Helm semantics it implements', () => {
  const fixture = path.join(scratch, 'fixture');

  beforeAll(() => {
    writeDir(fixture, {
      'Chart.yaml':
        'apiVersion: v2\nname: fixture\nversion: 1.2.3\nappVersion: "4.5"\nkubeVersion: ">=1.27.0-0"\n',
      'values.yaml':
        'greeting: hello\nnested:\n  keep: 1\n  drop: 2\nlist: [a, b]\ntemplated: "{{ .Values.greeting }} from {{ .Release.Name }}"\n',
      '.helmignore': 'secret.txt\nskipped/\n',
      'secret.txt': 'must not be readable',
      'config/a.conf': 'x=1\ny=2\n',
      'config/b.conf': 'z=3\n',
      'skipped/c.conf': 'no',
    });
    writeDir(path.join(fixture, 'templates'), {
      '_helpers.tpl': '{{- define "fixture.name" -}}{{ .Chart.Name }}-{{ .Values.greeting }}{{- end -}}',
      'NOTES.txt': 'Installed {{ include "fixture.name" . }}.',
      'cm.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "fixture.name" . }}
  namespace: {{ .Release.Namespace }}
data:
  release: {{ printf "%s/%s/%s/%v/%v" .Release.Name .Release.Namespace .Release.Service .Release.IsInstall .Release.IsUpgrade | quote }}
  chart: {{ printf "%s/%s/%s/%s" .Chart.Name .Chart.Version .Chart.AppVersion .Template.Name | quote }}
  kube: {{ printf "%s/%s/%s" .Capabilities.KubeVersion.Version .Capabilities.KubeVersion.Major .Capabilities.KubeVersion.Minor | quote }}
  apis: {{ printf "%v/%v" (.Capabilities.APIVersions.Has "apps/v1") (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") | quote }}
  tpl: {{ tpl .Values.templated . | quote }}
  missing: "{{ .Values.nothing }}"
  json: {{ toJson .Values.nested | quote }}
  yaml: {{ toYaml .Values.list | quote }}
  fromYaml: {{ (fromYaml "a: {b: 3}").a.b | quote }}
  fromYamlArray: {{ index (fromYamlArray "[x, z]") 1 | quote }}
  lookup: {{ lookup "v1" "Secret" "default" "x" | len | quote }}
  files: "{{ range $path, $_ := .Files.Glob "config/*.conf" }}{{ $path }};{{ end }}"
  ignored: {{ printf "%q|%q" (.Files.Get "secret.txt") (.Files.Get "skipped/c.conf") | quote }}
  lines: {{ .Files.Lines "config/a.conf" | join ";" | quote }}
{{- if .Values.fail }}
  failed: {{ required "fail is set, so this must fail" nil }}
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: as-config
data:
  {{- (.Files.Glob "config/*.conf").AsConfig | nindent 2 }}
`,
    });
  });

  it('renders .Values (merged), .Release, .Chart, .Capabilities, .Files, include, tpl and sprig like Helm', () => {
    const overrides = valuesFile({ greeting: 'hi', nested: { drop: null, added: 3 } });
    const r = runRenderer([overrides], {
      chart: fixture,
      extra: [
        '--kube-version',
        'v1.31.2',
        '--api-versions',
        'monitoring.coreos.com/v1',
        '--upgrade',
        '--notes',
      ],
    });
    expect(r.stderr).toBe('');
    const objects = parseStream(r.stdout.slice(0, r.stdout.indexOf('NOTES:')));
    expect(objects.map((o) => o.source)).toEqual(['fixture/templates/cm.yaml', 'fixture/templates/cm.yaml']);
    expect(objects[0]!.object.data).toEqual({
      release: `${RELEASE}/${NAMESPACE}/Helm/false/true`,
      chart: 'fixture/1.2.3/4.5/fixture/templates/cm.yaml',
      kube: 'v1.31.2/1/31',
      apis: 'true/true',
      tpl: `hi from ${RELEASE}`,
      missing: '',
      json: '{"added":3,"keep":1}',
      yaml: '- a\n- b',
      fromYaml: '3',
      fromYamlArray: 'z',
      lookup: '0',
      files: 'config/a.conf;config/b.conf;',
      ignored: '""|""',
      lines: 'x=1;y=2',
    });
    expect(objects[0]!.object.metadata.name).toBe('fixture-hi');
    expect(objects[1]!.object.data).toEqual({ 'a.conf': 'x=1\ny=2\n', 'b.conf': 'z=3\n' });
    expect(r.stdout.slice(r.stdout.indexOf('NOTES:'))).toBe('NOTES:\nInstalled fixture-hi.');
  });

  it("fails like Helm: required, the chart's kubeVersion, a function Helm removes, YAML that does not parse", () => {
    const failing = runRenderer([valuesFile({ fail: true })], { chart: fixture });
    expect([failing.status, failing.stderr]).toEqual([
      1,
      expect.stringMatching(/fail is set, so this must fail/),
    ]);
    const oldKube = runRenderer([], { chart: fixture, extra: ['--kube-version', 'v1.26.9'] });
    expect([oldKube.status, oldKube.stderr]).toEqual([
      1,
      expect.stringMatching(/requires kubeVersion: >=1.27.0-0/),
    ]);
    writeDir(path.join(fixture, 'templates'), {
      'env.yaml': 'kind: X\napiVersion: v1\nv: {{ env "HOME" }}\n',
    });
    const env = runRenderer([], { chart: fixture });
    expect([env.status, env.stderr]).toEqual([1, expect.stringMatching(/function "env" not defined/)]);
    writeDir(path.join(fixture, 'templates'), { 'env.yaml': 'kind: X\napiVersion: v1\nv: [unclosed\n' });
    const broken = runRenderer([], { chart: fixture });
    expect([broken.status, broken.stderr]).toEqual([
      1,
      expect.stringMatching(/env.yaml: document 0 is not valid YAML/),
    ]);
    rmSync(path.join(fixture, 'templates', 'env.yaml'));
  });
});

// ---------------------------------------------------------------- monitoring

describe('monitoring', () => {
  /** The chart's files in `dir` ending in `ext`; none when the directory does not exist. */
  const chartFiles = (dir: string, ext: string) =>
    existsSync(path.join(CHART, dir))
      ? readdirSync(path.join(CHART, dir)).filter((f) => f.endsWith(ext))
      : [];
  const ruleFiles = chartFiles('rules', '.yaml');

  function checkServiceMonitor(objects: KubeObject[]) {
    const sm = named(objects, 'ServiceMonitor', FULLNAME);
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels?.release).toBe('kube-prometheus-stack');
    const service = named(objects, 'Service', `${FULLNAME}-api`);
    const selector = (spec(sm).selector as Json).matchLabels as Record<string, string>;
    expect(service.metadata.labels).toEqual(expect.objectContaining(selector));
    expect(spec(sm).namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
    const endpoints = spec(sm).endpoints as Json[];
    expect(endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    expect((spec(service).ports as Json[]).map((p) => p.name)).toContain(endpoints[0]!.port);
  }

  /**
   * A PodMonitor each for the controller and the worker, selecting every pod of its Deployment
   * (the standby controllers too) on the port its container names `metrics`, which is the
   * port the process is told to serve on.
   */
  function checkPodMonitors(objects: KubeObject[], labels: Record<string, string>) {
    const monitors = ofKind(objects, 'PodMonitor').map((p) => p.metadata.name);
    expect(monitors.sort()).toEqual([`${FULLNAME}-controller`, `${FULLNAME}-worker`]);
    const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
    for (const name of ['controller', 'worker']) {
      const pm = named(objects, 'PodMonitor', `${FULLNAME}-${name}`);
      expect(pm.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(pm.metadata.labels).toEqual(expect.objectContaining(labels));
      const deployment = named(objects, 'Deployment', `${FULLNAME}-${name}`);
      const selector = (spec(pm).selector as Json).matchLabels as Record<string, string>;
      expect(selector).toEqual((spec(deployment).selector as Json).matchLabels);
      const selected = workloads.filter((w) => {
        const podLabels = ((spec(w).template as Json).metadata as Metadata).labels ?? {};
        return Object.entries(selector).every(([k, v]) => podLabels[k] === v);
      });
      expect(selected.map((w) => `${w.kind}/${w.metadata.name}`)).toEqual([`Deployment/${FULLNAME}-${name}`]);
      expect(Object.keys(spec(pm)).sort()).toEqual(['namespaceSelector', 'podMetricsEndpoints', 'selector']);
      expect(spec(pm).namespaceSelector).toEqual({ matchNames: [NAMESPACE] });
      const endpoints = spec(pm).podMetricsEndpoints as Json[];
      expect(endpoints).toEqual([
        {
          port: 'metrics',
          path: '/metrics',
          interval: '30s',
          scrapeTimeout: '10s',
          // The job is named after the Deployment, as the API's after its Service.
          relabelings: [{ action: 'replace', targetLabel: 'job', replacement: deployment.metadata.name }],
        },
      ]);
      const c = podSpec(deployment).containers[0]!;
      const port = c.ports?.find((p) => p.name === endpoints[0]!.port);
      expect(String(port?.containerPort)).toBe(c.args![c.args!.indexOf('--metrics-port') + 1]);
    }
  }

  function ruleGroups(objects: KubeObject[]): Array<{ name: string; rules: Json[] }> {
    const rule = named(objects, 'PrometheusRule', FULLNAME);
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    const groups = spec(rule).groups as Array<{ name: string; rules: Json[] }>;
    expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) {
      expect(typeof g.name).toBe('string');
      expect(g.rules.length).toBeGreaterThan(0);
      for (const r of g.rules) {
        expect(typeof r.expr).toBe('string');
        expect(typeof (r.alert ?? r.record)).toBe('string');
      }
    }
    return groups;
  }

  it('ServiceMonitor on the API Service, PodMonitors on the controller and worker, PrometheusRule from rules/ (or its placeholder), dashboards', () => {
    const objects = renderSet('monitoring.yaml');
    // The controller reads measured GPU power from the same Prometheus.
    const ctl = podSpec(named(objects, 'Deployment', `${FULLNAME}-controller`)).containers[0]!;
    expect(envOf(ctl, 'GPU_POWER_PROMETHEUS_URL')?.value).toBe('http://prometheus-operated.monitoring:9090');
    checkServiceMonitor(objects);
    // Without labels of their own, the PodMonitors carry the ServiceMonitor's.
    checkPodMonitors(objects, { release: 'kube-prometheus-stack' });
    const groups = ruleGroups(objects);
    if (ruleFiles.length === 0) {
      expect(groups.map((g) => g.name)).toEqual(['switchyard.placeholder']);
      expect(groups[0]!.rules[0]!.expr).toBe(
        `kube_deployment_status_replicas_available{namespace="${NAMESPACE}", deployment=~"${FULLNAME}-(api|controller|worker)"} == 0`,
      );
    } else expect(groups.map((g) => g.name)).not.toContain('switchyard.placeholder');
    const dashboards = chartFiles('dashboards', '.json');
    expect(
      ofKind(objects, 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard === '1'),
    ).toHaveLength(dashboards.length);
    for (const set of ALL_SETS.filter((s) => s !== 'monitoring.yaml'))
      expect(renderSet(set).filter((o) => o.apiVersion.startsWith('monitoring.coreos.com'))).toEqual([]);
  });

  it('PodMonitors: labels of their own when given; none with metrics.enabled=false', () => {
    const monitoring = path.join(VALUES_DIR, 'monitoring.yaml');
    const own = render([
      monitoring,
      valuesFile({ monitoring: { podMonitor: { labels: { prometheus: 'farm' } } } }),
    ]);
    checkPodMonitors(own, { prometheus: 'farm' });
    for (const p of ofKind(own, 'PodMonitor')) expect(p.metadata.labels?.release).toBeUndefined();
    checkServiceMonitor(own);
    const off = render([monitoring, valuesFile({ metrics: { enabled: false } })]);
    expect(ofKind(off, 'PodMonitor')).toEqual([]);
    checkServiceMonitor(off);
  });

  it('with rule files and dashboards in the chart, they become the PrometheusRule and the ConfigMaps', () => {
    const chart = path.join(scratch, 'chart-with-assets');
    cpSync(CHART, chart, { recursive: true });
    rmSync(path.join(chart, 'rules'), { recursive: true, force: true });
    rmSync(path.join(chart, 'dashboards'), { recursive: true, force: true });
    const rules = {
      groups: [
        {
          name: 'switchyard.power',
          rules: [{ alert: 'PowerNodeNearLimit', expr: 'switchyard_power_headroom_ratio < 0.05', for: '2m' }],
        },
        {
          name: 'switchyard.queues',
          rules: [{ record: 'switchyard:queue_depth:sum', expr: 'sum(switchyard_queue_depth)' }],
        },
      ],
    };
    writeDir(path.join(chart, 'rules'), {
      'power.yaml': JSON.stringify({ groups: [rules.groups[0]] }),
      'queues.yaml': JSON.stringify({ groups: [rules.groups[1]] }),
    });
    const dashboard = {
      title: 'Farm overview',
      uid: 'farm-overview',
      panels: [{ type: 'timeseries', title: 'Power' }],
    };
    writeDir(path.join(chart, 'dashboards'), {
      'farm_overview.json': JSON.stringify(dashboard),
      'control-plane.json': JSON.stringify({ title: 'Control plane' }),
      'notes.txt': 'not a dashboard',
    });
    const objects = render([path.join(VALUES_DIR, 'monitoring.yaml')], { chart });
    expect(ruleGroups(objects)).toEqual(rules.groups);
    const maps = ofKind(objects, 'ConfigMap');
    expect(maps.map((m) => m.metadata.name).sort()).toEqual([
      `${FULLNAME}-dashboard-control-plane`,
      `${FULLNAME}-dashboard-farm-overview`,
    ]);
    const overview = named(objects, 'ConfigMap', `${FULLNAME}-dashboard-farm-overview`);
    expect(overview.metadata.labels?.grafana_dashboard).toBe('1');
    expect(overview.metadata.annotations).toEqual({ grafana_folder: 'Switchyard' });
    expect(overview.metadata.namespace).toBe('monitoring');
    expect(JSON.parse((overview.data as Record<string, string>)['farm_overview.json']!)).toEqual(dashboard);
  });

  it("the chart's dashboards and rules are copies of grafana/ and prometheus/rules/ (scripts/chart-assets)", () => {
    const r = spawnSync('scripts/chart-assets', ['--check'], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
  });
});

/** Writes each file (a path relative to `dir`) with its text. */
function writeDir(dir: string, files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
}

// ---------------------------------------------------------------- CRDs

describe('CRDs', () => {
  const crdFiles = readdirSync(path.join(CHART, 'crd-files'))
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  const generated = crdFiles.map(
    (f) => parseYaml(readFileSync(path.join(CHART, 'crd-files', f), 'utf8')) as KubeObject,
  );

  it('are installed from crd-files/ as generated, with the release labels and the keep annotation', () => {
    expect(crdFiles.length).toBeGreaterThan(0);
    const crds = ofKind(renderSet('(defaults)'), 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(generated.map((c) => c.metadata.name).sort());
    for (const crd of crds) {
      expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      expect(spec(crd).group as string).toBe('switchyard.io');
      // Apart from labels and annotations, exactly the generated object (numbers included).
      const source = generated.find((g) => g.metadata.name === crd.metadata.name)!;
      const strip = (o: KubeObject) => ({ ...o, metadata: { name: o.metadata.name } });
      expect(strip(crd)).toEqual(strip(source));
      expect(crd.metadata.labels).toEqual(expect.objectContaining(source.metadata.labels ?? {}));
    }
  });

  it('crds.install=false renders none', () => {
    expect(ofKind(renderSet('crds-off.yaml'), 'CustomResourceDefinition')).toEqual([]);
  });

  it('crds.keep=false renders them without the keep annotation', () => {
    const crds = ofKind(render([valuesFile({ crds: { keep: false } })]), 'CustomResourceDefinition');
    expect(crds).toHaveLength(crdFiles.length);
    for (const crd of crds) expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });

  it("Helm's own crds/ directory is ignored, so nothing is installed twice", () => {
    const ignore = readFileSync(path.join(CHART, '.helmignore'), 'utf8').split('\n');
    expect(ignore).toContain('crds/');
    const chart = path.join(scratch, 'chart-with-crds-dir');
    cpSync(CHART, chart, { recursive: true });
    cpSync(path.join(CHART, 'crd-files'), path.join(chart, 'crds'), { recursive: true });
    const crds = ofKind(render([], { chart }), 'CustomResourceDefinition');
    expect(crds).toHaveLength(crdFiles.length);
  });
});

// ---------------------------------------------------------------- values.schema.json

describe('values.schema.json', () => {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  const errorsOf = (values: Json) =>
    validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

  it('is draft-07 and accepts values.yaml and every value set, merged as Helm merges them', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(errorsOf(defaults)).toEqual([]);
    for (const set of VALUE_SETS) {
      const override = parseYaml(readFileSync(path.join(VALUES_DIR, set), 'utf8')) as Json;
      expect([set, errorsOf(coalesce(defaults, override))]).toEqual([set, []]);
    }
  });

  it('types every value of values.yaml', () => {
    const paths = documentedPaths(defaults, schema, [], []);
    expect(paths.length).toBeGreaterThan(100);
    for (const p of paths) {
      const node = schemaAt(p);
      const typed = node && (node.type || node.enum || node.oneOf || node.$ref);
      expect([p, Boolean(typed)]).toEqual([p, true]);
    }
  });

  it.each<[string, Json, RegExp]>([
    ['a value of the wrong type', { api: { replicas: 'two' } }, /^\/api\/replicas must be integer/],
    ['an unknown value', { controler: { replicas: 2 } }, /must NOT have additional properties/],
    [
      'an unknown nested value',
      { worker: { autoscaling: { targetMemory: 80 } } },
      /^\/worker\/autoscaling must NOT have additional/,
    ],
    [
      'no database Secret',
      { database: { existingSecret: '' } },
      /^\/database\/existingSecret must match pattern/,
    ],
    [
      'a log level that does not exist',
      { logLevel: 'verbose' },
      /^\/logLevel must be equal to one of the allowed values/,
    ],
    ['the power cap without watts', { powerCap: { enabled: true } }, /^\/powerCap\/watts must be > 0/],
    ['a port out of range', { redis: { host: 'redis', port: 70000 } }, /^\/redis\/port must be <= 65535/],
    ['metrics on port 0', { metrics: { port: 0 } }, /^\/metrics\/port must be >= 1/],
    [
      'a metrics peer that is not a NetworkPolicyPeer',
      { networkPolicy: { metricsFrom: [{ namespace: 'monitoring' }] } },
      /^\/networkPolicy\/metricsFrom\/0 must NOT have additional properties/,
    ],
    [
      'a non-SIGNAL variable in signals.env',
      { signals: { env: { DATABASE_URL: 'postgres://x' } } },
      /^\/signals\/env must match pattern/,
    ],
    [
      'a Secret name that is not one',
      { minerCredentials: { secrets: ['Antminer Web'] } },
      /^\/minerCredentials\/secrets\/0 must match pattern/,
    ],
  ])('refuses %s', (_what, override, message) => {
    const errors = errorsOf(coalesce(defaults, override));
    expect(errors.some((e) => message.test(e))).toBe(true);
  });
});

// ---------------------------------------------------------------- the chart's README

describe("the chart's README", () => {
  const readme = readFileSync(path.join(CHART, 'README.md'), 'utf8');

  it('documents every value of values.yaml in its values table, with its default', () => {
    const rows = new Map(
      [...readme.matchAll(/^\| `([^`]+)` \| [^|]+ \| `(.*)` \| (.+) \|$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    const paths = documentedPaths(defaults, schema, [], []);
    for (const p of paths) {
      expect([p, rows.has(p)]).toEqual([p, true]);
      const value = p.split('.').reduce<unknown>((v, k) => (v as Json)[k], defaults);
      expect([p, JSON.parse(rows.get(p)!)]).toEqual([p, value]);
    }
    // And nothing that is not a value.
    expect([...rows.keys()].filter((k) => !paths.includes(k))).toEqual([]);
  });

  it("the chart's version and appVersion are the workspace's", () => {
    const chart = parseYaml(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as Json;
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(chart.apiVersion).toBe('v2');
    expect(chart.appVersion).toBe(pkg.version);
  });
});
