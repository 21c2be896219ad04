import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import type { Decision, StatementRoute } from '../../tunnel/policy/decision-point.ts';
import type { SessionEvent } from '../../tunnel/recorder/recording-point.ts';
import { readNoticeFields } from '../../tunnel/postgres/wire/notices.ts';
import { ProtocolViolation } from '../../tunnel/postgres/wire/reader.ts';
import { readParse, readQuery } from '../../tunnel/postgres/wire/queries.ts';
import { Backend } from '../../tunnel/postgres/wire/codes.ts';
import { errorResponse } from '../../tunnel/postgres/wire/notices.ts';
import { parameterStatus, readyForQuery } from '../../tunnel/postgres/wire/session-status.ts';
import { ProxyProtocol, type StatementCounts } from '../../tunnel/postgres/proxy-protocol.ts';

const ALLOW: Decision = { action: 'allow', rule: 'preset guarded', classes: ['read'] };
const DENY: Decision = { action: 'deny', rule: 'block-ddl', message: 'ddl statements are not allowed here' };

/** The protocol state with everything it sends upstream and records collected, and no socket. */
function harness() {
  const toServer: Buffer[] = [];
  const events: SessionEvent[] = [];
  const settings: [string, string][] = [];
  const counts: StatementCounts = { statements: 0, denied: 0, maskedCells: 0 };
  const protocol = new ProxyProtocol({
    counts,
    record: (event) => events.push(event),
    toServer: (bytes) => toServer.push(bytes),
    onParameterStatus: (name, value) => settings.push([name, value]),
  });
  /** Feeds a client message the way the session does: decided by `decision` when it is a statement. */
  const client = (frame: Buffer, decision: Decision = ALLOW): StatementRoute | 'forward' | 'discard' => {
    const step = protocol.fromClient(frame[0]!, frame);
    if (step === 'forward') protocol.forward(frame);
    else if (step !== 'discard') protocol.decided(decision, step, frame);
    return step;
  };
  const server = (frame: Buffer) => protocol.fromServer(frame[0]!, frame);
  return { protocol, toServer, events, settings, counts, client, server };
}

/** The server's answer to the statement a denial put in place of the denied one. */
function markedError(sent: Buffer): Buffer {
  const sql = sent[0] === 0x51 ? readQuery(sent) : readParse(sent).sql;
  const marker = /portcullis_denied_[0-9a-f]+/.exec(sql)![0];
  return errorResponse({
    severity: 'ERROR',
    code: '42P01',
    message: `relation "${marker}" does not exist`,
  });
}

describe('ProxyProtocol', () => {
  it('passes an allowed query upstream as it is, and records it as a statement', () => {
    const h = harness();
    const query = serialize.query('SELECT 1');

    expect(h.client(query)).toEqual({ kind: 'query', sql: 'SELECT 1' });

    expect(h.toServer).toEqual([query]);
    expect(h.counts).toEqual({ statements: 1, denied: 0, maskedCells: 0 });
    expect(h.events).toEqual([
      {
        type: 'statement',
        protocol: 'simple',
        sql: 'SELECT 1',
        decision: 'allow',
        rule: 'preset guarded',
        classes: ['read'],
      },
    ]);
  });

  it("puts a failing statement in a denied query's place and swaps the server's error for its own", () => {
    const h = harness();
    h.client(serialize.query('DROP TABLE accounts'), DENY);

    const sent = h.toServer[0]!;
    expect(readQuery(sent)).toMatch(/^SELECT 'portcullis_denied_[0-9a-f]{16}'::pg_catalog\.regclass$/);
    const replaced = h.server(markedError(sent));
    const fields = readNoticeFields(replaced as Buffer);
    expect(fields.get('C')).toBe('42501');
    expect(fields.get('M')).toBe(
      'Portcullis denied this statement (rule: block-ddl): ddl statements are not allowed here',
    );
    expect(h.counts.denied).toBe(1);
    expect(h.events).toEqual([expect.objectContaining({ decision: 'deny', reason: DENY.message })]);
    expect(h.server(readyForQuery('I'))).toBeUndefined();
  });

  it('answers a statement that does not parse as the server would, at its position', () => {
    const h = harness();
    const syntax: Decision = {
      action: 'deny',
      rule: 'fail-closed',
      message: 'syntax error at or near "SELEC"',
      syntaxError: { position: 1 },
    };
    h.client(serialize.query('SELEC 1'), syntax);

    const fields = readNoticeFields(h.server(markedError(h.toServer[0]!)) as Buffer);
    expect(fields.get('C')).toBe('42601');
    expect(fields.get('P')).toBe('1');
  });

  it('after a denied Parse discards the batch up to Sync, as the server skips it', () => {
    const h = harness();
    h.client(serialize.parse({ name: 's1', text: 'DROP TABLE accounts' }), DENY);
    expect(readParse(h.toServer[0]!).statement).toMatch(/^portcullis_denied_/);

    expect(h.client(serialize.bind({ statement: 's1' }))).toBe('discard');
    expect(h.client(serialize.describe({ type: 'P' }))).toBe('discard');
    expect(h.client(serialize.execute({}))).toBe('discard');
    expect(h.client(serialize.sync())).toBe('forward');
    expect(h.toServer).toHaveLength(2);

    // The next batch is judged again.
    expect(h.client(serialize.parse({ text: 'SELECT 1' }))).toMatchObject({ kind: 'parse' });
    expect(h.toServer).toHaveLength(3);
  });

  it('gives Bind and Execute the text of the statement and the parameters they run', () => {
    const h = harness();
    h.client(serialize.parse({ name: 'by_id', text: 'SELECT * FROM t WHERE id = $1' }));
    expect(h.client(serialize.bind({ portal: 'p', statement: 'by_id', values: ['42', null] }))).toEqual({
      kind: 'bind',
      portal: 'p',
      statement: 'by_id',
      sql: 'SELECT * FROM t WHERE id = $1',
    });
    expect(h.client(serialize.execute({ portal: 'p' }))).toEqual({
      kind: 'execute',
      portal: 'p',
      statement: 'by_id',
      sql: 'SELECT * FROM t WHERE id = $1',
      parameters: [Buffer.from('42'), null],
      parameterFormats: [0, 0],
    });
    expect(h.events).toEqual([
      expect.objectContaining({ protocol: 'extended', sql: 'SELECT * FROM t WHERE id = $1' }),
    ]);

    h.client(serialize.close({ type: 'S', name: 'by_id' }));
    expect(h.client(serialize.bind({ portal: 'q', statement: 'by_id' }))).toMatchObject({ sql: '' });
  });

  it('tells whether the next extended message starts a batch, and follows the transaction status', () => {
    const h = harness();
    expect(h.protocol.startsBatch).toBe(true);
    h.client(serialize.parse({ text: 'BEGIN' }));
    expect(h.protocol.startsBatch).toBe(false);
    h.client(serialize.sync());
    expect(h.protocol.startsBatch).toBe(true);

    expect(h.protocol.transactionStatus).toBe('I');
    h.server(readyForQuery('T'));
    expect(h.protocol.transactionStatus).toBe('T');
  });

  it("settles a denial whose marker never comes back once the server answered the denial's sync point", () => {
    const h = harness();
    h.server(readyForQuery('E'));
    h.client(serialize.query('DROP TABLE accounts'), DENY);
    const marked = markedError(h.toServer[0]!);
    // In a failed transaction the server refuses the marker statement with 25P02 instead of running it.
    h.server(errorResponse({ severity: 'ERROR', code: '25P02', message: 'current transaction is aborted' }));
    h.server(readyForQuery('E'));

    // Its marker showing up later is no longer swapped: it is the server's error.
    expect(h.server(marked)).toBeUndefined();
  });

  it("records the server's errors, knows its FATAL, and hands ParameterStatus to the policy", () => {
    const h = harness();
    expect(h.server(errorResponse({ severity: 'ERROR', code: '22012', message: 'division by zero' }))).toBe(
      undefined,
    );
    expect(h.events).toEqual([
      { type: 'error', code: '22012', message: 'division by zero', severity: 'ERROR' },
    ]);
    expect(h.protocol.endedByServer).toBe(false);
    h.server(errorResponse({ severity: 'FATAL', code: '57P01', message: 'terminating connection' }));
    expect(h.protocol.endedByServer).toBe(true);

    h.server(parameterStatus('standard_conforming_strings', 'off'));
    expect(h.settings).toEqual([['standard_conforming_strings', 'off']]);
  });

  it('passes Terminate on and remembers it, even while discarding a batch', () => {
    const h = harness();
    h.client(serialize.parse({ text: 'DROP TABLE t' }), DENY);
    expect(h.client(serialize.end())).toBe('forward');
    expect(h.protocol.terminatedByClient).toBe(true);
    expect(h.toServer.at(-1)).toEqual(serialize.end());
  });

  it('refuses a message type the protocol does not have', () => {
    const h = harness();
    const bogus = Buffer.from([0x7a, 0, 0, 0, 4]);
    expect(() => h.protocol.fromClient(bogus[0]!, bogus)).toThrow(ProtocolViolation);
  });

  it('records what each statement returned when the server completes it', () => {
    const h = harness();
    h.client(serialize.query('SELECT 1'));
    const commandComplete = Buffer.from([Backend.commandComplete, 0, 0, 0, 13, ...Buffer.from('SELECT 1\0')]);
    h.server(commandComplete);
    expect(h.events.at(-1)).toMatchObject({ type: 'result', command: 'SELECT 1', rows: 0, maskedCells: 0 });
  });
});
