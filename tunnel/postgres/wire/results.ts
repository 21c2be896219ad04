/**
 * The messages a result is made of that the tunnel reads or builds itself: RowDescription (what each
 * column is and where it comes from) and the layout of DataRow (a cell count, then per cell an int32
 * length, -1 for NULL, and the bytes). The masking rewriter walks DataRow cells with this layout.
 */
import { Backend, TAGGED_HEADER_LENGTH } from './codes.ts';

export interface FieldDescription {
  name: string;
  /** OID of the table the column comes from, 0 when it is computed. */
  tableOid: number;
  /** The column's attribute number in that table, 0 when computed. */
  columnNumber: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}

export function readRowDescription(frame: Buffer): FieldDescription[] {
  const count = frame.readInt16BE(TAGGED_HEADER_LENGTH);
  const fields: FieldDescription[] = [];
  let offset = TAGGED_HEADER_LENGTH + 2;
  for (let i = 0; i < count; i++) {
    const end = frame.indexOf(0, offset);
    if (end < 0 || end + 19 > frame.length) throw new Error('malformed RowDescription');
    const name = frame.toString('utf8', offset, end);
    offset = end + 1;
    fields.push({
      name,
      tableOid: frame.readUInt32BE(offset),
      columnNumber: frame.readInt16BE(offset + 4),
      typeOid: frame.readUInt32BE(offset + 6),
      typeSize: frame.readInt16BE(offset + 10),
      typeModifier: frame.readInt32BE(offset + 12),
      format: frame.readInt16BE(offset + 16),
    });
    offset += 18;
  }
  return fields;
}

/** Offset of a DataRow's first cell: after the header and the int16 cell count. */
export const DATA_ROW_CELLS = TAGGED_HEADER_LENGTH + 2;

/** The cell count of a DataRow frame at least DATA_ROW_CELLS long. */
export function dataRowCellCount(frame: Buffer): number {
  return (frame[TAGGED_HEADER_LENGTH]! << 8) | frame[TAGGED_HEADER_LENGTH + 1]!;
}

/** Builds a DataRow frame from cell values (null = SQL NULL): for tests, benchmarks and synthetic rows. */
export function buildDataRow(cells: readonly (Buffer | string | null)[]): Buffer {
  const values = cells.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c));
  const size = DATA_ROW_CELLS + values.reduce((sum, v) => sum + 4 + (v?.length ?? 0), 0);
  const out = Buffer.allocUnsafe(size);
  out[0] = Backend.dataRow;
  out.writeInt32BE(size - 1, 1);
  out.writeUInt16BE(values.length, TAGGED_HEADER_LENGTH);
  let w = DATA_ROW_CELLS;
  for (const v of values) {
    w = out.writeInt32BE(v === null ? -1 : v.length, w);
    if (v !== null) w += v.copy(out, w);
  }
  return out;
}
