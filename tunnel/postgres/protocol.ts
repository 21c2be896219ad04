/**
 * Constants and builders for the PostgreSQL v3 wire protocol messages the tunnel itself
 * originates towards its client (authentication, errors, notices, key data).
 * Frontend messages towards the upstream server are built with pg-protocol's `serialize`.
 */

/** Codes carried in the first four payload bytes of untagged startup packets. */
export const StartupCode = {
  protocol30: 196608,
  protocol32: 196610,
  cancelRequest: 80877102,
  sslRequest: 80877103,
  gssEncRequest: 80877104,
} as const;

/** PostgreSQL rejects startup packets larger than this (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_LENGTH = 10_000;

/**
 * The largest message accepted from a client that has not authenticated yet (SASL initial response and
 * final message). SCRAM's are a few hundred bytes, with channel binding too.
 */
export const MAX_AUTHENTICATION_MESSAGE_LENGTH = 8192;

/** One-byte message type codes. */
export const Frontend = {
  query: 0x51, // Q
  parse: 0x50, // P
  bind: 0x42, // B
  describe: 0x44, // D
  execute: 0x45, // E
  close: 0x43, // C
  sync: 0x53, // S
  flush: 0x48, // H
  copyData: 0x64, // d
  copyDone: 0x63, // c
  copyFail: 0x66, // f
  functionCall: 0x46, // F
  terminate: 0x58, // X
  password: 0x70, // p (PasswordMessage, SASLInitialResponse, SASLResponse)
} as const;

export const Backend = {
  authentication: 0x52, // R
  backendKeyData: 0x4b, // K
  parameterStatus: 0x53, // S
  readyForQuery: 0x5a, // Z
  errorResponse: 0x45, // E
  noticeResponse: 0x4e, // N
  notificationResponse: 0x41, // A
  rowDescription: 0x54, // T
  dataRow: 0x44, // D
  commandComplete: 0x43, // C
  emptyQueryResponse: 0x49, // I
  portalSuspended: 0x73, // s
  parseComplete: 0x31, // 1
  bindComplete: 0x32, // 2
  closeComplete: 0x33, // 3
  noData: 0x6e, // n
  parameterDescription: 0x74, // t
  copyInResponse: 0x47, // G
  copyOutResponse: 0x48, // H
  copyBothResponse: 0x57, // W
  copyData: 0x64, // d
  copyDone: 0x63, // c
  functionCallResponse: 0x56, // V
  negotiateProtocolVersion: 0x76, // v
} as const;

export const AuthCode = {
  ok: 0,
  cleartextPassword: 3,
  md5Password: 5,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;

export type TransactionStatus = 'I' | 'T' | 'E';

/** Fields of ErrorResponse / NoticeResponse, by their one-letter codes. */
export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'INFO' | 'LOG' | 'DEBUG';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the statement text the error refers to. */
  position?: number;
}

function tagged(type: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = type;
  out.writeUInt32BE(4 + payload.length, 1);
  payload.copy(out, 5);
  return out;
}

export function int32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(value, 0);
  return b;
}

export function cstring(value: string): Buffer {
  return Buffer.from(`${value}\0`, 'utf8');
}

function noticeFields(fields: ErrorFields): Buffer {
  const parts = [
    Buffer.from('S'),
    cstring(fields.severity),
    Buffer.from('V'),
    cstring(fields.severity),
    Buffer.from('C'),
    cstring(fields.code),
    Buffer.from('M'),
    cstring(fields.message),
  ];
  if (fields.detail) parts.push(Buffer.from('D'), cstring(fields.detail));
  if (fields.position !== undefined) parts.push(Buffer.from('P'), cstring(String(fields.position)));
  if (fields.hint) parts.push(Buffer.from('H'), cstring(fields.hint));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function errorResponse(fields: ErrorFields): Buffer {
  return tagged(Backend.errorResponse, noticeFields(fields));
}

export function noticeResponse(
  fields: Omit<ErrorFields, 'severity'> & { severity?: ErrorFields['severity'] },
): Buffer {
  return tagged(Backend.noticeResponse, noticeFields({ severity: 'NOTICE', ...fields }));
}

export function authenticationOk(): Buffer {
  return tagged(Backend.authentication, int32(AuthCode.ok));
}

export function authenticationSasl(mechanisms: string[]): Buffer {
  return tagged(
    Backend.authentication,
    Buffer.concat([int32(AuthCode.sasl), ...mechanisms.map(cstring), Buffer.from([0])]),
  );
}

export function authenticationSaslContinue(data: string): Buffer {
  return tagged(
    Backend.authentication,
    Buffer.concat([int32(AuthCode.saslContinue), Buffer.from(data, 'utf8')]),
  );
}

export function authenticationSaslFinal(data: string): Buffer {
  return tagged(
    Backend.authentication,
    Buffer.concat([int32(AuthCode.saslFinal), Buffer.from(data, 'utf8')]),
  );
}

export function backendKeyData(processId: number, secretKey: Buffer): Buffer {
  return tagged(Backend.backendKeyData, Buffer.concat([int32(processId), secretKey]));
}

export function readyForQuery(status: TransactionStatus): Buffer {
  return tagged(Backend.readyForQuery, Buffer.from(status, 'latin1'));
}

export function parameterStatus(name: string, value: string): Buffer {
  return tagged(Backend.parameterStatus, Buffer.concat([cstring(name), cstring(value)]));
}

export function negotiateProtocolVersion(newestMinor: number, unrecognizedOptions: string[]): Buffer {
  return tagged(
    Backend.negotiateProtocolVersion,
    Buffer.concat([
      int32(newestMinor),
      int32(unrecognizedOptions.length),
      ...unrecognizedOptions.map(cstring),
    ]),
  );
}

/** The single byte answering SSLRequest / GSSENCRequest with "not supported here". */
export const REFUSE_ENCRYPTION = Buffer.from('N');
