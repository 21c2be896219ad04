/**
 * Frontend messages as clients send them, and mutations of them: flipped bytes, wrong lengths, cut short,
 * doubled, garbage inserted. The fuzzers write the result split at random byte boundaries.
 */
import { serialize } from 'pg-protocol';

export type Random = () => number;

/** A small, seedable PRNG (mulberry32), so a failing run can be repeated with SOAK_SEED. */
export function seeded(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

function raw(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function special(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  const message = Buffer.alloc(8 + extra.length);
  message.writeInt32BE(message.length, 0);
  message.writeInt32BE(code, 4);
  extra.copy(message, 8);
  return message;
}

/** What a client sends before it is signed in. */
export const BEFORE_SIGN_IN: readonly (() => Buffer)[] = [
  () => serialize.startup({ user: 'portcullis', database: 'portcullis' }),
  () => serialize.startup({ user: 'x'.repeat(200), database: 'db', options: '-c search_path=public' }),
  () => special(80877103), // SSLRequest
  () => special(80877104), // GSSENCRequest
  () => special(80877102, Buffer.alloc(8, 7)), // CancelRequest naming nobody
  () => serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abcdefghijklmnop'),
  () => serialize.sendSCRAMClientFinalMessage('c=biws,r=abc,p=AAAA'),
  () => serialize.password('hunter2'),
];

/** What a signed-in client sends. */
export const AFTER_SIGN_IN: readonly (() => Buffer)[] = [
  () => serialize.query('select 1'),
  () => serialize.query('select id, name from soak_items where id = 3'),
  () => serialize.query("update soak_items set name = 'x' where id = 1"),
  () => serialize.query('drop table soak_items'),
  () => serialize.parse({ name: 's1', text: 'select $1::int', types: [23] }),
  () => serialize.bind({ statement: 's1', values: ['42'] }),
  () =>
    serialize.bind({ portal: 'p', statement: '', values: [null, Buffer.from([0, 0, 0, 1])], binary: true }),
  () => serialize.describe({ type: 'S', name: 's1' }),
  () => serialize.execute({ portal: '', rows: 1 }),
  () => serialize.close({ type: 'P', name: 'p' }),
  () => serialize.sync(),
  () => serialize.flush(),
  () => serialize.copyData(Buffer.from('1\tx\n')),
  () => serialize.copyDone(),
  () => serialize.copyFail('nope'),
  () => raw('F', Buffer.from([0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0])), // FunctionCall
  () => raw('?', Buffer.from('unknown message type')),
];

export const TERMINATE = (): Buffer => serialize.end();

/** One message, usually mutated. */
export function mutate(random: Random, message: Buffer): Buffer {
  const copy = Buffer.from(message);
  switch (Math.floor(random() * 7)) {
    case 0:
      return copy; // some go through whole
    case 1: {
      for (let i = 0, n = 1 + Math.floor(random() * 4); i < n; i++) {
        copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      }
      return copy;
    }
    case 2: {
      // A length field that lies: shorter, longer, negative, or huge.
      const at = copy.length >= 5 && /[A-Za-z?]/.test(String.fromCharCode(copy[0]!)) ? 1 : 0;
      if (copy.length >= at + 4) {
        copy.writeInt32BE(pick(random, [0, 3, 4, -1, 1 << 30, copy.length + 1000, copy.length - 2]), at);
      }
      return copy;
    }
    case 3:
      return copy.subarray(0, Math.floor(random() * copy.length));
    case 4:
      return Buffer.concat([copy, copy]);
    case 5: {
      const at = Math.floor(random() * copy.length);
      const junk = Buffer.alloc(1 + Math.floor(random() * 64));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
      return Buffer.concat([copy.subarray(0, at), junk, copy.subarray(at)]);
    }
    default: {
      const junk = Buffer.alloc(1 + Math.floor(random() * 256));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
      return junk;
    }
  }
}

/**
 * A batch of `count` messages drawn from `templates`, concatenated; each mutated with probability `rate`
 * (below 1, most messages go whole, so that a connection lives long enough to reach deep states).
 */
export function mutatedBatch(
  random: Random,
  templates: readonly (() => Buffer)[],
  count: number,
  rate = 1,
): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const message = pick(random, templates)();
    parts.push(rate >= 1 || random() < rate ? mutate(random, message) : message);
  }
  return Buffer.concat(parts);
}

/** Cuts bytes at random boundaries, as a network would deliver them. */
export function randomSplits(random: Random, bytes: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = 1 + Math.floor(random() * Math.min(512, bytes.length - at));
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}
