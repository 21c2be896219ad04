/**
 * The authentication exchange: the server's AuthenticationRequest messages and the client's
 * password / SASL answers (all sent with type 'p').
 */
import { cstring, int32, tagged } from './bytes.ts';
import { AuthCode, Backend, TAGGED_HEADER_LENGTH } from './codes.ts';
import { MessageReader } from './reader.ts';

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

/** An AuthenticationRequest: its code and the data after it (salt, mechanisms, SASL data). */
export function readAuthenticationRequest(frame: Buffer): { request: number; data: Buffer } {
  const r = new MessageReader(frame, TAGGED_HEADER_LENGTH, 'Authentication');
  return { request: r.int32(), data: r.rest() };
}

/** The mechanism names of AuthenticationSASL's data, up to the empty name that ends the list. */
export function readSaslMechanisms(data: Buffer): string[] {
  const r = new MessageReader(data, 0, 'AuthenticationSASL');
  const mechanisms: string[] = [];
  while (!r.atEnd) {
    const name = r.cstring();
    if (name === '') break;
    mechanisms.push(name);
  }
  return mechanisms;
}

export function readSaslInitialResponse(frame: Buffer): { mechanism: string; data: string } {
  const r = new MessageReader(frame, TAGGED_HEADER_LENGTH, 'SASLInitialResponse');
  const mechanism = r.cstring();
  const length = r.int32();
  return { mechanism, data: length === -1 ? '' : r.bytes(length).toString('utf8') };
}

export function readSaslResponse(frame: Buffer): string {
  return frame.toString('utf8', TAGGED_HEADER_LENGTH);
}
