// Kubernetes answers every failure with a `Status` object (apiVersion v1, kind Status) whose
// `code` is the HTTP status and whose `reason` says why. The fake API server throws StatusError
// anywhere in a request and the router turns it into that document.

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'StatusError';
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): KubeStatus {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export function successStatus(details: StatusDetails): KubeStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details, code: 200 };
}

/** What a resource is called in messages: `leases.coordination.k8s.io`, `nodes`. */
export interface ResourceRef {
  group: string;
  plural: string;
  kind: string;
}

const qualified = (r: ResourceRef) => (r.group ? `${r.plural}.${r.group}` : r.plural);
const ref = (r: ResourceRef, name: string): StatusDetails => ({ name, group: r.group, kind: r.plural });

export const notFound = (r: ResourceRef, name: string) =>
  new StatusError(404, 'NotFound', `${qualified(r)} "${name}" not found`, ref(r, name));

export const namespaceNotFound = (ns: string) =>
  new StatusError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });

export const alreadyExists = (r: ResourceRef, name: string) =>
  new StatusError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, ref(r, name));

export const conflict = (r: ResourceRef, name: string, why: string) =>
  new StatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`,
    ref(r, name),
  );

export const modifiedConflict = (r: ResourceRef, name: string) =>
  conflict(
    r,
    name,
    'the object has been modified; please apply your changes to the latest version and try again',
  );

/** 410: what the real server says when a resourceVersion is older than its history. */
export const expired = (message: string) => new StatusError(410, 'Expired', message);

export function invalid(r: ResourceRef, name: string, causes: StatusCause[]): StatusError {
  const kind = r.group ? `${r.kind}.${r.group}` : r.kind;
  const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return new StatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${summary}`, {
    ...ref(r, name),
    kind: r.kind,
    causes,
  });
}

export const badRequest = (message: string) => new StatusError(400, 'BadRequest', message);

export const unsupportedMediaType = (accepted: string[]) =>
  new StatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );

export const methodNotAllowed = (method: string) =>
  new StatusError(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method})`,
  );

export const pathNotFound = () =>
  new StatusError(404, 'NotFound', 'the server could not find the requested resource');
