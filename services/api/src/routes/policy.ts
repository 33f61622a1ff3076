// The site's allocation policy: the farm file's AllocationPolicy spec, replaced by the newest
// version an operator set through PUT /policy. A new version is validated whole by the farm
// model's own rules (validateFarmResources, the same that check the farm file), stored and
// audited in one transaction, then an `inventory` control event tells the controller to plan
// again: the policy is part of the farm inventory.
import type { FastifyPluginAsync } from 'fastify';
import {
  API_VERSION,
  allocationPolicySpecSchema,
  validateFarmResources,
  type AllocationPolicySpec,
  type Farm,
  type FarmIssue,
  type Site,
} from '@switchyard/domain';
import { AuditRepository, PolicyRepository, type PolicyVersionRecord } from '@switchyard/db';
import { auditEntry } from '../audit.ts';
import { principalOf } from '../auth.ts';
import { HttpProblem } from '../problem.ts';
import { useTypeBox } from '../schemas/common.ts';
import { getPolicySchema, listPolicyVersionsSchema, putPolicySchema } from '../schemas/operator.ts';
import { invalid, notify, siteOf, type OperatorRouteOptions } from './operator-support.ts';

type Source = 'api' | 'farm-file' | 'defaults';

/** The policy in force for a site: the newest API version over the farm file's spec. */
export function effectivePolicy(farm: Farm, site: string, latest: PolicyVersionRecord | undefined) {
  const fromFile = farm.policies.find((p) => p.spec.site === site);
  const base: AllocationPolicySpec = fromFile?.spec ?? allocationPolicySpecSchema.parse({ site });
  const source: Source = latest ? 'api' : fromFile ? 'farm-file' : 'defaults';
  return {
    site,
    name: fromFile?.metadata.name ?? null,
    source,
    version: latest?.id ?? null,
    updatedAt: latest ? latest.createdAt.toISOString() : null,
    updatedBy: latest?.createdBy ?? null,
    spec: { ...base, ...(latest?.spec ?? {}), site } as AllocationPolicySpec,
  };
}

/** The farm model's issues about the policy document, as the API's errors[] (paths below the body). */
function bodyErrors(issues: FarmIssue[], document: string): Array<{ path: string; message: string }> {
  return issues
    .filter((i) => i.document === document)
    .flatMap((i) => {
      const unknown = /^unknown field\(s\) (.+)$/.exec(i.message);
      if (i.path === 'spec' && unknown)
        return [...unknown[1]!.matchAll(/"([^"]+)"/g)].map((m) => ({
          path: `/${m[1]!}`,
          message: 'is not a field of the allocation policy',
        }));
      const field = i.path.replace(/^spec\.?/, '');
      return [{ path: field ? `/${field.replaceAll('.', '/')}` : '', message: i.message }];
    });
}

/** Validates a PUT body as the site's AllocationPolicy with the domain's rules; a 400 naming each bad field. */
function validatePolicy(farm: Farm, site: Site, body: Record<string, unknown>): AllocationPolicySpec {
  const name =
    farm.policies.find((p) => p.spec.site === site.metadata.name)?.metadata.name ??
    `${site.metadata.name}-policy`;
  const document = `AllocationPolicy/${name}`;
  const r = validateFarmResources([
    ...farm.sites,
    {
      apiVersion: API_VERSION,
      kind: 'AllocationPolicy',
      metadata: { name },
      spec: { ...body, site: site.metadata.name },
    },
  ]);
  if (r.ok) return r.farm.policies[0]!.spec;
  const errors = bodyErrors(r.issues, document);
  if (errors.length === 0)
    throw new Error(`the farm's own documents do not validate: ${r.issues[0]?.message ?? ''}`);
  const first = errors[0]!;
  throw new HttpProblem(
    400,
    'validation',
    'Request is invalid',
    `${first.path.slice(1) || 'body'} ${first.message}`,
    {
      errors,
    },
  );
}

export const policyRoutes: FastifyPluginAsync<OperatorRouteOptions> = async (plugin, opts) => {
  const app = useTypeBox(plugin);
  const { db } = opts;
  const now = opts.now ?? (() => new Date());
  const repo = new PolicyRepository(db);

  app.get('/policy', { schema: getPolicySchema }, async (req) => {
    const farm = opts.getFarm().farm;
    const site = siteOf(farm, req.query.site).metadata.name;
    return effectivePolicy(farm, site, await repo.latest(site));
  });

  // The farm model validates first and names each bad field in its own words; the schema's
  // verdict (req.validationError) is thrown only if the model found nothing wrong.
  app.put('/policy', { schema: putPolicySchema, attachValidation: true }, async (req) => {
    const body = req.body as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid('body', 'must be a JSON object');
    const b = body as Record<string, unknown>;
    const farm = opts.getFarm().farm;
    const site = siteOf(farm, b.site, { required: true });
    const spec = validatePolicy(farm, site, b);
    if (req.validationError) throw req.validationError;
    const name = site.metadata.name;
    const saved = await db.transaction(async (tx) => {
      const previous = await new PolicyRepository(tx).latest(name);
      const v = await new PolicyRepository(tx).save({ site: name, spec, createdBy: principalOf(req).prefix });
      await new AuditRepository(tx).append(
        auditEntry(req, 'policy.update', `policy:${name}`, {
          version: v.id,
          previousVersion: previous?.id ?? null,
          spec,
        }),
      );
      return v;
    });
    req.log.info({ site: name, version: saved.id }, 'allocation policy updated');
    const notified = await notify(opts.publishEvent, { type: 'inventory', at: now().toISOString() }, req.log);
    return { ...effectivePolicy(farm, name, saved), notified };
  });

  app.get('/policy/versions', { schema: listPolicyVersionsSchema }, async (req) => {
    const q = req.query;
    const farm = opts.getFarm().farm;
    const site = siteOf(farm, q.site).metadata.name;
    const page = await repo.list(site, {
      limit: q.limit ?? 50,
      ...(q.cursor !== undefined && { cursor: q.cursor }),
    });
    return {
      items: page.items.map((v) => ({
        version: v.id,
        site: v.site,
        spec: effectivePolicy(farm, site, v).spec,
        createdAt: v.createdAt.toISOString(),
        createdBy: v.createdBy,
      })),
      nextCursor: page.nextCursor,
    };
  });
};
