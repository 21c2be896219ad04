/**
 * Shell text as bash reads it: parsed by mvdan/sh (its own JavaScript build, `mvdan-sh`), and the words
 * of the tree resolved to the text a command would receive — quotes removed, escapes decoded — or
 * marked unknown where an expansion decides it at run time.
 *
 * (`sh-syntax`, mvdan/sh's WASM build, hands back only each top-level statement's position, not its
 * commands, and starts a Go runtime per call; the GopherJS build gives the whole tree, synchronously.)
 *
 * The tree is read from the Go values GopherJS keeps behind its wrapper objects: a pointer to a struct is
 * an object with the struct's fields whose constructor names the Go type ("*syntax.CallExpr"), a slice
 * is {$array, $offset, $length}, a nil pointer is its type's `nil` object. The wrappers would copy every
 * slice (and everything under it) on each field read, which costs a hundred times the parse itself.
 */
import { createRequire } from 'node:module';
import type * as Sh from 'mvdan-sh';

/** A Go slice as GopherJS stores it. */
export interface GoSlice<T> {
  $array: T[];
  $offset: number;
  $length: number;
}

/** Any node of the tree: a Go struct pointer. */
export interface Node {
  constructor: { string?: string; nil?: unknown };
}

export interface File extends Node {
  Stmts: GoSlice<Stmt>;
}

export interface Stmt extends Node {
  Cmd: Node;
  Redirs: GoSlice<Redirect>;
}

export interface Redirect extends Node {
  Op: number;
  Word: Word;
  Hdoc: Word;
}

export interface Word extends Node {
  Parts: GoSlice<Node>;
}

export interface Lit extends Node {
  Value: string;
}

export interface SglQuoted extends Node {
  Dollar: boolean;
  Value: string;
}

export interface DblQuoted extends Node {
  Dollar: boolean;
  Parts: GoSlice<Node>;
}

export interface Assign extends Node {
  Name: Lit;
  Value: Word;
}

export interface CallExpr extends Node {
  Assigns: GoSlice<Assign>;
  Args: GoSlice<Word>;
}

export interface BinaryCmd extends Node {
  Op: number;
  X: Stmt;
  Y: Stmt;
}

export interface DeclClause extends Node {
  Variant: Lit;
  /** Assign nodes; a quoted argument of `declare` is an Assign with Naked set and a Value word. */
  Args: GoSlice<Assign>;
}

let parser: Sh.Parser | undefined;

/** The parser loads on first use: it is 1.5 MB of JavaScript that only SSH targets need. */
function shellParser(): Sh.Parser {
  if (!parser) {
    const { syntax } = createRequire(import.meta.url)('mvdan-sh') as typeof Sh;
    parser = syntax.NewParser(syntax.KeepComments(false), syntax.Variant(syntax.LangBash));
  }
  return parser;
}

/** Go token values of mvdan.cc/sh/v3/syntax as this build numbers them (checked by the tests). */
export const BinaryOp = { and: 10, or: 11, pipe: 12, pipeAll: 13 } as const;
export const RedirectOp = {
  output: 54, // >
  append: 55, // >>
  input: 56, // <
  readWrite: 57, // <>
  duplicateInput: 58, // <&
  duplicateOutput: 59, // >&
  clobber: 60, // >|
  heredoc: 61, // <<
  heredocTabs: 62, // <<-
  herestring: 63, // <<<
  outputAll: 64, // &>
  appendAll: 65, // &>>
} as const;

export type ParseOutcome = { file: File } | { error: string };

export function parseShell(text: string): ParseOutcome {
  try {
    return { file: shellParser().Parse(text, '').__internal_object__ as File };
  } catch (error) {
    const goError = error as Partial<Sh.GoError> | undefined;
    const message =
      typeof goError?.Error === 'function' ? goError.Error() : String((error as Error)?.message ?? error);
    return { error: message };
  }
}

/** "CallExpr" for a *syntax.CallExpr; undefined for nil. */
export function nodeType(node: Node | null | undefined): string | undefined {
  if (node === null || node === undefined || node === node.constructor.nil) return undefined;
  const name = node.constructor.string;
  return name?.startsWith('*syntax.') ? name.slice(8) : undefined;
}

export function items<T>(slice: GoSlice<T>): T[] {
  return slice.$array.slice(slice.$offset, slice.$offset + slice.$length);
}

function isSlice(value: object): value is GoSlice<unknown> {
  return '$array' in value && '$length' in value;
}

/**
 * Visits every node under `node`, depth first: statements inside substitutions, function bodies, loop
 * bodies, here-documents, parameter expansions — every field that holds a node.
 */
export function walk(node: Node, visit: (node: Node, type: string) => void): void {
  const type = nodeType(node);
  if (type === undefined || type === 'Pos') return;
  visit(node, type);
  for (const key in node) {
    if (key === '$val') continue;
    const value = (node as unknown as Record<string, unknown>)[key];
    if (value === null || typeof value !== 'object') continue;
    if (isSlice(value)) {
      for (let i = 0; i < value.$length; i++) {
        const element = value.$array[value.$offset + i];
        if (element !== null && typeof element === 'object') walk(element as Node, visit);
      }
    } else {
      walk(value as Node, visit);
    }
  }
}

/**
 * A word as a command receives it. `text` is undefined when an expansion ($x, $(…), $((…)), <(…))
 * decides it at run time; `exact` is false when the shell may still turn it into other words (an
 * unquoted glob or brace pattern), though `text` then shows the pattern.
 */
export interface WordValue {
  text: string | undefined;
  exact: boolean;
}

export function wordValue(word: Word): WordValue {
  if (nodeType(word) === undefined) return { text: undefined, exact: false };
  let text = '';
  let exact = true;
  for (const part of items(word.Parts)) {
    const piece = partText(part, false);
    if (piece === undefined) return { text: undefined, exact: false };
    if (piece.pattern) exact = false;
    text += piece.text;
  }
  return { text, exact };
}

function partText(part: Node, quoted: boolean): { text: string; pattern: boolean } | undefined {
  switch (nodeType(part)) {
    case 'Lit': {
      const raw = (part as Lit).Value;
      if (quoted) return { text: unescapeDoubleQuoted(raw), pattern: false };
      return { text: unescapeUnquoted(raw), pattern: hasPatternCharacters(raw) };
    }
    case 'SglQuoted': {
      const single = part as SglQuoted;
      if (!single.Dollar) return { text: single.Value, pattern: false };
      const decoded = decodeAnsiC(single.Value);
      return decoded === undefined ? undefined : { text: decoded, pattern: false };
    }
    case 'DblQuoted': {
      // $"…" is a locale translation, looked up at run time.
      const double = part as DblQuoted;
      if (double.Dollar) return undefined;
      let text = '';
      for (const inner of items(double.Parts)) {
        const piece = partText(inner, true);
        if (piece === undefined) return undefined;
        text += piece.text;
      }
      return { text, pattern: false };
    }
    default:
      return undefined;
  }
}

/** Unquoted: a backslash keeps the next character literally; backslash-newline disappears. */
function unescapeUnquoted(raw: string): string {
  return raw.includes('\\')
    ? raw.replace(/\\(\n|[\s\S])/g, (_match, next: string) => (next === '\n' ? '' : next))
    : raw;
}

/** In double quotes a backslash escapes only $ ` " \ and newline. */
function unescapeDoubleQuoted(raw: string): string {
  return raw.includes('\\')
    ? raw.replace(/\\([$`"\\\n])/g, (_match, next: string) => (next === '\n' ? '' : next))
    : raw;
}

/** Unquoted glob, brace or tilde syntax: the shell may expand the word into something else. */
function hasPatternCharacters(raw: string): boolean {
  const unescaped = raw.includes('\\') ? raw.replace(/\\[\s\S]/g, '') : raw;
  return /[*?[{~]/.test(unescaped);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

const NUMERIC_ESCAPE = /^(?:x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8})|([0-7]{1,3}))/;

/** $'…' as bash decodes it; undefined for an escape this decoder does not know (judged as dynamic). */
export function decodeAnsiC(raw: string): string | undefined {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = raw[i + 1];
    if (next === undefined) return undefined;
    if (next in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[next];
      i++;
      continue;
    }
    const numeric = NUMERIC_ESCAPE.exec(raw.slice(i + 1));
    if (numeric) {
      const [whole, hex, u4, u8, octal] = numeric;
      const code = parseInt(hex ?? u4 ?? u8 ?? octal!, hex || u4 || u8 ? 16 : 8);
      if (code > 0x10ffff) return undefined;
      // bash ends the string at a NUL.
      if (code === 0) return out;
      out += String.fromCodePoint(code);
      i += whole.length;
      continue;
    }
    if (next === 'c') return undefined;
    out += `\\${next}`;
    i++;
  }
  return out;
}
