import { describe, expect, it } from 'vitest';
import { serialize } from 'pg-protocol';
import { FramingError, MessageFramer, TLS_RECORD, UNTAGGED } from '../../tunnel/postgres/wire/framer.ts';
import { errorResponse } from '../../tunnel/postgres/wire/notices.ts';
import { parameterStatus, readyForQuery } from '../../tunnel/postgres/wire/session-status.ts';

function frameAll(framer: MessageFramer, chunks: Buffer[], onStartup?: () => void): string[] {
  const out: string[] = [];
  for (const chunk of chunks) {
    framer.push(chunk, (type, frame) => {
      out.push(`${type}:${frame.toString('hex')}`);
      if (type === UNTAGGED) onStartup?.();
    });
  }
  return out;
}

const frontendSession = Buffer.concat([
  serialize.startup({ user: 'alice', database: 'app', application_name: 'psql' }),
  serialize.query('SELECT 1; SELECT 2'),
  serialize.parse({ name: 's1', text: 'SELECT $1::int', types: [23] }),
  serialize.bind({ statement: 's1', values: ['42', null, ''] }),
  serialize.describe({ type: 'P' }),
  serialize.execute({ rows: 0 }),
  serialize.sync(),
  serialize.copyData(Buffer.alloc(300, 7)),
  serialize.copyDone(),
  serialize.end(),
]);

const backendSession = Buffer.concat([
  parameterStatus('server_version', '18.4'),
  readyForQuery('I'),
  errorResponse({ severity: 'ERROR', code: '42601', message: 'syntax error' }),
  Buffer.from([0x44, 0, 0, 0, 4]), // an empty DataRow header-only message
  readyForQuery('T'),
]);

describe('MessageFramer', () => {
  const startupSplits = (): MessageFramer => new MessageFramer({ startup: true });

  it('frames a startup packet then tagged messages identically for every split point of the stream', () => {
    const whole = startupSplits();
    const expected = frameAll(whole, [frontendSession], () => whole.expectTagged());
    expect(expected).toHaveLength(10);
    for (let cut = 1; cut < frontendSession.length; cut++) {
      const framer = startupSplits();
      const got = frameAll(framer, [frontendSession.subarray(0, cut), frontendSession.subarray(cut)], () =>
        framer.expectTagged(),
      );
      expect(got, `split at byte ${cut}`).toEqual(expected);
    }
  });

  it('frames a byte-at-a-time stream the same as a whole one, in both directions', () => {
    for (const [stream, startup] of [
      [frontendSession, true],
      [backendSession, false],
    ] as const) {
      const whole = new MessageFramer({ startup });
      const expected = frameAll(whole, [stream], () => whole.expectTagged());
      const framer = new MessageFramer({ startup });
      const bytes = [...stream].map((b) => Buffer.from([b]));
      expect(frameAll(framer, bytes, () => framer.expectTagged())).toEqual(expected);
      expect(framer.bufferedBytes).toBe(0);
    }
  });

  it('frames every split of a server stream into two and three chunks identically', () => {
    const expected = frameAll(new MessageFramer(), [backendSession]);
    for (let a = 1; a < backendSession.length; a++) {
      for (let b = a; b < backendSession.length; b += 7) {
        const got = frameAll(new MessageFramer(), [
          backendSession.subarray(0, a),
          backendSession.subarray(a, b),
          backendSession.subarray(b),
        ]);
        expect(got).toEqual(expected);
      }
    }
  });

  it('hands out views of the chunk, not copies, when a message lies within one chunk', () => {
    const chunk = Buffer.concat([readyForQuery('I'), readyForQuery('T')]);
    const frames: Buffer[] = [];
    new MessageFramer().push(chunk, (_t, frame) => frames.push(frame));
    expect(frames.map((f) => f.buffer === chunk.buffer)).toEqual([true, true]);
  });

  it('refuses a message larger than the maximum as soon as its header arrives', () => {
    const framer = new MessageFramer({ maxMessageSize: 1024 });
    const header = Buffer.from([0x51, 0, 0, 0x10, 0]); // Query claiming 4096 bytes
    expect(() => framer.push(header, () => {})).toThrowError(FramingError);
    try {
      new MessageFramer({ maxMessageSize: 1024 }).push(header, () => {});
    } catch (error) {
      expect((error as FramingError).code).toBe('54000');
      expect((error as FramingError).message).toMatch(/exceeds the maximum message size of 1024 bytes/);
    }
  });

  it('refuses impossible lengths and oversized startup packets', () => {
    expect(() => new MessageFramer().push(Buffer.from([0x51, 0, 0, 0, 2]), () => {})).toThrowError(
      /invalid message length/,
    );
    expect(() => new MessageFramer({ startup: true }).push(Buffer.from([0, 0, 0, 3]), () => {})).toThrowError(
      /invalid startup packet length/,
    );
    expect(() =>
      new MessageFramer({ startup: true }).push(Buffer.from([0, 1, 0, 0, 0, 3, 0, 0]), () => {}),
    ).toThrowError(/too large/);
  });

  it('recognises a direct TLS ClientHello where a startup packet was expected', () => {
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00]);
    const types: number[] = [];
    new MessageFramer({ startup: true }).push(hello, (type) => types.push(type));
    expect(types).toEqual([TLS_RECORD]);
  });
});
