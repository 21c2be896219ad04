/**
 * How a request that failed its schema is told: the first issue as the field it names and the problem,
 * in the same words wherever the schema is checked (the routes, and a service a caller reaches directly).
 */
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

/** The field a schema's issue names (`events[3].hash`) and what is wrong with it, in a 400's words. */
export function fieldAndProblem(issue: Issue): [string, string] {
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
