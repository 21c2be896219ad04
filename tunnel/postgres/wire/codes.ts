/**
 * The numbers of the PostgreSQL v3 wire protocol: message type bytes, startup request codes,
 * authentication request codes and the size limits the server itself applies.
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

/** Offset of the payload in a tagged message: the type byte and the int32 length word. */
export const TAGGED_HEADER_LENGTH = 5;
