/** Readers for the backend messages the tunnel itself must understand, from whole frames. */

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
  const count = frame.readInt16BE(5);
  const fields: FieldDescription[] = [];
  let offset = 7;
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

/** ErrorResponse / NoticeResponse fields by their one-letter codes. */
export function readNoticeFields(frame: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let offset = 5;
  while (offset < frame.length && frame[offset] !== 0) {
    const code = String.fromCharCode(frame[offset]!);
    const end = frame.indexOf(0, offset + 1);
    if (end < 0) break;
    fields.set(code, frame.toString('utf8', offset + 1, end));
    offset = end + 1;
  }
  return fields;
}
