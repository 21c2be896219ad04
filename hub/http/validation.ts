/**
 * Route validation from the zod schemas of hub/api/requests: fastify hands each body, query string and
 * path's parameters to the route's schema; what passes reaches the handler parsed (query numbers as
 * numbers), what fails becomes a 400 naming the first offending field. Nothing is coerced and unknown
 * keys are refused, so a misspelt or mistyped field is named rather than ignored.
 */
import type { FastifySchemaCompiler, FastifyTypeProvider } from 'fastify';
import type { z } from 'zod';

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

type Issue = z.core.$ZodIssue;

function fieldAndProblem(issue: Issue): [string, string] {
  const path = issue.path.map((part) => (typeof part === 'symbol' ? part.toString() : part));
  if (issue.code === 'unrecognized_keys')
    return [fieldName([...path, issue.keys[0]!]), 'is not a known field'];
  return [fieldName(path), problemOf(issue)];
}

/** `['events', 3, 'hash']` → `events[3].hash`. */
function fieldName(path: readonly (string | number)[]): string {
  let field = '';
  for (const part of path) {
    field += typeof part === 'number' ? `[${part}]` : field === '' ? part : `.${part}`;
  }
  return field;
}

function problemOf(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${issue.expected === 'int' ? 'integer' : issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_union':
      return 'options' in issue && Array.isArray(issue.options)
        ? `must be one of ${issue.options.map(String).join(', ')}`
        : 'is not valid';
    case 'too_small':
      return sizeProblem(issue.origin, 'at least', issue.minimum);
    case 'too_big':
      return sizeProblem(issue.origin, 'at most', issue.maximum);
    default:
      return issue.message;
  }
}

function sizeProblem(origin: string, bound: string, limit: number | bigint): string {
  if (origin === 'string') return `must be ${bound} ${limit} characters long`;
  if (origin === 'array') return `must hold ${bound} ${limit} items`;
  return `must be ${bound} ${limit}`;
}
