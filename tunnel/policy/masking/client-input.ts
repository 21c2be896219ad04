/**
 * What the client itself recently sent upstream — statement texts and text-format bind parameters —
 * so that a value the server repeats back in a message (`invalid input syntax for type integer:
 * "abc"` for `SELECT 'abc'::int`) can be told from a value the server read from a table.
 */

/** Statements and parameters remembered: enough for a pipeline's error to find its own statement. */
const REMEMBERED = 32;
/** Longer texts are not remembered whole; a value found only in such a text is masked (fail closed). */
const MAX_TEXT_BYTES = 1 << 20;

/** Answers whether the client sent this exact value itself. */
export interface ClientInput {
  sent(value: string): boolean;
}

export class RecentClientInput implements ClientInput {
  private readonly texts: (string | Buffer)[] = [];
  private next = 0;

  /** A statement text (Query, Parse) or a text-format bind parameter went upstream. */
  remember(text: string | Buffer): void {
    if (text.length === 0 || text.length > MAX_TEXT_BYTES) return;
    if (this.texts.length < REMEMBERED) this.texts.push(text);
    else this.texts[this.next] = text;
    this.next = (this.next + 1) % REMEMBERED;
  }

  /**
   * Whether `value` occurs in something the client sent, standing as a whole word there: "5" is not
   * found in "LIMIT 50", so a one-digit masked value does not pass because of an unrelated literal.
   */
  sent(value: string): boolean {
    if (value.length === 0) return true;
    for (let i = 0; i < this.texts.length; i++) {
      let text = this.texts[i]!;
      if (typeof text !== 'string') this.texts[i] = text = text.toString('utf8');
      if (occursAsWord(text, value)) return true;
    }
    return false;
  }
}

function occursAsWord(text: string, value: string): boolean {
  const checkBefore = isWordChar(value, 0);
  const checkAfter = isWordChar(value, value.length - 1);
  for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + 1)) {
    const end = at + value.length;
    if (checkBefore && at > 0 && isWordChar(text, at - 1)) continue;
    if (checkAfter && end < text.length && isWordChar(text, end)) continue;
    return true;
  }
  return false;
}

const WORD = /[\p{L}\p{N}_]/u;

function isWordChar(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  if (code < 0x80) {
    return (
      (code >= 0x30 && code <= 0x39) ||
      (code >= 0x41 && code <= 0x5a) ||
      (code >= 0x61 && code <= 0x7a) ||
      code === 0x5f
    );
  }
  return WORD.test(text[index]!);
}
