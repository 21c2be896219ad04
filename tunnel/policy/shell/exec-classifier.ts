/**
 * Classifies a command line sent over SSH (`ssh host 'CMD'`) the way bash would run it: every command of
 * every pipeline, list, subshell, function body, substitution and `sh -c` string counts, and so do
 * redirections. A command named by an expansion, code the text does not show, or code hidden in a
 * string that bash may evaluate is `dynamic`; what does not parse is a failure the policy holds or
 * denies, never allowed by default.
 */
import { judgeCommand } from './command-catalog.ts';
import type { Argument, ExecClass } from './exec-classes.ts';
import { isPrivilegeFile } from './arguments.ts';
import {
  items,
  nodeType,
  parseShell,
  RedirectOp,
  walk,
  wordValue,
  type CallExpr,
  type DeclClause,
  type File,
  type Lit,
  type Redirect,
  type Stmt,
} from './shell-syntax.ts';
import { DANGEROUS_VARIABLES } from './wrapper-rules.ts';

/** One command the line would run, with what the catalogue made of it. */
export interface CommandUse {
  /** The command's name as it would be looked up ("rm" for /bin/rm), or a description of what runs. */
  name: string;
  classes: ExecClass[];
  reasons: string[];
  /** 0 for the line's own commands; deeper for what `sudo`, `sh -c`, `xargs`… run. */
  depth: number;
}

export interface ExecClassification {
  classes: ReadonlySet<ExecClass>;
  commands: readonly CommandUse[];
  /** Why, for the classes a command name alone would not explain. */
  reasons: readonly string[];
  /** Set when the line (or a string it runs as code) does not parse: nothing else here can be trusted. */
  failure?: string;
}

/** Deeper `sh -c "sh -c '…'"` nesting than this is judged dynamic rather than followed. */
const MAX_DEPTH = 8;
/** Longer command lines are not parsed (they would cost the event loop); they fail closed. */
export const MAX_COMMAND_LENGTH = 64 * 1024;

const OUTPUT_REDIRECTS: ReadonlySet<number> = new Set([
  RedirectOp.output,
  RedirectOp.append,
  RedirectOp.clobber,
  RedirectOp.outputAll,
  RedirectOp.appendAll,
  RedirectOp.readWrite,
]);

const HARMLESS_TARGETS = /^\/dev\/(null|stdout|stderr|stdin|tty|zero|fd\/\d+)$/;
const DISK_DEVICES = /^\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|md|dm-|loop|mapper\/|disk\/)/;

export function classifyExec(text: string): ExecClassification {
  const run = new ClassifierRun();
  if (text.length > MAX_COMMAND_LENGTH) {
    run.failure = `the command is longer than ${MAX_COMMAND_LENGTH} characters`;
  } else {
    run.script(text, 0);
    run.finish();
  }
  const classes = new Set<ExecClass>();
  const reasons: string[] = [];
  for (const use of run.uses) {
    use.classes.forEach((c) => classes.add(c));
    reasons.push(...use.reasons);
  }
  return {
    classes,
    commands: run.uses,
    reasons: [...new Set(reasons)],
    ...(run.failure !== undefined ? { failure: run.failure } : {}),
  };
}

class ClassifierRun {
  readonly uses: CommandUse[] = [];
  failure: string | undefined;
  /** Arithmetic that reads variables, and strings holding shell code: together bash may run the code. */
  private arithmetic = false;
  private quotedCode = false;

  script(text: string, depth: number, origin?: string): void {
    if (depth > MAX_DEPTH) {
      this.use(
        '(nested shell code)',
        ['dynamic'],
        [`shell code nested deeper than ${MAX_DEPTH} levels`],
        depth,
      );
      return;
    }
    const parsed = parseShell(text);
    if ('error' in parsed) {
      this.failure ??= origin ? `the code ${origin} runs does not parse: ${parsed.error}` : parsed.error;
      return;
    }
    this.file(parsed.file, depth);
  }

  finish(): void {
    if (this.arithmetic && this.quotedCode) {
      this.use('(arithmetic)', ['dynamic'], ['arithmetic may evaluate shell code held in a string'], 0);
    }
  }

  private file(file: File, depth: number): void {
    walk(file, (node, type) => {
      switch (type) {
        case 'CallExpr':
          this.call(node as CallExpr, depth);
          return;
        case 'Stmt':
          for (const redirect of items((node as Stmt).Redirs)) this.redirect(redirect, depth);
          return;
        case 'DeclClause':
          this.declaration(node as DeclClause, depth);
          return;
        case 'ArithmExp':
        case 'ArithmCmd':
        case 'LetClause':
          this.arithmetic = true;
          return;
        case 'SglQuoted':
        case 'Lit':
          if (/\$\(|`/.test((node as Lit).Value)) this.quotedCode = true;
          return;
        default:
          return;
      }
    });
  }

  private call(call: CallExpr, depth: number): void {
    for (const assign of items(call.Assigns)) {
      const name = nodeType(assign.Name) ? assign.Name.Value : undefined;
      if (name !== undefined && DANGEROUS_VARIABLES.has(name)) {
        this.use(`${name}=`, ['dynamic'], [`sets ${name}, which changes what later commands run`], depth);
      }
    }
    if (call.Args.$length === 0) return;
    this.argv(items(call.Args).map(wordValue), depth);
  }

  /** One command from its words: judged by the catalogue, then what it runs, recursively. */
  argv(words: Argument[], depth: number): void {
    const [first, ...args] = words;
    if (!first) return;
    if (first.text === undefined) {
      this.use('(expansion)', ['dynamic'], ['the command name comes from an expansion'], depth);
      return;
    }
    if (!first.exact) {
      this.use(first.text, ['dynamic'], ['the command name is a pattern the shell expands'], depth);
      return;
    }
    if (depth > MAX_DEPTH) {
      this.use(first.text, ['dynamic'], [`commands nested deeper than ${MAX_DEPTH} levels`], depth);
      return;
    }
    const name = first.text.includes('/') ? first.text.slice(first.text.lastIndexOf('/') + 1) : first.text;
    const judgement = judgeCommand(name || first.text, args);
    this.use(name || first.text, judgement.classes, judgement.reasons ?? [], depth);
    for (const command of judgement.runs ?? []) this.argv(command, depth + 1);
    for (const script of judgement.scripts ?? []) {
      if (script.text === undefined) {
        this.use(
          `${name} (code)`,
          ['dynamic'],
          [`${name} runs code that comes from an expansion`],
          depth + 1,
        );
      } else {
        this.script(script.text, depth + 1, `${name} -c`);
      }
    }
  }

  private redirect(redirect: Redirect, depth: number): void {
    const target = wordValue(redirect.Word).text;
    if (target?.startsWith('/dev/tcp/') || target?.startsWith('/dev/udp/')) {
      this.use(`redirect ${target}`, ['network'], ['opens a network connection through /dev/tcp'], depth);
      return;
    }
    if (!OUTPUT_REDIRECTS.has(redirect.Op)) {
      if (redirect.Op === RedirectOp.duplicateOutput && target !== undefined && !/^(\d+|-)$/.test(target)) {
        this.use(`redirect ${target}`, ['write'], [], depth);
      }
      return;
    }
    if (target !== undefined && HARMLESS_TARGETS.test(target)) return;
    if (target !== undefined && DISK_DEVICES.test(target)) {
      this.use(`redirect ${target}`, ['destructive'], ['writes over a disk device'], depth);
    } else if (
      target?.startsWith('/dev/') ||
      target?.startsWith('/proc/') ||
      target?.startsWith('/sys/') ||
      isPrivilegeFile(target)
    ) {
      this.use(`redirect ${target}`, ['privilege', 'write'], ['writes a system or privilege file'], depth);
    } else {
      this.use(`redirect ${target ?? '(an expansion)'}`, ['write'], [], depth);
    }
  }

  private declaration(decl: DeclClause, depth: number): void {
    const variant = decl.Variant.Value;
    for (const assign of items(decl.Args)) {
      if (nodeType(assign.Name) === undefined) {
        // A quoted or expanded argument (`declare 'a[$(…)]=1'`): bash evaluates a subscript in it.
        const text = nodeType(assign.Value) ? wordValue(assign.Value).text : undefined;
        if (text === undefined || /\[.*(\$\(|`)/.test(text)) {
          this.use(variant, ['dynamic'], ['declares a name bash evaluates at run time'], depth);
        }
        continue;
      }
      const name = assign.Name.Value;
      if (DANGEROUS_VARIABLES.has(name) && nodeType(assign.Value) !== undefined) {
        this.use(
          `${variant} ${name}`,
          ['dynamic'],
          [`sets ${name}, which changes what later commands run`],
          depth,
        );
      }
    }
  }

  private use(name: string, classes: ExecClass[], reasons: string[], depth: number): void {
    this.uses.push({ name, classes, reasons, depth });
  }
}
