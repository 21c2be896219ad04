/**
 * Commands whose class depends on their subcommand or options: git, systemctl, kill, rsync, tar, chmod,
 * sed, awk, docker, kubectl… An argument that decides the class but comes from an expansion makes the
 * command dynamic: what it will do is not in the text.
 */
import { exactText, isPrivilegeFile, isSystemPath, parseOptions, subcommandOf, textOf } from './arguments.ts';
import { because, judged, type Argument, type CommandRule, type ExecClass } from './exec-classes.ts';

const unknownSubcommand = (tool: string) =>
  because(`the ${tool} subcommand comes from an expansion`, 'dynamic');

/** A table subcommand → class with a default for subcommands not listed. */
function bySubcommand(
  tool: string,
  table: Record<string, ExecClass | CommandRule>,
  fallback: ExecClass,
  options: Parameters<typeof subcommandOf>[1] = {},
  none: ExecClass = 'read',
): CommandRule {
  return (args) => {
    const sub = subcommandOf(args, options);
    if (!sub.known) return sub.index >= args.length ? judged(none) : unknownSubcommand(tool);
    if (sub.name === undefined) return judged(none);
    const entry = table[sub.name] ?? fallback;
    return typeof entry === 'function' ? entry(args.slice(sub.index + 1)) : judged(entry);
  };
}

const spread = (names: string, cls: ExecClass): Record<string, ExecClass> =>
  Object.fromEntries(
    names
      .split(/\s+/)
      .filter(Boolean)
      .map((name) => [name, cls]),
  );

// ---------------------------------------------------------------------------------------------------
// Services

const SYSTEMCTL: Record<string, ExecClass> = {
  ...spread(
    'status show cat list-units list-unit-files list-sockets list-timers list-jobs list-dependencies ' +
      'list-machines list-paths is-active is-enabled is-failed is-system-running get-default help ' +
      'show-environment log-level log-target service-log-level service-log-target',
    'read',
  ),
  ...spread(
    'start restart reload try-restart reload-or-restart try-reload-or-restart condrestart enable reenable ' +
      'preset preset-all daemon-reload daemon-reexec edit set-property reset-failed revert link add-wants ' +
      'add-requires set-environment unset-environment import-environment unmask thaw',
    'write',
  ),
  ...spread(
    'stop disable mask kill isolate poweroff reboot halt kexec suspend hibernate hybrid-sleep ' +
      'suspend-then-hibernate rescue emergency default exit soft-reboot freeze clean',
    'destructive',
  ),
};

const systemctl: CommandRule = bySubcommand('systemctl', SYSTEMCTL, 'write', {
  short: 'tpnoHMs',
  long: [
    'type',
    'property',
    'lines',
    'output',
    'host',
    'machine',
    'signal',
    'state',
    'job-mode',
    'root',
    'kill-whom',
    'what',
    'timestamp',
    'message',
    'when',
  ],
});

const service: CommandRule = (args) => {
  if (args[0]?.text === '--status-all' || args[0]?.text === '--help') return judged('read');
  const action = args[1];
  if (action === undefined) return judged('read');
  const text = exactText(action);
  if (text === undefined) return unknownSubcommand('service');
  if (text === 'status') return judged('read');
  return judged(text === 'stop' ? 'destructive' : 'write');
};

// ---------------------------------------------------------------------------------------------------
// Processes

/** kill: pid 1 and -1 (every process) are destructive; an expansion might be either. */
const kill: CommandRule = (args) => {
  const first = textOf(args[0]);
  if (first === '-l' || first === '-L' || first === '--list' || first === '--table') return judged('read');
  let pids = args;
  if (first === '-s' || first === '-n' || first === '--signal') pids = args.slice(2);
  else if (first !== undefined && /^-[A-Za-z0-9+]+$/.test(first) && first !== '-1') pids = args.slice(1);
  else if (first === '-1' && args.length > 1) pids = args.slice(1);
  if (pids[0]?.text === '--') pids = pids.slice(1);
  for (const pid of pids) {
    if (pid.text === undefined)
      return because('the process id comes from an expansion (it could be 1)', 'dynamic');
    if (pid.text === '1' || pid.text === '-1') return because('signals init or every process', 'destructive');
  }
  return judged('write');
};

// ---------------------------------------------------------------------------------------------------
// Files

const PERMISSION_OPTIONS = { long: ['reference', 'from'] };

/** chmod: privilege on system paths or with setuid/setgid bits; otherwise a write. */
const chmod: CommandRule = (args) => {
  const parsed = parseOptions(args, PERMISSION_OPTIONS);
  const [mode, ...paths] = parsed.operands;
  const modeText = mode?.text;
  if (modeText === undefined) return because('the mode comes from an expansion', 'dynamic');
  if (/[ug]?\+[rwxXt]*s|^[0-7]?[2-7][0-7]{3}$/.test(modeText))
    return because('sets a setuid or setgid bit', 'privilege');
  return paths.some((p) => p.text === undefined || isSystemPath(p.text))
    ? judged('privilege')
    : judged('write');
};

/** chown/chgrp change who owns files: a privilege in itself. */
const chown: CommandRule = () => judged('privilege');

/** rsync: remote ends are network; --delete destroys; `rsync --server` is the far end of a transfer. */
const rsync: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'efTBM',
    long: [
      'rsh',
      'rsync-path',
      'filter',
      'exclude',
      'include',
      'exclude-from',
      'include-from',
      'files-from',
      'temp-dir',
      'compare-dest',
      'copy-dest',
      'link-dest',
      'backup-dir',
      'suffix',
      'chmod',
      'chown',
      'usermap',
      'groupmap',
      'password-file',
      'port',
      'log-file',
      'partial-dir',
      'timeout',
      'contimeout',
      'bwlimit',
      'max-size',
      'min-size',
    ],
  });
  const classes = new Set<ExecClass>();
  const reasons: string[] = [];
  if (parsed.flags.has('server')) classes.add(parsed.flags.has('sender') ? 'read' : 'write');
  else classes.add('write');
  if (parsed.operands.some((o) => o.text === undefined || /^[^/]*:|^rsync:\/\//.test(o.text)))
    classes.add('network');
  if ([...parsed.flags].some((flag) => flag.startsWith('delete') || flag === 'remove-source-files')) {
    classes.add('destructive');
  }
  if (parsed.values.has('rsync-path')) {
    classes.add('dynamic');
    reasons.push('--rsync-path runs a command on the far end');
  }
  return { classes: [...classes], reasons };
};

/** scp -t / -f are the far ends of a legacy scp transfer (receiving, sending); otherwise a client. */
const scp: CommandRule = (args) => {
  const parsed = parseOptions(args, { short: 'cFiJlPoSDX' });
  if (parsed.flags.has('t')) return judged('write');
  if (parsed.flags.has('f')) return judged('read');
  return judged('network', 'write');
};

/** tar: extracting writes, creating into a file writes, listing reads; some options run programs. */
const tar: CommandRule = (args) => {
  const first = textOf(args[0]);
  const oldStyle = first !== undefined && !first.startsWith('-') ? `-${first}` : undefined;
  const words = oldStyle ? [{ text: oldStyle, exact: true }, ...args.slice(1)] : args;
  const parsed = parseOptions(words, {
    short: 'fCbIFgKLNTVX',
    long: [
      'file',
      'directory',
      'use-compress-program',
      'info-script',
      'new-volume-script',
      'to-command',
      'checkpoint-action',
      'exclude',
      'exclude-from',
      'files-from',
      'transform',
      'owner',
      'group',
      'mode',
      'newer',
      'after-date',
    ],
  });
  const has = (...names: string[]) => names.some((n) => parsed.flags.has(n));
  if (
    has('I', 'use-compress-program', 'F', 'info-script', 'new-volume-script', 'to-command') ||
    (parsed.values.get('checkpoint-action') ?? []).some((v) => v === undefined || v.startsWith('exec'))
  ) {
    return because('runs a program named in its options', 'dynamic');
  }
  const classes: ExecClass[] = [];
  if (has('remove-files')) classes.push('destructive');
  if (has('x', 'extract', 'get', 'r', 'append', 'u', 'update', 'A', 'catenate', 'concatenate', 'delete'))
    classes.push('write');
  else if (has('c', 'create')) {
    const file = parsed.values.get('f') ?? parsed.values.get('file');
    classes.push(file && file.some((f) => f !== '-') ? 'write' : 'read');
  } else classes.push('read');
  return { classes };
};

/** crontab -l reads, -r removes everything, anything else installs a table. */
const crontab: CommandRule = (args) => {
  const parsed = parseOptions(args, { short: 'u' });
  const classes: ExecClass[] = parsed.flags.has('r')
    ? ['destructive']
    : parsed.flags.has('l')
      ? ['read']
      : ['write'];
  if (parsed.values.has('u')) classes.push('privilege');
  return { classes };
};

/** sed: -i writes files; the e command runs shell code; w writes files. */
const sed: CommandRule = (args) => {
  const parsed = parseOptions(args, { short: 'efl', long: ['expression', 'file', 'line-length'] });
  const scripts = [...(parsed.values.get('e') ?? []), ...(parsed.values.get('expression') ?? [])];
  if (parsed.values.has('f') || parsed.values.has('file'))
    return because('runs a sed script from a file', 'unknown');
  if (scripts.length === 0) scripts.push(parsed.operands[0]?.text);
  if (scripts.some((s) => s === undefined))
    return because('the sed program comes from an expansion', 'dynamic');
  const classes = new Set<ExecClass>(['read']);
  if (
    parsed.flags.has('i') ||
    parsed.flags.has('in-place') ||
    [...parsed.flags].some((f) => f.startsWith('in-place'))
  )
    classes.add('write');
  for (const script of scripts as string[]) {
    if (
      /(^|[;\n{}]|[0-9$/])\s*e(\s|;|$)|s(.)(?:\\.|(?!\3)[^\\])*\3(?:\\.|(?!\3)[^\\])*\3[gpiImM0-9w]*e/.test(
        script,
      )
    ) {
      return because('the sed program runs shell commands (e)', 'dynamic');
    }
    if (
      /(^|[;\n{}]|[0-9$/])\s*[wW]\s|s(.)(?:\\.|(?!\2)[^\\])*\2(?:\\.|(?!\2)[^\\])*\2[gpiImMe0-9]*w/.test(
        script,
      )
    )
      classes.add('write');
  }
  return { classes: [...classes] };
};

/** awk: system(), pipes and getline run commands; print > file writes. */
const awk: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'fvFei',
    long: ['file', 'assign', 'field-separator', 'source', 'include', 'load'],
  });
  if (
    parsed.values.has('f') ||
    parsed.values.has('file') ||
    parsed.values.has('include') ||
    parsed.values.has('load')
  ) {
    return because('runs an awk program from a file', 'unknown');
  }
  const inPlace = (parsed.values.get('i') ?? []).includes('inplace');
  const programs = [...(parsed.values.get('e') ?? []), ...(parsed.values.get('source') ?? [])];
  if (programs.length === 0) programs.push(parsed.operands[0]?.text);
  if (programs.some((p) => p === undefined))
    return because('the awk program comes from an expansion', 'dynamic');
  const classes = new Set<ExecClass>(['read']);
  if (inPlace) classes.add('write');
  for (const program of programs as string[]) {
    if (/\bsystem\s*\(|\|\s*(getline|&)|"\s*\|\s*getline|\bprintf?\b[^;}]*\|/.test(program)) {
      return because('the awk program runs commands', 'dynamic');
    }
    if (/\bprintf?\b[^;}]*>/.test(program)) classes.add('write');
  }
  return { classes: [...classes] };
};

/** curl and wget reach the network; saving to a file is also a write. */
const curl: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'odHXuUAeEKmrTwxzbcCDFhQYyLt',
    long: [
      'output',
      'data',
      'header',
      'request',
      'user',
      'config',
      'upload-file',
      'output-dir',
      'form',
      'cookie',
      'cookie-jar',
      'dump-header',
      'url',
    ],
  });
  const writes =
    parsed.flags.has('o') ||
    parsed.flags.has('O') ||
    parsed.flags.has('output') ||
    parsed.flags.has('remote-name') ||
    parsed.flags.has('c') ||
    parsed.flags.has('cookie-jar') ||
    parsed.flags.has('D') ||
    parsed.flags.has('dump-header');
  return judged('network', ...(writes ? (['write'] as ExecClass[]) : []));
};

const wget: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'OoaPi',
    long: ['output-document', 'output-file', 'directory-prefix', 'input-file'],
  });
  const toStdout =
    (parsed.values.get('O') ?? parsed.values.get('output-document') ?? []).every((v) => v === '-') &&
    (parsed.values.has('O') || parsed.values.has('output-document'));
  return judged('network', ...(toStdout || parsed.flags.has('spider') ? [] : (['write'] as ExecClass[])));
};

// ---------------------------------------------------------------------------------------------------
// System settings

const sysctl: CommandRule = (args) => {
  const parsed = parseOptions(args, { short: 'p', long: ['load'] });
  if (
    parsed.flags.has('w') ||
    parsed.flags.has('write') ||
    parsed.flags.has('p') ||
    parsed.flags.has('load') ||
    parsed.flags.has('system')
  )
    return judged('privilege');
  return parsed.operands.some((o) => o.text === undefined || o.text.includes('='))
    ? judged('privilege')
    : judged('read');
};

const journalctl: CommandRule = (args) =>
  args.some(
    (a) =>
      a.text === undefined ||
      /^--(vacuum-|rotate|flush|sync|relinquish-var|smart-relinquish-var|setup-keys)/.test(a.text),
  )
    ? judged('write')
    : judged('read');

/** ip OBJECT COMMAND: show/list read; add/del/set change the network; netns exec runs a command. */
const ip: CommandRule = (args) => {
  const parsed = parseOptions(args, {
    short: 'fbnrc',
    long: ['family', 'batch', 'netns', 'rc', 'color'],
    stopAtOperand: true,
  });
  if (parsed.values.has('b') || parsed.values.has('batch'))
    return because('runs ip commands from a file', 'network');
  const [object, action, ...rest] = args.slice(parsed.firstOperand);
  if (!object) return judged('read');
  if (object.text === undefined || (action && action.text === undefined)) return unknownSubcommand('ip');
  if (/^netns$/.test(object.text) && action?.text === 'exec') {
    const command = rest.slice(1);
    return command.length > 0 ? { classes: ['privilege'], runs: [command] } : judged('privilege');
  }
  if (!action || /^(show|list|ls|lst|get|monitor|help)$/.test(action.text!)) return judged('read');
  return judged('network');
};

/** hostname NAME, date -s, timedatectl set-…, hostnamectl set-… change system settings. */
const settingCommand =
  (isChange: (args: Argument[]) => boolean): CommandRule =>
  (args) =>
    isChange(args) ? judged('privilege') : judged('read');

const openssl: CommandRule = (args) => {
  const sub = exactText(args[0]);
  if (sub === undefined && args.length > 0) return unknownSubcommand('openssl');
  const classes = new Set<ExecClass>(['read']);
  if (sub && /^(s_client|s_server|s_time|ocsp)$/.test(sub)) classes.add('network');
  if (args.some((a) => a.text === '-out' || a.text === '-keyout')) classes.add('write');
  return { classes: [...classes] };
};

const sshKeygen: CommandRule = (args) => {
  const parsed = parseOptions(args, { short: 'bCEfFIMNnOrtVwYZaDGJjKRSTuzsPm' });
  if (['l', 'F', 'y', 'L', 'Q', 'D', 'B'].some((f) => parsed.flags.has(f)) && !parsed.flags.has('R'))
    return judged('read');
  return judged('write');
};

/** printf -v NAME, read, unset, test -v NAME: a subscript in NAME is evaluated, $(…) in it runs. */
const evaluatesNames: CommandRule = (args) =>
  args.some((a) => a.text !== undefined && /\[.*(\$\(|`)/.test(a.text))
    ? because('evaluates an array subscript that holds shell code', 'dynamic')
    : judged('read');

// ---------------------------------------------------------------------------------------------------
// Containers and clusters

const DOCKER: Record<string, ExecClass | CommandRule> = {
  ...spread('ps images logs inspect stats top version info events port diff search history', 'read'),
  ...spread('rm rmi kill stop down', 'destructive'),
  ...spread('run exec create attach', 'privilege'),
  ...spread('pull push login logout', 'network'),
  container: bySubcommand(
    'docker container',
    {
      ...spread('ls list inspect logs port stats top diff', 'read'),
      ...spread('rm kill stop prune', 'destructive'),
      ...spread('run exec create attach', 'privilege'),
    },
    'write',
  ),
  image: bySubcommand(
    'docker image',
    {
      ...spread('ls list inspect history', 'read'),
      ...spread('rm prune', 'destructive'),
      ...spread('pull push', 'network'),
    },
    'write',
  ),
  volume: bySubcommand(
    'docker volume',
    { ...spread('ls list inspect', 'read'), ...spread('rm prune', 'destructive') },
    'write',
  ),
  network: bySubcommand(
    'docker network',
    { ...spread('ls list inspect', 'read'), ...spread('rm prune disconnect', 'destructive') },
    'write',
  ),
  system: bySubcommand(
    'docker system',
    { ...spread('df info events', 'read'), prune: 'destructive' },
    'read',
  ),
  compose: bySubcommand(
    'docker compose',
    {
      ...spread('ps logs config ls top images version events port', 'read'),
      ...spread('down rm kill stop', 'destructive'),
      ...spread('run exec', 'privilege'),
      ...spread('pull push', 'network'),
    },
    'write',
    { short: 'fp', long: ['file', 'project-name', 'profile', 'env-file', 'project-directory'] },
  ),
  context: bySubcommand('docker context', spread('ls list show inspect', 'read'), 'write'),
  builder: bySubcommand('docker builder', { prune: 'destructive' }, 'write'),
  prune: 'destructive',
};

const docker = bySubcommand('docker', DOCKER, 'write', {
  short: 'Hcl',
  long: ['host', 'context', 'config', 'log-level', 'tlscacert', 'tlscert', 'tlskey'],
});

const KUBECTL: Record<string, ExecClass | CommandRule> = {
  ...spread(
    'get describe logs top explain version api-resources api-versions cluster-info diff events wait',
    'read',
  ),
  ...spread('delete drain', 'destructive'),
  ...spread('exec attach debug cp', 'privilege'),
  ...spread('port-forward proxy', 'network'),
  config: bySubcommand(
    'kubectl config',
    spread('view get-contexts current-context get-clusters get-users', 'read'),
    'write',
  ),
  auth: bySubcommand('kubectl auth', spread('can-i whoami', 'read'), 'write'),
  rollout: bySubcommand('kubectl rollout', spread('status history', 'read'), 'write'),
};

const kubectl = bySubcommand('kubectl', KUBECTL, 'write', {
  short: 'nsl',
  long: [
    'namespace',
    'context',
    'kubeconfig',
    'server',
    'cluster',
    'user',
    'token',
    'as',
    'as-group',
    'certificate-authority',
    'client-certificate',
    'client-key',
    'request-timeout',
    'cache-dir',
    'profile',
  ],
});

const helm = bySubcommand(
  'helm',
  {
    ...spread('list ls status get show history search template lint version env', 'read'),
    ...spread('uninstall delete', 'destructive'),
    repo: bySubcommand('helm repo', { list: 'read', ls: 'read' }, 'network'),
  },
  'write',
  { short: 'n', long: ['namespace', 'kube-context', 'kubeconfig'] },
);

export const TOOL_RULES: ReadonlyMap<string, CommandRule> = new Map<string, CommandRule>([
  ['systemctl', systemctl],
  ['service', service],
  ['kill', kill],
  ['chmod', chmod],
  ['chown', chown],
  ['chgrp', chown],
  ['rsync', rsync],
  ['scp', scp],
  ['tar', tar],
  ['crontab', crontab],
  ['sed', sed],
  ['gsed', sed],
  ...['awk', 'gawk', 'mawk', 'nawk'].map((name): [string, CommandRule] => [name, awk]),
  ['curl', curl],
  ['wget', wget],
  ['sysctl', sysctl],
  ['journalctl', journalctl],
  ['ip', ip],
  [
    'hostname',
    settingCommand(
      (args) =>
        parseOptions(args, { short: 'F', long: ['file'] }).operands.length > 0 ||
        args.some((a) => a.text === '-F' || a.text === '--file'),
    ),
  ],
  ['date', settingCommand((args) => args.some((a) => a.text === undefined || /^(-s|--set)/.test(a.text)))],
  ['timedatectl', settingCommand((args) => args.some((a) => a.text === undefined || /^set-/.test(a.text)))],
  [
    'hostnamectl',
    settingCommand((args) =>
      args.some(
        (a) =>
          a.text === undefined || /^(set-|hostname$|icon-name$|chassis$|deployment$|location$)/.test(a.text),
      ),
    ),
  ],
  ['openssl', openssl],
  ['ssh-keygen', sshKeygen],
  ...['printf', 'read', 'unset', 'test', '[', 'mapfile', 'readarray', 'wait'].map(
    (name): [string, CommandRule] => [name, evaluatesNames],
  ),
  ['docker', docker],
  ['podman', docker],
  ['nerdctl', docker],
  ['kubectl', kubectl],
  ['oc', kubectl],
  ['helm', helm],
  [
    'tee',
    (args) => {
      const files = parseOptions(args).operands;
      if (files.some((f) => isPrivilegeFile(f.text))) return judged('privilege', 'write');
      return judged(files.length > 0 ? 'write' : 'read');
    },
  ],
  ...[
    'psql',
    'mysql',
    'mariadb',
    'mongo',
    'mongosh',
    'redis-cli',
    'clickhouse-client',
    'cqlsh',
    'sqlcmd',
  ].map((name): [string, CommandRule] => [
    name,
    () => because('talks to a database server, whose statements this classifier does not judge', 'network'),
  ]),
  ['sqlite3', () => judged('write')],
]);
