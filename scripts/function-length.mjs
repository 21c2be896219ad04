// @ts-check
/**
 * How long a function may be: MAX_FUNCTION_LINES lines of code (blank lines and comments not counted),
 * enforced by ESLint's max-lines-per-function (eslint.config.js). A longer function is a room holding
 * two ideas; split it where the ideas part.
 *
 * Not counted: tests, benchmarks, soak and compatibility scenarios (a scenario reads best top to
 * bottom), and the database schema's migrations (schema definitions).
 */

export const MAX_FUNCTION_LINES = 60;

export const FUNCTION_LENGTH_OPTIONS = { skipBlankLines: true, skipComments: true, IIFEs: true };

/** Tests, scenarios and schema definitions, where one long function reads best. */
export const UNCOUNTED = [
  'test/**',
  '**/*.test.ts',
  '**/*.test.tsx',
  'bench/**',
  'soak/**',
  'compat/**',
  'hub/db/migrations.ts',
];
