/**
 * Package managers (install/remove is `package`, queries are `read`) and git (history rewrites and
 * forced pushes are destructive; config that names a program makes it dynamic).
 */
import { exactText, parseOptions, subcommandOf } from './arguments.ts';
import { because, judged, type CommandRule, type ExecClass } from './exec-classes.ts';

const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

/** `tool SUBCOMMAND …`: listed read subcommands read, everything else changes packages. */
function packageManager(
  tool: string,
  reads: string,
  options: Parameters<typeof subcommandOf>[1] = {},
  extra: Record<string, ExecClass> = {},
): CommandRule {
  const readSet = new Set(words(reads));
  return (args) => {
    if (
      args.some((a) => a.text === '--version' || a.text === '-v' || a.text === '--help') &&
      args.length === 1
    )
      return judged('read');
    const sub = subcommandOf(args, options);
    if (sub.index >= args.length) return judged('read');
    if (!sub.known || sub.name === undefined)
      return because(`the ${tool} subcommand comes from an expansion`, 'dynamic');
    return judged(extra[sub.name] ?? (readSet.has(sub.name) ? 'read' : 'package'));
  };
}

/** dpkg, rpm, pacman: the action is an option. */
function byActionOption(tool: string, isRead: (flags: Set<string>) => boolean): CommandRule {
  return (args) => {
    if (args.some((a) => a.text === undefined))
      return because(`the ${tool} action comes from an expansion`, 'dynamic');
    const parsed = parseOptions(args, { short: 'D', long: ['root', 'admindir', 'instdir', 'dbpath'] });
    return judged(isRead(parsed.flags) ? 'read' : 'package');
  };
}

const has = (flags: Set<string>, names: string): boolean => words(names).some((n) => flags.has(n));

const dpkg = byActionOption(
  'dpkg',
  (f) =>
    has(
      f,
      'l L s S p c I list listfiles status search print-avail contents info field print-architecture print-foreign-architectures get-selections compare-versions audit C V version help',
    ) &&
    !has(
      f,
      'i install r remove P purge unpack configure set-selections clear-selections update-avail merge-avail add-architecture remove-architecture',
    ),
);
const rpm = byActionOption(
  'rpm',
  (f) =>
    has(f, 'q query V verify K checksig') &&
    !has(f, 'i install U upgrade F freshen e erase import rebuilddb setperms setugids restore'),
);
const pacman = byActionOption(
  'pacman',
  (f) => has(f, 'Q F T V h') || (f.has('S') && has(f, 's i l g') && !has(f, 'y u')),
);

const pip = packageManager(
  'pip',
  'list show freeze check search index config debug help inspect cache hash completion',
  { short: 'r', long: ['python', 'log', 'proxy', 'cache-dir'] },
);
const npm = packageManager(
  'npm',
  'list ls ll la view info show v outdated audit search explain why help version doctor root prefix bin config get fund query ping whoami',
  {},
  {
    ...Object.fromEntries(words('exec x dlx create init').map((n) => [n, 'dynamic'])),
    ...Object.fromEntries(words('run run-script start test t restart stop').map((n) => [n, 'unknown'])),
    publish: 'network',
  } as Record<string, ExecClass>,
);

export const PACKAGE_RULES: ReadonlyMap<string, CommandRule> = new Map<string, CommandRule>([
  [
    'apt',
    packageManager('apt', 'list search show showsrc policy depends rdepends changelog moo help', {
      short: 'ocCt',
      long: ['option', 'config-file', 'target-release'],
    }),
  ],
  [
    'apt-get',
    packageManager(
      'apt-get',
      'changelog check moo help',
      { short: 'ocCt', long: ['option', 'config-file', 'target-release'] },
      { download: 'write', source: 'write' },
    ),
  ],
  [
    'aptitude',
    packageManager('aptitude', 'search show why why-not changelog versions help', { short: 'ot' }),
  ],
  ['apt-cache', () => judged('read')],
  ['apt-mark', packageManager('apt-mark', 'showauto showmanual showhold showinstall showremove showpurge')],
  ['dpkg', dpkg],
  ['rpm', rpm],
  ['pacman', pacman],
  ['yay', pacman],
  ['paru', pacman],
  ...words('yum dnf microdnf tdnf').map((name): [string, CommandRule] => [
    name,
    packageManager(
      name,
      'list info search provides whatprovides repolist repoinfo history check-update deplist repoquery help',
      {
        short: 'cdex',
        long: ['config', 'enablerepo', 'disablerepo', 'exclude', 'installroot', 'releasever', 'setopt'],
      },
    ),
  ]),
  [
    'zypper',
    packageManager(
      'zypper',
      'se search info if lr repos lp list-patches pa packages wp what-provides patterns pt products pd help',
      { short: 'cDrR', long: ['config', 'root', 'reposd-dir'] },
    ),
  ],
  [
    'apk',
    packageManager('apk', 'info search list policy stats version dot manifest audit', {
      short: 'Xp',
      long: ['repository', 'root'],
    }),
  ],
  [
    'snap',
    packageManager(
      'snap',
      'list info find search version services logs changes change connections interfaces get known model tasks warnings help',
      {},
      { run: 'unknown' },
    ),
  ],
  [
    'flatpak',
    packageManager(
      'flatpak',
      'list info search remotes remote-ls ps history documents permissions help',
      {},
      { run: 'unknown' },
    ),
  ],
  ...words('pip pip3 pipx').map((name): [string, CommandRule] => [name, pip]),
  ['npm', npm],
  ['pnpm', npm],
  ['yarn', (args) => (args.length === 0 ? judged('package') : npm(args))],
  [
    'gem',
    packageManager(
      'gem',
      'list search info query contents environment specification which help dependency outdated',
    ),
  ],
  [
    'cargo',
    packageManager('cargo', 'search tree metadata version help', {}, {
      ...Object.fromEntries(words('build check test bench run doc fmt clippy').map((n) => [n, 'unknown'])),
    } as Record<string, ExecClass>),
  ],
  [
    'go',
    packageManager(
      'go',
      'version env list doc vet help fmt',
      {},
      { build: 'write', run: 'unknown', test: 'unknown', generate: 'dynamic', tool: 'unknown', mod: 'write' },
    ),
  ],
  [
    'brew',
    packageManager(
      'brew',
      'list ls info search deps uses outdated config doctor leaves desc home --version help',
      {},
      { services: 'write' },
    ),
  ],
  ...words('conda mamba micromamba').map((name): [string, CommandRule] => [
    name,
    packageManager(name, 'list info search env help', {}, { run: 'unknown' }),
  ]),
  [
    'composer',
    packageManager(
      'composer',
      'show info outdated search depends why why-not validate diagnose licenses help',
      {},
      { run: 'unknown', exec: 'unknown', 'run-script': 'unknown' },
    ),
  ],
  ['git', (args) => git(args)],
]);

// ---------------------------------------------------------------------------------------------------
// git

/** Config keys whose value is a program git runs. */
const PROGRAM_KEYS =
  /^(core\.(pager|sshcommand|editor|fsmonitor|hookspath|gitproxy|askpass)|alias\.|diff\..*\.(textconv|command)|diff\.external|merge\..*\.driver|filter\..*\.(clean|smudge|process)|credential\.helper|sequence\.editor|gpg\.(program|ssh\.program)|pager\.|protocol\.ext\.allow|uploadpack\.packobjectshook|include\.path|includeif\.|remote\..*\.(uploadpack|receivepack)|http\.proxy|url\..*\.insteadof)/i;

const GIT_READ = new Set(
  words(
    'status log diff show blame annotate grep ls-files ls-tree rev-parse rev-list describe shortlog cat-file whatchanged count-objects version help show-ref for-each-ref name-rev cherry check-ignore check-attr check-ref-format var verify-commit verify-tag verify-pack fsck merge-base range-diff diff-tree diff-files diff-index show-branch reflog',
  ),
);
const GIT_NETWORK = new Set(
  words('clone fetch pull push ls-remote remote-update request-pull send-email archive-remote'),
);
const GIT_WRITE = new Set(
  words(
    'add commit checkout switch restore merge rebase cherry-pick revert reset stash mv rm tag init apply am bisect gc prune pack-refs repack update-index update-ref notes replace sparse-checkout maintenance config worktree submodule branch remote clean filter-branch filter-repo format-patch archive bundle mergetool difftool citool gui',
  ),
);

function git(args: Parameters<CommandRule>[0]): ReturnType<CommandRule> {
  const parsed = parseOptions(args, {
    short: 'Cc',
    long: ['git-dir', 'work-tree', 'namespace', 'exec-path', 'config-env', 'super-prefix', 'list-cmds'],
    stopAtOperand: true,
  });
  const configs = [...(parsed.values.get('c') ?? []), ...(parsed.values.get('config-env') ?? [])];
  if (configs.some((c) => c === undefined || PROGRAM_KEYS.test(c)) || parsed.values.has('exec-path')) {
    return because('its configuration names a program for git to run', 'dynamic');
  }
  const sub = parsed.operands[0];
  if (!sub) return judged('read');
  const name = exactText(sub);
  if (name === undefined) return because('the git subcommand comes from an expansion', 'dynamic');
  const rest = args.slice(parsed.firstOperand + 1).map((a) => a.text);
  const flag = gitFlags(rest);
  const classes = new Set<ExecClass>();
  if (GIT_READ.has(name)) classes.add('read');
  else if (GIT_NETWORK.has(name)) classes.add('network');
  else if (GIT_WRITE.has(name)) classes.add('write');
  else return because(`git ${name} is an alias or an external command`, 'unknown');
  if (gitDestroys(name, rest, flag)) classes.add('destructive');
  if (name === 'config' && rest.some((r) => r === undefined || PROGRAM_KEYS.test(r)))
    return because('sets a configuration that names a program for git to run', 'dynamic');
  if (gitOnlyLists(name, rest, flag) && !classes.has('destructive')) return judged('read');
  return { classes: [...classes] };
}

type GitArgs = (string | undefined)[];
type GitFlag = (...names: string[]) => boolean;

/** Whether the subcommand's arguments REST hold one of the flags named (a short one also among others: -fd). */
function gitFlags(rest: GitArgs): GitFlag {
  return (...names) =>
    rest.some(
      (r) =>
        r !== undefined &&
        names.some(
          (n) =>
            r === n ||
            (n.startsWith('-') && !n.startsWith('--') && /^-[a-zA-Z]+$/.test(r) && r.includes(n.slice(1))),
        ),
    );
}

/** Forced pushes, hard resets, forced cleans, deleted branches and refs, dropped stashes, rewritten history. */
function gitDestroys(name: string, rest: GitArgs, flag: GitFlag): boolean {
  switch (name) {
    case 'push':
      return (
        flag('-f', '--force', '--force-with-lease', '--delete', '-d', '--mirror', '--prune') ||
        rest.some((r) => r?.startsWith('+') || r?.startsWith(':') || r?.startsWith('--force'))
      );
    case 'reset':
      return flag('--hard', '--merge', '--keep');
    case 'clean':
      return flag('-f', '--force');
    case 'branch':
      return flag('-D', '-d', '--delete');
    case 'stash':
      return rest[0] !== undefined && ['clear', 'drop'].includes(rest[0]);
    case 'checkout':
    case 'restore':
      return flag('-f', '--force', '--worktree', '.');
    case 'filter-branch':
    case 'filter-repo':
      return true;
    case 'reflog':
      return rest[0] === 'expire';
    case 'update-ref':
      return flag('-d');
    case 'gc':
      return rest.some((r) => r?.startsWith('--prune'));
    default:
      return false;
  }
}

/** branch, tag, remote, config, stash and worktree with nothing to do or only listing: they read. */
function gitOnlyLists(name: string, rest: GitArgs, flag: GitFlag): boolean {
  return (
    ['branch', 'tag', 'remote', 'config', 'stash', 'worktree'].includes(name) &&
    (rest.length === 0 ||
      flag(
        '-l',
        '--list',
        '-v',
        '-a',
        '-r',
        '--show-current',
        '--get',
        '--get-all',
        '--get-regexp',
        'list',
        'show',
      ))
  );
}
