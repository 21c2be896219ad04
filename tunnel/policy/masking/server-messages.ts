/**
 * Masks what the server's own messages repeat of the data: ErrorResponse and NoticeResponse texts
 * (`invalid input syntax for type integer: "alice@…"` for `SELECT email::int`, `Key (email)=(…)
 * already exists`, what a RAISE composed from a row) and NotificationResponse payloads.
 *
 * The rule, when the policy has mask rules (no table origin can be traced through a message):
 * - SQLSTATE, severity, position and the fields that name objects (schema, table, column, type,
 *   constraint) pass as they are, so tools still recognise the error;
 * - in the server's own wording (message, detail, hint, context) every value the server quotes —
 *   `"…"`, the tuple of `Key (…)=(…)` and `Failing row contains (…)`, the line after `JSON data,
 *   line N:` — passes only when the client sent it itself (its statement or a bind parameter) or
 *   it is the name one of the naming fields gives; otherwise it reads `[redacted]`;
 * - text composed by a user's code (RAISE, ASSERT, a procedural language's notice), the internal
 *   query, and notification payloads pass only word by word what the client sent itself.
 * The detectors then run over every text field and payload, with or without mask rules.
 */
import { tagged } from '../../postgres/wire/bytes.ts';
import { Backend } from '../../postgres/wire/codes.ts';
import { noticeMessage, readNoticeFieldList, type NoticeField } from '../../postgres/wire/notices.ts';
import { DEFAULT_REDACTION } from './strategies.ts';
import type { ClientInput } from './client-input.ts';
import type { ValueDetector } from './detectors.ts';

const NOTICE_TEXT_FIELDS = 'MDHWq';
/** Schema, table, column, data type and constraint name: identifiers by the protocol's definition. */
const NAME_FIELDS = 'stcdn';
/** The C routines that turn a user's text into a message (PL/pgSQL RAISE and ASSERT, PL/Python, PL/Perl, PL/Tcl). */
const USER_TEXT_ROUTINE = /^(exec_stmt_raise|exec_stmt_assert|PLy_|plperl|pltcl|plv8)/;
/** Where the server names a column it suggests: the catalog's names, not data (42703's hint). */
const COLUMN_SUGGESTION =
  /^Perhaps you meant to reference the (column|table alias) "[^"]*"( or the column "[^"]*")?\.$/;
/** `Key (cols)=(values) …` of unique, foreign key and exclusion violations: the values, greedily. */
const KEY_VALUES =
  /\)=\((.*)\)(?= already exists| is not present in table| is still referenced from table| is duplicated| conflicts with existing key|\.?$)/s;
const FAILING_ROW = /(Failing row contains \()(.*)(\)\.?)$/s;
const JSON_DATA_LINE = /^(JSON data, line \d+: )(.*)$/gm;

export interface ServerMessageOptions {
  /** The policy masks columns by rule: values a message repeats are masked by the rule above. */
  provenance: boolean;
  detector?: ValueDetector;
}

export class ServerMessageMask {
  constructor(private readonly options: ServerMessageOptions) {}

  /** An ErrorResponse or NoticeResponse frame, masked; the same Buffer when nothing changed. */
  notice(frame: Buffer, input: ClientInput): Buffer {
    const { fields, end } = readNoticeFieldList(frame);
    if (end < 0 || end >= frame.length) return maskedWhole(frame);
    const names = new Set<string>();
    for (const [code, value] of fields) if (NAME_FIELDS.includes(code) && value !== '') names.add(value);
    const routine = fields.find(([code]) => code === 'R')?.[1] ?? '';
    const sqlstate = fields.find(([code]) => code === 'C')?.[1] ?? '';
    const userText = USER_TEXT_ROUTINE.test(routine) || sqlstate.startsWith('P0');
    const known = (value: string) => names.has(value) || input.sent(value);
    let changed = false;
    const masked = fields.map(([code, value]): NoticeField => {
      if (!NOTICE_TEXT_FIELDS.includes(code)) return [code, value];
      let text = value;
      if (this.options.provenance) {
        if (code === 'q' || (userText && code !== 'W')) text = keepClientWords(text, input);
        else if (!(code === 'H' && COLUMN_SUGGESTION.test(text) && !hasContext(fields)))
          text = redactQuotedValues(text, known);
      }
      text = this.detect(text);
      if (text !== value) changed = true;
      return [code, text];
    });
    return changed ? noticeMessage(frame[0]!, masked) : frame;
  }

  /** A NotificationResponse frame: its payload masked, channel and process id kept. */
  notification(frame: Buffer, input: ClientInput): Buffer {
    const channelEnd = frame.indexOf(0, 9);
    const payloadEnd = channelEnd < 0 ? -1 : frame.indexOf(0, channelEnd + 1);
    if (payloadEnd < 0) return maskedWhole(frame);
    const payload = frame.toString('utf8', channelEnd + 1, payloadEnd);
    let text = this.options.provenance ? keepClientWords(payload, input) : payload;
    text = this.detect(text);
    if (text === payload) return frame;
    const head = frame.subarray(5, channelEnd + 1);
    const body = Buffer.concat([head, Buffer.from(text, 'utf8'), Buffer.from([0])]);
    return tagged(frame[0]!, body);
  }

  private detect(text: string): string {
    const { detector } = this.options;
    if (!detector || text === '') return text;
    const { bytes, detections } = detector.redact(Buffer.from(text, 'utf8'));
    return detections === 0 ? text : bytes.toString('utf8');
  }
}

/** A context field says the message arose inside a function or a nested statement. */
function hasContext(fields: readonly [string, string][]): boolean {
  return fields.some(([code, value]) => (code === 'W' || code === 'q') && value !== '');
}

/**
 * The server's wording with every value it quotes redacted unless `known`. A quote that never
 * closes runs to the end. (A value made on purpose of quotes around other data can still split into
 * pieces; such a statement is an oracle anyway, like a WHERE clause on a masked column.)
 */
export function redactQuotedValues(text: string, known: (value: string) => boolean): string {
  let out = text.replace(KEY_VALUES, (whole: string, values: string) =>
    known(values) ? whole : `)=(${DEFAULT_REDACTION})`,
  );
  out = out.replace(FAILING_ROW, (whole: string, open: string, values: string, close: string) =>
    known(values) ? whole : `${open}${DEFAULT_REDACTION}${close}`,
  );
  out = out.replace(JSON_DATA_LINE, (whole: string, lead: string, data: string) =>
    known(data) ? whole : `${lead}${DEFAULT_REDACTION}`,
  );
  return redactQuotes(out, known);
}

function redactQuotes(text: string, known: (value: string) => boolean): string {
  let out = '';
  let at = 0;
  for (;;) {
    const open = text.indexOf('"', at);
    if (open < 0) return out + text.slice(at);
    const close = closingQuote(text, open + 1);
    const value = text.slice(open + 1, close < 0 ? text.length : close);
    const shown = value === DEFAULT_REDACTION || known(value) ? value : DEFAULT_REDACTION;
    out += `${text.slice(at, open)}"${shown}"`;
    if (close < 0) return out;
    at = close + 1;
  }
}

/**
 * Where the quote opened before `from` closes: at a `"` followed by the end, a space or punctuation,
 * with an even number of quotes after it, so that the rest still pairs up — a value holding quotes
 * itself (JSON, say) stays one value. -1 when none does.
 */
function closingQuote(text: string, from: number): number {
  let after = 0;
  for (let i = text.indexOf('"', from); i >= 0; i = text.indexOf('"', i + 1)) after++;
  for (let i = text.indexOf('"', from); i >= 0; i = text.indexOf('"', i + 1)) {
    after--;
    const next = text[i + 1];
    if (after % 2 === 0 && (next === undefined || /[\s.,;:)\]!?]/.test(next))) return i;
  }
  return -1;
}

/** Text a user's code composed: each whitespace-separated word stays only if the client sent it. */
export function keepClientWords(text: string, input: ClientInput): string {
  if (text === '' || input.sent(text)) return text;
  let out = '';
  let redacting = false;
  for (const part of text.split(/(\s+)/)) {
    if (part === '' || /^\s+$/.test(part)) {
      if (!redacting) out += part;
      else if (part.includes('\n')) {
        out += part;
        redacting = false;
      }
      continue;
    }
    if (input.sent(part)) {
      if (redacting) out += ' ';
      out += part;
      redacting = false;
    } else if (!redacting) {
      out += DEFAULT_REDACTION;
      redacting = true;
    }
  }
  return out;
}

/** A message the tunnel cannot read: nothing of it passes but its kind. */
function maskedWhole(frame: Buffer): Buffer {
  if (frame[0] === Backend.notificationResponse) {
    return tagged(frame[0], Buffer.concat([frame.subarray(5, 9), Buffer.from('\0\0')]));
  }
  return noticeMessage(frame[0]!, [
    ['S', frame[0] === Backend.errorResponse ? 'ERROR' : 'NOTICE'],
    ['C', 'XX000'],
    ['M', DEFAULT_REDACTION],
  ]);
}
