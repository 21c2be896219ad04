/**
 * The tunnel wraps its recording point (oversized statements kept by size and hash, password literals
 * redacted). The session asks the point to flush before it releases a result to the client; a wrapper
 * that drops `flush` lets the client see results whose events are still buffered, which a SIGKILL loses.
 */
import { describe, expect, it } from 'vitest';
import { redactingPasswords } from '../../tunnel/policy/password-literals.ts';
import { boundingStatementText, SIZE_RULE } from '../../tunnel/policy/statement-size.ts';
import type { RecordingPoint, SessionEvent } from '../../tunnel/recorder/recording-point.ts';

function bufferingPoint(): RecordingPoint & { written: SessionEvent[]; closed: boolean } {
  let pending: SessionEvent[] = [];
  const point = {
    written: [] as SessionEvent[],
    closed: false,
    record: (_sessionId: string, event: SessionEvent) => void pending.push(event),
    flush: () => {
      point.written.push(...pending);
      pending = [];
    },
    close: () => {
      point.flush();
      point.closed = true;
      return Promise.resolve();
    },
  };
  return point;
}

describe('the recording point as the tunnel wraps it', () => {
  it('flushes and closes what it wraps, and rewrites what it must', async () => {
    const inner = bufferingPoint();
    const wrapped = boundingStatementText(redactingPasswords(inner), 16);
    const statement = (sql: string, rule?: string): SessionEvent => ({
      type: 'statement',
      protocol: 'simple',
      sql,
      decision: 'deny',
      ...(rule ? { rule } : {}),
    });
    wrapped.record('s1', statement("ALTER ROLE app PASSWORD 'hunter2'"));
    wrapped.record('s1', statement('SELECT 1 -- far more than sixteen bytes', SIZE_RULE));
    expect(inner.written).toEqual([]);
    wrapped.flush!();
    const sqls = inner.written.map((event) => ('sql' in event ? event.sql : ''));
    expect(sqls[0]).not.toContain('hunter2');
    expect(sqls[1]).toMatch(
      /^<statement of \d+ bytes, above the 16 the tunnel inspects; sha256 [0-9a-f]{64}>$/,
    );
    await wrapped.close!();
    expect(inner.closed).toBe(true);
  });
});
