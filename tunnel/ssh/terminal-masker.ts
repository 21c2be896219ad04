/**
 * Masks sensitive values (card numbers, emails, …) in terminal output with the value detectors, without
 * ever cutting an escape sequence or a UTF-8 character in two: output is split into escape sequences,
 * which pass untouched, and text, which is masked. What a chunk ends with is held back until the next
 * chunk (or a short timer) when it could still change meaning: a half-received escape sequence, half a
 * character, or the tail of a line that may be the start of a value.
 */
import type { ValueDetector } from '../policy/masking/detectors.ts';

const ESC = 0x1b;
/** An escape sequence longer than this (an image in an OSC) is passed on as it is. */
const MAX_ESCAPE = 8 * 1024;
/** The tail of a line kept back in case a value continues in the next chunk. */
const MAX_TAIL = 96;

type State = 'text' | 'escape' | 'intermediate' | 'csi' | 'string' | 'string-escape';

export interface MaskedChunk {
  bytes: Buffer;
  masked: number;
}

export class TerminalMasker {
  private state: State = 'text';
  /** Bytes not emitted yet: an unfinished escape sequence, or text that may continue. */
  private held: Buffer = Buffer.alloc(0);

  constructor(private readonly detector: ValueDetector) {}

  /** Whether something is held back (the caller flushes it after a short while). */
  get holding(): boolean {
    return this.held.length > 0;
  }

  push(chunk: Buffer): MaskedChunk {
    const input = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    // Held text is scanned again; a held escape sequence's bytes have been through `advance` already.
    const resumeAt = this.state === 'text' ? 0 : this.held.length;
    this.held = Buffer.alloc(0);
    const out: Buffer[] = [];
    let masked = 0;
    let start = 0;
    // The text before an escape sequence (or the end) is masked as one piece.
    const emitText = (end: number): void => {
      if (end <= start) return;
      const result = this.detector.redact(input.subarray(start, end));
      masked += result.detections;
      out.push(result.bytes);
    };
    for (let i = resumeAt; i < input.length; i++) {
      const byte = input[i]!;
      if (this.state === 'text') {
        if (byte !== ESC) continue;
        emitText(i);
        start = i;
        this.state = 'escape';
        continue;
      }
      if (this.advance(byte)) {
        out.push(input.subarray(start, i + 1));
        start = i + 1;
        this.state = 'text';
      } else if (i + 1 - start > MAX_ESCAPE) {
        out.push(input.subarray(start, i + 1));
        start = i + 1;
        this.state = 'text';
      }
    }
    if (this.state !== 'text') {
      this.held = Buffer.from(input.subarray(start));
    } else {
      const keep = holdBack(input, start);
      emitText(input.length - keep);
      if (keep > 0) this.held = Buffer.from(input.subarray(input.length - keep));
    }
    return { bytes: out.length === 1 ? out[0]! : Buffer.concat(out), masked };
  }

  /** Emits what is held back (masked if it is text): the stream went quiet or ends. */
  flush(): MaskedChunk {
    const held = this.held;
    this.held = Buffer.alloc(0);
    if (held.length === 0) return { bytes: held, masked: 0 };
    if (this.state !== 'text') {
      this.state = 'text';
      return { bytes: held, masked: 0 };
    }
    const result = this.detector.redact(held);
    return { bytes: result.bytes, masked: result.detections };
  }

  /** Moves the escape-sequence state by one byte; true when the sequence is complete. */
  private advance(byte: number): boolean {
    switch (this.state) {
      case 'escape':
        if (byte === 0x5b)
          this.state = 'csi'; // ESC [
        else if (byte === 0x5d || byte === 0x50 || byte === 0x58 || byte === 0x5e || byte === 0x5f) {
          this.state = 'string'; // OSC, DCS, SOS, PM, APC
        } else if (byte >= 0x20 && byte <= 0x2f) this.state = 'intermediate';
        else return true; // a two-byte sequence (ESC 7, ESC =, ESC M…)
        return false;
      case 'intermediate':
        return byte >= 0x30 && byte <= 0x7e;
      case 'csi':
        return byte >= 0x40 && byte <= 0x7e;
      case 'string':
        if (byte === 0x07) return true; // BEL ends an OSC
        if (byte === ESC) this.state = 'string-escape';
        return false;
      case 'string-escape':
        if (byte === 0x5c) return true; // ESC \ (ST)
        this.state = byte === ESC ? 'string-escape' : 'string';
        return false;
      default:
        return true;
    }
  }
}

/**
 * How many bytes at the end of `input` (text from `start`) to keep back: an unfinished UTF-8 character,
 * and the current line's tail when it holds a digit or an @ (else its last word), since a value may
 * continue in the next chunk.
 */
function holdBack(input: Buffer, start: number): number {
  const end = input.length;
  const partial = incompleteCharacter(input, start);
  let lineStart = end - partial;
  while (lineStart > start && end - lineStart < MAX_TAIL) {
    const byte = input[lineStart - 1]!;
    if (byte === 0x0a || byte === 0x0d) break;
    lineStart--;
  }
  // Never start holding in the middle of a character.
  while (lineStart < end - partial && (input[lineStart]! & 0xc0) === 0x80) lineStart++;
  const tail = input.subarray(lineStart, end - partial).toString('latin1');
  if (/[0-9@]/.test(tail)) return end - lineStart;
  // A word at the very end may be the start of an email address.
  const word = /[A-Za-z0-9._%+-]+$/.exec(tail);
  return partial + (word ? word[0].length : 0);
}

/** The length of a UTF-8 character cut off at the end of `input` (0 when the last one is whole). */
function incompleteCharacter(input: Buffer, start: number): number {
  const end = input.length;
  for (let back = 1; back <= 3 && end - back >= start; back++) {
    const byte = input[end - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}
