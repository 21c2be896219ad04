/**
 * What the server tells the client about the session outside any result: BackendKeyData (the key to
 * cancel with), ParameterStatus (a run-time setting's value) and ReadyForQuery (the transaction state).
 */
import { cstring, int32, tagged } from './bytes.ts';
import { Backend, TAGGED_HEADER_LENGTH } from './codes.ts';
import { MessageReader, ProtocolViolation } from './reader.ts';

/** ReadyForQuery's status: idle, in a transaction block, in a failed transaction block. */
export type TransactionStatus = 'I' | 'T' | 'E';

export function backendKeyData(processId: number, secretKey: Buffer): Buffer {
  return tagged(Backend.backendKeyData, Buffer.concat([int32(processId), secretKey]));
}

/** The process id and the secret key (4 bytes under protocol 3.0, 4 to 256 under 3.2), copied. */
export function readBackendKeyData(frame: Buffer): { processId: number; secretKey: Buffer } {
  const r = new MessageReader(frame, TAGGED_HEADER_LENGTH, 'BackendKeyData');
  const processId = r.int32();
  const secretKey = Buffer.from(r.rest());
  if (secretKey.length < 4) throw new ProtocolViolation('truncated BackendKeyData message');
  return { processId, secretKey };
}

export function readyForQuery(status: TransactionStatus): Buffer {
  return tagged(Backend.readyForQuery, Buffer.from(status, 'latin1'));
}

export function parameterStatus(name: string, value: string): Buffer {
  return tagged(Backend.parameterStatus, Buffer.concat([cstring(name), cstring(value)]));
}

export function readParameterStatus(frame: Buffer): { name: string; value: string } {
  const r = new MessageReader(frame, TAGGED_HEADER_LENGTH, 'ParameterStatus');
  return { name: r.cstring(), value: r.cstring() };
}
