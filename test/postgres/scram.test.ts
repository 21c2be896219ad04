import { execFile } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, webcrypto, X509Certificate } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { createAuthority, type Pem } from '../support/certs.ts';
import * as x509 from '@peculiar/x509';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import {
  createScramVerifier,
  saslprep,
  ScramClient,
  ScramError,
  ScramServer,
  tlsServerEndPoint,
  type ChannelBinding,
  type ScramVerifier,
} from '../../tunnel/postgres/wire/scram.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { connectUpstream } from '../../tunnel/postgres/upstream.ts';

/** An independent derivation of the verifier, as the oracle for a known salt. */
function verifierFor(password: string, salt: Buffer, iterations: number): ScramVerifier {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return {
    salt,
    iterations,
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: createHmac('sha256', salted).update('Server Key').digest(),
  };
}

/** Runs a whole exchange; returns the server's final message as the client saw it. */
function exchange(client: ScramClient, server: ScramServer): string {
  const serverFirst = server.handleClientFirst(client.mechanism, client.clientFirst());
  const serverFinal = server.handleClientFinal(client.handleServerFirst(serverFirst));
  client.verifyServerFinal(serverFinal);
  return serverFinal;
}

const binding = (data: string): ChannelBinding => ({ type: 'tls-server-end-point', data: Buffer.from(data) });

describe('SCRAM-SHA-256 against the RFC 7677 test vector', () => {
  const clientNonce = 'rOprNGfwEbeRWgbNEkqO';
  const serverNonce = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const serverFirst = `r=${clientNonce}${serverNonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`;
  const clientFinal = `c=biws,r=${clientNonce}${serverNonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=`;
  const serverFinal = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

  it('the client sends exactly the messages of the example and accepts its server signature', () => {
    const client = new ScramClient('pencil', { username: 'user', nonce: clientNonce });
    expect(client.mechanism).toBe('SCRAM-SHA-256');
    expect(client.clientFirst()).toBe(`n,,n=user,r=${clientNonce}`);
    expect(client.handleServerFirst(serverFirst)).toBe(clientFinal);
    client.verifyServerFinal(serverFinal);
    expect(client.serverVerified).toBe(true);
  });

  it('the server answers the example with the same messages', () => {
    const verifier = verifierFor('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
    const server = new ScramServer(verifier, { nonce: serverNonce });
    expect(server.handleClientFirst('SCRAM-SHA-256', `n,,n=user,r=${clientNonce}`)).toBe(serverFirst);
    expect(server.handleClientFinal(clientFinal)).toBe(serverFinal);
  });
});

describe('SCRAM-SHA-256 password checks', () => {
  const verifier = createScramVerifier('right password');

  it('a client and server sharing the password authenticate each other', () => {
    const client = new ScramClient('right password');
    expect(exchange(client, new ScramServer(verifier))).toMatch(/^v=/);
    expect(client.serverVerified).toBe(true);
  });

  it('the server rejects a proof made with the wrong password', () => {
    const client = new ScramClient('wrong password');
    expect(() => exchange(client, new ScramServer(verifier))).toThrow(/wrong password/);
  });

  it('the client rejects a server signature from a server that does not know the password', () => {
    const client = new ScramClient('right password');
    const impostor = new ScramServer(createScramVerifier('right password'));
    const serverFirst = impostor.handleClientFirst('SCRAM-SHA-256', client.clientFirst());
    client.handleServerFirst(serverFirst);
    // The impostor cannot check the proof, so it forges a final message.
    expect(() => client.verifyServerFinal(`v=${Buffer.alloc(32, 7).toString('base64')}`)).toThrow(
      /server signature is invalid/,
    );
    expect(client.serverVerified).toBe(false);
  });

  it('the client reports a server error message as a failure', () => {
    const client = new ScramClient('pw');
    const server = new ScramServer(createScramVerifier('pw'));
    client.handleServerFirst(server.handleClientFirst('SCRAM-SHA-256', client.clientFirst()));
    expect(() => client.verifyServerFinal('e=invalid-proof')).toThrow(/invalid-proof/);
  });

  it('the client rejects a server nonce that does not extend its own', () => {
    const client = new ScramClient('pw', { nonce: 'abc' });
    client.clientFirst();
    expect(() => client.handleServerFirst('r=xyz123,s=c2FsdA==,i=4096')).toThrow(ScramError);
    const replayed = new ScramClient('pw', { nonce: 'abc' });
    replayed.clientFirst();
    expect(() => replayed.handleServerFirst('r=abc,s=c2FsdA==,i=4096')).toThrow(ScramError);
  });

  it('the client rejects absurd iteration counts and malformed salts', () => {
    for (const serverFirst of [
      'r=abcdef,s=c2FsdA==,i=0',
      'r=abcdef,s=c2FsdA==,i=10000001',
      'r=abcdef,s=c2FsdA==,i=12ab',
      'r=abcdef,s=not base64!,i=4096',
      'r=abcdef,s=,i=4096',
    ]) {
      const client = new ScramClient('pw', { nonce: 'abc' });
      client.clientFirst();
      expect(() => client.handleServerFirst(serverFirst), serverFirst).toThrow(ScramError);
    }
  });

  it('both sides refuse unknown mandatory extensions (m=)', () => {
    const client = new ScramClient('pw', { nonce: 'abc' });
    client.clientFirst();
    expect(() => client.handleServerFirst('m=ext,r=abcdef,s=c2FsdA==,i=4096')).toThrow(/mandatory/);
    const server = new ScramServer(verifier);
    expect(() => server.handleClientFirst('SCRAM-SHA-256', 'n,,m=ext,n=,r=abc')).toThrow(/mandatory/);
  });

  it('the server accepts any user name, as PostgreSQL clients leave it empty', () => {
    const server = new ScramServer(verifier, { nonce: 'S' });
    expect(server.handleClientFirst('SCRAM-SHA-256', 'n,,n=,r=abc')).toMatch(/^r=abcS,s=/);
    const other = new ScramServer(verifier, { nonce: 'S' });
    expect(other.handleClientFirst('SCRAM-SHA-256', 'n,,n=someone=2Celse,r=abc')).toMatch(/^r=abcS,/);
  });

  it('the server rejects malformed messages, authorization identities and a tampered nonce', () => {
    expect(() => new ScramServer(verifier).handleClientFirst('SCRAM-SHA-256', 'n,,r=abc')).toThrow(
      ScramError,
    );
    expect(() => new ScramServer(verifier).handleClientFirst('SCRAM-SHA-256', 'n,a=admin,n=,r=abc')).toThrow(
      /authorization identity/,
    );
    expect(() => new ScramServer(verifier).handleClientFirst('SCRAM-SHA-1', 'n,,n=,r=abc')).toThrow(
      /mechanism/,
    );
    const client = new ScramClient('right password');
    const server = new ScramServer(verifier);
    const clientFinal = client.handleServerFirst(
      server.handleClientFirst('SCRAM-SHA-256', client.clientFirst()),
    );
    expect(() => server.handleClientFinal(clientFinal.replace(/,r=/, ',r=X'))).toThrow(/nonce/);
  });

  it('a message out of order is an error, and a failed exchange cannot be resumed', () => {
    const server = new ScramServer(verifier);
    expect(() => server.handleClientFinal('c=biws,r=abc,p=AAAA')).toThrow(/unexpected/);
    const client = new ScramClient('pw');
    expect(() => client.handleServerFirst('r=x,s=c2FsdA==,i=1')).toThrow(/unexpected/);
  });
});

describe('SCRAM-SHA-256-PLUS channel binding', () => {
  const verifier = createScramVerifier('secret');

  it('client and server with the same tls-server-end-point data authenticate', () => {
    const client = new ScramClient('secret', { channelBinding: binding('certificate hash') });
    expect(client.mechanism).toBe('SCRAM-SHA-256-PLUS');
    expect(client.clientFirst()).toMatch(/^p=tls-server-end-point,,n=,r=/);
    const server = new ScramServer(verifier, { channelBinding: binding('certificate hash') });
    expect(server.mechanisms).toEqual(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
    const again = new ScramClient('secret', { channelBinding: binding('certificate hash') });
    expect(exchange(again, server)).toMatch(/^v=/);
  });

  it('different binding data (a man in the middle terminating TLS) is rejected', () => {
    const client = new ScramClient('secret', { channelBinding: binding('the attacker certificate') });
    const server = new ScramServer(verifier, { channelBinding: binding('the real certificate') });
    expect(() => exchange(client, server)).toThrow(/channel binding/);
  });

  it('a server that offered PLUS rejects a client claiming the server could not bind ("y")', () => {
    const client = new ScramClient('secret', { clientSupportsBinding: true });
    expect(client.clientFirst()).toMatch(/^y,,/);
    const server = new ScramServer(verifier, { channelBinding: binding('cert') });
    const downgraded = new ScramClient('secret', { clientSupportsBinding: true });
    expect(() => exchange(downgraded, server)).toThrow(/downgrade/);
    // Without a binding of its own the server takes 'y' at face value.
    expect(
      exchange(new ScramClient('secret', { clientSupportsBinding: true }), new ScramServer(verifier)),
    ).toMatch(/^v=/);
  });

  it('a server without TLS refuses PLUS, and binding flags must fit the mechanism', () => {
    const plus = new ScramClient('secret', { channelBinding: binding('cert') });
    expect(() => new ScramServer(verifier).handleClientFirst(plus.mechanism, plus.clientFirst())).toThrow(
      /not offered/,
    );
    const server = new ScramServer(verifier, { channelBinding: binding('cert') });
    expect(() => server.handleClientFirst('SCRAM-SHA-256', 'p=tls-server-end-point,,n=,r=abc')).toThrow(
      ScramError,
    );
    const unique = new ScramServer(verifier, { channelBinding: binding('cert') });
    expect(() => unique.handleClientFirst('SCRAM-SHA-256-PLUS', 'p=tls-unique,,n=,r=abc')).toThrow(
      /tls-unique/,
    );
    const unbound = new ScramServer(verifier, { channelBinding: binding('cert') });
    expect(() => unbound.handleClientFirst('SCRAM-SHA-256-PLUS', 'n,,n=,r=abc')).toThrow(ScramError);
  });
});

describe('tls-server-end-point hashes the certificate with its signature hash (RFC 5929)', () => {
  async function selfSigned(algorithm: Record<string, unknown>): Promise<Buffer> {
    const keys = (await webcrypto.subtle.generateKey(algorithm as never, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=binding test',
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 3600_000),
      signingAlgorithm: algorithm as never,
      keys,
    });
    return Buffer.from(cert.rawData);
  }
  const rsa = { publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const sha = (name: string, der: Buffer): Buffer => createHash(name).update(der).digest();

  it('ECDSA with SHA-256 (the test CA) uses SHA-256', async () => {
    const ca = await createAuthority();
    const der = new X509Certificate(ca.cert).raw;
    expect(tlsServerEndPoint(der)).toEqual(sha('sha256', der));
  });

  it('ECDSA with SHA-384 uses SHA-384', async () => {
    const der = await selfSigned({ name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' });
    expect(tlsServerEndPoint(der)).toEqual(sha('sha384', der));
  });

  it('RSA with SHA-1 is upgraded to SHA-256', async () => {
    const der = await selfSigned({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1', ...rsa });
    expect(tlsServerEndPoint(der)).toEqual(sha('sha256', der));
  });

  it('RSA with SHA-512 uses SHA-512', async () => {
    const der = await selfSigned({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512', ...rsa });
    expect(tlsServerEndPoint(der)).toEqual(sha('sha512', der));
  });

  it('RSASSA-PSS takes the hash from its parameters', async () => {
    const der = await selfSigned({ name: 'RSA-PSS', hash: 'SHA-384', saltLength: 48, ...rsa });
    expect(tlsServerEndPoint(der)).toEqual(sha('sha384', der));
  });

  it('Ed25519 has no defined hash and malformed DER is refused', async () => {
    const der = await selfSigned({ name: 'Ed25519' });
    expect(() => tlsServerEndPoint(der)).toThrow(/1\.3\.101\.112/);
    expect(() => tlsServerEndPoint(Buffer.from([0x30, 0x82, 0xff]))).toThrow(/malformed certificate/);
    expect(() => tlsServerEndPoint(der.subarray(0, 40))).toThrow(/malformed certificate/);
  });
});

describe('SASLprep', () => {
  it('leaves ASCII alone, maps non-ASCII spaces and soft hyphens, and normalizes to NFKC', () => {
    expect(saslprep('plain ASCII \u0007')).toBe('plain ASCII \u0007');
    expect(saslprep('I\u00ADX')).toBe('IX');
    expect(saslprep('a\u00A0b')).toBe('a b');
    expect(saslprep('\uFB01x')).toBe('fix');
    expect(saslprep('\u2168')).toBe('IX');
  });

  it('uses a password SASLprep would prohibit unchanged, as PostgreSQL does', () => {
    expect(saslprep('\u00E9\u0007')).toBe('\u00E9\u0007');
    expect(saslprep('\u00E9\uE000')).toBe('\u00E9\uE000');
  });
});

/** A stand-in PostgreSQL server that authenticates with ScramServer, then reports ready. */
class ScramTestServer {
  readonly server: Server;
  readonly outcomes: string[] = [];

  constructor(
    private readonly verifier: ScramVerifier,
    private readonly tls?: Pem,
  ) {
    this.server = createServer((socket) => void this.serve(socket).catch(() => socket.destroy()));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async serve(raw: Socket): Promise<void> {
    let socket: Socket = raw;
    let reader = new TestReader(socket);
    let packet = await reader.startupPacket();
    let channelBinding: ChannelBinding | undefined;
    if (packet.readInt32BE(0) === 80877104) {
      socket.write('N'); // no GSSAPI encryption
      packet = await reader.startupPacket();
    }
    if (packet.readInt32BE(0) === 80877103) {
      if (!this.tls) {
        socket.write('N');
      } else {
        reader.stop();
        socket.write('S');
        const secure = new TLSSocket(raw, { isServer: true, cert: this.tls.cert, key: this.tls.key });
        await new Promise((resolve) => secure.once('secure', resolve));
        socket = secure;
        reader = new TestReader(socket);
        channelBinding = {
          type: 'tls-server-end-point',
          data: tlsServerEndPoint(new X509Certificate(this.tls.cert).raw),
        };
      }
      await reader.startupPacket(); // user and database do not matter here
    }
    const scram = new ScramServer(this.verifier, channelBinding ? { channelBinding } : {});
    socket.write(
      authentication(10, Buffer.concat(scram.mechanisms.map((m) => cstring(m)).concat(cstring('')))),
    );
    try {
      const initial = await reader.message();
      const mechanismEnd = initial.indexOf(0);
      const mechanism = initial.toString('utf8', 0, mechanismEnd);
      const clientFirst = initial.subarray(mechanismEnd + 5).toString('utf8');
      socket.write(authentication(11, Buffer.from(scram.handleClientFirst(mechanism, clientFirst))));
      const serverFinal = scram.handleClientFinal((await reader.message()).toString('utf8'));
      socket.write(authentication(12, Buffer.from(serverFinal)));
      this.outcomes.push(`authenticated with ${mechanism}`);
    } catch (error) {
      this.outcomes.push(`refused: ${(error as Error).message}`);
      socket.end(
        message('E', Buffer.concat([cstring('SFATAL'), cstring('C28P01'), cstring('Mrefused'), cstring('')])),
      );
      return;
    }
    socket.write(
      Buffer.concat([
        authentication(0, Buffer.alloc(0)),
        ...Object.entries({
          server_version: '18.0',
          client_encoding: 'UTF8',
          standard_conforming_strings: 'on',
          integer_datetimes: 'on',
          DateStyle: 'ISO, MDY',
        }).map(([k, v]) => message('S', Buffer.concat([cstring(k), cstring(v)]))),
        message('K', Buffer.from([0, 0, 0, 1, 0, 0, 0, 2])),
        message('Z', Buffer.from('I')),
      ]),
    );
    // Anything further (a Terminate) ends the session.
    await reader.message().catch(() => undefined);
    socket.end();
  }
}

class TestReader {
  private buffered = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;
  private readonly onData = (chunk: Buffer): void => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.wake?.();
  };

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  stop(): void {
    this.socket.off('data', this.onData);
  }

  private async take(size: number): Promise<Buffer> {
    while (this.buffered.length < size) {
      if (this.ended) throw new Error('closed');
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const bytes = this.buffered.subarray(0, size);
    this.buffered = this.buffered.subarray(size);
    return bytes;
  }

  async startupPacket(): Promise<Buffer> {
    const length = (await this.take(4)).readInt32BE(0);
    return this.take(length - 4);
  }

  async message(): Promise<Buffer> {
    const header = await this.take(5);
    return this.take(header.readInt32BE(1) - 4);
  }
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`);
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0);
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function authentication(code: number, data: Buffer): Buffer {
  const codeBytes = Buffer.alloc(4);
  codeBytes.writeInt32BE(code);
  return message('R', Buffer.concat([codeBytes, data]));
}

const run = promisify(execFile);

describe('ScramServer with real PostgreSQL clients', () => {
  const secret = 'tunnel secret';
  let authority: Awaited<ReturnType<typeof createAuthority>>;
  let serverPem: Pem;

  beforeAll(async () => {
    authority = await createAuthority();
    serverPem = await authority.sign('localhost', { ip: ['127.0.0.1'] });
  });

  it('node-postgres authenticates with SCRAM-SHA-256, and not with a wrong password', async () => {
    const server = new ScramTestServer(createScramVerifier(secret));
    const port = await server.listen();
    try {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'anyone',
        password: secret,
        database: 'x',
      });
      await client.connect();
      await client.end();
      const wrong = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'anyone',
        password: 'nope',
        database: 'x',
      });
      await expect(wrong.connect()).rejects.toThrow(/refused/);
      expect(server.outcomes).toEqual([
        'authenticated with SCRAM-SHA-256',
        expect.stringMatching(/^refused:/),
      ]);
    } finally {
      await server.close();
    }
  });

  it('node-postgres binds the channel with SCRAM-SHA-256-PLUS over TLS', async () => {
    const server = new ScramTestServer(createScramVerifier(secret), serverPem);
    const port = await server.listen();
    try {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'anyone',
        password: secret,
        database: 'x',
        ssl: { ca: authority.cert },
        enableChannelBinding: true,
      });
      await client.connect();
      await client.end();
      expect(server.outcomes).toEqual(['authenticated with SCRAM-SHA-256-PLUS']);
    } finally {
      await server.close();
    }
  });

  it('psql (libpq) authenticates with channel_binding=require over TLS', async () => {
    const server = new ScramTestServer(createScramVerifier(secret), serverPem);
    const port = await server.listen();
    try {
      const conninfo = `host=127.0.0.1 port=${port} user=anyone dbname=x sslmode=require channel_binding=require`;
      const { stdout } = await run('psql', [conninfo, '-X', '-w', '-c', '\\echo connected'], {
        env: { ...process.env, PGPASSWORD: secret },
      });
      expect(stdout.trim()).toBe('connected');
      expect(server.outcomes).toEqual(['authenticated with SCRAM-SHA-256-PLUS']);
    } finally {
      await server.close();
    }
  });
});

describe('SCRAM against PostgreSQL', () => {
  let postgres: TestPostgres;
  let admin: pg.Client;

  beforeAll(async () => {
    postgres = await startPostgres();
    admin = await postgres.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await postgres?.stop();
  });

  it('PostgreSQL accepts a verifier from createScramVerifier as a role password', async () => {
    const verifier = createScramVerifier('verifier password', 5000);
    const secret = [
      `SCRAM-SHA-256$${verifier.iterations}:${verifier.salt.toString('base64')}`,
      `${verifier.storedKey.toString('base64')}:${verifier.serverKey.toString('base64')}`,
    ].join('$');
    await admin.query(`CREATE ROLE verifier_user LOGIN PASSWORD '${secret}'`);
    const url = postgres.url(
      { sslmode: 'disable' },
      { user: 'verifier_user', password: 'verifier password' },
    );
    const connection = await connectUpstream(parseUpstreamUrl(url), {});
    expect(connection.authMechanism).toBe('SCRAM-SHA-256');
    connection.socket.end(serialize.end());
  });

  it('our SASLprep agrees with PostgreSQL for a non-ASCII password', async () => {
    // PostgreSQL SASLpreps the plaintext password when it builds the verifier.
    const password = 'p\u00E4ss\u00A0\uFB01\u00ADx';
    await admin.query(`CREATE ROLE unicode_user LOGIN PASSWORD '${password}'`);
    for (const spelling of [password, 'p\u00E4ss fix', 'pa\u0308ss fix']) {
      const url = postgres.url({ sslmode: 'disable' }, { user: 'unicode_user', password: spelling });
      const connection = await connectUpstream(parseUpstreamUrl(url), {});
      connection.socket.end(serialize.end());
    }
  });
});
