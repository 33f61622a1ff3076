// RFC 9457 problem documents: every error leaves the API in this shape, and 5xx details never do.
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://switchyard.io/problems/';

export class HttpProblem extends Error {
  readonly problem: Problem;
  constructor(
    status: number,
    slug: string,
    title: string,
    detail?: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
    this.problem = {
      type: `${TYPE_BASE}${slug}`,
      title,
      status,
      ...(detail ? { detail } : {}),
      ...extensions,
    };
  }
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/**
 * The JSON pointer of the field a validation error is about. TypeBox's validator points at the
 * field itself; Ajv points at the object and names a missing or unknown field in its params.
 */
function validationPath(v: FastifySchemaValidationError): string {
  const params = v.params as Record<string, unknown> | undefined;
  const field = params?.missingProperty ?? params?.additionalProperty;
  return typeof field === 'string' ? `${v.instancePath}/${field}` : v.instancePath;
}

export function errorHandler(
  error: FastifyError | HttpProblem | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  if (error instanceof HttpProblem) {
    return sendProblem(reply, { ...error.problem, instance: request.url });
  }
  const fe = error as FastifyError;
  if (fe.validation) {
    return sendProblem(reply, {
      type: `${TYPE_BASE}validation`,
      title: 'Request is invalid',
      status: 400,
      detail: fe.message,
      instance: request.url,
      errors: fe.validation.map((v) => ({ path: validationPath(v), message: v.message ?? 'is invalid' })),
    });
  }
  const status =
    typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  if (status >= 500) {
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, {
      type: `${TYPE_BASE}internal`,
      title: 'Internal error',
      status,
      detail: 'The server could not complete the request; the error was logged.',
      instance: request.url,
      requestId: request.id,
    });
  }
  return sendProblem(reply, {
    type: `${TYPE_BASE}${
      fe.code
        ? fe.code
            .toLowerCase()
            .replace(/^fst_err_/, '')
            .replace(/_/g, '-')
        : 'client-error'
    }`,
    title: fe.message,
    status,
    instance: request.url,
  });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return sendProblem(reply, {
    type: `${TYPE_BASE}not-found`,
    title: 'Not found',
    status: 404,
    detail: `No route ${request.method} ${request.url.split('?')[0]}`,
    instance: request.url,
  });
}
