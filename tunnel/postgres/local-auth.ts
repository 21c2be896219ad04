import { readSaslInitialResponse, readSaslResponse } from './wire/authentication.ts';
import { readStartupPacket } from './wire/startup.ts';
import {
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
} from './wire/authentication.ts';
import { Frontend, StartupCode } from './wire/codes.ts';
import { negotiateProtocolVersion, REFUSE_ENCRYPTION } from './wire/startup.ts';
import { ScramServer, type ScramVerifier } from './wire/scram.ts';
import { TLS_RECORD, UNTAGGED } from './wire/framer.ts';

/** What the local leg's handshake asks of the session after each client frame. */
export type HandshakeStep =
  | { kind: 'reply'; bytes: Buffer; expectTagged?: boolean }
  /** SSLRequest, and the tunnel offers TLS: answer 'S' and go on inside TLS. */
  | { kind: 'start-tls' }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  | { kind: 'refuse'; code: string; message: string; reason: string; user?: string }
  /** Silently close: the peer does not speak the protocol we could answer in (e.g. a direct TLS hello). */
  | { kind: 'drop'; reason: string }
  | { kind: 'authenticated'; bytes: Buffer; parameters: Map<string, string> };

const MECHANISM = 'SCRAM-SHA-256';

/**
 * The local leg's startup: TLS when the client asks and the tunnel has a certificate (GSS encryption is
 * always declined), then SCRAM-SHA-256 against the tunnel's secret. Whatever user and database the
 * client names, it is mapped to the tunnel's upstream identity, so only the secret matters.
 */
export class LocalHandshake {
  private state: 'startup' | 'sasl-initial' | 'sasl-final' | 'done' = 'startup';
  private scram: ScramServer | undefined;
  private parameters = new Map<string, string>();
  /** As in PostgreSQL, each encryption request may come once; after TLS, GSS may not be asked for. */
  private sslDone = false;
  private gssDone = false;

  constructor(
    private readonly verifier: ScramVerifier,
    private readonly options: { offersTls?: boolean } = {},
  ) {}

  get user(): string | undefined {
    return this.parameters.get('user');
  }

  step(type: number, frame: Buffer): HandshakeStep {
    switch (this.state) {
      case 'startup':
        return this.onStartupPacket(type, frame);
      case 'sasl-initial':
        return this.onSaslInitial(type, frame);
      case 'sasl-final':
        return this.onSaslFinal(type, frame);
      default:
        return this.refuse('08P01', 'unexpected message during authentication', 'protocol violation');
    }
  }

  private onStartupPacket(type: number, frame: Buffer): HandshakeStep {
    if (type === TLS_RECORD) return { kind: 'drop', reason: 'direct TLS is not offered on the loopback leg' };
    if (type !== UNTAGGED) return this.refuse('08P01', 'expected a startup packet', 'protocol violation');
    const packet = readStartupPacket(frame);
    switch (packet.code) {
      case StartupCode.sslRequest:
        // A repeated request falls through to the version check and is refused, as by the server.
        if (this.sslDone) break;
        this.sslDone = true;
        if (!this.options.offersTls) return { kind: 'reply', bytes: REFUSE_ENCRYPTION };
        this.gssDone = true;
        return { kind: 'start-tls' };
      case StartupCode.gssEncRequest:
        if (this.gssDone) break;
        this.gssDone = true;
        return { kind: 'reply', bytes: REFUSE_ENCRYPTION };
      case StartupCode.cancelRequest:
        return { kind: 'cancel', processId: packet.cancel!.processId, secretKey: packet.cancel!.secretKey };
    }
    if (packet.code >> 16 !== 3) {
      return this.refuse(
        '0A000',
        `unsupported frontend protocol ${packet.code >> 16}.${packet.code & 0xffff}`,
        'protocol',
      );
    }
    this.parameters = packet.parameters;
    if (!this.parameters.get('user')) {
      return this.refuse('28000', 'no PostgreSQL user name specified in startup packet', 'no user');
    }
    if (this.parameters.get('replication') && this.parameters.get('replication') !== 'false') {
      return this.refuse(
        '42501',
        'replication connections are not allowed through Portcullis',
        'replication',
      );
    }
    const protocolOptions = [...this.parameters.keys()].filter((k) => k.startsWith('_pq_.'));
    for (const option of protocolOptions) this.parameters.delete(option);
    const parts: Buffer[] = [];
    // The tunnel speaks protocol 3.0 on both legs; newer minor versions and protocol options are
    // declined the way PostgreSQL itself declines them, so the client downgrades instead of failing.
    if ((packet.code & 0xffff) > 0 || protocolOptions.length > 0) {
      parts.push(negotiateProtocolVersion(StartupCode.protocol30, protocolOptions));
    }
    parts.push(authenticationSasl([MECHANISM]));
    this.state = 'sasl-initial';
    return { kind: 'reply', bytes: Buffer.concat(parts), expectTagged: true };
  }

  private onSaslInitial(type: number, frame: Buffer): HandshakeStep {
    if (type !== Frontend.password) return this.refuse('08P01', 'expected SASL initial response', 'protocol');
    const { mechanism, data } = readSaslInitialResponse(frame);
    if (mechanism !== MECHANISM) {
      return this.refuse(
        '28000',
        `SASL mechanism ${mechanism} is not offered; use ${MECHANISM}`,
        'mechanism',
      );
    }
    this.scram = new ScramServer(this.verifier);
    try {
      const serverFirst = this.scram.handleClientFirst(mechanism, data);
      this.state = 'sasl-final';
      return { kind: 'reply', bytes: authenticationSaslContinue(serverFirst) };
    } catch {
      return this.authFailed('malformed SCRAM client-first message');
    }
  }

  private onSaslFinal(type: number, frame: Buffer): HandshakeStep {
    if (type !== Frontend.password) return this.refuse('08P01', 'expected SASL response', 'protocol');
    try {
      const serverFinal = this.scram!.handleClientFinal(readSaslResponse(frame));
      this.state = 'done';
      return {
        kind: 'authenticated',
        bytes: Buffer.concat([authenticationSaslFinal(serverFinal), authenticationOk()]),
        parameters: this.parameters,
      };
    } catch {
      return this.authFailed('wrong tunnel secret');
    }
  }

  private authFailed(reason: string): HandshakeStep {
    return this.refuse('28P01', `password authentication failed for user "${this.user ?? ''}"`, reason);
  }

  private refuse(code: string, message: string, reason: string): HandshakeStep {
    this.state = 'done';
    return { kind: 'refuse', code, message, reason, user: this.user };
  }
}
