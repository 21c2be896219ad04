/**
 * Reads the `ssh:` section of a policy file onto the preset's SSH defaults:
 *
 *   ssh:
 *     shell: allow                 # allow | approve | deny
 *     exec:
 *       block: [destructive, { command: [shutdown, reboot] }]
 *       approve: [privilege, { class: write, command: systemctl }]
 *       allow: [{ command: uptime }]
 *       unparseable: deny          # deny | approve
 *     sftp: read-only              # allow | read-only | deny
 *     forward: ['localhost:5432']  # ssh -L destinations (host:port, host:*)
 *     env: [LANG, 'LC_*']
 *     mask_output: [card, email]
 *     record_input: true
 *     record_exec_output: 1MiB
 */
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { DETECTOR_NAMES, type DetectorName } from './masking/detectors.ts';
import type { Verdict } from './verdict.ts';
import { EXEC_CLASSES, type ExecClass } from './shell/exec-classes.ts';
import type { ExecRule, ForwardDestination, SftpMode, ShellVerdict, SshPolicy } from './ssh-policy.ts';

type Fail = (node: Node | null | undefined, field: string, problem: string) => never;

export interface SectionContext {
  file: string;
  lineOf: (node: Node | null | undefined) => number;
  fail: Fail;
}

const SSH_KEYS = [
  'shell',
  'exec',
  'sftp',
  'forward',
  'env',
  'mask_output',
  'record_input',
  'record_exec_output',
];
const EXEC_KEYS = ['block', 'approve', 'allow', 'unparseable'];
const VERDICTS: Record<string, Verdict> = { block: 'block', approve: 'approve', allow: 'allow' };

function scalarText(node: Node | undefined): string {
  return node && isScalar(node) ? String(node.value) : '';
}

function oneOf<T extends string>(node: Node, field: string, values: readonly T[], fail: Fail): T {
  const text = scalarText(node);
  if (!(values as readonly string[]).includes(text)) fail(node, field, `must be one of ${values.join(', ')}`);
  return text as T;
}

function knownKeys(map: YAMLMap, allowed: readonly string[], where: string, fail: Fail): void {
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!allowed.includes(key)) {
      fail(
        pair.key as Node,
        `${where}.${key || 'key'}`,
        `unknown key; expected one of ${allowed.join(', ')}`,
      );
    }
  }
}

function list(node: Node, field: string, what: string, fail: Fail): Node[] {
  if (!isSeq(node)) fail(node, field, `must be a list of ${what}`);
  return (node as unknown as { items: Node[] }).items;
}

export function readSshSection(node: Node, base: SshPolicy, ctx: SectionContext): SshPolicy {
  const { fail } = ctx;
  if (!isMap(node)) return fail(node, 'ssh', `must be a mapping of ${SSH_KEYS.join(', ')}`);
  knownKeys(node, SSH_KEYS, 'ssh', fail);
  const field = (key: string): Node | undefined => node.get(key, true) as Node | undefined;
  const policy: SshPolicy = { ...base, exec: { ...base.exec } };

  const shell = field('shell');
  if (shell) policy.shell = oneOf<ShellVerdict>(shell, 'ssh.shell', ['allow', 'approve', 'deny'], fail);
  const sftp = field('sftp');
  if (sftp) policy.sftp = oneOf<SftpMode>(sftp, 'ssh.sftp', ['allow', 'read-only', 'deny'], fail);
  const exec = field('exec');
  if (exec) policy.exec = readExec(exec, base.exec, ctx);
  const forward = field('forward');
  if (forward) {
    policy.forward = list(forward, 'ssh.forward', 'host:port destinations', fail).map((item, i) =>
      readDestination(item, `ssh.forward[${i}]`, fail),
    );
  }
  const env = field('env');
  if (env) {
    policy.env = list(env, 'ssh.env', 'variable names', fail).map((item, i) => {
      const name = scalarText(item);
      if (!/^[A-Za-z_][A-Za-z0-9_]*\*?$/.test(name))
        fail(item, `ssh.env[${i}]`, 'must be a variable name, optionally ending in *');
      return name;
    });
  }
  const mask = field('mask_output');
  if (mask) {
    policy.maskOutput = list(mask, 'ssh.mask_output', 'detectors', fail).map((item, i) =>
      oneOf<DetectorName>(item, `ssh.mask_output[${i}]`, DETECTOR_NAMES, fail),
    );
  }
  const recordInput = field('record_input');
  if (recordInput) {
    if (!isScalar(recordInput) || typeof recordInput.value !== 'boolean')
      fail(recordInput, 'ssh.record_input', 'must be true or false');
    policy.recordInput = (recordInput as unknown as { value: boolean }).value;
  }
  const recordOutput = field('record_exec_output');
  if (recordOutput) {
    const bytes = parseSize(scalarText(recordOutput));
    if (bytes === undefined)
      fail(recordOutput, 'ssh.record_exec_output', 'must be a size such as 0, 64KiB or 1MiB');
    policy.recordExecOutputBytes = bytes!;
  }
  return policy;
}

function readExec(node: Node, base: SshPolicy['exec'], ctx: SectionContext): SshPolicy['exec'] {
  const { fail } = ctx;
  if (!isMap(node)) return fail(node, 'ssh.exec', `must be a mapping of ${EXEC_KEYS.join(', ')}`);
  knownKeys(node, EXEC_KEYS, 'ssh.exec', fail);
  const rules: ExecRule[] = [];
  for (const [key, verdict] of Object.entries(VERDICTS)) {
    const entries = node.get(key, true) as Node | undefined;
    if (!entries) continue;
    list(entries, `ssh.exec.${key}`, 'classes or {class, command} rules', fail).forEach((item, index) => {
      rules.push(
        ...readExecRule(item, `ssh.exec.${key}[${index}]`, verdict, `${ctx.file}:${ctx.lineOf(item)}`, fail),
      );
    });
  }
  let unparseable = base.unparseable;
  const unparseableNode = node.get('unparseable', true) as Node | undefined;
  if (unparseableNode) {
    const value = oneOf(unparseableNode, 'ssh.exec.unparseable', ['deny', 'approve'], fail);
    unparseable = value === 'deny' ? 'block' : 'approve';
  }
  return { defaults: base.defaults, rules, unparseable };
}

function readExecRule(item: Node, where: string, verdict: Verdict, source: string, fail: Fail): ExecRule[] {
  if (isScalar(item)) return [{ verdict, class: readClass(item, where, fail), source }];
  if (!isMap(item)) return fail(item, where, 'must be a class name or a {class, command} mapping');
  knownKeys(item, ['class', 'command'], where, fail);
  const classNode = item.get('class', true) as Node | undefined;
  const commandNode = item.get('command', true) as Node | undefined;
  const cls = classNode ? readClass(classNode, `${where}.class`, fail) : undefined;
  if (!commandNode) {
    if (!cls) fail(item, where, 'a rule needs a class, a command or both');
    return [{ verdict, class: cls, source }];
  }
  const commands = isSeq(commandNode) ? (commandNode.items as Node[]) : [commandNode];
  return commands.map((command, i) => {
    const name = scalarText(command);
    if (!/^[^\s/]+$/.test(name))
      fail(
        command,
        `${where}.command${isSeq(commandNode) ? `[${i}]` : ''}`,
        'must be a command name (no path, no spaces)',
      );
    return { verdict, ...(cls ? { class: cls } : {}), command: name, source };
  });
}

function readClass(node: Node, where: string, fail: Fail): ExecClass {
  return oneOf<ExecClass>(node, where, EXEC_CLASSES, fail);
}

function readDestination(node: Node, where: string, fail: Fail): ForwardDestination {
  const text = scalarText(node);
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._*-]+)):(\d{1,5}|\*)$/.exec(text);
  const port = match?.[3] === '*' ? '*' : Number(match?.[3]);
  if (!match || (port !== '*' && (port < 1 || port > 65_535))) {
    return fail(node, where, 'must be host:port, [ipv6]:port or host:* (for example localhost:5432)');
  }
  return { host: (match[1] ?? match[2])!, port };
}

export function parseSize(text: string): number | undefined {
  const match = /^(\d+)\s*(B|KiB|KB|MiB|MB|GiB|GB)?$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? 'B').toLowerCase();
  const factor = unit.startsWith('g')
    ? 1024 ** 3
    : unit.startsWith('m')
      ? 1024 ** 2
      : unit.startsWith('k')
        ? 1024
        : 1;
  return Number(match[1]) * factor;
}
