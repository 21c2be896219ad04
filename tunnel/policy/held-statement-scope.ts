/**
 * What a held statement touches, gathered while the engine judges it, and the planner's estimate of the
 * rows it will write, for the approver ("≈ 1,203 rows in payments").
 *
 * The estimate is EXPLAIN without ANALYZE: the server plans the statement and runs nothing. Planning can
 * still evaluate functions (constant folding, selectivity estimates), so only statements the classifier
 * found to be nothing but plain reads and writes, one at a time, are planned.
 */
import type { HeldStatementScope } from './approver.ts';
import type { Classification, StatementClass, TableRef } from './classifier.ts';
import type { StatementRoute } from './decision-point.ts';
import type { QueryRunner } from './masking/catalog.ts';

/** Classes whose statements may be planned for an estimate. */
const ESTIMABLE: ReadonlySet<StatementClass> = new Set([
  'read',
  'write',
  'delete-without-where',
  'update-without-where',
]);

const key = (t: TableRef): string => `${t.schema ?? ''}.${t.name}`;

export class ScopeCollector {
  private readonly tables = new Map<string, TableRef>();
  private readonly writes = new Map<string, TableRef>();
  private statements = 0;
  private estimable = true;

  constructor(private readonly parameters?: HeldStatementScope['parameters']) {}

  add(classification: Classification): void {
    for (const statement of classification.statements) {
      this.statements++;
      for (const t of statement.tables) this.tables.set(key(t), t);
      for (const t of statement.writes) this.writes.set(key(t), t);
    }
    const plain = [...classification.classes].every((c) => ESTIMABLE.has(c));
    // A statement that runs another (EXECUTE, FETCH) cannot be planned on its own.
    if (!plain || classification.executes.length > 0 || classification.cursors.length > 0) {
      this.estimable = false;
    }
  }

  scope(): HeldStatementScope {
    return {
      tables: [...this.tables.values()],
      writes: [...this.writes.values()],
      estimable: this.estimable && this.statements === 1,
      ...(this.parameters === undefined ? {} : { parameters: this.parameters }),
    };
  }
}

/** An Execute's parameters as text, or 'binary' when any is sent in binary format. */
export function textParameters(
  route: Extract<StatementRoute, { kind: 'execute' }>,
): (string | null)[] | 'binary' {
  const { parameters, parameterFormats: formats } = route;
  const formatOf = (i: number): number => (formats.length === 1 ? formats[0]! : (formats[i] ?? 0));
  if (parameters.some((p, i) => p !== null && formatOf(i) !== 0)) return 'binary';
  return parameters.map((p) => (p === null ? null : p.toString('utf8')));
}

export function tableName(t: { schema?: string; name: string }): string {
  return t.schema ? `${t.schema}.${t.name}` : t.name;
}

interface PlanNode {
  'Node Type'?: string;
  'Plan Rows'?: number;
  Plans?: PlanNode[];
}

/**
 * The rows a planned statement writes or returns: a ModifyTable's input (its own row count is what
 * RETURNING gives back), else the top node's.
 */
export function plannedRows(explainJson: string): number | null {
  let plan: PlanNode | undefined;
  try {
    plan = (JSON.parse(explainJson) as { Plan?: PlanNode }[])[0]?.Plan;
  } catch {
    return null;
  }
  while (plan?.['Node Type'] === 'ModifyTable' && plan.Plans?.[0]) plan = plan.Plans[0];
  const rows = plan?.['Plan Rows'];
  return typeof rows === 'number' && Number.isFinite(rows) ? rows : null;
}

/**
 * The planner's estimate of the rows `scope`'s statement writes (or returns), or null when it may not be
 * planned, its parameters are binary, or the server does not answer within `timeoutMs`.
 */
export async function estimateRows(
  side: QueryRunner,
  sql: string,
  scope: HeldStatementScope,
  timeoutMs = 2000,
): Promise<number | null> {
  if (!scope.estimable || scope.parameters === 'binary') return null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  const explain = side
    .query(`EXPLAIN (FORMAT JSON) ${sql}`, [...(scope.parameters ?? [])])
    .then((rows) => plannedRows(rows[0]?.[0] ?? ''))
    .catch(() => null);
  try {
    return await Promise.race([explain, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
