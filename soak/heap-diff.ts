/**
 * What grew between two heap snapshots of one process (V8's .heapsnapshot, as `--heapsnapshot-signal`
 * writes them): retained-by-nobody-in-particular self sizes and counts, grouped by constructor (objects,
 * closures) or by kind (strings, arrays, code), largest growth first. A leak shows as a group that keeps
 * growing from a warm snapshot to a late one.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface Group {
  name: string;
  count: number;
  bytes: number;
}

/** Self size and count per group; objects and closures by name, everything else by its node type. */
export function groups(file: string): Map<string, Group> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const result = new Map<string, Group>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    const name =
      type === 'object' || type === 'closure'
        ? `${type} ${heap.strings[heap.nodes[i + nameAt]!]}`
        : `(${type})`;
    const group = result.get(name) ?? { name, count: 0, bytes: 0 };
    group.count++;
    group.bytes += heap.nodes[i + sizeAt]!;
    result.set(name, group);
  }
  return result;
}

/** The groups that grew most in bytes from `before` to `after`. */
export function growth(
  before: Map<string, Group>,
  after: Map<string, Group>,
  top = 15,
): (Group & { countDelta: number })[] {
  return [...after.values()]
    .map((g) => {
      const was = before.get(g.name);
      return {
        name: g.name,
        count: g.count,
        bytes: g.bytes - (was?.bytes ?? 0),
        countDelta: g.count - (was?.count ?? 0),
      };
    })
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top);
}

export function total(groups: Map<string, Group>): number {
  let bytes = 0;
  for (const g of groups.values()) bytes += g.bytes;
  return bytes;
}
