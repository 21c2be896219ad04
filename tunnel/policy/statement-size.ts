/**
 * The largest statement the tunnel inspects. Parsing and classifying cost grows with the text (a 22 MB
 * statement held every other session for seconds; large ones are now classified in worker threads, see
 * parse-worker-pool.ts, but still cost memory and a worker's time), so a statement above the limit is
 * denied before anything parses it, under every policy — a limit on
 * what the tunnel will inspect, like the message size limit, not a judgement of the statement. Large data
 * belongs in COPY or in bind parameters, which are not parsed.
 */
import { createHash } from 'node:crypto';
import { rewritingEvents, type RecordingPoint } from '../recorder/recording-point.ts';
import type { DecisionPoint, SessionPolicy, StatementContext } from './decision-point.ts';

export const SIZE_RULE = 'statement-size';

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
          rule: SIZE_RULE,
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

/**
 * What a recording keeps of a statement above the limit: its size and SHA-256, not its text. The text
 * never ran (it was denied), scanning it for password literals would stall the event loop just as parsing
 * it would, and a client sending such statements in a loop would otherwise grow the recording (and the
 * batches synced to the hub) by megabytes each.
 */
export function oversizedStatementText(sql: string, maxBytes: number): string {
  const digest = createHash('sha256').update(sql, 'utf8').digest('hex');
  return `<statement of ${Buffer.byteLength(sql, 'utf8')} bytes, above the ${maxBytes} the tunnel inspects; sha256 ${digest}>`;
}

/** Wraps a recording point so that statements denied for their size carry oversizedStatementText. */
export function boundingStatementText(point: RecordingPoint, maxBytes: number): RecordingPoint {
  return rewritingEvents(point, (event) =>
    event.type === 'statement' && event.rule === SIZE_RULE && exceeds(event.sql, maxBytes)
      ? { ...event, sql: oversizedStatementText(event.sql, maxBytes) }
      : event,
  );
}
