import { STATEMENT_CLASSES, type StatementClass } from './classifier.ts';
import type { DetectorName } from './masking/detectors.ts';
import type { MaskStrategy } from './masking/strategies.ts';
import { sshPreset, type SshPolicy } from './ssh-policy.ts';
import type { Preset, Verdict } from './verdict.ts';

export type { Preset, Verdict } from './verdict.ts';
export const PRESETS: readonly Preset[] = ['read-only', 'guarded', 'observe'];

/** A statement rule: matches statements of a class, optionally touching a table. */
export interface StatementRule {
  verdict: Verdict;
  class?: StatementClass;
  table?: TablePattern;
  /** Where the rule came from, for error messages and recordings: "policy.yaml:4" or "preset guarded". */
  source: string;
  /** The field of a policy file's rule that names its table: "block[1].table". */
  field?: string;
}

export interface TablePattern {
  schema?: string;
  name: string;
}

export interface MaskRule {
  schema?: string;
  /** Table name, or '*' for any table. */
  table: string;
  column: string;
  strategy: MaskStrategy;
  source: string;
  /** The field of a policy file that names the column: "mask[0].column". */
  field?: string;
}

export interface Policy {
  /** The preset the policy extends; `observe` records decisions without enforcing them. */
  preset: Preset;
  /** What each class gets when no file rule matches. */
  defaults: ReadonlyMap<StatementClass, Verdict>;
  rules: readonly StatementRule[];
  mask: readonly MaskRule[];
  detect: readonly DetectorName[];
  /** How long a held statement waits for a human before it is denied. */
  holdTimeoutMs: number;
  /**
   * `strict`: a session whose events cannot be spooled ends with an error rather than run unrecorded;
   * `best-effort`: it goes on, and the hub sees the gap.
   */
  recording: 'strict' | 'best-effort';
  /** A description for logs and recordings: the preset name or the file. */
  name: string;
  /** Extensions whose functions and operators count as reads (`trusted_extensions`). */
  trustedExtensions?: readonly NamedInPolicy[];
  /** Functions ([schema.]name, every overload) that count as reads (`trusted_functions`). */
  trustedFunctions?: readonly (NamedInPolicy & { schema?: string })[];
  /** What SSH targets allow: shells, exec commands, sftp, forwarding (ssh-policy.ts). */
  ssh: SshPolicy;
}

/** A name a policy file gives, with where it gives it. */
export interface NamedInPolicy {
  name: string;
  /** "policy.yaml:12" */
  source: string;
  /** "trusted_extensions[0]" */
  field: string;
}

const ALWAYS_ALLOWED: StatementClass[] = ['read', 'session'];

function defaultsFor(preset: Preset): Map<StatementClass, Verdict> {
  const defaults = new Map<StatementClass, Verdict>();
  const set = (verdict: Verdict, classes: StatementClass[]): void =>
    classes.forEach((c) => defaults.set(c, verdict));
  // Everything that is not harmless is blocked unless the preset says otherwise.
  set(
    'block',
    STATEMENT_CLASSES.filter((c) => !ALWAYS_ALLOWED.includes(c)),
  );
  set('allow', ALWAYS_ALLOWED);
  // `observe` judges as `guarded` does, so the recording shows what enforcement would have done.
  if (preset !== 'read-only') set('approve', ['write']);
  return defaults;
}

export const DEFAULT_HOLD_TIMEOUT_MS = 5 * 60_000;

export function presetPolicy(preset: Preset): Policy {
  return {
    preset,
    defaults: defaultsFor(preset),
    rules: [],
    mask: [],
    detect: [],
    holdTimeoutMs: DEFAULT_HOLD_TIMEOUT_MS,
    recording: 'best-effort',
    name: preset,
    ssh: sshPreset(preset),
  };
}

/** What the policy says of one statement, before `observe` turns it into a recorded "would have". */
export interface Judgement {
  verdict: Verdict;
  /** The class that decided the verdict. */
  class?: StatementClass;
  /** Names the rule: "preset guarded: drop" or "policy.yaml:4 (block read on secrets)". */
  rule: string;
}

const STRENGTH: Record<Verdict, number> = { allow: 0, approve: 1, block: 2 };

export function stricter(a: Judgement, b: Judgement): Judgement {
  return STRENGTH[b.verdict] > STRENGTH[a.verdict] ? b : a;
}

function tableMatches(pattern: TablePattern, tables: readonly { schema?: string; name: string }[]): boolean {
  return tables.some(
    (t) =>
      (pattern.name === '*' || t.name === pattern.name) &&
      (pattern.schema === undefined || t.schema === undefined || t.schema === pattern.schema),
  );
}

/** Classes whose table condition is about the tables written rather than read. */
const WRITING: ReadonlySet<StatementClass> = new Set([
  'write',
  'delete-without-where',
  'update-without-where',
  'truncate',
  'drop',
  'ddl',
]);

export interface JudgedStatement {
  classes: ReadonlySet<StatementClass>;
  tables: readonly { schema?: string; name: string }[];
  writes: readonly { schema?: string; name: string }[];
}

function describeRule(rule: StatementRule): string {
  const what = [
    rule.class,
    rule.table ? `on ${rule.table.schema ? `${rule.table.schema}.` : ''}${rule.table.name}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `${rule.source} (${rule.verdict} ${what})`;
}

/**
 * Judges one statement: each of its classes gets the strongest file rule that matches it (block beats
 * approve beats allow), or the preset's verdict when no rule matches; the statement gets the strictest.
 */
export function judgeStatement(policy: Policy, statement: JudgedStatement): Judgement {
  let result: Judgement = { verdict: 'allow', rule: `preset ${policy.preset}` };
  const classes = statement.classes.size > 0 ? [...statement.classes] : (['unknown'] as StatementClass[]);
  for (const cls of classes) {
    const tables = WRITING.has(cls) && statement.writes.length > 0 ? statement.writes : statement.tables;
    let fromRules: Judgement | undefined;
    for (const rule of policy.rules) {
      if (rule.class !== undefined && rule.class !== cls) continue;
      if (rule.table !== undefined && !tableMatches(rule.table, tables)) continue;
      const judgement = { verdict: rule.verdict, class: cls, rule: describeRule(rule) };
      fromRules = fromRules ? stricter(fromRules, judgement) : judgement;
    }
    const judgement = fromRules ?? {
      verdict: policy.defaults.get(cls) ?? 'block',
      class: cls,
      rule: `preset ${policy.preset === 'observe' ? 'guarded' : policy.preset}: ${cls}`,
    };
    result = stricter(result, judgement);
  }
  return result;
}

/** The mask rule for a column, if any; a rule naming the table beats a `*` rule. */
export function maskRuleFor(
  policy: Policy,
  column: { schema: string; table: string; column: string },
): MaskRule | undefined {
  let wildcard: MaskRule | undefined;
  for (const rule of policy.mask) {
    if (rule.column !== column.column) continue;
    if (rule.schema !== undefined && rule.schema !== column.schema) continue;
    if (rule.table === column.table) return rule;
    if (rule.table === '*') wildcard ??= rule;
  }
  return wildcard;
}
