/**
 * Password literals out of statement text before it is recorded or shown to an approver: the string
 * after PASSWORD (`CREATE ROLE … PASSWORD '…'`, `ALTER USER … [ENCRYPTED] PASSWORD '…'`, what psql's
 * `\password` sends, `OPTIONS (password '…')`) and `password=…` inside a connection string literal
 * (`dblink_connect('… password=…')`, `CREATE SUBSCRIPTION … CONNECTION '…'`). The statement itself still
 * goes to the server as the client sent it; only its record is redacted.
 *
 * Tokens come from PostgreSQL's own scanner (libpg-query), so quoting, dollar quotes, E'' escapes and
 * comments are read as the server reads them. A text the scanner cannot read (an unterminated literal)
 * is redacted from the word "password" to the end of the quoted text that follows, or of the statement.
 */
import { scanSync } from 'libpg-query';
import { rewritingEvents, type RecordingPoint } from '../recorder/recording-point.ts';

export const REDACTED = "'***'";

const MENTIONS_PASSWORD = /password/i;
/** A quoted value runs to the end of the literal (over-redacting is safe); a bare one to the next space. */
const IN_CONNECTION_STRING = /(password\s*=\s*)(?:['\\][\s\S]*(?=(?:'|\$[A-Za-z_]*\$)$)|[^\s'$]+)/gi;
const UNSCANNABLE =
  /(\bpassword\b\s*(?:=\s*)?)(E?'(?:[^']|'')*'?|\$([A-Za-z_]*)\$[\s\S]*?(?:\$\3\$|$)|\S+)/gi;

/** `sql` with every password literal replaced; the same string when it mentions no password. */
export function redactPasswords(sql: string): string {
  if (!MENTIONS_PASSWORD.test(sql)) return sql;
  let tokens: { start: number; end: number; text: string; tokenName: string }[];
  try {
    tokens = scanSync(sql).tokens;
  } catch {
    return sql.replace(UNSCANNABLE, (_, keyword: string) => `${keyword}${REDACTED}`);
  }
  const bytes = Buffer.from(sql, 'utf8');
  const parts: string[] = [];
  let copied = 0;
  const replace = (token: { start: number; end: number }, text: string): void => {
    parts.push(bytes.toString('utf8', copied, token.start), text);
    copied = token.end;
  };
  tokens.forEach((token, index) => {
    if (token.tokenName !== 'SCONST') return;
    const previous = tokens[index - 1];
    if (previous && previous.text.toLowerCase() === 'password') replace(token, REDACTED);
    else if (MENTIONS_PASSWORD.test(token.text)) {
      replace(
        token,
        token.text.replace(IN_CONNECTION_STRING, (_, key: string) => `${key}***`),
      );
    }
  });
  if (copied === 0) return sql;
  parts.push(bytes.toString('utf8', copied));
  return parts.join('');
}

/** A recording point whose statement and hold events carry their SQL with password literals redacted. */
export function redactingPasswords(point: RecordingPoint): RecordingPoint {
  return rewritingEvents(point, (event) =>
    (event.type === 'statement' || event.type === 'hold') && MENTIONS_PASSWORD.test(event.sql)
      ? { ...event, sql: redactPasswords(event.sql) }
      : event,
  );
}
