import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { splitIdentifiers } from '../../hub/api/policy-names.ts';
import { STATEMENT_CLASSES, type StatementClass } from './classifier.ts';
import { DETECTOR_NAMES, type DetectorName } from './masking/detectors.ts';
import type { MaskStrategy } from './masking/strategies.ts';
import {
  DEFAULT_HOLD_TIMEOUT_MS,
  presetPolicy,
  PRESETS,
  type MaskRule,
  type NamedInPolicy,
  type Policy,
  type Preset,
  type StatementRule,
  type TablePattern,
  type Verdict,
} from './policy.ts';
import { readSshSection, type SectionContext } from './ssh-policy-file.ts';

/** A policy file that cannot be used: names the file, the line and the field. */
export class PolicyFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    problem: string,
  ) {
    super(`${line > 0 ? `${file}:${line}` : file}: ${field}: ${problem}`);
    this.name = 'PolicyFileError';
  }
}

export interface PolicyOptions {
  /** Key for the `hash` strategy; deterministic masks join only under the same key. */
  maskKey?: Buffer;
}

const TOP_LEVEL_KEYS = [
  'extends',
  'block',
  'approve',
  'allow',
  'mask',
  'detect',
  'hold_timeout',
  'recording',
  'trusted_extensions',
  'trusted_functions',
  'ssh',
] as const;
const VERDICT_KEYS: Record<string, Verdict> = { block: 'block', approve: 'approve', allow: 'allow' };
const STRATEGIES = ['redact', 'partial', 'email', 'hash', 'null'] as const;

/** `extends` a preset name, or a policy file: what `--policy` and a target's policy accept. */
export function resolvePolicy(spec: string, options: PolicyOptions = {}): Policy {
  if ((PRESETS as readonly string[]).includes(spec)) return presetPolicy(spec as Preset);
  if (!existsSync(spec)) {
    throw new PolicyFileError(
      spec,
      0,
      'policy',
      `not a preset (${PRESETS.join(', ')}) nor an existing policy file`,
    );
  }
  return loadPolicyFile(spec, options);
}

export function loadPolicyFile(file: string, options: PolicyOptions = {}): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyFileError(
      file,
      0,
      'file',
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  return parsePolicy(text, file, options);
}

export function parsePolicy(text: string, file: string, options: PolicyOptions = {}): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number =>
    node?.range ? lines.linePos(node.range[0]).line : 1;
  const fail = (node: Node | null | undefined, field: string, problem: string): never => {
    throw new PolicyFileError(file, lineOf(node), field, problem);
  };
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    throw new PolicyFileError(file, lines.linePos(error.pos[0]).line, 'yaml', error.message.split('\n')[0]!);
  }
  const root = doc.contents;
  if (root === null) return presetPolicy('guarded');
  if (!isMap(root)) return fail(root, 'policy', 'must be a mapping of keys such as extends, block, mask');
  checkTopLevelKeys(root, fail);
  return readPolicy(root, { file, lineOf, fail }, options);
}

/** The policy ROOT (a mapping of known keys) asks for, onto the preset it extends. */
function readPolicy(root: YAMLMap, ctx: SectionContext, options: PolicyOptions): Policy {
  const field = (key: string): Node | undefined => root.get(key, true) as Node | undefined;
  const preset = readPreset(field('extends'), ctx);
  const rules = readStatementRules(field, ctx);
  const mask = readMaskRules(field('mask'), ctx, options);
  const detect = readDetectors(field('detect'), ctx);
  const holdTimeoutMs = readHoldTimeout(field('hold_timeout'), ctx);
  const recording = readRecording(field('recording'), ctx);
  const trustedExtensions = readNames(field('trusted_extensions'), 'trusted_extensions', ctx).map(
    ({ named }) => named,
  );
  const trustedFunctions = readTrustedFunctions(field('trusted_functions'), ctx);
  const base = presetPolicy(preset);
  const sshNode = field('ssh');
  const ssh = sshNode ? readSshSection(sshNode, base.ssh, ctx) : base.ssh;
  return {
    ...base,
    rules,
    mask,
    detect,
    holdTimeoutMs,
    recording,
    name: ctx.file,
    trustedExtensions,
    trustedFunctions,
    ssh,
  };
}

function checkTopLevelKeys(root: YAMLMap, fail: Fail): void {
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) {
      fail(pair.key as Node, key || 'key', `unknown key; expected one of ${TOP_LEVEL_KEYS.join(', ')}`);
    }
  }
}

function readPreset(node: Node | undefined, { fail }: SectionContext): Preset {
  if (node === undefined) return 'guarded';
  const value = isScalar(node) ? String(node.value) : '';
  if (!(PRESETS as readonly string[]).includes(value)) {
    fail(node, 'extends', `must be one of ${PRESETS.join(', ')}, got "${value}"`);
  }
  return value as Preset;
}

/** The block, approve and allow lists, in that order. */
function readStatementRules(field: (key: string) => Node | undefined, ctx: SectionContext): StatementRule[] {
  const { file, lineOf, fail } = ctx;
  const rules: StatementRule[] = [];
  for (const [key, verdict] of Object.entries(VERDICT_KEYS)) {
    const list = field(key);
    if (list === undefined) continue;
    if (!isSeq(list)) fail(list, key, 'must be a list of classes or {class, table} rules');
    (list as { items: Node[] }).items.forEach((item, index) => {
      rules.push(readRule(item, `${key}[${index}]`, verdict, `${file}:${lineOf(item)}`, fail));
      if (rules.at(-1)!.table !== undefined) rules.at(-1)!.field = `${key}[${index}].table`;
    });
  }
  return rules;
}

function readMaskRules(list: Node | undefined, ctx: SectionContext, options: PolicyOptions): MaskRule[] {
  const { file, lineOf, fail } = ctx;
  if (list === undefined) return [];
  if (!isSeq(list)) fail(list, 'mask', 'must be a list of {column, strategy} rules');
  const key = options.maskKey ?? randomBytes(32);
  return (list as { items: Node[] }).items.map((item, index) => ({
    ...readMaskRule(item, `mask[${index}]`, `${file}:${lineOf(item)}`, key, fail),
    field: `mask[${index}].column`,
  }));
}

function readDetectors(list: Node | undefined, { fail }: SectionContext): DetectorName[] {
  if (list === undefined) return [];
  if (!isSeq(list)) fail(list, 'detect', `must be a list of ${DETECTOR_NAMES.join(', ')}`);
  return (list as { items: Node[] }).items.map((item, index) => {
    const name = isScalar(item) ? String(item.value) : '';
    if (!(DETECTOR_NAMES as readonly string[]).includes(name)) {
      fail(
        item,
        `detect[${index}]`,
        `unknown detector "${name}"; expected one of ${DETECTOR_NAMES.join(', ')}`,
      );
    }
    return name as DetectorName;
  });
}

function readHoldTimeout(node: Node | undefined, { fail }: SectionContext): number {
  if (node === undefined) return DEFAULT_HOLD_TIMEOUT_MS;
  const ms = isScalar(node) ? parseDuration(String(node.value)) : undefined;
  if (ms === undefined) fail(node, 'hold_timeout', 'must be a duration such as 90s, 5m or 1h');
  return ms!;
}

function readRecording(node: Node | undefined, { fail }: SectionContext): Policy['recording'] {
  if (node === undefined) return 'best-effort';
  const value = isScalar(node) ? String(node.value) : '';
  if (value !== 'strict' && value !== 'best-effort') fail(node, 'recording', 'must be strict or best-effort');
  return value as Policy['recording'];
}

function readTrustedFunctions(list: Node | undefined, ctx: SectionContext): NamedInPolicy[] {
  return readNames(list, 'trusted_functions', ctx).map(({ named, node }) => {
    const parts = splitIdentifiers(named.name);
    if (!parts || parts.length > 2) return ctx.fail(node, named.field, 'must be [schema.]function');
    return parts.length === 2
      ? { ...named, schema: parts[0], name: parts[1]! }
      : { ...named, name: parts[0]! };
  });
}

/** A list of names (`trusted_extensions`, `trusted_functions`), each with where the file gives it. */
function readNames(
  list: Node | undefined,
  key: string,
  { file, lineOf, fail }: SectionContext,
): { named: NamedInPolicy; node: Node }[] {
  if (list === undefined) return [];
  if (!isSeq(list)) return fail(list, key, 'must be a list of names');
  return (list as { items: Node[] }).items.map((node, index) => {
    const name = isScalar(node) && typeof node.value === 'string' ? node.value.trim() : '';
    if (name === '') fail(node, `${key}[${index}]`, 'must be a name');
    return { named: { name, source: `${file}:${lineOf(node)}`, field: `${key}[${index}]` }, node };
  });
}

type Fail = (node: Node | null | undefined, field: string, problem: string) => never;

function readRule(item: Node, where: string, verdict: Verdict, source: string, fail: Fail): StatementRule {
  if (isScalar(item)) return { verdict, class: readClass(item, where, fail), source };
  if (!isMap(item)) return fail(item, where, 'must be a class name or a {class, table} mapping');
  let cls: StatementClass | undefined;
  let table: TablePattern | undefined;
  for (const pair of item.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node;
    if (key === 'class') cls = readClass(value, `${where}.class`, fail);
    else if (key === 'table') table = readTable(value, `${where}.table`, fail);
    else fail(pair.key as Node, `${where}.${key}`, 'unknown key; a rule takes class and table');
  }
  if (!cls && !table) fail(item, where, 'a rule needs a class, a table or both');
  return { verdict, class: cls, table, source };
}

function readClass(node: Node, where: string, fail: Fail): StatementClass {
  const value = isScalar(node) ? String(node.value) : '';
  if (!(STATEMENT_CLASSES as readonly string[]).includes(value)) {
    fail(node, where, `unknown class "${value}"; expected one of ${STATEMENT_CLASSES.join(', ')}`);
  }
  return value as StatementClass;
}

function readTable(node: Node, where: string, fail: Fail): TablePattern {
  const parts = isScalar(node) ? splitIdentifiers(String(node.value)) : undefined;
  if (!parts || parts.length < 1 || parts.length > 2) {
    return fail(node, where, 'must be [schema.]table');
  }
  return parts.length === 2 ? { schema: parts[0], name: parts[1]! } : { name: parts[0]! };
}

function readMaskRule(item: Node, where: string, source: string, key: Buffer, fail: Fail): MaskRule {
  if (!isMap(item)) return fail(item, where, 'must be a {column, strategy} mapping');
  const values = new Map<string, Node>();
  for (const pair of item.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!['column', 'strategy', 'keep', 'text'].includes(name)) {
      fail(
        pair.key as Node,
        `${where}.${name}`,
        'unknown key; a mask rule takes column, strategy, keep, text',
      );
    }
    values.set(name, pair.value as Node);
  }
  const columnNode = values.get('column');
  const parts =
    columnNode && isScalar(columnNode) ? splitIdentifiers(String(columnNode.value), true) : undefined;
  if (!parts || parts.length < 2 || parts.length > 3 || parts.at(-1) === '*') {
    return fail(columnNode ?? item, `${where}.column`, 'must be [schema.]table.column (table may be *)');
  }
  const [schema, table, column] = parts.length === 3 ? parts : [undefined, ...parts];

  const strategyNode = values.get('strategy');
  const kind = strategyNode && isScalar(strategyNode) ? String(strategyNode.value) : '';
  if (!(STRATEGIES as readonly string[]).includes(kind)) {
    return fail(strategyNode ?? item, `${where}.strategy`, `must be one of ${STRATEGIES.join(', ')}`);
  }
  let strategy: MaskStrategy;
  switch (kind) {
    case 'partial': {
      const keepNode = values.get('keep');
      const keep = keepNode && isScalar(keepNode) ? Number(keepNode.value) : NaN;
      if (!Number.isInteger(keep) || keep < 0)
        fail(keepNode ?? item, `${where}.keep`, 'partial needs keep: a whole number ≥ 0');
      strategy = { kind: 'partial', keep };
      break;
    }
    case 'redact': {
      const textNode = values.get('text');
      strategy =
        textNode && isScalar(textNode)
          ? { kind: 'redact', text: String(textNode.value) }
          : { kind: 'redact' };
      break;
    }
    case 'hash':
      strategy = { kind: 'hash', key };
      break;
    case 'email':
      strategy = { kind: 'email' };
      break;
    default:
      strategy = { kind: 'null' };
  }
  return { schema, table: table!, column: column!, strategy, source };
}

export { splitIdentifiers };

export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}
