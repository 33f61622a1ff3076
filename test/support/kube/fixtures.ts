// Objects for tests against the fake API server: a small CRD with a status subresource and a
// schema, GPU nodes as GPU Feature Discovery labels them, and a reader for raw watch streams.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './objects.ts';

export const WIDGET_GROUP = 'test.switchyard.io';

/** A namespaced custom resource with /status, a schema with defaults, enums and bounds. */
export const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `widgets.${WIDGET_GROUP}` },
  spec: {
    group: WIDGET_GROUP,
    names: {
      plural: 'widgets',
      singular: 'widget',
      kind: 'Widget',
      listKind: 'WidgetList',
      shortNames: ['wd'],
    },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['size'],
                properties: {
                  size: { type: 'integer', minimum: 1, maximum: 100 },
                  mode: { type: 'string', enum: ['serving', 'hashing', 'idle'], default: 'idle' },
                  tags: { type: 'array', items: { type: 'string' } },
                  extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                },
              },
              status: {
                type: 'object',
                properties: {
                  phase: { type: 'string' },
                  observedGeneration: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    ],
  },
};

export function widget(
  name: string,
  spec: Record<string, unknown> = { size: 1 },
  namespace = 'default',
): KubeObject {
  return { apiVersion: `${WIDGET_GROUP}/v1`, kind: 'Widget', metadata: { name, namespace }, spec };
}

/** A Ready GPU node with the labels GPU Feature Discovery and Switchyard put on it. */
export function gpuNode(name: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
        'nvidia.com/gpu.count': '8',
        'nvidia.com/gpu.memory': '81559',
        ...labels,
      },
    },
    spec: {},
    status: {
      capacity: { 'nvidia.com/gpu': '8' },
      allocatable: { 'nvidia.com/gpu': '8' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
    },
  };
}

/** The CRDs generated into the chart, when present. */
export function chartCrds(root: string): KubeObject[] {
  const dir = join(root, 'charts/switchyard/crd-files');
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  } catch {
    return [];
  }
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8'))
      .map((d) => d.toJS() as KubeObject | null)
      .filter((d): d is KubeObject => d !== null),
  );
}

export interface RawWatch {
  events: Array<{ type: string; object: KubeObject & { code?: number; reason?: string } }>;
  status: number;
  /** Resolves when at least n events arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<RawWatch['events']>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

/** A watch over plain fetch, for checking the wire format. */
export async function rawWatch(url: string, headers: Record<string, string> = {}): Promise<RawWatch> {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  const events: RawWatch['events'] = [];
  let wake: (() => void) | undefined;
  const ended = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) events.push(JSON.parse(line) as RawWatch['events'][number]);
          wake?.();
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return {
    events,
    status: res.status,
    ended,
    close: () => ac.abort(),
    async waitFor(n, timeoutMs = 2000) {
      const until = Date.now() + timeoutMs;
      while (events.length < n) {
        if (Date.now() > until)
          throw new Error(
            `expected ${n} watch events, got ${events.length}: ${JSON.stringify(events.map((e) => e.type))}`,
          );
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 20);
        });
      }
      return events;
    },
  };
}
