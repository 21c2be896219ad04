/**
 * The largest statement the tunnel inspects. Parsing and classifying run on the event loop every session
 * shares, and their cost grows with the text (a 22 MB statement held every other session for seconds),
 * so a statement above the limit is denied before anything parses it, under every policy — a limit on
 * what the tunnel will inspect, like the message size limit, not a judgement of the statement. Large data
 * belongs in COPY or in bind parameters, which are not parsed.
 */
import type { DecisionPoint, SessionPolicy, StatementContext } from './decision-point.ts';

/** 1 MiB: far above hand-written and generated statements, well below what stalls the event loop. */
export const DEFAULT_MAX_STATEMENT_SIZE = 1024 * 1024;

/** UTF-8 bytes of `sql`, counted only when its length leaves the answer in doubt. */
function exceeds(sql: string, maxBytes: number): boolean {
  if (sql.length > maxBytes) return true;
  if (sql.length * 3 <= maxBytes) return false;
  return Buffer.byteLength(sql, 'utf8') > maxBytes;
}

export function statementSizeMessage(bytes: number, maxBytes: number): string {
  return (
    `the statement is ${bytes} bytes, more than the ${maxBytes} bytes the tunnel inspects ` +
    '(--max-statement-size); send large data with COPY or as bind parameters'
  );
}

/** Wraps a decision point so that statements above `maxBytes` are denied (54000) unparsed. */
export function limitStatementSize(decisions: DecisionPoint, maxBytes: number): DecisionPoint {
  return {
    openSession(info) {
      const inner = decisions.openSession(info);
      const decide = (context: StatementContext): ReturnType<SessionPolicy['decide']> => {
        const { route } = context;
        if (!('sql' in route) || !exceeds(route.sql, maxBytes)) return inner.decide(context);
        return {
          action: 'deny',
          rule: 'statement-size',
          code: '54000',
          message: statementSizeMessage(Buffer.byteLength(route.sql, 'utf8'), maxBytes),
        };
      };
      // Everything else is the session policy's own, whatever it offers.
      return new Proxy(inner, {
        get(target, property) {
          if (property === 'decide') return decide;
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
}
