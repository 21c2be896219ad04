/**
 * A Classification as plain data, to cross a worker thread's message port and be rebuilt on the other
 * side exactly as the walker builds it: frozen, its sets read-only, and with the EXECUTE names still to
 * be resolved (INTERNALS) that a structured clone would lose.
 *
 * A statement's text is a slice of the SQL both sides already hold; it travels as its offset and length
 * when it is one, so a large statement is not copied back.
 */
import type { Classification, StatementClass, TableRef } from './classification.ts';
import { FrozenSet, INTERNALS } from './walker.ts';

type StatementText = string | { at: number; length: number };

export interface PlainClassification {
  classes: StatementClass[];
  statements: {
    classes: StatementClass[];
    tables: readonly TableRef[];
    writes: readonly TableRef[];
    text: StatementText;
    unresolved: readonly string[];
  }[];
  tables: readonly TableRef[];
  reasons: readonly string[];
  failure?: string;
  syntaxError?: { message: string; position: number };
  prepared: { name: string; classification: PlainClassification }[];
  executes: readonly string[];
  settings: readonly { name: string; value?: string }[];
  cursors: readonly string[];
}

export function toPlain(classification: Classification, sql: string): PlainClassification {
  const unresolved = INTERNALS.get(classification);
  let searchFrom = 0;
  const statements = classification.statements.map((statement, i) => {
    const at = sql.indexOf(statement.text, searchFrom);
    if (at >= 0) searchFrom = at + statement.text.length;
    return {
      classes: [...statement.classes],
      tables: statement.tables,
      writes: statement.writes,
      text: at >= 0 ? { at, length: statement.text.length } : statement.text,
      unresolved: unresolved?.[i] ?? [],
    };
  });
  return {
    classes: [...classification.classes],
    statements,
    tables: classification.tables,
    reasons: classification.reasons,
    ...(classification.failure === undefined ? {} : { failure: classification.failure }),
    ...(classification.syntaxError === undefined ? {} : { syntaxError: classification.syntaxError }),
    prepared: classification.prepared.map(({ name, classification: inner }) => ({
      name,
      classification: toPlain(inner, sql),
    })),
    executes: classification.executes,
    settings: classification.settings,
    cursors: classification.cursors,
  };
}

export function fromPlain(plain: PlainClassification, sql: string): Classification {
  const statements = plain.statements.map((statement) =>
    Object.freeze({
      classes: new FrozenSet(statement.classes),
      tables: deepFreeze(statement.tables),
      writes: deepFreeze(statement.writes),
      text:
        typeof statement.text === 'string'
          ? statement.text
          : sql.slice(statement.text.at, statement.text.at + statement.text.length),
    }),
  );
  const classification: Classification = Object.freeze({
    classes: new FrozenSet(plain.classes),
    statements: Object.freeze(statements),
    tables: deepFreeze(plain.tables),
    reasons: Object.freeze(plain.reasons),
    ...(plain.failure === undefined ? {} : { failure: plain.failure }),
    ...(plain.syntaxError === undefined ? {} : { syntaxError: Object.freeze(plain.syntaxError) }),
    prepared: Object.freeze(
      plain.prepared.map(({ name, classification: inner }) =>
        Object.freeze({ name, classification: fromPlain(inner, sql) }),
      ),
    ),
    executes: Object.freeze(plain.executes),
    settings: deepFreeze(plain.settings),
    cursors: Object.freeze(plain.cursors),
  });
  if (plain.statements.some((s) => s.unresolved.length > 0)) {
    INTERNALS.set(
      classification,
      plain.statements.map((s) => Object.freeze(s.unresolved)),
    );
  }
  return classification;
}

function deepFreeze<T extends object>(items: readonly T[]): readonly T[] {
  for (const item of items) Object.freeze(item);
  return Object.freeze(items);
}
