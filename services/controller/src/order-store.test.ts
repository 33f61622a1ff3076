// The allocation policy an operator set through the API replaces the farm file's for its site.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseFarmYaml } from '@switchyard/domain';
import { withPolicy } from './order-store.ts';

const parsed = parseFarmYaml(readFileSync('examples/farm.yaml', 'utf8'));
if (!parsed.ok) throw new Error('example farm invalid');
const farm = parsed.farm;
const site = farm.sites[0]!.metadata.name;

describe('withPolicy', () => {
  it('keeps the farm as it is without a stored version', () => {
    expect(withPolicy(farm, site, undefined)).toBe(farm);
  });

  it('overlays the stored version on the file’s spec, keeping the resource and the site', () => {
    const before = farm.policies.find((p) => p.spec.site === site)!;
    const out = withPolicy(farm, site, { safetyMarginPct: 12, site: 'elsewhere' });
    const after = out.policies.find((p) => p.spec.site === site)!;
    expect(after.metadata.name).toBe(before.metadata.name);
    expect(after.spec.safetyMarginPct).toBe(12);
    expect(after.spec.site).toBe(site);
    expect(out.policies).toHaveLength(farm.policies.length);
    // Everything else is the file's, and the input farm is not changed.
    expect({ ...after.spec, safetyMarginPct: before.spec.safetyMarginPct }).toEqual(before.spec);
    expect(farm.policies.find((p) => p.spec.site === site)!.spec.safetyMarginPct).toBe(
      before.spec.safetyMarginPct,
    );
  });

  it('adds a policy for a site the file has none for, with defaults for the rest', () => {
    const bare = { ...farm, policies: [] };
    const out = withPolicy(bare, site, { safetyMarginPct: 9 });
    expect(out.policies).toHaveLength(1);
    expect(out.policies[0]!.spec).toMatchObject({ site, safetyMarginPct: 9 });
  });

  it('refuses a stored version the schema does not accept', () => {
    expect(() => withPolicy(farm, site, { safetyMarginPct: 'lots' })).toThrow();
  });
});
