/** Small checks on what callers send (HTTP bodies and query strings end up here). */
import { ValidationError } from './errors.ts';

/** An optional free-text comment (its length checked by the route): trimmed, empty → null. */
export function readComment(comment: string | null | undefined): string | null {
  const text = comment?.trim() ?? '';
  return text === '' ? null : text;
}

export function clampLimit(limit: number | undefined, fallback: number, max = 1000): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}

/** An ISO-8601 time from a query, normalised to the stored form. */
export function readTime(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const date = typeof value === 'string' || value instanceof Date ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new ValidationError(field, 'must be an ISO-8601 time');
  return date.toISOString();
}
