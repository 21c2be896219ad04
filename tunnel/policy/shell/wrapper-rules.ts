/**
 * Commands that run other commands or code: privilege wrappers (sudo, su), plain wrappers (env, nice,
 * timeout, xargs), shells with `-c`, interpreters, find -exec. What they run is judged as a command of
 * its own; code the text does not show makes them dynamic.
 */
import { exactText, parseOptions, type OptionSpec } from './arguments.ts';
import {
  because,
  judged,
  type Argument,
  type CommandJudgement,
  type CommandRule,
  type ExecClass,
} from './exec-classes.ts';

/** Variables that change which program a later command name finds, or run code themselves. */
export const DANGEROUS_VARIABLES = new Set([
  'PATH',
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'LD_AUDIT',
  'BASH_ENV',
  'ENV',
  'IFS',
  'PROMPT_COMMAND',
  'PS4',
  'SHELLOPTS',
  'BASHOPTS',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_EXEC_PATH',
  'GIT_PAGER',
  'GIT_EDITOR',
  'PAGER',
  'EDITOR',
  'VISUAL',
  'LESSOPEN',
  'LESSCLOSE',
  'PYTHONPATH',
  'PYTHONSTARTUP',
  'PYTHONHOME',
  'PERL5LIB',
  'PERL5OPT',
  'PERLLIB',
  'RUBYOPT',
  'RUBYLIB',
  'NODE_OPTIONS',
  'NODE_PATH',
]);

const word = (text: string): Argument => ({ text, exact: true });

/** A wrapper runs the words after its options as a command; without one it is `alone`. */
function wrapper(spec: OptionSpec, classes: ExecClass[] = [], alone: ExecClass[] = ['read']): CommandRule {
  return (args) => {
    const parsed = parseOptions(args, { ...spec, stopAtOperand: true });
    const command = args.slice(parsed.firstOperand);
    if (command.length === 0) return judged(...(classes.length > 0 ? classes : alone));
    return { classes, runs: [command] };
  };
}

/** sudo and doas: privilege, plus what they run; a root shell reading its input is dynamic. */
const sudo: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'ugCDhprtTU',
    long: [
      'user',
      'group',
      'close-from',
      'chdir',
      'host',
      'prompt',
      'role',
      'type',
      'command-timeout',
      'other-user',
    ],
    stopAtOperand: true,
  });
  const command = args.slice(parsed.firstOperand);
  if (parsed.flags.has('e') || parsed.flags.has('edit')) return judged('privilege', 'write');
  if (command.length > 0) return { classes: ['privilege'], runs: [command] };
  if (
    parsed.flags.has('s') ||
    parsed.flags.has('i') ||
    parsed.flags.has('shell') ||
    parsed.flags.has('login')
  ) {
    return because('opens a root shell that reads commands from its input', 'privilege', 'dynamic');
  }
  return judged('privilege');
};

/** su [-] [user] [-c CMD]: a shell as another user. */
const su: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'cCsgGw',
    long: ['command', 'session-command', 'shell', 'group', 'supp-group', 'whitelist-environment'],
  });
  const commands = [
    ...(parsed.values.get('c') ?? []),
    ...(parsed.values.get('command') ?? []),
    ...(parsed.values.get('C') ?? []),
  ];
  if (commands.length > 0) {
    return { classes: ['privilege'], scripts: commands.map((text) => ({ text, exact: text !== undefined })) };
  }
  return because('opens a shell as another user that reads commands from its input', 'privilege', 'dynamic');
};

/** runuser -u USER -- CMD, or su-style runuser USER -c CMD. */
const runuser: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'ugGcsw',
    long: ['user', 'group', 'supp-group', 'command', 'shell'],
    stopAtOperand: true,
  });
  if (parsed.values.has('u') || parsed.values.has('user')) {
    const command = args.slice(parsed.firstOperand);
    return command.length > 0 ? { classes: ['privilege'], runs: [command] } : judged('privilege');
  }
  return su(args);
};

/** env [-i] [-u NAME] [NAME=VALUE]… [CMD]: assignments that change lookup make the command dynamic. */
const env: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'uCS',
    long: ['unset', 'chdir', 'split-string'],
    stopAtOperand: true,
  });
  const split = [...(parsed.values.get('S') ?? []), ...(parsed.values.get('split-string') ?? [])];
  if (split.length > 0)
    return { classes: [], scripts: split.map((text) => ({ text, exact: text !== undefined })) };
  let rest = args.slice(parsed.firstOperand);
  const reasons: string[] = [];
  while (rest[0]?.text?.includes('=') || rest[0]?.text === undefined) {
    const assignment = rest[0];
    if (!assignment) break;
    const name = assignment.text?.slice(0, assignment.text.indexOf('='));
    if (name === undefined || DANGEROUS_VARIABLES.has(name)) {
      reasons.push(`sets ${name ?? 'a variable named by an expansion'}, which changes what runs`);
    }
    rest = rest.slice(1);
  }
  if (reasons.length > 0)
    return { classes: ['dynamic'], reasons, ...(rest.length > 0 ? { runs: [rest] } : {}) };
  return rest.length > 0 ? { classes: [], runs: [rest] } : judged('read');
};

const SHELL_OPTIONS: OptionSpec = { short: 'oO', long: ['rcfile', 'init-file'] };

/** sh/bash/zsh …: `-c STRING` is parsed as shell code; a script is unknown; no script reads stdin. */
const shellCommand: CommandRule = (args) => {
  const versionOnly = args.length === 1 && ['--version', '--help', '-version'].includes(args[0]?.text ?? '');
  if (versionOnly) return judged('read');
  const parsed = parseOptions(args, { ...SHELL_OPTIONS, stopAtOperand: true });
  if (parsed.unknownOption) return because('its options come from an expansion', 'dynamic');
  if (parsed.flags.has('c')) {
    const script = parsed.operands[0];
    if (!script) return because('-c without a command string', 'dynamic');
    return { classes: [], scripts: [script] };
  }
  if (parsed.operands.length === 0 || parsed.flags.has('s')) {
    return because('reads the commands to run from its input', 'dynamic');
  }
  return because(
    `runs the script ${parsed.operands[0]?.text ?? '(an expansion)'}, whose commands are not shown`,
    'unknown',
  );
};

/** python, perl, ruby, node…: inline code or code on stdin is dynamic; a script is unknown. */
function interpreter(inlineFlags: string, moduleFlag?: string): CommandRule {
  return (args) => {
    const first = args[0]?.text;
    if (first === '--version' || first === '-V' || first === '-v' || first === '--help')
      return judged('read');
    const parsed = parseOptions(args, { short: `${moduleFlag ?? ''}WXI`, stopAtOperand: true });
    if (
      [...inlineFlags].some((flag) => parsed.flags.has(flag)) ||
      parsed.flags.has('eval') ||
      parsed.flags.has('print')
    ) {
      return because('runs inline code', 'dynamic');
    }
    const module = moduleFlag ? parsed.values.get(moduleFlag)?.[0] : undefined;
    if (moduleFlag && parsed.values.has(moduleFlag)) {
      if (module === 'pip' || module === 'ensurepip') {
        const sub = exactText(parsed.operands[0]);
        return ['install', 'uninstall', 'download'].includes(sub ?? '') ? judged('package') : judged('read');
      }
      if (module === 'http.server' || module === 'SimpleHTTPServer') return judged('network');
      return because(`runs the module ${module ?? '(an expansion)'}`, 'unknown');
    }
    if (parsed.operands.length === 0 || parsed.operands[0]?.text === '-') {
      return because('reads the code to run from its input', 'dynamic');
    }
    return because(
      `runs the script ${parsed.operands[0]?.text ?? '(an expansion)'}, whose code is not shown`,
      'unknown',
    );
  };
}

/** find … -exec CMD {} ; runs CMD; -delete deletes; -fprint writes. */
const find: CommandRule = (args) => {
  const runs: Argument[][] = [];
  const classes = new Set<ExecClass>(['read']);
  for (let i = 0; i < args.length; i++) {
    const text = args[i]!.text;
    if (text === undefined) continue;
    if (['-exec', '-execdir', '-ok', '-okdir'].includes(text)) {
      const end = args.findIndex((a, j) => j > i && (a.text === ';' || a.text === '+'));
      runs.push(args.slice(i + 1, end < 0 ? args.length : end));
      i = end < 0 ? args.length : end;
    } else if (text === '-delete') classes.add('destructive');
    else if (/^-f(print0?|printf|ls)$/.test(text)) classes.add('write');
  }
  return { classes: [...classes], runs };
};

/** xargs [options] [CMD…]: runs CMD (echo by default) with words from its input. */
const xargs: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'adEeIiLlnPs',
    long: [
      'arg-file',
      'delimiter',
      'eof',
      'replace',
      'max-lines',
      'max-args',
      'max-procs',
      'max-chars',
      'process-slot-var',
    ],
    stopAtOperand: true,
  });
  const command = args.slice(parsed.firstOperand);
  return { classes: [], runs: [command.length > 0 ? command : [word('echo')]] };
};

/** timeout [options] DURATION CMD. */
const timeout: CommandRule = (args) => {
  const parsed = parseOptions(args, { short: 'sk', long: ['signal', 'kill-after'], stopAtOperand: true });
  const command = args.slice(parsed.firstOperand + 1);
  return command.length > 0 ? { classes: [], runs: [command] } : judged('read');
};

/** watch runs its words through `sh -c` (or directly with -x). */
const watch: CommandRule = (args) => {
  const parsed = parseOptions(args, { short: 'nq', long: ['interval', 'equexit'], stopAtOperand: true });
  const command = args.slice(parsed.firstOperand);
  if (command.length === 0) return judged('read');
  if (parsed.flags.has('x') || parsed.flags.has('exec')) return { classes: [], runs: [command] };
  const texts = command.map((a) => a.text);
  const joined = texts.some((t) => t === undefined) ? undefined : texts.join(' ');
  return { classes: [], scripts: [{ text: joined, exact: joined !== undefined }] };
};

/** trap 'CODE' SIGNALS… runs CODE later. */
const trap: CommandRule = (args) => {
  const parsed = parseOptions(args, { stopAtOperand: true });
  if (parsed.flags.has('l') || parsed.flags.has('p') || parsed.operands.length < 2) return judged('read');
  const code = parsed.operands[0]!;
  if (code.text === '-' || code.text === '') return judged('read');
  return { classes: ['read'], scripts: [code] };
};

/** alias name='code': the code runs wherever the alias is used. */
const alias: CommandRule = (args) => {
  const scripts = args
    .filter((a) => a.text === undefined || a.text.includes('='))
    .map((a) => {
      const text = a.text === undefined ? undefined : a.text.slice(a.text.indexOf('=') + 1);
      return { text, exact: text !== undefined };
    });
  return { classes: ['read'], scripts };
};

/** exec CMD replaces the shell with CMD; alone it only changes redirections. */
const exec: CommandRule = wrapper({ short: 'a' });

/** command -v/-V only looks; otherwise it runs the command. */
const command: CommandRule = (args) => {
  const parsed = parseOptions(args, { stopAtOperand: true });
  if (parsed.flags.has('v') || parsed.flags.has('V')) return judged('read');
  const rest = args.slice(parsed.firstOperand);
  return rest.length > 0 ? { classes: [], runs: [rest] } : judged('read');
};

/** chroot DIR [CMD]: without a command it starts an interactive shell. */
const chroot: CommandRule = (args) => {
  const parsed = parseOptions(args, { long: ['userspec', 'groups'], stopAtOperand: true });
  const command = args.slice(parsed.firstOperand + 1);
  if (command.length > 0) return { classes: ['privilege'], runs: [command] };
  return because('opens a shell in the new root that reads commands from its input', 'privilege', 'dynamic');
};

/** flock [options] FILE CMD…, or flock FILE -c CMD. */
const flock: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'wEc',
    long: ['timeout', 'conflict-exit-code', 'command'],
    stopAtOperand: true,
  });
  const code = parsed.values.get('c') ?? parsed.values.get('command');
  if (code) return { classes: [], scripts: code.map((text) => ({ text, exact: text !== undefined })) };
  const rest = args.slice(parsed.firstOperand + 1);
  const inner = parseOptions(rest, { short: 'wEc', long: ['timeout', 'conflict-exit-code', 'command'] });
  const innerCode = inner.values.get('c') ?? inner.values.get('command');
  if (innerCode)
    return { classes: [], scripts: innerCode.map((text) => ({ text, exact: text !== undefined })) };
  return rest.length > 0 ? { classes: [], runs: [rest] } : judged('read');
};

/** busybox APPLET args / toybox APPLET args. */
const multicall: CommandRule = (args) => (args.length > 0 ? { classes: [], runs: [args] } : judged('read'));

const SHELLS = [
  'sh',
  'bash',
  'dash',
  'zsh',
  'ksh',
  'ksh93',
  'mksh',
  'ash',
  'yash',
  'fish',
  'tcsh',
  'csh',
  'rbash',
];

export const WRAPPER_RULES: ReadonlyMap<string, CommandRule> = new Map<string, CommandRule>([
  ['sudo', sudo],
  ['doas', sudo],
  ['pkexec', wrapper({ long: ['user'] }, ['privilege'])],
  [
    'run0',
    wrapper({ short: 'uD', long: ['user', 'chdir', 'unit', 'property', 'description', 'slice', 'nice'] }, [
      'privilege',
    ]),
  ],
  ['su', su],
  ['runuser', runuser],
  ['chroot', chroot],
  [
    'nsenter',
    wrapper({ short: 'tmuinpUCrwSGTN', long: ['target', 'setuid', 'setgid', 'root', 'wd'] }, ['privilege']),
  ],
  [
    'unshare',
    wrapper({ long: ['setuid', 'setgid', 'root', 'wd', 'map-user', 'map-group', 'propagation'] }, [
      'privilege',
    ]),
  ],
  [
    'setpriv',
    wrapper(
      {
        long: [
          'reuid',
          'regid',
          'groups',
          'inh-caps',
          'ambient-caps',
          'bounding-set',
          'securebits',
          'selinux-label',
          'apparmor-profile',
        ],
      },
      ['privilege'],
    ),
  ],
  [
    'capsh',
    (args) =>
      args.some((a) => a.text === '--')
        ? because('runs a shell with the capabilities it sets', 'privilege', 'dynamic')
        : judged('privilege'),
  ],
  ['env', env],
  ['nice', wrapper({ short: 'n', long: ['adjustment'] })],
  ['nohup', wrapper({})],
  ['time', wrapper({ short: 'fo', long: ['format', 'output'] })],
  ['timeout', timeout],
  ['stdbuf', wrapper({ short: 'ioe', long: ['input', 'output', 'error'] })],
  ['ionice', wrapper({ short: 'cnpPu', long: ['class', 'classdata', 'pid', 'pgid', 'uid'] })],
  ['setsid', wrapper({})],
  [
    'taskset',
    (args) => {
      const parsed = parseOptions(args, { stopAtOperand: true });
      if (parsed.flags.has('p') || parsed.flags.has('pid')) return judged('write');
      const rest = args.slice(parsed.firstOperand + 1);
      return rest.length > 0 ? { classes: [], runs: [rest] } : judged('read');
    },
  ],
  [
    'chrt',
    (args) => {
      const parsed = parseOptions(args, {
        short: 'T',
        long: ['sched-runtime', 'sched-deadline', 'sched-period'],
        stopAtOperand: true,
      });
      if (parsed.flags.has('p') || parsed.flags.has('pid')) return judged('write');
      const rest = args.slice(parsed.firstOperand + 1);
      return rest.length > 0 ? { classes: [], runs: [rest] } : judged('read');
    },
  ],
  ['flock', flock],
  ['watch', watch],
  ['xargs', xargs],
  [
    'parallel',
    (args) => (args.length > 0 ? because('runs commands built from its input', 'dynamic') : judged('read')),
  ],
  ['find', find],
  ['exec', exec],
  ['command', command],
  ['builtin', (args) => (args.length > 0 ? { classes: [], runs: [args] } : judged('read'))],
  ['unbuffer', wrapper({})],
  ['strace', wrapper({ short: 'aeIobOpPsSuXU', long: ['output', 'user'] })],
  ['ltrace', wrapper({ short: 'aAeEFlnopsuwx', long: ['output', 'user'] })],
  ['valgrind', wrapper({})],
  [
    'systemd-run',
    wrapper(
      {
        short: 'pMEHuS',
        long: [
          'unit',
          'property',
          'description',
          'slice',
          'uid',
          'gid',
          'nice',
          'working-directory',
          'setenv',
          'machine',
          'host',
          'on-calendar',
          'on-active',
          'timer-property',
          'path-property',
          'socket-property',
        ],
      },
      ['write'],
    ),
  ],
  ['systemd-inhibit', wrapper({ long: ['what', 'who', 'why', 'mode'] })],
  ['torsocks', wrapper({}, ['network'])],
  ['proxychains', wrapper({ short: 'f' }, ['network'])],
  ['proxychains4', wrapper({ short: 'f' }, ['network'])],
  ['firejail', wrapper({})],
  ['faketime', (args) => (args.length > 1 ? { classes: [], runs: [args.slice(1)] } : judged('read'))],
  ['trap', trap],
  ['alias', alias],
  ['busybox', multicall],
  ['toybox', multicall],
  ...SHELLS.map((name): [string, CommandRule] => [name, shellCommand]),
  ...['python', 'python2', 'python3', 'pypy', 'pypy3'].map((name): [string, CommandRule] => [
    name,
    interpreter('c', 'm'),
  ]),
  ['perl', interpreter('eE')],
  ['ruby', interpreter('e')],
  ['irb', () => because('reads the code to run from its input', 'dynamic')],
  ['node', interpreter('ep')],
  ['nodejs', interpreter('ep')],
  ['deno', () => because('runs code the text does not show', 'unknown')],
  ['bun', () => because('runs code the text does not show', 'unknown')],
  ['php', interpreter('rRBEF')],
  ['lua', interpreter('e')],
  ['luajit', interpreter('e')],
  ['Rscript', interpreter('e')],
  ['tclsh', interpreter('')],
  ['julia', interpreter('eE')],
  ['pwsh', interpreter('cC')],
  ['osascript', interpreter('e')],
  ['npx', () => because('downloads and runs a package', 'package', 'dynamic')],
  ['pnpx', () => because('downloads and runs a package', 'package', 'dynamic')],
  ['bunx', () => because('downloads and runs a package', 'package', 'dynamic')],
  ['uvx', () => because('downloads and runs a package', 'package', 'dynamic')],
]);

/** Whether `name` is a shell, for the classifier's reasons. */
export const isShell = (name: string): boolean => SHELLS.includes(name);

export type { CommandJudgement };
