/**
 * What the classifier says about a SQL text: the statement classes and the shape of a
 * Classification. Kept apart from classifier.ts so the walker, the catalogs and the shape cache
 * depend on the result's shape, not on the classifier that produces it.
 */
export const STATEMENT_CLASSES = Object.freeze([
  'read',
  'write',
  'ddl',
  'drop',
  'truncate',
  'delete-without-where',
  'update-without-where',
  'privilege',
  'server-access',
  'dynamic',
  'session',
  'unknown',
] as const);

export type StatementClass = (typeof STATEMENT_CLASSES)[number];

/** A relation, named as PostgreSQL folds identifiers (unquoted → lower case, quoted as written). */
export interface TableRef {
  schema?: string;
  name: string;
}

export interface Classification {
  /** Every class found anywhere in the text (all statements, CTEs, subqueries, function bodies we can see). */
  classes: ReadonlySet<StatementClass>;
  /** Per top-level statement, its classes and the tables it reads/writes, in order. */
  statements: readonly {
    classes: ReadonlySet<StatementClass>;
    tables: readonly TableRef[];
    writes: readonly TableRef[];
    text: string;
  }[];
  /** All tables referenced anywhere (FROM, JOIN, DML targets, COPY, LOCK, ...). */
  tables: readonly TableRef[];
  /** Why each non-read class was assigned, human readable, for error messages. */
  reasons: readonly string[];
  /** Set when classification failed closed. The statement must be denied with this message. */
  failure?: string;
  /**
   * Set (with `failure`) when the text does not parse: PostgreSQL's own message and the 1-based
   * character position it reports, so the caller can answer with the 42601 the server would give.
   */
  syntaxError?: { message: string; position: number };
  /** PREPARE name AS <stmt> in this text: the class of what was prepared, so a later EXECUTE name is judged by it. */
  prepared: readonly { name: string; classification: Classification }[];
  /**
   * EXECUTE name(...) in this text whose PREPARE is not earlier in this text: the caller must judge
   * what each runs, by what was prepared earlier in the session (see resolveExecutes), and deny a
   * name it does not know.
   */
  executes: readonly string[];
  /** SET/RESET/set_config of GUC names (lower case) that take effect in this session. */
  settings: readonly { name: string; value?: string }[];
  /**
   * Cursors and portals that FETCH/MOVE in this text run (further). A SQL cursor's query was judged
   * at its DECLARE; a name the caller does not know as such — an extended-protocol portal bound but
   * not executed, say — runs a statement nobody judged here.
   */
  cursors: readonly string[];
}
