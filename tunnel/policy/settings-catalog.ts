/**
 * What changing a run-time setting (GUC) means for the policy: SET, RESET, set_config(), and the
 * stored forms ALTER ROLE/DATABASE/SYSTEM ... SET and CREATE/ALTER FUNCTION ... SET.
 */
import type { StatementClass } from './classification.ts';

/**
 * Settings whose change is a privilege change: who we are, how names resolve (search_path decides
 * which function an unqualified name calls, so it can hijack the allowlist of built-ins), whether
 * triggers and foreign keys fire, and what the server's audit trail records.
 */
const PRIVILEGE_SETTINGS = new Set([
  'role',
  'session_authorization',
  'search_path',
  'session_replication_role',
  'log_statement',
  'log_min_duration_statement',
  'log_min_duration_sample',
  'log_min_messages',
  'log_min_error_statement',
  'log_duration',
  'log_statement_sample_rate',
  'log_transaction_sample_rate',
  'log_parameter_max_length',
  'log_parameter_max_length_on_error',
  'zero_damaged_pages',
  'ignore_checksum_failure',
  'ignore_invalid_pages',
  'allow_system_table_mods',
]);

const NARROW_SEARCH_PATHS = new Set(['', '""', "''", 'pg_catalog', '"pg_catalog"']);

/** Settings that load code into the server. */
const SERVER_ACCESS_SETTINGS = new Set([
  'session_preload_libraries',
  'local_preload_libraries',
  'shared_preload_libraries',
  'dynamic_library_path',
]);

/**
 * Client encodings in which every byte below 0x80 is the ASCII character it looks like. The others
 * (SJIS, BIG5, GBK, UHC, GB18030, JOHAB, SHIFT_JIS_2004) allow a quote or backslash byte inside a
 * multibyte character, so the server would split the text differently from the policy's parser.
 * Names are compared the way PostgreSQL does: lower case, non-alphanumerics removed.
 */
const ASCII_SAFE_ENCODINGS = new Set([
  'utf8',
  'unicode',
  'sqlascii',
  'muleinternal',
  'eucjp',
  'euccn',
  'euckr',
  'euctw',
  'eucjis2004',
  'latin1',
  'latin2',
  'latin3',
  'latin4',
  'latin5',
  'latin6',
  'latin7',
  'latin8',
  'latin9',
  'latin10',
  'iso88591',
  'iso88592',
  'iso88593',
  'iso88594',
  'iso88595',
  'iso88596',
  'iso88597',
  'iso88598',
  'iso88599',
  'iso885910',
  'iso885913',
  'iso885914',
  'iso885915',
  'iso885916',
  'koi8',
  'koi8r',
  'koi8u',
  'win',
  'alt',
  'abc',
  'tcvn',
  'tcvn5712',
  'vscii',
  'win866',
  'win874',
  'win1250',
  'win1251',
  'win1252',
  'win1253',
  'win1254',
  'win1255',
  'win1256',
  'win1257',
  'win1258',
  'windows866',
  'windows874',
  'windows1250',
  'windows1251',
  'windows1252',
  'windows1253',
  'windows1254',
  'windows1255',
  'windows1256',
  'windows1257',
  'windows1258',
]);

export function normalizeSettingName(name: string): string {
  return name.toLowerCase();
}

/**
 * The class a change of this setting carries. `value` is undefined for RESET / TO DEFAULT and null
 * when it is not a constant.
 */
export function settingClass(name: string, value: string | null | undefined): StatementClass {
  if (PRIVILEGE_SETTINGS.has(name) || name.startsWith('pgaudit.')) {
    // A search path of nothing but pg_catalog (pg_dump sets '') or the default one cannot make an
    // unqualified name resolve to anything but a built-in first. For the role, any change (RESET
    // ROLE included) is a privilege change.
    const narrow = value === undefined || (value !== null && NARROW_SEARCH_PATHS.has(value.trim()));
    if (name === 'search_path' && narrow) {
      return 'session';
    }
    return 'privilege';
  }
  if (SERVER_ACCESS_SETTINGS.has(name)) return 'server-access';
  return 'session';
}

/**
 * Why setting `name` to `value` must be refused outright, or undefined. `value` is undefined for
 * RESET / SET ... TO DEFAULT, and null when the value is not a constant we can read.
 */
export function settingFailure(name: string, value: string | null | undefined): string | undefined {
  if (name === 'standard_conforming_strings') {
    if (typeof value === 'string' && isTrue(value)) return undefined;
    return 'standard_conforming_strings must stay on';
  }
  if (name === 'client_encoding') {
    if (value === undefined) return undefined;
    if (value === null) return 'client_encoding may only be set to a constant';
    if (ASCII_SAFE_ENCODINGS.has(value.toLowerCase().replace(/[^a-z0-9]/g, ''))) return undefined;
    return `client_encoding ${value} is not allowed: its multibyte characters can hide quote bytes`;
  }
  return undefined;
}

/** PostgreSQL's parse_bool for "true": a prefix of true/yes, exactly on, or 1 (case-insensitive). */
function isTrue(value: string): boolean {
  const v = value.toLowerCase();
  if (v === '') return false;
  return 'true'.startsWith(v) || 'yes'.startsWith(v) || v === 'on' || v === '1';
}
