// Checks Kubernetes objects against the schemas of the kubernetes-models package, whose classes
// call the OpenAPI validation of each kind: `new CustomResourceDefinition(obj).validate()`. The
// package is ESM-only, which jest's CommonJS transform cannot load, so tests run this with node:
// a JSON array of objects on stdin; on stdout a JSON array with, for each, null when it is
// valid or the validation error's message.
import { text } from 'node:stream/consumers';

interface KubeObject {
  apiVersion?: string;
  kind?: string;
}
type Model = new (data: unknown) => { validate(): void };

const objects = JSON.parse(await text(process.stdin)) as KubeObject[];
const results: Array<string | null> = [];
for (const obj of objects) {
  const [group, version] = obj.apiVersion?.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const module = (await import(
    group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`
  )) as Record<string, Model | undefined>;
  const Class = obj.kind ? module[obj.kind] : undefined;
  if (!Class) {
    results.push(`kubernetes-models has no ${obj.apiVersion} ${obj.kind}`);
    continue;
  }
  try {
    new Class(obj).validate();
    results.push(null);
  } catch (e) {
    results.push((e as Error).message);
  }
}
process.stdout.write(JSON.stringify(results));
