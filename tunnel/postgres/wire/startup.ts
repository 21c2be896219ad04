/**
 * The untagged packets that open a connection (StartupMessage, CancelRequest, SSLRequest,
 * GSSENCRequest) and the server's first answers to them.
 */
import { cstring, int32, tagged } from './bytes.ts';
import { Backend, StartupCode } from './codes.ts';
import { MessageReader, ProtocolViolation } from './reader.ts';

export interface StartupPacket {
  /** Protocol version or special request code (see StartupCode). */
  code: number;
  /** Startup parameters (StartupMessage only). */
  parameters: Map<string, string>;
  /** CancelRequest only. */
  cancel?: { processId: number; secretKey: Buffer };
}

export function readStartupPacket(frame: Buffer): StartupPacket {
  const r = new MessageReader(frame, 4, 'startup');
  const code = r.int32() >>> 0;
  const parameters = new Map<string, string>();
  if (code === StartupCode.cancelRequest) {
    const processId = r.int32();
    return { code, parameters, cancel: { processId, secretKey: Buffer.from(r.rest()) } };
  }
  if (code >> 16 === 3) {
    for (;;) {
      const name = r.cstring();
      if (name === '') break;
      parameters.set(name, r.cstring());
    }
    if (!r.atEnd) throw new ProtocolViolation('trailing bytes after startup parameters');
  }
  return { code, parameters };
}

/**
 * Built here rather than with pg-protocol's serialize.startup, which always appends
 * client_encoding=UTF8 and so would silently override the client's own choice.
 */
export function startupMessage(params: Record<string, string>): Buffer {
  const body = [int32(StartupCode.protocol30)];
  for (const [name, value] of Object.entries(params)) body.push(cstring(name), cstring(value));
  body.push(Buffer.from([0]));
  const payload = Buffer.concat(body);
  return Buffer.concat([int32(payload.length + 4), payload]);
}

/** Written by hand: the secret key is variable-length under protocol 3.2. */
export function cancelRequest(processId: number, secretKey: Buffer): Buffer {
  return Buffer.concat([
    int32(12 + secretKey.length),
    int32(StartupCode.cancelRequest),
    int32(processId),
    secretKey,
  ]);
}

/** The single byte answering SSLRequest / GSSENCRequest with "not supported here". */
export const REFUSE_ENCRYPTION = Buffer.from('N');

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
