/** What one command does, by its name and its words: the rules first, then the simple table. */
import { isPrivilegeFile } from './arguments.ts';
import { because, judged, type Argument, type CommandJudgement } from './exec-classes.ts';
import { PACKAGE_RULES } from './package-rules.ts';
import { familyClass, SIMPLE_COMMANDS } from './simple-commands.ts';
import { TOOL_RULES } from './tool-rules.ts';
import { WRAPPER_RULES } from './wrapper-rules.ts';

/** python3.12 → python3, pip3.11 → pip3: versioned names behave as their family. */
function canonicalName(name: string): string {
  const versioned = /^(python|pip|perl|ruby|node|php|lua|pypy)(\d+)?(?:\.\d+)+$/.exec(name);
  return versioned ? `${versioned[1]}${versioned[2] ?? ''}` : name;
}

export function judgeCommand(name: string, args: Argument[]): CommandJudgement {
  const canonical = canonicalName(name);
  const rule = WRAPPER_RULES.get(canonical) ?? TOOL_RULES.get(canonical) ?? PACKAGE_RULES.get(canonical);
  if (rule) return rule(args);
  const simple = SIMPLE_COMMANDS.get(canonical) ?? familyClass(canonical);
  if (simple === undefined) return because(`${name} is not a command the classifier knows`, 'unknown');
  if (simple === 'write' && args.some((arg) => isPrivilegeFile(arg.text))) {
    return because('writes a file that grants privileges', 'write', 'privilege');
  }
  return judged(simple);
}
