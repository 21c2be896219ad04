/**
 * The vocabulary of the exec classifier: what a command run over SSH may do, and what the catalogue says
 * about one command given its arguments.
 */

/**
 * - read: looks, changes nothing;
 * - write: changes files or services in ordinary ways;
 * - destructive: deletes or wipes data, stops the machine or its services (`rm`, `dd`, `mkfs`, `shutdown`);
 * - privilege: gains or hands out privileges (`sudo`, `su`, `chmod` on system paths, user management);
 * - network: reaches other hosts or changes networking;
 * - package: installs or removes software;
 * - dynamic: runs code the text does not show (`eval`, `bash -c "$x"`, `curl … | sh`, a command named
 *   by an expansion);
 * - unknown: a command the catalogue does not know (a script, an in-house tool).
 */
export const EXEC_CLASSES = [
  'read',
  'write',
  'destructive',
  'privilege',
  'network',
  'package',
  'dynamic',
  'unknown',
] as const;

export type ExecClass = (typeof EXEC_CLASSES)[number];

/** One word a command receives; see shell-syntax.ts WordValue. */
export interface Argument {
  /** undefined: decided by an expansion at run time. */
  text: string | undefined;
  /** false: an unquoted glob or brace pattern the shell may turn into other words. */
  exact: boolean;
}

export interface CommandJudgement {
  classes: ExecClass[];
  /** Why, when the class alone would not say it ("runs inline code", "the subcommand is an expansion"). */
  reasons?: string[];
  /** Commands this one runs with the given words (`sudo CMD`, `xargs CMD`, `find -exec CMD ;`). */
  runs?: Argument[][];
  /** Shell code this one runs (`sh -c STRING`, `su -c`, `trap`, `watch`); undefined text is dynamic. */
  scripts?: Argument[];
}

/** Judges one command from the words after its name. */
export type CommandRule = (args: Argument[]) => CommandJudgement;

export const judged = (...classes: ExecClass[]): CommandJudgement => ({ classes });

export const because = (reason: string, ...classes: ExecClass[]): CommandJudgement => ({
  classes,
  reasons: [reason],
});
