/**
 * Secrets (secret): JWTs (`eyJ….….`), PEM private keys (to the matching END line, or the end of the cell if
 * cut), AWS access key ids (AKIA/ASIA/ABIA/ACCA…) and `aws_secret_access_key = …`, GitHub
 * (`ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`, `github_pat_`), Slack (`xox?-`), Stripe (`sk_`/`rk_` live and test),
 * Google (`AIza…`), `sk-…` keys (OpenAI/Anthropic style, mixed case with digits), the token of `Bearer …`
 * (letters and digits), the credentials of `Basic …` (base64 of `user:password`), and the password in
 * `scheme://user:password@host` URLs.
 */
import { bytesAre, isDigit, isLetter, isLower, isUpper, isUserinfoChar } from './characters.ts';
import type { Detection } from './detection.ts';

/**
 * Token bytes: `[A-Za-z0-9_+/=.~-]`. Every SECRET match but a PEM header holds ≥ 12 of them in a row
 * (the shortest: `Basic ` and 12 base64 characters).
 */
const TOKEN_BYTE = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN_BYTE[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_BYTE[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN_BYTE[c] = 1;
for (const c of [0x5f, 0x2b, 0x2f, 0x3d, 0x2e, 0x7e, 0x2d]) TOKEN_BYTE[c] = 1;
const MIN_TOKEN_RUN = 12;

/**
 * How far before its literal anchor (as firstSecretAnchor() finds it) a SECRET match can start: 10
 * for `github_pat_` (anchored at its last '_'), less for the others.
 */
export const SECRET_ANCHOR_REACH = 10;

// Bytes that can be the literal anchor of a secret (see secretAnchor).
const K_DASH = 1;
const K_UNDERSCORE = 2;
const K_A = 3;
const K_B = 4; // 'B' and 'b'
const K_J = 5;
const ANCHOR_KIND = new Uint8Array(256);
ANCHOR_KIND[0x2d] = K_DASH;
ANCHOR_KIND[0x5f] = K_UNDERSCORE;
ANCHOR_KIND[0x41] = K_A;
ANCHOR_KIND[0x42] = K_B;
ANCHOR_KIND[0x62] = K_B;
ANCHOR_KIND[0x4a] = K_J;

/** The first literal anchor of a SECRET alternative in `b[lo, hi)`, or -1. */
export function firstSecretAnchor(b: Buffer, lo: number, hi: number): number {
  let lastDot = -2; // the last '.', looked up on the first `eyJ` (a JWT has two parts)
  for (let i = lo; i < hi; i++) {
    const kind = ANCHOR_KIND[b[i]!]!;
    if (kind === 0 || !secretAnchor(b, lo, hi, i, kind)) continue;
    if (kind !== K_J) return i;
    if (lastDot === -2) {
      lastDot = hi - 1;
      while (lastDot >= lo && b[lastDot] !== 0x2e) lastDot--;
    }
    if (lastDot > i) return i;
  }
  return -1;
}

/**
 * Whether `b[lo, hi)` has ≥ MIN_TOKEN_RUN token bytes in a row: such a run holds a byte at
 * lo + 11, lo + 23, …, so only the runs around those bytes are looked at (prose has short words).
 */
export function hasTokenRun(b: Buffer, lo: number, hi: number): boolean {
  for (let p = lo + MIN_TOKEN_RUN - 1; p < hi; p += MIN_TOKEN_RUN) {
    if (TOKEN_BYTE[b[p]!] === 0) continue;
    let start = p;
    while (start > lo && TOKEN_BYTE[b[start - 1]!] !== 0 && p - start < MIN_TOKEN_RUN) start--;
    let end = p + 1;
    while (end < hi && TOKEN_BYTE[b[end]!] !== 0 && end - start < MIN_TOKEN_RUN) end++;
    if (end - start >= MIN_TOKEN_RUN) return true;
  }
  return false;
}

/**
 * The first '-----' in `b[lo, hi)`, or -1: when no other anchor letter occurs, `-----BEGIN …` is the only
 * SECRET alternative left. Five dashes in a row hold a byte at lo + 4, lo + 9, …: only those are read
 * until one is a dash.
 */
export function firstPemAnchor(b: Buffer, lo: number, hi: number): number {
  for (let p = lo + 4; p < hi; p += 5) {
    if (b[p] !== 0x2d) continue;
    let start = p;
    while (start > lo && b[start - 1] === 0x2d) start--;
    let end = p + 1;
    while (end < hi && b[end] === 0x2d) end++;
    if (end - start >= 5) return start;
    while (p + 5 < end) p += 5;
  }
  return -1;
}

/** 'a', 'b', 'o', 'p', 'r', 's': Slack token types (`xox?-`). */
const isSlackType = (c: number): boolean =>
  c === 0x61 || c === 0x62 || c === 0x6f || c === 0x70 || c === 0x72 || c === 0x73;
/** 'p', 'o', 'u', 's', 'r': GitHub token types (`gh?_`). */
const isGithubType = (c: number): boolean =>
  c === 0x70 || c === 0x6f || c === 0x75 || c === 0x73 || c === 0x72;

/**
 * Whether the byte at `i` (of kind `kind`) is the literal anchor of a SECRET alternative: 'J' of
 * `eyJ`, the first '-' of `-----`, the '-' of `xox?-` and `sk-`, the '_' of `gh?_`, `github_pat_`,
 * `sk_`/`rk_` and `_secret`/`_SECRET`, the 'A' of `AKIA`, `ASIA`, `ABIA`, `ACCA`, `AIza` and of
 * `SecretAccessKey`, the 'B'/'b' of `Bearer `/`Basic ` in any case. A superset of SECRET: it may
 * say yes where SECRET finds nothing, never the other way round.
 */
function secretAnchor(b: Buffer, lo: number, hi: number, i: number, kind: number): boolean {
  switch (kind) {
    case K_J:
      return i - 2 >= lo && b[i - 1] === 0x79 && b[i - 2] === 0x65;
    case K_DASH:
      return (
        bytesAre(b, lo, hi, i + 1, '----') ||
        (i - 2 >= lo && b[i - 1] === 0x6b && b[i - 2] === 0x73) ||
        (i - 4 >= lo && isSlackType(b[i - 1]!) && bytesAre(b, lo, hi, i - 4, 'xox'))
      );
    case K_UNDERSCORE: {
      if (i - 2 >= lo && b[i - 1] === 0x6b && (b[i - 2] === 0x73 || b[i - 2] === 0x72)) return true;
      if (i - 3 >= lo && isGithubType(b[i - 1]!) && b[i - 2] === 0x68 && b[i - 3] === 0x67) return true;
      if (bytesAre(b, lo, hi, i - 3, 'pat')) return true;
      const next = i + 1 < hi ? b[i + 1]! : -1;
      return next === 0x73 || next === 0x53; // _secret, _SECRET
    }
    case K_A: {
      if (i + 3 < hi) {
        const c1 = b[i + 1]!;
        const c2 = b[i + 2]!;
        const c3 = b[i + 3]!;
        if ((c1 === 0x4b || c1 === 0x53 || c1 === 0x42) && c2 === 0x49 && c3 === 0x41) return true;
        if (c1 === 0x43 && c2 === 0x43 && c3 === 0x41) return true;
        if (c1 === 0x49 && c2 === 0x7a && c3 === 0x61) return true;
      }
      return bytesAre(b, lo, hi, i - 6, 'Secret');
    }
    case K_B: {
      const c1 = i + 1 < hi ? b[i + 1]! | 0x20 : -1;
      if (c1 === 0x65) return i + 6 < hi && b[i + 6] === 0x20; // Bearer
      if (c1 === 0x61) return i + 5 < hi && b[i + 5] === 0x20; // Basic
      return false;
    }
    default:
      return false;
  }
}

const SECRET = new RegExp(
  [
    /eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,16384}(?:\.[A-Za-z0-9_-]{0,8192})?/.source,
    /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/.source,
    /(?<![A-Za-z])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])/.source,
    /(?<![A-Za-z_])gh[pousr]_[A-Za-z0-9]{36,255}/.source,
    /(?<![A-Za-z_])github_pat_[A-Za-z0-9_]{22,255}/.source,
    /(?<![A-Za-z_])xox[abposr]-[A-Za-z0-9-]{10,255}/.source,
    /(?<![A-Za-z_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}/.source,
    /(?<![A-Za-z_])AIza[0-9A-Za-z_-]{35}/.source,
    /(?<![A-Za-z_])(sk-[A-Za-z0-9_-]{32,255})/.source,
    /(?<![A-Za-z_])(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|SecretAccessKey)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/
      .source,
    /(?<![A-Za-z_])(?:Bearer|bearer|BEARER) +([A-Za-z0-9._~+/-]{20,4096}=*)/.source,
    /(?<![A-Za-z_])(?:Basic|basic|BASIC) +([A-Za-z0-9+/]{12,1024}={0,2})(?![A-Za-z0-9+/=])/.source,
  ].join('|'),
  'dg',
);
const SK_GROUP = 1;
const AWS_SECRET_GROUP = 2;
const BEARER_GROUP = 3;
const BASIC_GROUP = 4;

function mixedToken(token: string, needCase: boolean): boolean {
  let digit = false;
  let upper = false;
  let lower = false;
  for (let k = 0; k < token.length; k++) {
    const c = token.charCodeAt(k);
    if (isDigit(c)) digit = true;
    else if (isUpper(c)) upper = true;
    else if (isLower(c)) lower = true;
  }
  return digit && (needCase ? upper && lower : upper || lower);
}

function basicCredentials(token: string): boolean {
  const decoded = Buffer.from(token, 'base64').toString('latin1');
  if (decoded.indexOf(':') < 1) return false;
  for (let k = 0; k < decoded.length; k++) {
    const c = decoded.charCodeAt(k);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** The first '://' at or after `from`, or -1. */
function findScheme(b: Buffer, from: number, hi: number): number {
  for (let i = from; i + 2 < hi; i++) {
    if (b[i] === 0x3a && b[i + 1] === 0x2f && b[i + 2] === 0x2f) return i;
  }
  return -1;
}

/** The password in `scheme://user:password@host`. */
export function scanUrlCredentials(b: Buffer, lo: number, hi: number, out: Detection[]): void {
  for (let sep = findScheme(b, lo, hi); sep !== -1; sep = findScheme(b, sep + 3, hi)) {
    if (sep === lo || !isLetter(b[sep - 1]!)) continue;
    let p = sep + 3;
    let colon = -1;
    while (p < hi && isUserinfoChar(b[p]!)) {
      if (colon === -1 && b[p] === 0x3a) colon = p;
      p++;
    }
    if (p < hi && b[p] === 0x40 && colon > sep + 3 && colon + 1 < p) {
      out.push({ detector: 'secret', start: colon + 1 - lo, end: p - lo });
    }
  }
}

/** SECRET matches in `s`, from `from` on (no match starts earlier: see SECRET_ANCHOR_REACH). */
export function scanSecrets(s: string, out: Detection[], from: number): void {
  SECRET.lastIndex = from;
  for (let m = SECRET.exec(s); m; m = SECRET.exec(s)) {
    const text = m[0];
    const indices = m.indices!;
    let start = m.index;
    let end = start + text.length;
    if (text.startsWith('-----BEGIN ')) {
      const kind = text.slice(11, -5);
      const marker = `-----END ${kind}-----`;
      const close = s.indexOf(marker, end);
      end = close === -1 ? s.length : close + marker.length;
      SECRET.lastIndex = end;
    } else if (m[SK_GROUP] !== undefined) {
      if (!mixedToken(m[SK_GROUP].slice(3), true)) continue;
    } else if (m[AWS_SECRET_GROUP] !== undefined) {
      [start, end] = indices[AWS_SECRET_GROUP]!;
    } else if (m[BEARER_GROUP] !== undefined) {
      if (!mixedToken(m[BEARER_GROUP], false)) continue;
      [start, end] = indices[BEARER_GROUP]!;
    } else if (m[BASIC_GROUP] !== undefined) {
      if (!basicCredentials(m[BASIC_GROUP])) continue;
      [start, end] = indices[BASIC_GROUP]!;
    }
    out.push({ detector: 'secret', start, end });
  }
}
