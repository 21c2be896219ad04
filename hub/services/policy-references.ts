/**
 * The names a policy file gives (mask columns, rule tables, trusted extensions and functions), read
 * from its YAML with their lines, for the hub to check against the target's database. The tunnel
 * parses the whole file (tunnel/policy/policy-file.ts) and finds the same names in the same places;
 * test/hub/policy-checks.test.ts holds the two to that.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { splitIdentifiers, type PolicyNameRef, type PolicyProblem } from '../api/policy-names.ts';

export interface PolicyReferences {
  refs: PolicyNameRef[];
  /** What makes the file unusable before any name is looked up (YAML errors, malformed names). */
  problems: PolicyProblem[];
}

/** Where the names found are put, and how a node's place in the file is written. */
interface Collector {
  result: PolicyReferences;
  at(node: Node | null | undefined): string;
  problem(node: Node | null | undefined, field: string, text: string): void;
}

export function policyReferences(yaml: string, file: string): PolicyReferences {
  const lines = new LineCounter();
  const doc = parseDocument(yaml, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined): string =>
    `${file}:${node?.range ? lines.linePos(node.range[0]).line : 1}`;
  const result: PolicyReferences = { refs: [], problems: [] };
  const problem = (node: Node | null | undefined, field: string, text: string): void => {
    result.problems.push({ source: at(node), field, problem: text });
  };
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    result.problems.push({
      source: `${file}:${lines.linePos(error.pos[0]).line}`,
      field: 'yaml',
      problem: error.message.split('\n')[0]!,
    });
    return result;
  }
  const root = doc.contents;
  if (!isMap(root)) return result;
  const list = (key: string): Node[] => {
    const node = root.get(key, true) as Node | undefined;
    return isSeq(node) ? (node.items as Node[]) : [];
  };
  const collector: Collector = { result, at, problem };
  maskColumns(list('mask'), collector);
  for (const key of ['block', 'approve', 'allow']) ruleTables(key, list(key), collector);
  trustedNames(list('trusted_extensions'), list('trusted_functions'), collector);
  return result;
}

function maskColumns(items: Node[], { result, at, problem }: Collector): void {
  items.forEach((item, index) => {
    const field = `mask[${index}].column`;
    const node = isMap(item) ? (item.get('column', true) as Node | undefined) : undefined;
    const parts = isScalar(node) ? splitIdentifiers(String(node.value), true) : undefined;
    if (!parts || parts.length < 2 || parts.length > 3 || parts.at(-1) === '*') {
      problem(node ?? item, field, 'must be [schema.]table.column (table may be *)');
      return;
    }
    const [schema, table, column] = parts.length === 3 ? parts : [undefined, ...parts];
    result.refs.push({
      source: at(item),
      field,
      kind: 'column',
      ...(schema ? { schema } : {}),
      table,
      column,
    });
  });
}

/** The tables the KEY (block, approve, allow) rules name. */
function ruleTables(key: string, items: Node[], { result, at, problem }: Collector): void {
  items.forEach((item, index) => {
    const node = isMap(item) ? (item.get('table', true) as Node | undefined) : undefined;
    if (node === undefined) return;
    const field = `${key}[${index}].table`;
    const parts = isScalar(node) ? splitIdentifiers(String(node.value)) : undefined;
    if (!parts || parts.length > 2) {
      problem(node, field, 'must be [schema.]table');
      return;
    }
    const [schema, table] = parts.length === 2 ? parts : [undefined, parts[0]];
    result.refs.push({ source: at(item), field, kind: 'table', ...(schema ? { schema } : {}), table });
  });
}

function trustedNames(extensions: Node[], functions: Node[], { result, at, problem }: Collector): void {
  extensions.forEach((item, index) => {
    const name = isScalar(item) ? String(item.value).trim() : '';
    result.refs.push({ source: at(item), field: `trusted_extensions[${index}]`, kind: 'extension', name });
  });
  functions.forEach((item, index) => {
    const field = `trusted_functions[${index}]`;
    const parts = isScalar(item) ? splitIdentifiers(String(item.value)) : undefined;
    if (!parts || parts.length > 2) {
      problem(item, field, 'must be [schema.]function');
      return;
    }
    const [schema, name] = parts.length === 2 ? parts : [undefined, parts[0]];
    result.refs.push({ source: at(item), field, kind: 'function', ...(schema ? { schema } : {}), name });
  });
}
