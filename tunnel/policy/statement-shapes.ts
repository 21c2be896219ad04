/**
 * Classifications by a statement's shape: the text with its constants abstracted, as PostgreSQL's own
 * normaliser writes it (libpg-query's normalizeSync, the normalisation pg_stat_statements does:
 * `WHERE aid = 10427` becomes `WHERE aid = $1`). Applications and benchmarks send the same statements
 * over and over with other literals in them; those share a shape, and the normaliser is several times
 * cheaper than parsing the text and walking its tree.
 *
 * A shape is served only where no constant can change the classification, and that is established
 * the first time the shape is seen, not assumed:
 *  - the text has no `$` (parameter symbols, dollar quoting: `$1` in the shape would be ambiguous)
 *    and no NUL (the normaliser would read only the part before it);
 *  - it is one statement, ending in nothing but an optional `;`;
 *  - everything the normaliser abstracted is an A_Const node of the tree (the normaliser also takes
 *    DefElem string arguments — function bodies, DO blocks, passwords —, NOTIFY payloads and
 *    subscription connection strings: a tree with any of those is never shaped);
 *  - the walk that classified it never looked inside an A_Const: each is watched while the tree is
 *    walked, and reading its value or even its kind (SET and set_config(…) values, a LIKE pattern,
 *    `1 = 1`) leaves the shape unserved;
 *  - the classification did not fail and changes no setting.
 * Then any text of that shape — the same tokens but for the values of those constants — walks the
 * same way to the same classification, whose statement text is the new one.
 */
import { normalizeSync } from 'libpg-query';
import type { Classification } from './classification.ts';
import { RecentlyUsed } from './recently-used.ts';
import { INTERNALS } from './walker.ts';

/** Node types whose constants the normaliser abstracts without an A_Const: never shaped. */
const ABSTRACTED_ELSEWHERE = new Set([
  'DefElem',
  'NotifyStmt',
  'CreateSubscriptionStmt',
  'AlterSubscriptionStmt',
]);

interface Shape {
  classification: Classification;
  /** The text ended in `;` (after trimming); the statement's text is the rest. */
  semicolon: boolean;
}

/** A shape seen before whose constants may change the classification: its texts are classified each. */
const UNSHAPED = 'unshaped';

export interface ShapeStats {
  hits: number;
  misses: number;
  unshaped: number;
}

/** Watches the constants of one parse tree while it is walked; `read` tells whether any was looked at. */
export interface ConstantWatch {
  readonly read: boolean;
}

export class StatementShapes {
  private readonly shapes: RecentlyUsed<string, Shape | typeof UNSHAPED>;
  readonly stats: ShapeStats = { hits: 0, misses: 0, unshaped: 0 };

  constructor(size: number) {
    this.shapes = new RecentlyUsed(size);
  }

  /**
   * The shape of `sql` when it may have one: a classification to serve, or the key to learn it under
   * once classified (see learn). Undefined when the text cannot be shaped.
   */
  lookup(sql: string): { classification: Classification } | { key: string } | undefined {
    // The normaliser, like the server, reads a text only up to a NUL; the classifier refuses such texts.
    if (this.shapes.capacity <= 0 || sql.includes('$') || sql.includes('\u0000')) return undefined;
    let key: string;
    try {
      key = normalizeSync(sql);
    } catch {
      return undefined; // it does not parse: the full classification says how
    }
    const shape = this.shapes.get(key);
    if (shape === undefined) {
      this.stats.misses++;
      return { key };
    }
    if (shape === UNSHAPED) {
      this.stats.unshaped++;
      return undefined;
    }
    this.stats.hits++;
    return { classification: withText(shape.classification, statementText(sql, shape.semicolon)) };
  }

  /** Remembers how a text of shape `key` was classified, or that its shape cannot be served. */
  learn(key: string, sql: string, classification: Classification, watch: ConstantWatch | undefined): void {
    const text = classification.statements[0]?.text;
    const trimmed = sql.trim();
    const semicolon = text !== undefined && trimmed === `${text};`;
    const servable =
      watch !== undefined &&
      !watch.read &&
      classification.failure === undefined &&
      classification.statements.length === 1 &&
      classification.settings.length === 0 &&
      classification.prepared.length === 0 &&
      (semicolon || trimmed === text);
    this.shapes.set(key, servable ? { classification, semicolon } : UNSHAPED);
  }
}

/**
 * Prepares a parse tree for a walk whose use of constants is watched: every A_Const body is replaced
 * by a view that notes any look at what it holds (its location aside). Undefined when the tree holds
 * something the normaliser abstracts outside an A_Const, so that its shape must not be served at all.
 */
export function watchConstants(tree: unknown): ConstantWatch | undefined {
  const watch = { read: false };
  const note = (): void => {
    watch.read = true;
  };
  const handler: ProxyHandler<object> = {
    get: (target, key) => {
      if (key !== 'location') note();
      return Reflect.get(target, key) as unknown;
    },
    has: (target, key) => {
      note();
      return Reflect.has(target, key);
    },
    ownKeys: (target) => {
      note();
      return Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor: (target, key) => {
      if (key !== 'location') note();
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
  };
  const pending: unknown[] = [tree];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      pending.push(...(value as unknown[]));
      continue;
    }
    const node = value as Record<string, unknown>;
    for (const key of Object.keys(node)) {
      if (ABSTRACTED_ELSEWHERE.has(key)) return undefined;
      const child = node[key];
      if (key === 'A_Const' && typeof child === 'object' && child !== null) {
        node[key] = new Proxy(child, handler);
      } else {
        pending.push(child);
      }
    }
  }
  return watch;
}

function statementText(sql: string, semicolon: boolean): string {
  const trimmed = sql.trim();
  return semicolon ? trimmed.slice(0, -1) : trimmed;
}

/** The shape's classification, as the classification of a text whose only statement is `text`. */
function withText(classification: Classification, text: string): Classification {
  const [statement] = classification.statements;
  const derived: Classification = Object.freeze({
    ...classification,
    statements: Object.freeze([Object.freeze({ ...statement!, text })]),
  });
  const internals = INTERNALS.get(classification);
  if (internals !== undefined) INTERNALS.set(derived, internals);
  return derived;
}
