// The pieces the route schemas share: the RFC 9457 problem document every error is, resource
// names, times, and the validator the routes run their schemas with.
//
// Route plugins call useTypeBox() first: their schemas are then checked by TypeBox's compiler,
// which converts query-string and path values to the schema's types (`?limit=5` is the number 5)
// and takes bodies exactly as sent: a string is never coerced into a number, and an unknown field
// is refused, not dropped. Responses are serialized by fastify from the same schemas, and
// @fastify/swagger turns them all into the OpenAPI document (openapi.ts).
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_CONTENT_TYPE } from '../problem.ts';

/** Uses TypeBox's validator in this plugin (and only here) and types requests from the schemas. */
export function useTypeBox(app: FastifyInstance) {
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  return app.withTypeProvider<TypeBoxTypeProvider>();
}

/** DNS-1123 label: the name of a site, fleet or pool (the farm file's rule). */
export const RESOURCE_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
/** ISO-8601 time with an offset (`Z` or `±hh:mm`); seconds and fractions optional. */
export const ISO_TIME_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?([Zz]|[+-]\\d{2}:\\d{2})$';

export const ResourceName = (description: string) =>
  Type.String({
    pattern: RESOURCE_NAME_PATTERN,
    minLength: 1,
    maxLength: 63,
    description,
    examples: ['west-1'],
  });

/** A time sent by a client (validated against ISO_TIME_PATTERN). */
export const IsoTimeInput = (description: string) =>
  Type.String({
    pattern: ISO_TIME_PATTERN,
    minLength: 16,
    maxLength: 40,
    description: `${description} ISO-8601 with an offset.`,
    examples: ['2026-07-01T17:00:00-05:00'],
  });

/** A UUID as a client sends it (TypeBox's validator knows no `format: uuid`). */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const UuidInput = (description: string) =>
  Type.String({ pattern: UUID_PATTERN, minLength: 36, maxLength: 36, description });

/** One of the given strings, in a request (each a literal, so the validator names the field). */
export const literals = <const T extends readonly string[]>(values: T, description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v as T[number])),
    { description },
  );

/** A time in a response: ISO-8601 UTC. */
export const DateTime = (description?: string) =>
  Type.String({ format: 'date-time', ...(description ? { description } : {}) });

/** `T | null`, as `type: [T, "null"]` (responses only: TypeBox's validator does not know it). */
export const Nullable = <T extends TSchema>(schema: T) =>
  Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type as string, 'null'] });

/** A union of string literals, as one `enum` (responses only, as Nullable). */
export const StringEnum = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

/** The cursor of the next page in a keyset-paged list. */
export const NextCursor = () =>
  Nullable(Type.String({ description: 'Pass as cursor for the next page; null on the last.' }));

const problemProperties = {
  type: Type.String({
    format: 'uri',
    description: 'Names the kind of problem: https://switchyard.io/problems/<kind>.',
    examples: ['https://switchyard.io/problems/validation'],
  }),
  title: Type.String({ description: 'A short summary of the kind of problem.' }),
  status: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status code.' }),
  detail: Type.Optional(Type.String({ description: 'What went wrong with this request.' })),
  instance: Type.Optional(
    Type.String({ format: 'uri-reference', description: 'The path and query of the request.' }),
  ),
  errors: Type.Optional(
    Type.Array(
      Type.Object({
        path: Type.String({
          description: 'JSON pointer to the field in the body, query or path, e.g. /durationSeconds.',
        }),
        message: Type.String(),
      }),
      { description: 'Validation problems (400): each invalid field.' },
    ),
  ),
  requestId: Type.Optional(
    Type.String({ description: 'Internal errors (5xx): the request id under which the error was logged.' }),
  ),
};

/** RFC 9457 problem details; the routes refer to it by `$ref` (app.addSchema in openapi.ts). */
export const ProblemSchema = Type.Object(problemProperties, {
  $id: 'Problem',
  title: 'Problem',
  description:
    'An RFC 9457 problem document (application/problem+json). Every error the API answers has this shape; some add extension members.',
  additionalProperties: true,
});

/** The problem document as a `$ref`, typed. */
const ProblemRef = Type.Unsafe<Static<typeof ProblemSchema>>(Type.Ref('Problem'));

/** A response whose body is a problem document. */
export function problemResponse(description: string) {
  return { description, content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemRef } } };
}

/** The problem document /readyz answers with, its `checks` included. */
export function problemWith<P extends Record<string, TSchema>>(description: string, extensions: P) {
  return {
    description,
    content: {
      [PROBLEM_CONTENT_TYPE]: {
        schema: Type.Object({ ...problemProperties, ...extensions }, { additionalProperties: true }),
      },
    },
  };
}

export const VALIDATION_PROBLEM =
  'The request is invalid: `errors[]` names each field (`path`) and what is wrong with it.';
