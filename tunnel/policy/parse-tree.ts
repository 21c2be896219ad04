/**
 * Reading libpg-query's JSON parse tree: a node is a wrapper object `{ NodeType: { ...fields } }`;
 * lists are arrays of wrappers (`{}` standing for NULL); default values (0, false, '') are omitted.
 */

export type Json = Record<string, unknown>;

/** A structural problem in the tree: the walk stops and the text fails closed. */
export class WalkFailure extends Error {}

export function wrapperType(wrapper: unknown): string | undefined {
  if (typeof wrapper !== 'object' || wrapper === null || Array.isArray(wrapper)) return undefined;
  const keys = Object.keys(wrapper);
  return keys.length === 1 ? keys[0] : undefined;
}

export function wrapperBody(wrapper: unknown): Json | undefined {
  if (typeof wrapper !== 'object' || wrapper === null) return undefined;
  for (const key in wrapper) {
    const body = (wrapper as Json)[key];
    return typeof body === 'object' && body !== null ? (body as Json) : undefined;
  }
  return undefined;
}

/** The single [type, body] of a wrapper, or undefined. */
export function unwrapNode(node: unknown): [string, Json] | undefined {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
  let result: [string, Json] | undefined;
  let count = 0;
  for (const key in node) {
    count++;
    const body = (node as Json)[key];
    if (typeof body === 'object' && body !== null) result = [key, body as Json];
  }
  return count === 1 ? result : undefined;
}

/** The strings of a list of String nodes (names), or undefined if it is anything else. */
export function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const names: string[] = [];
  for (const item of value) {
    const node = unwrapNode(item);
    if (node === undefined || node[0] !== 'String') return undefined;
    names.push(typeof node[1].sval === 'string' ? node[1].sval : '');
  }
  return names;
}

/**
 * The value of a constant as PostgreSQL would see it in SET or a function argument: a string,
 * undefined for NULL, null for anything that is not a constant.
 */
export function constantValue(node: unknown): string | null | undefined {
  const wrapped = unwrapNode(node);
  if (wrapped === undefined) return null;
  const [type, body] = wrapped;
  switch (type) {
    case 'A_Const': {
      if (body.isnull === true) return undefined;
      if (body.sval !== undefined) return String((body.sval as Json).sval ?? '');
      if (body.ival !== undefined) return String((body.ival as Json).ival ?? 0);
      if (body.fval !== undefined) return String((body.fval as Json).fval ?? '0');
      if (body.boolval !== undefined) return (body.boolval as Json).boolval === true ? 'true' : 'false';
      if (body.bsval !== undefined) return String((body.bsval as Json).bsval ?? '');
      return undefined;
    }
    case 'String':
      return typeof body.sval === 'string' ? body.sval : '';
    case 'Integer':
      return String(body.ival ?? 0);
    case 'Float':
      return String(body.fval ?? '0');
    case 'Boolean':
      return body.boolval === true ? 'true' : 'false';
    case 'TypeCast':
      return constantValue(body.arg);
    default:
      return null;
  }
}

/** PostgreSQL's parse_bool for "false". */
export function isFalse(value: string): boolean {
  const v = value.toLowerCase();
  if (v === '') return false;
  return 'false'.startsWith(v) || 'no'.startsWith(v) || v === 'off' || v === 'of' || v === '0';
}

/** DefElem options as name → arg node. */
export function defElems(list: unknown): Map<string, unknown> {
  const options = new Map<string, unknown>();
  if (!Array.isArray(list)) return options;
  for (const item of list) {
    const node = unwrapNode(item);
    if (node?.[0] === 'DefElem' && typeof node[1].defname === 'string') {
      options.set(node[1].defname, node[1].arg);
    }
  }
  return options;
}
