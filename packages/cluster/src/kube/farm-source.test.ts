// The pure parts of the farm source: a custom resource as a farm document, the restart backoff,
// and the message of an invalid farm.
import { describe, expect, it } from '@jest/globals';
import { validateFarmResources } from '@switchyard/domain';
import {
  backoffDelayMs,
  customResourceToDocument,
  InvalidFarmError,
  LAST_APPLIED_ANNOTATION,
} from './farm-source.ts';

const stored = {
  apiVersion: 'switchyard.io/v1alpha1',
  kind: 'AllocationPolicy',
  metadata: {
    name: 'p',
    uid: '0b5c',
    resourceVersion: '42',
    generation: 3,
    creationTimestamp: '2026-01-01T00:00:00Z',
    managedFields: [{ manager: 'kubectl' }],
    labels: { team: 'ops' },
    annotations: { [LAST_APPLIED_ANNOTATION]: '{"x":"'.padEnd(5000, 'y'), note: 'hello' },
  },
  spec: { site: 's' },
  status: { observedGeneration: 3 },
};

describe('customResourceToDocument', () => {
  it('keeps name, labels, annotations and spec; drops server metadata, status and last-applied', () => {
    expect(customResourceToDocument('AllocationPolicy', stored)).toEqual({
      apiVersion: 'switchyard.io/v1alpha1',
      kind: 'AllocationPolicy',
      metadata: { name: 'p', labels: { team: 'ops' }, annotations: { note: 'hello' } },
      spec: { site: 's' },
    });
  });

  it.each([
    ['no labels or annotations', { name: 'p' }],
    ['empty maps', { name: 'p', labels: {}, annotations: {} }],
    ['only the last-applied annotation', { name: 'p', annotations: { [LAST_APPLIED_ANNOTATION]: '{}' } }],
  ])('leaves out empty maps: %s', (_, metadata) => {
    expect(customResourceToDocument('Site', { metadata, spec: {} }).metadata).toEqual({ name: 'p' });
  });

  it('sets apiVersion and kind from the kind listed, whatever the item says', () => {
    const doc = customResourceToDocument('GpuPool', { metadata: { name: 'g' }, spec: 1 });
    expect([doc.apiVersion, doc.kind]).toEqual(['switchyard.io/v1alpha1', 'GpuPool']);
  });
});

describe('backoffDelayMs', () => {
  it.each([
    [1, 500],
    [2, 1000],
    [3, 2000],
    [6, 16_000],
    [7, 30_000],
    [1000, 30_000],
    [0, 500],
  ])('attempt %i waits %i ms (500 ms doubling, at most 30 s)', (attempt, ms) => {
    expect(backoffDelayMs(attempt, 500, 30_000)).toBe(ms);
  });
});

describe('InvalidFarmError', () => {
  it('lists the first ten issues and counts the rest', () => {
    const docs = Array.from({ length: 12 }, (_, i) => ({
      apiVersion: 'switchyard.io/v1alpha1',
      kind: 'AllocationPolicy',
      metadata: { name: `p${i}` },
      spec: { site: 'missing' },
    }));
    const res = validateFarmResources(docs);
    if (res.ok) throw new Error('expected issues');
    const e = new InvalidFarmError(res.issues);
    const lines = e.message.split('\n');
    expect(lines[0]).toBe('the farm in the cluster is not valid:');
    expect(lines[1]).toBe('  AllocationPolicy/p0 spec.site: Site "missing" is not defined');
    expect(lines).toHaveLength(1 + 10 + 1);
    expect(lines.at(-1)).toBe(`  … and ${res.issues.length - 10} more`);
    expect(e.issues).toBe(res.issues);
  });
});
