// RFC 9457 problem documents for the simulator's HTTP API (the same shape as the main API's).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://switchyard.io/problems/';

export class HttpProblem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: Array<{ path: string; message: string }> | undefined;
  constructor(
    status: number,
    slug: string,
    title: string,
    detail?: string,
    errors?: Array<{ path: string; message: string }>,
  ) {
    super(detail ?? title);
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
  }
}

export function problemHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  const base = { instance: request.url };
  if (error instanceof HttpProblem) {
    return reply
      .code(error.status)
      .type(PROBLEM_CONTENT_TYPE)
      .send({
        type: TYPE_BASE + error.slug,
        title: error.title,
        status: error.status,
        detail: error.detail,
        ...(error.errors ? { errors: error.errors } : {}),
        ...base,
      });
  }
  const fe = error as FastifyError;
  if (fe.validation) {
    return reply
      .code(400)
      .type(PROBLEM_CONTENT_TYPE)
      .send({
        type: `${TYPE_BASE}validation`,
        title: 'Request is invalid',
        status: 400,
        detail: fe.message,
        errors: fe.validation.map((v) => ({
          path: v.instancePath || v.params?.missingProperty || '',
          message: v.message,
        })),
        ...base,
      });
  }
  const status =
    typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({
      type: `${TYPE_BASE}${status >= 500 ? 'internal' : 'client-error'}`,
      title: status >= 500 ? 'Internal error' : fe.message,
      status,
      ...(status >= 500
        ? { detail: 'The simulator could not complete the request; the error was logged.' }
        : {}),
      ...base,
    });
}

export function notFound(request: FastifyRequest, reply: FastifyReply) {
  return reply
    .code(404)
    .type(PROBLEM_CONTENT_TYPE)
    .send({
      type: `${TYPE_BASE}not-found`,
      title: 'Not found',
      status: 404,
      detail: `No route ${request.method} ${request.url.split('?')[0]}`,
      instance: request.url,
    });
}
