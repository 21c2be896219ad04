/**
 * TLS on the tunnel's local leg, for clients that ask for it: after an SSLRequest answered 'S' (libpq's
 * `sslmode=require` and up, JDBC's `ssl=true`, postgres.js `ssl: 'require'`), or straight away when the
 * first bytes are a TLS ClientHello (PostgreSQL 17's `sslnegotiation=direct`, which must then offer the
 * ALPN protocol "postgresql"). Clients that ask for none stay in plaintext.
 */
import type { Socket } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Pem } from './local-certificate.ts';

/** The ALPN protocol name PostgreSQL registers and requires for direct TLS. */
export const ALPN_POSTGRESQL = 'postgresql';

export interface LocalTlsMaterial extends Pem {
  /** The certificate authority that signed `cert` (PEM): what a client's `sslrootcert` names. */
  ca: string;
}

export class LocalTls {
  private readonly context: SecureContext;

  constructor(readonly material: LocalTlsMaterial) {
    this.context = createSecureContext({ cert: material.cert, key: material.key, minVersion: 'TLSv1.2' });
  }

  /** TLS on a client that sent SSLRequest and was answered 'S'; nothing of it may be buffered yet. */
  negotiated(socket: Socket): TLSSocket {
    return this.serve(socket);
  }

  /**
   * TLS on a client whose first bytes (`initial`, already read) began a ClientHello: they are handed
   * to the TLS layer ahead of the rest of the stream.
   */
  direct(socket: Socket, initial: Buffer): TLSSocket {
    const incoming = new PassThrough();
    incoming.write(initial);
    socket.pipe(incoming);
    const stream = Duplex.from({ readable: incoming, writable: socket });
    stream.once('close', () => socket.destroy());
    return this.serve(stream);
  }

  private serve(stream: Duplex): TLSSocket {
    return new TLSSocket(stream, {
      isServer: true,
      secureContext: this.context,
      ALPNProtocols: [ALPN_POSTGRESQL],
    });
  }
}
