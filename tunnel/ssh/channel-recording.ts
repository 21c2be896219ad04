/**
 * A session channel's terminal recording as asciicast v2 events (`o` output, `i` input, `r` resize),
 * each a `term` event in the session's hash-chained recording. Text is decoded as UTF-8 across chunk
 * boundaries (invalid bytes become U+FFFD, as asciinema does), and long output is cut into events of at
 * most MAX_EVENT_CHARS so that any batch of events stays well under the hub's request limit.
 *
 * Keystrokes typed after a password prompt are recorded as `*`. Output of commands without a terminal
 * is recorded up to a limit, then only counted: a 100 MB `cat` or a legacy `scp -f` belongs in a byte
 * count, not in the audit store.
 */
import type { SessionEvent } from '../recorder/recording-point.ts';

export const MAX_EVENT_CHARS = 4096;

const PASSWORD_PROMPT = /(password|passphrase|passcode|\bpin\b|verification code)[^\n]*[:?]\s*$/i;

export interface ChannelRecordingOptions {
  channel: number;
  record(event: SessionEvent): void;
  /** Output beyond this many bytes is counted, not recorded (Infinity for terminals). */
  outputLimit: number;
  /** Record keystrokes (terminals only). */
  recordInput: boolean;
  now?: () => number;
}

export class ChannelRecording {
  private readonly started: number;
  private readonly decoders = {
    stdout: new TextDecoder('utf-8'),
    stderr: new TextDecoder('utf-8'),
    input: new TextDecoder('utf-8'),
  };
  private recordedOutput = 0;
  /** Output bytes past the limit. */
  unrecordedBytes = 0;
  /** The end of the last output line, to notice password prompts. */
  private lineTail = '';

  constructor(private readonly options: ChannelRecordingOptions) {
    this.started = this.now();
  }

  private now(): number {
    return this.options.now ? this.options.now() : performance.now();
  }

  /** Seconds since the channel started, to the microsecond. */
  private get t(): number {
    return Math.round((this.now() - this.started) * 1000) / 1_000_000;
  }

  output(bytes: Buffer, stream: 'stdout' | 'stderr' = 'stdout'): void {
    let recordable = bytes;
    const room = this.options.outputLimit - this.recordedOutput;
    if (room <= 0) {
      this.unrecordedBytes += bytes.length;
      return;
    }
    if (bytes.length > room) {
      recordable = bytes.subarray(0, room);
      this.unrecordedBytes += bytes.length - room;
    }
    this.recordedOutput += recordable.length;
    const text = this.decoders[stream].decode(recordable, { stream: true });
    this.noteLine(text);
    this.emit('o', text, stream === 'stderr' ? 'stderr' : undefined);
  }

  input(bytes: Buffer): void {
    if (!this.options.recordInput) return;
    let text = this.decoders.input.decode(bytes, { stream: true });
    if (PASSWORD_PROMPT.test(this.lineTail)) text = text.replace(/[^\r\n]/g, '*');
    this.emit('i', text);
  }

  resize(cols: number, rows: number): void {
    this.emit('r', `${cols}x${rows}`);
  }

  private noteLine(text: string): void {
    const newline = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    this.lineTail = (newline >= 0 ? text.slice(newline + 1) : this.lineTail + text).slice(-200);
  }

  private emit(code: 'o' | 'i' | 'r', text: string, stream?: 'stderr'): void {
    if (text === '') return;
    const t = this.t;
    for (let offset = 0; offset < text.length;) {
      let end = Math.min(text.length, offset + MAX_EVENT_CHARS);
      // Keep a surrogate pair together.
      if (end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
      this.options.record({
        type: 'term',
        channel: this.options.channel,
        t,
        code,
        data: text.slice(offset, end),
        ...(stream ? { stream } : {}),
      });
      offset = end;
    }
  }
}
