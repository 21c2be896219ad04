/**
 * ErrorResponse and NoticeResponse: a list of fields, each a one-letter code and a NUL-terminated
 * text, ended by a zero byte. Read once here for everyone who looks at a server's error (the session,
 * the upstream login, the masking of what errors repeat) and built here for the tunnel's own.
 */
import { cstring, tagged } from './bytes.ts';
import { Backend, TAGGED_HEADER_LENGTH } from './codes.ts';

/** Fields of ErrorResponse / NoticeResponse the tunnel writes, by name. */
export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'INFO' | 'LOG' | 'DEBUG';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the statement text the error refers to. */
  position?: number;
}

/** One field: its one-letter code and its text. */
export type NoticeField = [code: string, text: string];

export interface NoticeFieldList {
  /** The fields in the order sent, up to the first that cannot be read. */
  fields: NoticeField[];
  /**
   * Offset of the zero byte ending the list; the frame's length when the list has no end; -1 when a
   * field's text is not terminated.
   */
  end: number;
}

export function readNoticeFieldList(frame: Buffer): NoticeFieldList {
  const fields: NoticeField[] = [];
  let offset = TAGGED_HEADER_LENGTH;
  while (offset < frame.length && frame[offset] !== 0) {
    const end = frame.indexOf(0, offset + 1);
    if (end < 0) return { fields, end: -1 };
    fields.push([String.fromCharCode(frame[offset]!), frame.toString('utf8', offset + 1, end)]);
    offset = end + 1;
  }
  return { fields, end: offset };
}

/** The fields by code (the last of a repeated code wins); what cannot be read is left out. */
export function readNoticeFields(frame: Buffer): Map<string, string> {
  return new Map(readNoticeFieldList(frame).fields);
}

/** An ErrorResponse ('E') or NoticeResponse ('N') holding `fields` in order. */
export function noticeMessage(type: number, fields: readonly NoticeField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [code, text] of fields) parts.push(Buffer.from(code, 'latin1'), cstring(text));
  parts.push(Buffer.from([0]));
  return tagged(type, Buffer.concat(parts));
}

function fieldList(fields: ErrorFields): NoticeField[] {
  const list: NoticeField[] = [
    ['S', fields.severity],
    ['V', fields.severity],
    ['C', fields.code],
    ['M', fields.message],
  ];
  if (fields.detail) list.push(['D', fields.detail]);
  if (fields.position !== undefined) list.push(['P', String(fields.position)]);
  if (fields.hint) list.push(['H', fields.hint]);
  return list;
}

export function errorResponse(fields: ErrorFields): Buffer {
  return noticeMessage(Backend.errorResponse, fieldList(fields));
}

export function noticeResponse(
  fields: Omit<ErrorFields, 'severity'> & { severity?: ErrorFields['severity'] },
): Buffer {
  return noticeMessage(Backend.noticeResponse, fieldList({ severity: 'NOTICE', ...fields }));
}
