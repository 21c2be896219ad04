/**
 * What each statement of a text does to the names results are produced through: DECLARE, FETCH/MOVE,
 * CLOSE, PREPARE, EXECUTE, DEALLOCATE, DISCARD ALL. The session follows these to attribute a FETCH's
 * rows to the query its cursor was declared for, and an EXECUTE's to what was prepared.
 */
import { parseSync } from 'libpg-query';
import type { StatementEffect } from '../decision-point.ts';
import type { Classification } from '../classifier.ts';

/** Classes of statements that run only the server's own code. */
const OWN_CODE_ONLY: ReadonlySet<string> = new Set(['read', 'session']);

/** Words without which a text has none of the effects above: most texts are never parsed here. */
const EFFECT_WORDS = /declare|fetch|move|close|prepare|execute|deallocate|discard/i;

/** DeclareCursorStmt.options: CURSOR_OPT_HOLD. */
const CURSOR_OPT_HOLD = 0x20;

const CACHE_SIZE = 512;
const cache = new Map<string, readonly Kind[]>();

/** A statement's effect before what it may run is known. */
type Kind = StatementEffect extends infer E ? (E extends unknown ? Omit<E, 'mayRunUserCode'> : never) : never;
type Node = Record<string, Record<string, unknown>>;

/**
 * The effect of each statement of `sql`, in order, given its classification (which tells what may run
 * code of the user's). A text that cannot be parsed has no statements the server would run.
 */
export function statementEffects(sql: string, classification: Classification): StatementEffect[] {
  const kinds = EFFECT_WORDS.test(sql) ? kindsOf(sql) : undefined;
  const count = kinds?.length ?? classification.statements.length;
  const effects: StatementEffect[] = [];
  for (let i = 0; i < count; i++) {
    const kind = kinds?.[i] ?? { kind: 'other' };
    // What PREPARE may run is what its EXECUTE runs; the PREPARE itself runs nothing.
    const runs =
      kind.kind === 'prepare'
        ? classification.prepared.find((p) => p.name === kind.name)?.classification
        : classification;
    const classes = kind.kind === 'prepare' ? runs?.classes : runs?.statements[i]?.classes;
    const mayRunUserCode =
      classification.failure !== undefined ||
      runs?.failure !== undefined ||
      classes === undefined ||
      [...classes].some((c) => !OWN_CODE_ONLY.has(c));
    effects.push({ ...kind, mayRunUserCode } as StatementEffect);
  }
  return effects;
}

function kindsOf(sql: string): readonly Kind[] {
  const cached = cache.get(sql);
  if (cached) return cached;
  let statements: { stmt: Node }[];
  try {
    statements = (parseSync(sql) as { stmts?: { stmt: Node }[] }).stmts ?? [];
  } catch {
    statements = [];
  }
  const kinds = statements.map(({ stmt }) => kindOf(stmt));
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(sql, kinds);
  return kinds;
}

function kindOf(statement: Node): Kind {
  const [type, body] = Object.entries(statement)[0] as [string, Record<string, unknown>];
  switch (type) {
    case 'DeclareCursorStmt':
      return {
        kind: 'declare',
        cursor: body.portalname as string,
        holdable: (((body.options as number | undefined) ?? 0) & CURSOR_OPT_HOLD) !== 0,
      };
    case 'FetchStmt':
      return { kind: 'fetch', cursor: body.portalname as string };
    case 'ClosePortalStmt':
      return body.portalname === undefined
        ? { kind: 'close' }
        : { kind: 'close', cursor: body.portalname as string };
    case 'PrepareStmt':
      return { kind: 'prepare', name: body.name as string };
    case 'ExecuteStmt':
      return { kind: 'execute', name: body.name as string };
    case 'DeallocateStmt':
      return body.isall || body.name === undefined
        ? { kind: 'deallocate' }
        : { kind: 'deallocate', name: body.name as string };
    case 'DiscardStmt':
      return body.target === 'DISCARD_ALL' ? { kind: 'discard' } : { kind: 'other' };
    default:
      return { kind: 'other' };
  }
}
