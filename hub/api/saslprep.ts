/**
 * SASLprep (RFC 4013), the way PostgreSQL's pg_saslprep() applies it: shared by the tunnel's SCRAM client
 * and server and the hub, which answers SCRAM challenges for the passwords it keeps.
 *
 * PostgreSQL is lenient: pure ASCII passes through untouched, and a password that SASLprep would
 * reject is used as-is rather than refused. For valid input it maps non-ASCII spaces to U+0020,
 * drops the "commonly mapped to nothing" characters and normalizes to NFKC; we do the same so a
 * non-ASCII password hashes identically on both sides. Two checks are left out: RFC 3454's
 * unassigned-code-point table (Unicode 3.2) and the bidirectional-text rule. Both only decide
 * whether PostgreSQL falls back to the raw string, so only exotic passwords could be affected.
 */

const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/gu;
// Variation selectors and the like are listed singly here, not meant to combine with anything.
// eslint-disable-next-line no-misleading-character-class
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;
const PROHIBITED =
  /[\p{Cc}\p{Co}\p{Cs}\p{Noncharacter_Code_Point}\u0340\u0341\u06DD\u070F\u180E\u200C-\u200F\u2028-\u202E\u2060-\u2063\u206A-\u206F\u2FF0-\u2FFB\uFEFF\uFFF9-\uFFFD\u{1D173}-\u{1D17A}\u{E0001}\u{E0020}-\u{E007F}]/u;

export function saslprep(password: string): string {
  if (/^\p{ASCII}*$/u.test(password)) return password;
  const prepared = password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  return PROHIBITED.test(prepared) ? password : prepared;
}
