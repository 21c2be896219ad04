/**
 * Turns a column's sensitivity (its Taint, from provenance or lineage) and its type into the mask the
 * row rewriter applies: a strategy for a scalar, and for composite and array values a mask per field
 * or element, down to the leaves.
 *
 * A composite type is masked by its own fields' rules as well (pg_attribute of the type's relation,
 * through the catalog: a table's row type carries the table's mask rules, a `CREATE TYPE … AS` type
 * rules written against the type's name), whatever lineage says: a value of type `customers` is masked
 * as customers rows are, wherever it came from. What lineage says on top is merged field by field.
 */
import type { Catalog, TypeShape } from './catalog.ts';
import type { ArrayMask, ColumnMask } from './composite-values.ts';
import type { JsonMask, JsonMemberMask } from './json-documents.ts';
import { strongest, type LineageAnalyzer, type Taint } from './lineage.ts';
import type { MaskStrategy } from './strategies.ts';

/** What a computed column made from masked data becomes: redacted text, or NULL for other types. */
export const DERIVED_STRATEGY: MaskStrategy = { kind: 'redact' };
const DERIVED: Taint = { kind: 'derived' };

const RECORD = 2249;
const JSON_OID = 114;
const JSONB_OID = 3802;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
/** Nested types deeper than this are masked whole (types cannot nest themselves, so only a bound). */
const MAX_DEPTH = 16;

/** Builtin array types and their elements (pg_type.dat), so common results need no catalog lookup. */
// prettier-ignore
const BUILTIN_ARRAYS = new Map<number, number>([
  [1000, 16], [1001, 17], [1002, 18], [1003, 19], [1005, 21], [1007, 23], [1009, 25], [1010, 27],
  [1011, 28], [1012, 29], [1014, 1042], [1015, 1043], [1016, 20], [1017, 600], [1018, 601],
  [1019, 602], [1020, 603], [1021, 700], [1022, 701], [1027, 604], [1028, 26], [1040, 829],
  [1041, 869], [651, 650], [791, 790], [199, 114], [143, 142], [1115, 1114], [1182, 1082],
  [1183, 1083], [1185, 1184], [1187, 1186], [1231, 1700], [1270, 1266], [1561, 1560], [1563, 1562],
  [2951, 2950], [3807, 3802], [2287, RECORD], [3643, 3614], [3645, 3615], [775, 774], [4073, 4072],
  [3221, 3220], [2211, 2206], [2210, 2205], [1034, 1033], [5039, 5038],
]);
const BOX = 603;
const FIRST_NORMAL_OID = 16384;

export class ColumnMasks {
  constructor(
    private readonly catalog: Catalog,
    private readonly lineage: LineageAnalyzer,
    /** With detectors on, composite and array values are walked even when nothing in them is masked. */
    private readonly detecting: boolean,
  ) {}

  /** The mask of a column of type `typeOid` whose sensitivity is `taint`. */
  forColumn(taint: Taint, typeOid: number): Promise<ColumnMask> {
    return this.mask(taint, typeOid, 0);
  }

  private async mask(taint: Taint, typeOid: number, depth: number): Promise<ColumnMask> {
    if (depth > MAX_DEPTH) return taint ? DERIVED_STRATEGY : undefined;
    const shape = await this.shapeOf(typeOid);
    switch (shape.kind) {
      case 'domain':
        return this.mask(taint, shape.baseType, depth + 1);
      case 'array': {
        const element = await this.mask(elementTaint(taint), shape.elementType, depth + 1);
        if (element === undefined && !this.detecting) return undefined;
        const mask: ArrayMask = {
          kind: 'array',
          element,
          elementType: shape.elementType,
          delimiter: shape.delimiter,
        };
        if (taint?.kind === 'array' && taint.elements) {
          const { elements } = taint;
          mask.elements = await Promise.all(elements.map((t) => this.mask(t, shape.elementType, depth + 1)));
        }
        return mask;
      }
      case 'composite': {
        const relation = await this.catalog.relation(shape.relationOid);
        const own = relation ? await this.lineage.columnsOf(relation) : [];
        const traced = fieldTaints(taint, shape.fields.length);
        const fields = await Promise.all(
          shape.fields.map((field, i) =>
            this.mask(
              fieldTaint(traced[i], own.find((c) => c.name === field.name)?.taint),
              field.typeOid,
              depth + 1,
            ),
          ),
        );
        if (fields.every((f) => f === undefined) && !this.detecting) return undefined;
        return { kind: 'record', fields, types: shape.fields.map((f) => f.typeOid) };
      }
      default:
        if (taint?.kind === 'json' && (typeOid === JSON_OID || typeOid === JSONB_OID))
          return jsonMask(taint, typeOid === JSONB_OID);
        return typeOid === RECORD ? this.anonymousRecord(taint) : strategyOf(taint);
    }
  }

  /** A record whose field types are not known before its rows arrive: fields by what lineage traced. */
  private anonymousRecord(taint: Taint): ColumnMask {
    if (taint === undefined) {
      return this.detecting ? { kind: 'record', fields: [], types: [], rest: undefined } : undefined;
    }
    if (taint.kind === 'record') {
      // Fields past the traced ones cannot be told apart: masked.
      return { kind: 'record', fields: taint.fields.map(untypedMask), types: [], rest: DERIVED_STRATEGY };
    }
    return { kind: 'record', fields: [], types: [], rest: strategyOf(taint) };
  }

  private shapeOf(typeOid: number): Promise<TypeShape> {
    const element = BUILTIN_ARRAYS.get(typeOid);
    if (element !== undefined)
      return Promise.resolve({
        kind: 'array',
        elementType: element,
        delimiter: element === BOX ? SEMICOLON : COMMA,
      });
    if (typeOid < FIRST_NORMAL_OID) return Promise.resolve(SCALAR);
    // Not kept here: the catalog keeps it as long as it may, and forgets it when the type may change.
    return this.catalog.typeShape(typeOid).then((shape) => shape ?? SCALAR);
  }
}

const SCALAR: TypeShape = { kind: 'scalar' };

/** A scalar's strategy: the rule's own, or the derived one for anything computed or structured. */
function strategyOf(taint: Taint): MaskStrategy | undefined {
  if (taint === undefined) return undefined;
  return taint.kind === 'direct' ? taint.strategy : DERIVED_STRATEGY;
}

/** The taint of each of `count` fields of a value whose taint is `taint`. */
function fieldTaints(taint: Taint, count: number): Taint[] {
  if (taint?.kind === 'record' && taint.fields.length === count) return [...taint.fields];
  const each = taint === undefined || taint.kind === 'direct' || taint.kind === 'opaque' ? taint : DERIVED;
  return Array.from({ length: count }, () => each);
}

/**
 * A field's taint from what lineage traced and the type's own rule for it. Code the tunnel cannot see
 * may have put anything in any field: a field its type has a rule for is masked by that rule, every
 * other field is masked as untraceable.
 */
function fieldTaint(traced: Taint, own: Taint): Taint {
  if (traced?.kind === 'opaque') return own?.kind === 'direct' ? own : (own ?? traced);
  return strongest(traced, own);
}

function elementTaint(taint: Taint): Taint {
  if (taint === undefined || taint.kind === 'direct' || taint.kind === 'derived' || taint.kind === 'opaque')
    return taint;
  return taint.kind === 'array' ? taint.element : DERIVED;
}

/** A JSON document's mask: each member by its key, nested documents of rows by theirs. */
function jsonMask(taint: Extract<Taint, { kind: 'json' }>, jsonb: boolean): JsonMask {
  const members = new Map<string, JsonMemberMask>();
  for (const [key, member] of taint.members)
    members.set(key, member?.kind === 'json' ? jsonMask(member, false) : strategyOf(member));
  return { kind: 'json', members, each: taint.each, jsonb };
}

/** The mask of a value whose type is only known from its bytes (a field of an anonymous record). */
function untypedMask(taint: Taint): ColumnMask {
  if (taint === undefined || taint.kind === 'direct' || taint.kind === 'derived' || taint.kind === 'opaque')
    return strategyOf(taint);
  if (taint.kind === 'json') return DERIVED_STRATEGY;
  if (taint.kind === 'array') {
    const mask: ArrayMask = {
      kind: 'array',
      element: untypedMask(taint.element),
      elementType: 0,
      delimiter: COMMA,
    };
    if (taint.elements) mask.elements = taint.elements.map(untypedMask);
    return mask;
  }
  return { kind: 'record', fields: taint.fields.map(untypedMask), types: [], rest: DERIVED_STRATEGY };
}
