/**
 * The run-time settings a client asks for in its startup packet, read the way PostgreSQL reads them:
 * every parameter that is not part of the protocol is a setting, and `options` holds command-line
 * switches (`-c name=value`, `--name=value`, split at unescaped white space, backslash escaping the
 * next character). The server applies the switches first and the other parameters after them, so a
 * parameter beats a switch for the same setting.
 */

/** One setting as the client asked for it, its name as written (PostgreSQL ignores the case). */
export interface StartupSetting {
  name: string;
  value: string;
}

/** The `options` parameter cannot be read; PostgreSQL would refuse it with this message (42601). */
export class StartupOptionsError extends Error {
  readonly code = '42601';
  constructor(message: string) {
    super(message);
    this.name = 'StartupOptionsError';
  }
}

/** Parameters that are the protocol's own, not settings: the tunnel decides these itself. */
const PROTOCOL_PARAMETERS = new Set(['user', 'database', 'options', 'replication']);

/**
 * The settings in a startup packet's parameters, in the order the server would apply them (a later
 * one for the same name wins). node-postgres sends `fallback_application_name` on the wire, which the
 * server would refuse: it becomes application_name when the client names none.
 */
export function startupSettings(parameters: ReadonlyMap<string, string>): StartupSetting[] {
  const options = parameters.get('options');
  const settings = options === undefined ? [] : parseOptions(options);
  for (const [name, value] of parameters) {
    const key = name.toLowerCase();
    if (PROTOCOL_PARAMETERS.has(key) || key.startsWith('_pq_.') || key === 'fallback_application_name') {
      continue;
    }
    settings.push({ name, value });
  }
  const fallback = parameters.get('fallback_application_name');
  if (fallback !== undefined && !settings.some((s) => s.name.toLowerCase() === 'application_name')) {
    settings.push({ name: 'application_name', value: fallback });
  }
  return settings;
}

/** The settings in an `options` string, as PostgreSQL's pg_split_opts and getopt would read them. */
export function parseOptions(options: string): StartupSetting[] {
  const args = splitOptions(options);
  const settings: StartupSetting[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      // getopt's end of options: whatever follows is an argument the server would refuse.
      if (i + 1 < args.length) throw invalidArgument(args[i + 1]!);
      break;
    }
    if (arg.startsWith('--')) {
      settings.push(longOption(arg.slice(2), `--${arg.slice(2)}`));
    } else if (arg.startsWith('-c')) {
      const spec = arg.length > 2 ? arg.slice(2) : args[++i];
      if (spec === undefined) throw new StartupOptionsError('option -c requires an argument');
      settings.push(longOption(spec, `-c ${spec}`));
    } else if (arg.startsWith('-') && arg.length > 1) {
      throw new StartupOptionsError(
        `command-line switch ${arg.slice(0, 2)} in options is not accepted through Portcullis; ` +
          'use -c name=value or --name=value',
      );
    } else {
      throw invalidArgument(arg);
    }
  }
  return settings;
}

function invalidArgument(arg: string): StartupOptionsError {
  return new StartupOptionsError(`invalid command-line argument for server process: ${arg}`);
}

/** ParseLongOption: `name=value`, with dashes in the name read as underscores. */
function longOption(spec: string, written: string): StartupSetting {
  const equals = spec.indexOf('=');
  if (equals < 0) throw new StartupOptionsError(`${written} requires a value`);
  return { name: spec.slice(0, equals).replaceAll('-', '_'), value: spec.slice(equals + 1) };
}

/** C's isspace() in the "C" locale. */
const SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);

/** pg_split_opts: words split at unescaped white space; a backslash takes the next character as is. */
function splitOptions(options: string): string[] {
  const words: string[] = [];
  let at = 0;
  while (at < options.length) {
    while (at < options.length && SPACE.has(options[at]!)) at++;
    if (at >= options.length) break;
    let word = '';
    let escaped = false;
    for (; at < options.length; at++) {
      const char = options[at]!;
      if (SPACE.has(char) && !escaped) break;
      if (!escaped && char === '\\') {
        escaped = true;
      } else {
        escaped = false;
        word += char;
      }
    }
    words.push(word);
  }
  return words;
}
