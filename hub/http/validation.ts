/**
 * Route validation from the zod schemas of hub/api/requests: fastify hands each body, query string and
 * path's parameters to the route's schema; what passes reaches the handler parsed (query numbers as
 * numbers), what fails becomes a 400 naming the first offending field. Nothing is coerced and unknown
 * keys are refused, so a misspelt or mistyped field is named rather than ignored.
 */
import type { FastifySchemaCompiler, FastifyTypeProvider } from 'fastify';
import type { z } from 'zod';
import { fieldAndProblem } from '../api/requests/issues.ts';

/** Lets a handler see `request.body` and `request.query` as their schemas' parsed types. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** A request part that did not pass its schema: where, and what is wrong with it. */
export class InvalidRequest extends Error {
  readonly statusCode = 400;
  constructor(
    /** `events[3].hash`; empty when the part as a whole is wrong (a body that is not an object). */
    readonly field: string,
    readonly problem: string,
  ) {
    super(field === '' ? problem : `${field}: ${problem}`);
  }
}

export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const result = schema.safeParse(data, { reportInput: true });
    if (result.success) return { value: result.data };
    const issue = result.error.issues[0]!;
    return { error: new InvalidRequest(...fieldAndProblem(issue)) };
  };
