/**
 * The `ssh:` part of a policy: what interactive shells, exec commands, sftp and forwarding may do on an
 * SSH target. Exec commands are judged like SQL statements: every class of every command the line would
 * run gets the strongest matching rule (by class, by command name, or both; block beats approve beats
 * allow), or the preset's verdict; the line gets the strictest.
 */
import type { DetectorName } from './masking/detectors.ts';
import type { Preset, Verdict } from './verdict.ts';
import type { ExecClassification } from './shell/exec-classifier.ts';
import { EXEC_CLASSES, type ExecClass } from './shell/exec-classes.ts';

/** Interactive shells: commands inside them are recorded, never judged (keystrokes are no command boundary). */
export type ShellVerdict = 'allow' | 'approve' | 'deny';
export type SftpMode = 'allow' | 'read-only' | 'deny';

export interface ExecRule {
  verdict: Verdict;
  class?: ExecClass;
  command?: string;
  /** "policy.yaml:12" or "preset guarded". */
  source: string;
}

/** A `direct-tcpip` destination the policy lets through (ssh -L); `*` matches any port. */
export interface ForwardDestination {
  host: string;
  port: number | '*';
}

export interface SshPolicy {
  shell: ShellVerdict;
  exec: {
    defaults: ReadonlyMap<ExecClass, Verdict>;
    rules: readonly ExecRule[];
    /** What a command line that does not parse gets; never allow. */
    unparseable: 'approve' | 'block';
  };
  sftp: SftpMode;
  /** Local forwarding destinations; remote forwarding, agent and X11 forwarding are always refused. */
  forward: readonly ForwardDestination[];
  /** Environment variables (`LC_*` patterns) a client may set; others are refused. */
  env: readonly string[];
  /** Value detectors applied to terminal output (the client sees and the recording keeps the masked text). */
  maskOutput: readonly DetectorName[];
  /** Record keystrokes (`i` events); what is typed after a password prompt is recorded as `*`. */
  recordInput: boolean;
  /** Output of an exec without a terminal is recorded up to this many bytes per channel, then counted. */
  recordExecOutputBytes: number;
}

const EXEC_DEFAULTS: Record<Preset, Partial<Record<ExecClass, Verdict>>> = {
  'read-only': { read: 'allow' },
  guarded: {
    read: 'allow',
    write: 'approve',
    network: 'approve',
    package: 'approve',
    privilege: 'approve',
    dynamic: 'approve',
    unknown: 'approve',
    destructive: 'block',
  },
  // Judged as guarded, so the recording says what enforcement would have done.
  observe: {},
};

export const DEFAULT_RECORDED_EXEC_OUTPUT = 1024 * 1024;
export const DEFAULT_ENV = ['LANG', 'LC_*', 'TZ'];

export function sshPreset(preset: Preset): SshPolicy {
  const judged = preset === 'observe' ? 'guarded' : preset;
  const defaults = new Map<ExecClass, Verdict>();
  for (const cls of EXEC_CLASSES) defaults.set(cls, EXEC_DEFAULTS[judged][cls] ?? 'block');
  return {
    shell: judged === 'read-only' ? 'deny' : 'allow',
    exec: { defaults, rules: [], unparseable: judged === 'read-only' ? 'block' : 'approve' },
    sftp: judged === 'read-only' ? 'read-only' : 'allow',
    forward: [],
    env: DEFAULT_ENV,
    maskOutput: [],
    recordInput: true,
    recordExecOutputBytes: DEFAULT_RECORDED_EXEC_OUTPUT,
  };
}

export interface ExecJudgement {
  verdict: Verdict;
  /** The class (and command) that decided. */
  class?: ExecClass;
  command?: string;
  /** Names the rule: "preset guarded: destructive" or "policy.yaml:7 (block command rm)". */
  rule: string;
}

const STRENGTH: Record<Verdict, number> = { allow: 0, approve: 1, block: 2 };

function stricter(a: ExecJudgement, b: ExecJudgement): ExecJudgement {
  return STRENGTH[b.verdict] > STRENGTH[a.verdict] ? b : a;
}

function describe(rule: ExecRule): string {
  const what = [rule.class, rule.command ? `command ${rule.command}` : ''].filter(Boolean).join(' ');
  return `${rule.source} (${rule.verdict} ${what})`;
}

/** Judges one exec command line: the strictest verdict over every class of every command it runs. */
export function judgeExec(
  policy: SshPolicy,
  presetName: Preset,
  classification: ExecClassification,
): ExecJudgement {
  const preset = presetName === 'observe' ? 'guarded' : presetName;
  if (classification.failure !== undefined) {
    return {
      verdict: policy.exec.unparseable === 'approve' ? 'approve' : 'block',
      rule: `unparseable (${policy.exec.unparseable})`,
    };
  }
  let result: ExecJudgement = { verdict: 'allow', rule: `preset ${preset}` };
  const uses = classification.commands.length > 0 ? classification.commands : [];
  for (const use of uses) {
    for (const cls of use.classes) {
      let fromRules: ExecJudgement | undefined;
      for (const rule of policy.exec.rules) {
        if (rule.class !== undefined && rule.class !== cls) continue;
        if (rule.command !== undefined && rule.command !== use.name) continue;
        const judgement: ExecJudgement = {
          verdict: rule.verdict,
          class: cls,
          command: use.name,
          rule: describe(rule),
        };
        fromRules = fromRules ? stricter(fromRules, judgement) : judgement;
      }
      result = stricter(
        result,
        fromRules ?? {
          verdict: policy.exec.defaults.get(cls) ?? 'block',
          class: cls,
          command: use.name,
          rule: `preset ${preset}: ${cls}`,
        },
      );
    }
  }
  return result;
}

/** Whether the policy lets a `direct-tcpip` channel reach host:port. */
export function forwardAllowed(policy: SshPolicy, host: string, port: number): boolean {
  const wanted = host.toLowerCase();
  return policy.forward.some(
    (d) => (d.host === '*' || d.host.toLowerCase() === wanted) && (d.port === '*' || d.port === port),
  );
}

/** Whether a client may set the environment variable `name`. */
export function envAllowed(policy: SshPolicy, name: string): boolean {
  return policy.env.some((pattern) =>
    pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
  );
}
