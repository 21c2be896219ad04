/**
 * The decisions of statements the policy allows as they are — one statement that did not fail, runs
 * nothing by name (EXECUTE, FETCH of a portal) and prepares nothing — remembered per statement, so
 * that the statement an application sends again and again costs a lookup instead of a judgement and
 * the allocations that come with one. A statement is known by its class set, shared by every text
 * served from the same cache entry or shape, and the tables it reads and writes.
 */
import type { Classification, StatementClass, TableRef } from './classifier.ts';
import type { Decision } from './decision-point.ts';
import { judgeStatement, stricter, type Policy } from './policy.ts';

interface Remembered {
  tables: readonly TableRef[];
  writes: readonly TableRef[];
  /** Null when the policy does not allow the statement outright: it is judged in full each time. */
  decision: Decision | null;
}

export class AllowedOutright {
  private readonly remembered = new WeakMap<ReadonlySet<StatementClass>, Remembered>();

  constructor(private readonly policy: Policy) {}

  /** The decision to allow `classification`, or undefined when it needs the full judgement. */
  decisionFor(classification: Classification): Decision | undefined {
    if (
      classification.statements.length !== 1 ||
      classification.failure !== undefined ||
      classification.executes.length > 0 ||
      classification.cursors.length > 0 ||
      classification.prepared.length > 0
    ) {
      return undefined;
    }
    const statement = classification.statements[0]!;
    const known = this.remembered.get(statement.classes);
    if (known !== undefined && known.tables === statement.tables && known.writes === statement.writes) {
      return known.decision ?? undefined;
    }
    // As the full judgement does: the preset's allowance, made stricter by the statement's.
    const judgement = stricter(
      { verdict: 'allow', rule: `preset ${this.policy.preset}` },
      judgeStatement(this.policy, statement),
    );
    const decision: Decision | null =
      judgement.verdict === 'allow'
        ? Object.freeze({
            action: 'allow',
            rule: judgement.rule,
            classes: Object.freeze([...classification.classes]),
          })
        : null;
    this.remembered.set(statement.classes, {
      tables: statement.tables,
      writes: statement.writes,
      decision,
    });
    return decision ?? undefined;
  }
}
