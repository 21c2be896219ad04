/** Reading a command's words the way its option parser would, for the catalogue's rules. */
import type { Argument } from './exec-classes.ts';

export const textOf = (arg: Argument | undefined): string | undefined => arg?.text;

/** A word whose text is known exactly (no expansion, no pattern). */
export function exactText(arg: Argument | undefined): string | undefined {
  return arg && arg.exact ? arg.text : undefined;
}

export interface OptionSpec {
  /** Short options that take a value ("u" for `-u USER` / `-uUSER`). */
  short?: string;
  /** Long options that take a value as the next word when not written `--name=value`. */
  long?: readonly string[];
  /** Stop at the first operand (POSIX) rather than permute like GNU. Wrappers stop. */
  stopAtOperand?: boolean;
}

export interface ParsedOptions {
  /** Short flags seen (letters), long flags seen (without dashes), and values by option. */
  flags: Set<string>;
  values: Map<string, (string | undefined)[]>;
  operands: Argument[];
  /** Index in `args` of the first operand (the wrapped command of a wrapper), or args.length. */
  firstOperand: number;
  /** An option word whose text is unknown: it might be any option. */
  unknownOption: boolean;
}

/** Parses `args` with a getopt-like reading: combined short flags, values, `--` ends options. */
export function parseOptions(args: readonly Argument[], spec: OptionSpec = {}): ParsedOptions {
  const shortWithValue = new Set(spec.short ?? '');
  const longWithValue = new Set(spec.long ?? []);
  const parsed: ParsedOptions = {
    flags: new Set(),
    values: new Map(),
    operands: [],
    firstOperand: args.length,
    unknownOption: false,
  };
  const setValue = (name: string, value: string | undefined): void => {
    parsed.flags.add(name);
    parsed.values.set(name, [...(parsed.values.get(name) ?? []), value]);
  };
  let onlyOperands = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const text = arg.text;
    if (onlyOperands || text === undefined || !text.startsWith('-') || text === '-') {
      if (text === undefined && !onlyOperands && parsed.operands.length === 0) parsed.unknownOption = true;
      if (parsed.operands.length === 0) parsed.firstOperand = i;
      parsed.operands.push(arg);
      if (spec.stopAtOperand) {
        parsed.operands.push(...args.slice(i + 1));
        return parsed;
      }
      continue;
    }
    if (text === '--') {
      onlyOperands = true;
      if (spec.stopAtOperand) {
        parsed.firstOperand = i + 1;
        parsed.operands.push(...args.slice(i + 1));
        return parsed;
      }
      continue;
    }
    if (text.startsWith('--')) {
      const [name, value] = splitLong(text.slice(2));
      if (value !== undefined) setValue(name, value);
      else if (longWithValue.has(name)) setValue(name, args[++i]?.text);
      else parsed.flags.add(name);
      continue;
    }
    for (let j = 1; j < text.length; j++) {
      const letter = text[j]!;
      if (shortWithValue.has(letter)) {
        setValue(letter, j + 1 < text.length ? text.slice(j + 1) : args[++i]?.text);
        break;
      }
      parsed.flags.add(letter);
    }
  }
  return parsed;
}

function splitLong(text: string): [string, string | undefined] {
  const equals = text.indexOf('=');
  return equals < 0 ? [text, undefined] : [text.slice(0, equals), text.slice(equals + 1)];
}

/** The first word that is not an option, as a subcommand (`git push`, `systemctl stop`). */
export function subcommandOf(
  args: readonly Argument[],
  spec: OptionSpec = {},
): { name: string | undefined; index: number; known: boolean } {
  const parsed = parseOptions(args, { ...spec, stopAtOperand: true });
  const word = parsed.operands[0];
  if (!word) return { name: undefined, index: args.length, known: !parsed.unknownOption };
  return { name: exactText(word), index: parsed.firstOperand, known: word.text !== undefined && word.exact };
}

/**
 * Paths whose change hands out privileges or touches the system itself. A path is matched by its
 * text, so a glob is judged by its fixed prefix (`/etc/*.conf` is under /etc).
 */
const SYSTEM_PREFIXES = [
  '/etc',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/boot',
  '/root',
  '/var/lib',
  '/var/spool',
  '/proc',
  '/sys',
  '/dev',
  '/opt',
];

export function isSystemPath(path: string | undefined): boolean {
  if (path === undefined) return false;
  const normalized = path.replace(/\/+/g, '/').replace(/\/\.(?=\/|$)/g, '');
  if (normalized === '/' || normalized === '/*' || /^\/\.\./.test(normalized)) return true;
  return SYSTEM_PREFIXES.some((prefix) => normalized === prefix || normalized.startsWith(`${prefix}/`));
}

/** Writing these gives someone privileges (sudoers, accounts, keys, startup hooks). */
const PRIVILEGE_FILES = [
  /^\/etc\/(sudoers|passwd|shadow|group|gshadow|ssh\/|pam\.d\/|security\/|cron|systemd\/|ld\.so\.preload|profile|bash\.bashrc|environment|init\.d\/|rc\.local|polkit|doas\.conf)/,
  /(^|\/)\.ssh\/authorized_keys2?$/,
  /^\/var\/spool\/cron\//,
  /^\/root\//,
  /^\/(usr\/(local\/)?)?s?bin\//,
  /^\/(usr\/)?lib(32|64)?\//,
];

export function isPrivilegeFile(path: string | undefined): boolean {
  if (path === undefined) return false;
  const normalized = path.replace(/\/+/g, '/');
  return PRIVILEGE_FILES.some((pattern) => pattern.test(normalized));
}
