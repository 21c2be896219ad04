/**
 * The result attribution state machine on its own: frontend messages as drivers pipeline them, the
 * server's answers as PostgreSQL sends them, and which plan each row is masked by.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { serialize } from 'pg-protocol';
import { classify, loadClassifier } from '../../tunnel/policy/classifier.ts';
import type {
  ResultMask,
  ResultPlanner,
  ResultSource,
  StatementEffect,
} from '../../tunnel/policy/decision-point.ts';
import { buildDataRow } from '../../tunnel/postgres/wire/results.ts';
import { statementEffects } from '../../tunnel/policy/masking/statement-effects.ts';
import type { FieldDescription } from '../../tunnel/postgres/wire/results.ts';
import {
  PendingPlan,
  ResultAttribution,
  type ResultSummary,
} from '../../tunnel/postgres/result-attribution.ts';
import * as server from '../support/backend-frames.ts';

beforeAll(loadClassifier);

/** Replaces every row by one cell naming the plan that masked it. */
function labelling(label: string): ResultMask {
  return {
    maskDataRow: (_frame, formats) => ({
      frame: buildDataRow([`${label} formats=${formats.join('')}`]),
      maskedCells: 1,
    }),
    maskCopyData: (frame) => ({ frame: Buffer.concat([frame, Buffer.from(` [${label}]`)]), maskedCells: 1 }),
  };
}

class LabellingPlanner implements ResultPlanner {
  /** Plans settle only when `release` is called, to exercise waiting. */
  slow = false;
  private waiting: (() => void)[] = [];

  effects(sql: string): readonly StatementEffect[] {
    return statementEffects(sql, classify(sql));
  }

  forResult(fields: readonly FieldDescription[], source: ResultSource): ResultMask | Promise<ResultMask> {
    const mask = labelling(`plan[${source.sql}#${source.index}] cols=${fields.length}`);
    if (!this.slow) return mask;
    return new Promise((resolve) => this.waiting.push(() => resolve(mask)));
  }

  maskWhole(fields?: readonly FieldDescription[]): ResultMask {
    return labelling(`whole cols=${fields?.length ?? '?'}`);
  }

  forCopyOut(sql: string, index: number): ResultMask {
    return labelling(`copy[${sql}#${index}]`);
  }

  maskServerMessage(frame: Buffer): Buffer {
    return frame;
  }

  release(): void {
    this.waiting.splice(0).forEach((settle) => settle());
  }
}

/** A session's two streams around one ResultAttribution. */
class Pipeline {
  readonly upstream: string[] = [];
  readonly results: ResultSummary[] = [];
  readonly attribution: ResultAttribution;

  /** `null`: a policy that masks nothing. */
  constructor(planner: ResultPlanner | null = new LabellingPlanner()) {
    this.attribution = new ResultAttribution({
      ...(planner ? { planner } : {}),
      onResult: (summary) => this.results.push(summary),
      now: () => 0,
    });
  }

  /** Sends client messages; returns nothing but records what went upstream (injections included). */
  send(...frames: Buffer[]): void {
    for (const frame of frames) {
      const before = this.attribution.sent(frame[0]!, frame);
      if (before) this.upstream.push(describeFrontend(before, true));
      this.upstream.push(describeFrontend(frame, false));
    }
  }

  /** The server answers; returns what the client receives, one line per message. */
  receive(...frames: Buffer[]): string[] {
    const out: string[] = [];
    for (const frame of frames) {
      const verdict = this.attribution.received(frame[0]!, frame);
      if (verdict instanceof PendingPlan) throw new Error('unexpected wait');
      if (verdict === null) continue;
      out.push(describeBackend(verdict ?? frame));
    }
    return out;
  }
}

function describeFrontend(frame: Buffer, injected: boolean): string {
  const type = String.fromCharCode(frame[0]!);
  if (type === 'D')
    return `${injected ? 'injected ' : ''}Describe ${String.fromCharCode(frame[5]!)} "${frame.toString('utf8', 6, frame.length - 1)}"`;
  return type;
}

function describeBackend(frame: Buffer): string {
  const type = String.fromCharCode(frame[0]!);
  if (type === 'D') {
    const length = frame.readInt32BE(7);
    return `row ${length < 0 ? 'NULL' : frame.toString('utf8', 11, 11 + length)}`;
  }
  if (type === 'd') return `copy ${frame.toString('utf8', 5)}`;
  return type;
}

const text = (name: string) => server.field(name);
const parse = (sql: string, name = '') => serialize.parse({ name, text: sql });
const bind = (options: { portal?: string; statement?: string; binary?: boolean } = {}) =>
  serialize.bind({
    portal: options.portal ?? '',
    statement: options.statement ?? '',
    binary: options.binary ?? false,
  });
const describePortal = (name = '') => serialize.describe({ type: 'P', name });
const execute = (portal = '', rows = 0) => serialize.execute({ portal, rows });
const sync = () => serialize.sync();
const query = (sql: string) => serialize.query(sql);

describe('attributing results of pipelined unnamed statements', () => {
  it('gives each Execute of the unnamed statement the plan of its own Parse, before one Sync', () => {
    const p = new Pipeline();
    const statements = ['SELECT email, card, ssn FROM customers', 'SELECT id FROM customers', 'SELECT 1, 2'];
    for (const sql of statements) p.send(parse(sql), bind(), describePortal(), execute());
    p.send(sync());
    const answers = [
      [text('email'), text('card'), text('ssn')],
      [text('id')],
      [text('a'), text('b')],
    ].flatMap((fields, i) => [
      server.parseComplete(),
      server.bindComplete(),
      server.rowDescription(fields),
      server.dataRow(fields.map(() => `v${i}`)),
      server.commandComplete('SELECT 1'),
    ]);
    expect(p.receive(...answers, server.readyForQuery())).toEqual([
      ...statements.flatMap((sql, i) => [
        '1',
        '2',
        'T',
        `row plan[${sql}#0] cols=${[3, 1, 2][i]} formats=${'0'.repeat([3, 1, 2][i]!)}`,
        'C',
      ]),
      'Z',
    ]);
    expect(p.upstream).not.toContain('injected Describe P ""');
  });

  it('describes a portal the client executes without describing, and keeps that answer to itself', () => {
    const p = new Pipeline();
    p.send(parse('SELECT email FROM customers', 's1'), serialize.describe({ type: 'S', name: 's1' }), sync());
    expect(
      p.receive(
        server.parseComplete(),
        server.parameterDescription([]),
        server.rowDescription([text('email')]),
        server.readyForQuery(),
      ),
    ).toEqual(['1', 't', 'T', 'Z']);
    // pgjdbc and postgres.js reuse the statement's description and skip Describe of the portal.
    p.send(bind({ statement: 's1', binary: true }), execute(), sync());
    expect(p.upstream.slice(-4)).toEqual(['B', 'injected Describe P ""', 'E', 'S']);
    expect(
      p.receive(
        server.bindComplete(),
        server.rowDescription([server.field('email', { format: 1 })]),
        server.dataRow(['a@b.test']),
        server.commandComplete('SELECT 1'),
        server.readyForQuery(),
      ),
    ).toEqual(['2', 'row plan[SELECT email FROM customers#0] cols=1 formats=1', 'C', 'Z']);
  });

  it('drops the plans of messages the server skips after an error, and applies none to later results', () => {
    const p = new Pipeline();
    p.send(parse('SELECT nope FROM customers'), bind(), describePortal(), execute());
    p.send(parse('SELECT email FROM customers'), bind(), describePortal(), execute(), sync());
    p.send(parse('SELECT 42'), bind(), describePortal(), execute(), sync());
    expect(
      p.receive(
        server.serverError('column "nope" does not exist'),
        server.readyForQuery(),
        server.parseComplete(),
        server.bindComplete(),
        server.rowDescription([text('?column?')]),
        server.dataRow(['42']),
        server.commandComplete('SELECT 1'),
        server.readyForQuery(),
      ),
    ).toEqual(['E', 'Z', '1', '2', 'T', 'row plan[SELECT 42#0] cols=1 formats=0', 'C', 'Z']);
  });

  it('follows the answers of a batch flushed without Sync, then the rest after it', () => {
    const p = new Pipeline();
    p.send(parse('SELECT email FROM customers'), bind(), describePortal(), execute(), serialize.flush());
    expect(
      p.receive(
        server.parseComplete(),
        server.bindComplete(),
        server.rowDescription([text('email')]),
        server.dataRow(['x']),
        server.commandComplete('SELECT 1'),
      ),
    ).toEqual(['1', '2', 'T', 'row plan[SELECT email FROM customers#0] cols=1 formats=0', 'C']);
    p.send(parse('SELECT 1'), bind(), execute(), sync());
    expect(
      p.receive(
        server.parseComplete(),
        server.bindComplete(),
        server.rowDescription([text('one')]),
        server.dataRow(['1']),
        server.commandComplete('SELECT 1'),
        server.readyForQuery(),
      ),
    ).toEqual(['1', '2', 'row plan[SELECT 1#0] cols=1 formats=0', 'C', 'Z']);
  });

  it('keeps a suspended portal on its plan across Executes and records its rows once', () => {
    const p = new Pipeline();
    p.send(
      parse('SELECT email FROM customers'),
      bind({ portal: 'C_1' }),
      describePortal('C_1'),
      execute('C_1', 1),
      sync(),
    );
    p.receive(
      server.parseComplete(),
      server.bindComplete(),
      server.rowDescription([text('email')]),
      server.dataRow(['a']),
      server.portalSuspended(),
      server.readyForQuery('T'),
    );
    p.send(execute('C_1', 1), sync());
    expect(
      p.receive(
        server.rowDescription([text('email')]),
        server.dataRow(['b']),
        server.commandComplete('SELECT 1'),
        server.readyForQuery('T'),
      ),
    ).toEqual(['row plan[SELECT email FROM customers#0] cols=1 formats=0', 'C', 'Z']);
    expect(p.results).toEqual([{ command: 'SELECT 1', rows: 2, maskedCells: 2, durationMs: 0 }]);
  });

  it('attributes each statement of a multi-statement simple query to its own position', () => {
    const p = new Pipeline();
    p.send(query('SELECT 1; SELECT email FROM customers'));
    expect(
      p.receive(
        server.rowDescription([text('one')]),
        server.dataRow(['1']),
        server.commandComplete('SELECT 1'),
        server.rowDescription([text('email')]),
        server.dataRow(['x']),
        server.commandComplete('SELECT 1'),
        server.readyForQuery(),
      ),
    ).toEqual([
      'T',
      'row plan[SELECT 1; SELECT email FROM customers#0] cols=1 formats=0',
      'C',
      'T',
      'row plan[SELECT 1; SELECT email FROM customers#1] cols=1 formats=0',
      'C',
      'Z',
    ]);
  });

  it('waits for a plan still being prepared, then masks with it', async () => {
    const planner = new LabellingPlanner();
    planner.slow = true;
    const p = new Pipeline(planner);
    p.send(query('SELECT email FROM customers'));
    expect(p.receive(server.rowDescription([text('email')]))).toEqual(['T']);
    const row = server.dataRow(['x']);
    const verdict = p.attribution.received(row[0]!, row);
    expect(verdict).toBeInstanceOf(PendingPlan);
    planner.release();
    await (verdict as PendingPlan).ready;
    expect(p.receive(row)).toEqual(['row plan[SELECT email FROM customers#0] cols=1 formats=0']);
  });

  it('masks whole the rows nobody can attribute', () => {
    const p = new Pipeline();
    expect(p.receive(server.dataRow(['stray']))).toEqual(['row whole cols=? formats=']);
  });

  it('without a planner passes every row and describes nothing itself', () => {
    const p = new Pipeline(null);
    p.send(parse('SELECT email FROM customers'), bind(), execute(), sync());
    expect(p.upstream).toEqual(['P', 'B', 'E', 'S']);
    expect(
      p.receive(
        server.parseComplete(),
        server.bindComplete(),
        server.dataRow(['x']),
        server.commandComplete('SELECT 1'),
      ),
    ).toEqual(['1', '2', 'row x', 'C']);
  });
});

describe('attributing rows fetched from cursors', () => {
  const declare = 'DECLARE c CURSOR FOR SELECT email, id FROM customers';
  const fetched = [text('email'), server.field('id', { typeOid: 23 })];

  function declared(p: Pipeline, sql = declare, status: 'I' | 'T' = 'T'): void {
    p.send(query(sql));
    p.receive(server.commandComplete('DECLARE CURSOR'), server.readyForQuery(status));
  }

  function fetchExtended(p: Pipeline, sql = 'FETCH ALL FROM c', binary = true): string[] {
    p.send(parse(sql), bind({ binary }), execute(), sync());
    const fields = fetched.map((f) => ({ ...f, format: binary ? 1 : 0 }));
    return p.receive(
      server.parseComplete(),
      server.bindComplete(),
      server.rowDescription(fields),
      server.dataRow(['x', Buffer.alloc(4)]),
      server.commandComplete('FETCH 1'),
      server.readyForQuery('T'),
    );
  }

  it('gives FETCH over the extended protocol the plan of the query the cursor was declared for', () => {
    const p = new Pipeline();
    declared(p);
    expect(fetchExtended(p)).toEqual(['1', '2', `row plan[${declare}#0] cols=2 formats=11`, 'C', 'Z']);
  });

  it('follows every direction, MOVE and a DECLARE sent through the extended protocol', () => {
    const p = new Pipeline();
    const sql = 'DECLARE "c" SCROLL CURSOR WITH HOLD FOR SELECT email, id FROM customers';
    p.send(parse(sql), bind(), execute(), sync());
    p.receive(
      server.parseComplete(),
      server.bindComplete(),
      server.noData(),
      server.commandComplete('DECLARE CURSOR'),
      server.readyForQuery(),
    );
    for (const fetch of [
      'FETCH ABSOLUTE 2 FROM c',
      'FETCH BACKWARD 1 IN c',
      'FETCH 5 c',
      'FETCH FORWARD ALL FROM c',
    ]) {
      expect(fetchExtended(p, fetch, false)).toContain(`row plan[${sql}#0] cols=2 formats=00`);
    }
    p.send(query('MOVE LAST IN c; FETCH PRIOR FROM c'));
    expect(
      p.receive(
        server.commandComplete('MOVE 1'),
        server.rowDescription(fetched),
        server.dataRow(['x', '1']),
        server.commandComplete('FETCH 1'),
        server.readyForQuery(),
      ),
    ).toContain(`row plan[${sql}#0] cols=2 formats=00`);
  });

  it('masks whole a cursor it did not see declared, with the columns the server described', () => {
    const p = new Pipeline();
    expect(fetchExtended(p, 'FETCH ALL FROM "<unnamed portal 1>"')).toContain('row whole cols=2 formats=11');
  });

  it('masks whole a name reused after CLOSE', () => {
    const p = new Pipeline();
    declared(p);
    p.send(query('CLOSE c'));
    p.receive(server.commandComplete('CLOSE CURSOR'), server.readyForQuery('T'));
    expect(fetchExtended(p)).toContain('row whole cols=2 formats=11');
  });

  it('forgets cursors when their transaction ends or fails, and WITH HOLD ones only when not committed', () => {
    const ended = new Pipeline();
    declared(ended, declare, 'T');
    ended.send(query('COMMIT'));
    ended.receive(server.commandComplete('COMMIT'), server.readyForQuery('I'));
    expect(fetchExtended(ended)).toContain('row whole cols=2 formats=11');

    const hold = 'DECLARE c CURSOR WITH HOLD FOR SELECT email, id FROM customers';
    const kept = new Pipeline();
    declared(kept, hold, 'I');
    expect(fetchExtended(kept)).toContain(`row plan[${hold}#0] cols=2 formats=11`);
    kept.send(query('SELECT 1/0'));
    kept.receive(server.serverError('division by zero'), server.readyForQuery('I'));
    expect(fetchExtended(kept)).toContain(`row plan[${hold}#0] cols=2 formats=11`);

    const failed = new Pipeline();
    failed.send(query('BEGIN'));
    failed.receive(server.commandComplete('BEGIN'), server.readyForQuery('T'));
    declared(failed, hold, 'T');
    failed.send(query('ROLLBACK'));
    failed.receive(server.commandComplete('ROLLBACK'), server.readyForQuery('I'));
    expect(fetchExtended(failed)).toContain('row whole cols=2 formats=11');

    const chained = new Pipeline();
    declared(chained, declare, 'T');
    chained.send(query('COMMIT AND CHAIN'));
    chained.receive(server.commandComplete('COMMIT'), server.readyForQuery('T'));
    expect(fetchExtended(chained)).toContain('row whole cols=2 formats=11');

    const errored = new Pipeline();
    declared(errored, declare, 'T');
    errored.send(query('SELECT nope'));
    errored.receive(server.serverError(), server.readyForQuery('E'));
    expect(fetchExtended(errored)).toContain('row whole cols=2 formats=11');
  });

  it('forgets cursors once code it cannot see has run (a function could have reopened one)', () => {
    const p = new Pipeline();
    declared(p);
    p.send(query("SELECT reopen_cursor('c')"));
    p.receive(
      server.rowDescription([text('reopen_cursor')]),
      server.dataRow(['c']),
      server.commandComplete('SELECT 1'),
      server.readyForQuery('T'),
    );
    expect(fetchExtended(p)).toContain('row whole cols=2 formats=11');
  });

  it('runs a portal as a cursor: FETCH from a bound portal, and Execute of a declared cursor', () => {
    const p = new Pipeline();
    p.send(parse('SELECT email FROM customers', 's'), bind({ portal: 'p', statement: 's' }), sync());
    p.receive(server.parseComplete(), server.bindComplete(), server.readyForQuery('T'));
    p.send(query('FETCH 1 FROM p'));
    expect(
      p.receive(
        server.rowDescription([text('email')]),
        server.dataRow(['x']),
        server.commandComplete('FETCH 1'),
        server.readyForQuery('T'),
      ),
    ).toContain('row plan[SELECT email FROM customers#0] cols=1 formats=0');
    declared(p);
    p.send(execute('c'), sync());
    expect(p.upstream.slice(-3)).toEqual(['injected Describe P "c"', 'E', 'S']);
    expect(
      p.receive(
        server.rowDescription(fetched),
        server.dataRow(['x', '1']),
        server.portalSuspended(),
        server.readyForQuery('T'),
      ),
    ).toEqual([`row plan[${declare}#0] cols=2 formats=00`, 's', 'Z']);
  });

  it('attributes EXECUTE to what PREPARE prepared, and forgets it at DEALLOCATE', () => {
    const p = new Pipeline();
    const prepare = 'PREPARE q(int) AS SELECT email FROM customers WHERE id = $1';
    p.send(query(`${prepare}; EXECUTE q(1)`));
    expect(
      p.receive(
        server.commandComplete('PREPARE'),
        server.rowDescription([text('email')]),
        server.dataRow(['x']),
        server.commandComplete('SELECT 1'),
        server.readyForQuery(),
      ),
    ).toContain(`row plan[${prepare}; EXECUTE q(1)#0] cols=1 formats=0`);
    p.send(query('DEALLOCATE q; EXECUTE q(1)'));
    expect(
      p.receive(
        server.commandComplete('DEALLOCATE'),
        server.rowDescription([text('email')]),
        server.dataRow(['x']),
        server.commandComplete('SELECT 1'),
        server.readyForQuery(),
      ),
    ).toContain('row whole cols=1 formats=0');
  });
});
