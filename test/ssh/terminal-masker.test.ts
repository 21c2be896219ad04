import { describe, expect, it } from 'vitest';
import { createDetector } from '../../tunnel/policy/masking/detectors.ts';
import { ChannelRecording } from '../../tunnel/ssh/channel-recording.ts';
import { TerminalMasker } from '../../tunnel/ssh/terminal-masker.ts';
import type { SessionEvent } from '../../tunnel/recorder/recording-point.ts';

const detector = createDetector(['card', 'email']);

/** Feeds `chunks` through a masker and returns everything it emitted, flushed at the end. */
function mask(chunks: Buffer[]): { text: Buffer; masked: number; pieces: Buffer[] } {
  const masker = new TerminalMasker(detector);
  const pieces: Buffer[] = [];
  let masked = 0;
  for (const chunk of chunks) {
    const out = masker.push(chunk);
    pieces.push(out.bytes);
    masked += out.masked;
  }
  const last = masker.flush();
  pieces.push(last.bytes);
  return { text: Buffer.concat(pieces), masked: masked + last.masked, pieces };
}

function splitEvery(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

const ESC = String.fromCharCode(0x1b);
const BEL = String.fromCharCode(0x07);
/** A complete CSI, OSC (ended by BEL or ST) or two-byte escape sequence. */
const WHOLE_ESCAPE = new RegExp(
  `^${ESC}(\\[[0-?]*[ -/]*[@-~]|\\][^${BEL}${ESC}]*(${BEL}|${ESC}\\\\)|[@-Z\\\\-_7-9=>])`,
);

/** Whether no emitted piece ends inside an escape sequence or a UTF-8 character. */
function piecesAreWhole(pieces: Buffer[]): boolean {
  return pieces.every((piece) => {
    if (piece.length === 0) return true;
    const text = piece.toString('latin1');
    const lastEscape = text.lastIndexOf('\x1b');
    if (lastEscape >= 0 && !WHOLE_ESCAPE.test(text.slice(lastEscape))) return false;
    return new TextDecoder('utf-8', { fatal: true }).decode(piece).length >= 0;
  });
}

describe('terminal output masking', () => {
  const colored = Buffer.from(
    '\x1b]0;shop-web: ~\x07\x1b[1;32mcustomer\x1b[0m ada@example.com paid with \x1b[31m4111 1111 1111 1111\x1b[0m — ✓ naïve 日本\r\n',
  );

  it('masks values between escape sequences and leaves the sequences alone', () => {
    const { text, masked } = mask([colored]);
    expect(text.toString()).toBe(
      '\x1b]0;shop-web: ~\x07\x1b[1;32mcustomer\x1b[0m [email] paid with \x1b[31m[card]\x1b[0m — ✓ naïve 日本\r\n',
    );
    expect(masked).toBe(2);
  });

  it('gives the same result however the output is chunked, never cutting a sequence or a character', () => {
    const whole = mask([colored]).text.toString();
    for (const size of [1, 2, 3, 5, 7, 13]) {
      const { text, pieces } = mask(splitEvery(colored, size));
      expect(text.toString(), `chunks of ${size}`).toBe(whole);
      expect(piecesAreWhole(pieces), `chunks of ${size}`).toBe(true);
    }
  });

  it('holds back the tail of a line that may be the start of a value, and lets plain text through', () => {
    const masker = new TerminalMasker(detector);
    expect(masker.push(Buffer.from('plain prompt $ ')).bytes.toString()).toBe('plain prompt $ ');
    expect(masker.holding).toBe(false);
    expect(masker.push(Buffer.from('card 4111 1111')).bytes.toString()).toBe('');
    expect(masker.holding).toBe(true);
    expect(masker.push(Buffer.from(' 1111 1111\r\n')).bytes.toString()).toBe('card [card]\r\n');
  });

  it('passes an unterminated huge escape sequence on rather than holding it forever', () => {
    const image = Buffer.concat([Buffer.from('\x1b]1337;File='), Buffer.alloc(20_000, 0x41)]);
    const { text } = mask(splitEvery(image, 4096));
    expect(text.equals(image)).toBe(true);
  });
});

describe('the asciicast recording of a channel', () => {
  function recording(options: Partial<ConstructorParameters<typeof ChannelRecording>[0]> = {}) {
    const events: SessionEvent[] = [];
    let now = 1000;
    const rec = new ChannelRecording({
      channel: 1,
      record: (e) => events.push(e),
      outputLimit: Infinity,
      recordInput: true,
      now: () => now,
      ...options,
    });
    return { rec, events, advance: (ms: number) => (now += ms) };
  }

  it('records output, input and resizes with their times, decoding UTF-8 across chunks', () => {
    const { rec, events, advance } = recording();
    const snowman = Buffer.from('☃');
    rec.output(Buffer.concat([Buffer.from('a'), snowman.subarray(0, 1)]));
    advance(1500);
    rec.output(snowman.subarray(1));
    rec.input(Buffer.from('ls\r'));
    rec.resize(120, 40);
    expect(events).toEqual([
      { type: 'term', channel: 1, t: 0, code: 'o', data: 'a' },
      { type: 'term', channel: 1, t: 1.5, code: 'o', data: '☃' },
      { type: 'term', channel: 1, t: 1.5, code: 'i', data: 'ls\r' },
      { type: 'term', channel: 1, t: 1.5, code: 'r', data: '120x40' },
    ]);
  });

  it('records what is typed after a password prompt as stars', () => {
    const { rec, events } = recording();
    rec.output(Buffer.from('[sudo] password for app: '));
    rec.input(Buffer.from('hunter2\r'));
    rec.output(Buffer.from('\r\nroot# '));
    rec.input(Buffer.from('id\r'));
    expect(
      events.filter((e) => e.type === 'term' && e.code === 'i').map((e) => (e as { data: string }).data),
    ).toEqual(['*******\r', 'id\r']);
  });

  it('cuts long output into bounded events and counts what passes the limit', () => {
    const { rec, events } = recording({ outputLimit: 10_000 });
    rec.output(Buffer.alloc(12_000, 0x61));
    const data = events.map((e) => (e as { data: string }).data);
    expect(data.map((d) => d.length)).toEqual([4096, 4096, 1808]);
    expect(rec.unrecordedBytes).toBe(2000);
  });
});
