/** Small checks on what callers send (HTTP bodies and query strings end up here). */
import { DECISION_CHANNELS, type DecisionChannel, type HoldContext } from '../api/types.ts';
import { ValidationError } from './errors.ts';

const MAX_COMMENT = 2000;

/** An optional free-text comment: trimmed, empty → null. */
export function readComment(comment: unknown, field = 'comment'): string | null {
  if (comment === undefined || comment === null) return null;
  if (typeof comment !== 'string') throw new ValidationError(field, 'must be text');
  const text = comment.trim();
  if (text.length > MAX_COMMENT)
    throw new ValidationError(field, `must be at most ${MAX_COMMENT} characters`);
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

/** Where a decision was taken: one of the known channels, or null when the client did not say. */
export function readDecisionChannel(via: unknown): DecisionChannel | null {
  if (via === undefined || via === null) return null;
  const channel = DECISION_CHANNELS.find((c) => c === via);
  if (!channel) throw new ValidationError('via', `must be one of ${DECISION_CHANNELS.join(', ')}`);
  return channel;
}

const MAX_CONTEXT_TABLES = 64;

function readTableNames(value: unknown, field: string): string[] {
  if (
    !Array.isArray(value) ||
    value.length > MAX_CONTEXT_TABLES ||
    !value.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 200)
  ) {
    throw new ValidationError(field, `must be a list of at most ${MAX_CONTEXT_TABLES} table names`);
  }
  return [...(value as string[])];
}

/** What a held statement touches, as the tunnel sends it; null when it sent nothing. */
export function readHoldContext(context: unknown): HoldContext | null {
  if (context === undefined || context === null) return null;
  if (typeof context !== 'object' || Array.isArray(context)) {
    throw new ValidationError('context', 'must be an object');
  }
  const { tables, writes, estimatedRows } = context as Record<string, unknown>;
  if (
    estimatedRows !== null &&
    (typeof estimatedRows !== 'number' || !Number.isFinite(estimatedRows) || estimatedRows < 0)
  ) {
    throw new ValidationError('context.estimatedRows', 'must be a number of rows, or null');
  }
  return {
    tables: readTableNames(tables, 'context.tables'),
    writes: readTableNames(writes, 'context.writes'),
    estimatedRows: estimatedRows === null ? null : Math.round(estimatedRows),
  };
}
