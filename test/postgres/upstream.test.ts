import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { serialize } from 'pg-protocol';
import { createAuthority, type Authority } from '../support/certs.ts';
import { freePort, startPostgres, type TestPostgres } from '../support/postgres.ts';
import {
  ConfigError,
  parseUpstreamUrl,
  type UpstreamConfig,
} from '../../tunnel/postgres/connection-string.ts';
import {
  connectUpstream,
  filterStartupParameters,
  sendCancel,
  UpstreamError,
  type UpstreamConnection,
} from '../../tunnel/postgres/upstream.ts';
import { rejectionOf } from '../support/rejection.ts';

interface QueryResult {
  rows: Array<Array<string | null>>;
  error?: Record<string, string>;
}

/** Runs a simple Query on a connection handed over by connectUpstream, reading to ReadyForQuery. */
function query(connection: UpstreamConnection, sql: string): Promise<QueryResult> {
  const { socket } = connection;
  let buffered = connection.leftover;
  connection.leftover = Buffer.alloc(0);
  const result: QueryResult = { rows: [] };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 5 && buffered.length >= 1 + buffered.readInt32BE(1)) {
        const length = buffered.readInt32BE(1);
        const type = String.fromCharCode(buffered[0]!);
        const body = buffered.subarray(5, 1 + length);
        buffered = buffered.subarray(1 + length);
        if (type === 'D') result.rows.push(dataRow(body));
        if (type === 'E') result.error = errorFields(body);
        if (type === 'Z') {
          socket.off('data', onData);
          socket.off('error', reject);
          socket.pause();
          resolve(result);
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.resume();
    socket.write(serialize.query(sql));
  });
}

function dataRow(body: Buffer): Array<string | null> {
  const cells: Array<string | null> = [];
  let at = 2;
  for (let i = 0; i < body.readInt16BE(0); i++) {
    const length = body.readInt32BE(at);
    at += 4;
    cells.push(length < 0 ? null : body.toString('utf8', at, at + length));
    at += Math.max(length, 0);
  }
  return cells;
}

function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let at = 0;
  while (body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    fields[String.fromCharCode(body[at]!)] = body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return fields;
}

async function scalar(connection: UpstreamConnection, sql: string): Promise<string | null | undefined> {
  const result = await query(connection, sql);
  if (result.error) throw new Error(result.error.M);
  return result.rows[0]?.[0];
}

function close(connection: UpstreamConnection): void {
  // The server may reset a connection it is done with (TLS especially): nothing to report by then.
  connection.socket.on('error', () => {});
  connection.socket.end(serialize.end());
}

async function connect(url: string, params: Record<string, string> = {}): Promise<UpstreamConnection> {
  return connectUpstream(parseUpstreamUrl(url), params);
}

const refusal = (promise: Promise<unknown>): Promise<UpstreamError> => rejectionOf(promise, UpstreamError);

/** A TCP server playing a scripted, misbehaving PostgreSQL. */
async function fakeServer(
  onConnection: (socket: Socket, index: number) => void,
): Promise<Server & { port: number }> {
  let index = 0;
  const server = createServer((socket) => {
    socket.on('error', () => {});
    onConnection(socket, index++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(server, { port: (server.address() as { port: number }).port });
}

function message(type: string, body: Buffer | string): Buffer {
  const bytes = Buffer.from(body);
  const header = Buffer.alloc(5);
  header.write(type, 0);
  header.writeInt32BE(bytes.length + 4, 1);
  return Buffer.concat([header, bytes]);
}

const authenticationOk = message('R', Buffer.alloc(4));
const readyForQuery = message('Z', 'I');
const backendKeyData = message('K', Buffer.from([0, 0, 0x30, 0x39, 1, 2, 3, 4]));

function configFor(port: number, overrides: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return { ...parseUpstreamUrl(`postgres://someone:pw@127.0.0.1:${port}/db`), ...overrides };
}

// ---------------------------------------------------------------------------------------------

describe('upstream over TLS with a certificate from our CA (SAN 127.0.0.1)', () => {
  let postgres: TestPostgres;
  let admin: pg.Client;
  let authority: Authority;
  let dir: string;
  let caFile: string;
  let otherCaFile: string;

  const users = {
    md5: { user: 'md5user', password: 'md5-secret' },
    cleartext: { user: 'pwuser', password: 'pw-secret' },
    trust: { user: 'trustuser', password: '' },
    tlsOnly: { user: 'tlsonly', password: 'tls-secret' },
  };

  beforeAll(async () => {
    authority = await createAuthority();
    const otherAuthority = await createAuthority('Some Other CA');
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-upstream-'));
    caFile = path.join(dir, 'root.crt');
    otherCaFile = path.join(dir, 'other-root.crt');
    await writeFile(caFile, authority.cert);
    await writeFile(otherCaFile, otherAuthority.cert);
    postgres = await startPostgres({
      tls: await authority.sign('db.test', { dns: ['db.test'], ip: ['127.0.0.1'] }),
      hba: [
        'host all trustuser 127.0.0.1/32 trust',
        'host all md5user 127.0.0.1/32 md5',
        'host all pwuser 127.0.0.1/32 password',
        'hostnossl all tlsonly 127.0.0.1/32 reject',
      ],
    });
    admin = await postgres.connect();
    await admin.query(`SET password_encryption = 'md5'`);
    await admin.query(`CREATE ROLE md5user LOGIN PASSWORD '${users.md5.password}'`);
    await admin.query(`RESET password_encryption`);
    await admin.query(`CREATE ROLE pwuser LOGIN PASSWORD '${users.cleartext.password}'`);
    await admin.query(`CREATE ROLE trustuser LOGIN`);
    await admin.query(`CREATE ROLE tlsonly LOGIN PASSWORD '${users.tlsOnly.password}'`);
  });

  afterAll(async () => {
    await admin?.end();
    await postgres?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('authentication', () => {
    it('verify-full to 127.0.0.1 authenticates the superuser with SCRAM-SHA-256-PLUS over verified TLS', async () => {
      const connection = await connect(postgres.url({ sslmode: 'verify-full', sslrootcert: caFile }));
      try {
        expect(connection.tls).toBe(true);
        expect(connection.socket).toBeInstanceOf(TLSSocket);
        expect(connection.authMechanism).toBe('SCRAM-SHA-256-PLUS');
        expect(await scalar(connection, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toBe(
          't',
        );
        expect(await scalar(connection, 'SELECT current_user')).toBe('postgres');
      } finally {
        close(connection);
      }
    });

    it('hands over the startup messages, parameters, key and a paused socket with nothing left over', async () => {
      const connection = await connect(postgres.url({ sslmode: 'require' }));
      try {
        const types = connection.startupMessages.map((m) => String.fromCharCode(m[0]!));
        expect(types.at(-1)).toBe('Z');
        expect(types).toContain('K');
        expect(types.filter((t) => t === 'S')).toHaveLength(connection.parameters.size);
        expect(connection.parameters.get('server_version')).toMatch(/^18/);
        expect(connection.backendKey.secretKey.length).toBeGreaterThanOrEqual(4);
        expect(connection.leftover).toHaveLength(0);
        expect(connection.socket.isPaused()).toBe(true);
        expect(connection.socket.listenerCount('data')).toBe(0);
        expect(Number(await scalar(connection, 'SELECT pg_backend_pid()'))).toBe(
          connection.backendKey.processId,
        );
      } finally {
        close(connection);
      }
    });

    it('sslmode=disable uses SCRAM-SHA-256 over plain TCP', async () => {
      const connection = await connect(postgres.url({ sslmode: 'disable' }));
      try {
        expect(connection.tls).toBe(false);
        expect(connection.authMechanism).toBe('SCRAM-SHA-256');
        expect(await scalar(connection, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toBe(
          'f',
        );
      } finally {
        close(connection);
      }
    });

    it('channel_binding=disable uses SCRAM-SHA-256 even over TLS', async () => {
      const connection = await connect(postgres.url({ sslmode: 'require', channel_binding: 'disable' }));
      expect([connection.tls, connection.authMechanism]).toEqual([true, 'SCRAM-SHA-256']);
      close(connection);
    });

    it('channel_binding=require refuses plain TCP and methods without binding', async () => {
      const plain = await refusal(connect(postgres.url({ sslmode: 'disable', channel_binding: 'require' })));
      expect(plain.message).toMatch(/channel_binding=require needs TLS/);
      const trust = await refusal(
        connect(postgres.url({ sslmode: 'require', channel_binding: 'require' }, users.trust)),
      );
      expect(trust.message).toMatch(/without channel binding/);
    });

    it('authenticates an md5 role', async () => {
      const connection = await connect(postgres.url({ sslmode: 'disable' }, users.md5));
      expect(connection.authMechanism).toBe('md5');
      expect(await scalar(connection, 'SELECT current_user')).toBe('md5user');
      close(connection);
    });

    it('a trust role needs no password', async () => {
      const connection = await connect(postgres.url({ sslmode: 'disable' }, users.trust));
      expect(connection.authMechanism).toBe('trust');
      close(connection);
    });

    it('refuses to send a cleartext password over plain TCP unless allow_cleartext=1', async () => {
      const error = await refusal(connect(postgres.url({ sslmode: 'disable' }, users.cleartext)));
      expect(error.message).toMatch(/cleartext over a connection without TLS.*allow_cleartext=1/);
      const allowed = await connect(
        postgres.url({ sslmode: 'disable', allow_cleartext: '1' }, users.cleartext),
      );
      expect([allowed.tls, allowed.authMechanism]).toEqual([false, 'cleartext']);
      close(allowed);
    });

    it('sends a cleartext password inside TLS', async () => {
      const connection = await connect(
        postgres.url({ sslmode: 'verify-full', sslrootcert: caFile }, users.cleartext),
      );
      expect([connection.tls, connection.authMechanism]).toEqual([true, 'cleartext']);
      close(connection);
    });

    it('a wrong password is refused with SQLSTATE 28P01, and the message does not contain it', async () => {
      const url = postgres.url({ sslmode: 'require' }, { user: 'postgres', password: 'not-the-password' });
      const error = await refusal(connect(url));
      expect(error.code).toBe('28P01');
      expect(error.fields?.S).toBe('FATAL');
      expect(error.message).toMatch(/password authentication failed/);
      expect(error.message).not.toContain('not-the-password');
    });

    it('a password method without a configured password is refused before anything is sent', async () => {
      const url = `postgres://postgres@127.0.0.1:${postgres.port}/postgres?sslmode=disable`;
      expect((await refusal(connect(url))).message).toMatch(/no password/);
    });

    it('a missing database is reported with its SQLSTATE', async () => {
      const url = `postgres://postgres:${postgres.password}@127.0.0.1:${postgres.port}/nope?sslmode=require`;
      expect((await refusal(connect(url))).code).toBe('3D000');
    });
  });

  describe('certificate verification', () => {
    it('verify-ca refuses a server whose certificate comes from another CA', async () => {
      const error = await refusal(connect(postgres.url({ sslmode: 'verify-ca', sslrootcert: otherCaFile })));
      expect(error.message).toMatch(/^TLS with upstream 127\.0\.0\.1:\d+ failed/);
    });

    it('verify-full refuses a server whose certificate comes from another CA', async () => {
      await refusal(connect(postgres.url({ sslmode: 'verify-full', sslrootcert: otherCaFile })));
    });

    it('require with an sslrootcert verifies the chain, as libpq does', async () => {
      const error = await refusal(connect(postgres.url({ sslmode: 'require', sslrootcert: otherCaFile })));
      expect(error.message).toMatch(/TLS/);
    });

    it('prefer with a failing sslrootcert does not fall back to plaintext', async () => {
      await refusal(connect(postgres.url({ sslmode: 'prefer', sslrootcert: otherCaFile })));
    });

    it('require without an sslrootcert encrypts without verifying', async () => {
      const connection = await connect(postgres.url({ sslmode: 'require' }));
      expect(connection.tls).toBe(true);
      close(connection);
    });

    it('an unreadable sslrootcert is an error naming the file', async () => {
      const missing = path.join(dir, 'missing.crt');
      const error = await refusal(connect(postgres.url({ sslmode: 'verify-ca', sslrootcert: missing })));
      expect(error.message).toBe(`cannot read sslrootcert ${missing}: ENOENT`);
    });
  });

  describe('sslmode negotiation', () => {
    it('prefer uses TLS when the server offers it', async () => {
      const connection = await connect(postgres.url());
      expect(connection.tls).toBe(true);
      close(connection);
    });

    it('allow starts in plaintext', async () => {
      const connection = await connect(postgres.url({ sslmode: 'allow' }));
      expect(connection.tls).toBe(false);
      close(connection);
    });

    it('allow retries with TLS when the server refuses the plaintext connection', async () => {
      const connection = await connect(postgres.url({ sslmode: 'allow' }, users.tlsOnly));
      expect(connection.tls).toBe(true);
      close(connection);
    });
  });

  describe('startup parameters', () => {
    it('passes the settings it is given, with user and database from the config and no options', async () => {
      const connection = await connect(postgres.url({ sslmode: 'require' }), {
        application_name: 'psql',
        client_encoding: 'LATIN1',
        user: 'someone-else',
        database: 'elsewhere',
        options: '-c statement_timeout=1234',
        lock_timeout: '4321',
      });
      try {
        expect(connection.parameters.get('application_name')).toBe('psql');
        expect(connection.parameters.get('client_encoding')).toBe('LATIN1');
        expect(connection.parameters.get('session_authorization')).toBe('postgres');
        // The session judges options switch by switch and passes them as settings of their own.
        expect(await scalar(connection, 'SHOW statement_timeout')).toBe('0');
        expect(await scalar(connection, 'SHOW lock_timeout')).toBe('4321ms');
        expect(await scalar(connection, 'SELECT current_database()')).toBe('postgres');
      } finally {
        close(connection);
      }
    });

    it("the connection string's application_name wins over the client's", async () => {
      const url = postgres.url({ sslmode: 'require', application_name: 'portcullis' });
      const connection = await connect(url, { application_name: 'psql' });
      expect(connection.parameters.get('application_name')).toBe('portcullis');
      close(connection);
    });
  });

  describe('sendCancel', () => {
    async function cancelsSleep(sslmode: string): Promise<void> {
      const config = parseUpstreamUrl(postgres.url({ sslmode }));
      const connection = await connectUpstream(config, {});
      try {
        const sleeping = query(connection, 'SELECT pg_sleep(30)');
        const pid = connection.backendKey.processId;
        for (let i = 0; i < 100; i++) {
          const active = await admin.query(
            `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`,
            [pid],
          );
          if (active.rowCount) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const started = Date.now();
        await sendCancel(config, connection.backendKey, connection.tls);
        const result = await sleeping;
        expect(result.error?.C).toBe('57014');
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        close(connection);
      }
    }

    it('cancels a running pg_sleep(30) through TLS', () => cancelsSleep('require'));

    it('cancels a running pg_sleep(30) over plain TCP', () => cancelsSleep('disable'));
  });
});

describe('upstream whose certificate does not name the host (SAN db.internal only)', () => {
  let postgres: TestPostgres;
  let dir: string;
  let caFile: string;

  beforeAll(async () => {
    const authority = await createAuthority();
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-upstream-'));
    caFile = path.join(dir, 'root.crt');
    await writeFile(caFile, authority.cert);
    postgres = await startPostgres({ tls: await authority.sign('db.internal', { dns: ['db.internal'] }) });
  });

  afterAll(async () => {
    await postgres?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('verify-full refuses it', async () => {
    const error = await refusal(connect(postgres.url({ sslmode: 'verify-full', sslrootcert: caFile })));
    expect(error.message).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
  });

  it('verify-ca accepts it: the chain is checked, the name is not', async () => {
    const connection = await connect(postgres.url({ sslmode: 'verify-ca', sslrootcert: caFile }));
    expect([connection.tls, connection.authMechanism]).toEqual([true, 'SCRAM-SHA-256-PLUS']);
    close(connection);
  });

  it('verify-full accepts it when sslservername gives the name on the certificate', async () => {
    const url = postgres.url({ sslmode: 'verify-full', sslrootcert: caFile, sslservername: 'db.internal' });
    const connection = await connect(url);
    expect(connection.tls).toBe(true);
    close(connection);
  });
});

describe('upstream without TLS', () => {
  let postgres: TestPostgres;

  beforeAll(async () => {
    postgres = await startPostgres();
  });

  afterAll(async () => {
    await postgres?.stop();
  });

  it.each(['require', 'verify-ca', 'verify-full'])(
    'sslmode=%s refuses it rather than downgrade',
    async (sslmode) => {
      const error = await refusal(connect(postgres.url({ sslmode })));
      expect(error.message).toMatch(new RegExp(`does not support TLS, which sslmode=${sslmode} requires`));
    },
  );

  it('sslmode=prefer continues in plaintext', async () => {
    const connection = await connect(postgres.url({ sslmode: 'prefer' }));
    expect([connection.tls, connection.authMechanism]).toEqual([false, 'SCRAM-SHA-256']);
    expect(await scalar(connection, 'SELECT 1')).toBe('1');
    close(connection);
  });

  it('sslmode=allow connects in plaintext', async () => {
    const connection = await connect(postgres.url({ sslmode: 'allow' }));
    expect(connection.tls).toBe(false);
    close(connection);
  });
});

describe('upstream failures without a PostgreSQL', () => {
  it('an unreachable port fails at once with a clear message', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await refusal(connectUpstream(configFor(port), {}));
    expect(error.message).toBe(`cannot reach upstream 127.0.0.1:${port}: connection refused`);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a server that never answers runs into the connect timeout', async () => {
    const silent = await fakeServer(() => {});
    try {
      const error = await refusal(connectUpstream(configFor(silent.port, { connectTimeoutMs: 300 }), {}));
      expect(error.message).toBe(`timed out after 300 ms connecting to upstream 127.0.0.1:${silent.port}`);
    } finally {
      silent.close();
    }
  });

  it('bytes sent after the S answer, before the TLS handshake, are refused (CVE-2021-23222)', async () => {
    const server = await fakeServer((socket) =>
      socket.once('data', () => socket.write(Buffer.concat([Buffer.from('S'), readyForQuery]))),
    );
    try {
      const error = await refusal(connectUpstream(configFor(server.port, { sslmode: 'require' }), {}));
      expect(error.message).toMatch(/unexpected data after its answer to the TLS request/);
    } finally {
      server.close();
    }
  });

  describe('a server too old for SSLRequest, answering it with an ErrorResponse', () => {
    const oldServer = (): Promise<Server & { port: number }> =>
      fakeServer((socket, index) => {
        if (index === 0) {
          socket.once('data', () => socket.end(message('E', 'SFATAL\0Munsupported frontend protocol\0\0')));
          return;
        }
        socket.once('data', () =>
          socket.write(
            Buffer.concat([authenticationOk, backendKeyData, readyForQuery, Buffer.from('extra')]),
          ),
        );
      });

    it('is refused under sslmode=require', async () => {
      const server = await oldServer();
      try {
        const error = await refusal(connectUpstream(configFor(server.port, { sslmode: 'require' }), {}));
        expect(error.message).toMatch(/rejected the TLS request, which sslmode=require requires/);
      } finally {
        server.close();
      }
    });

    it('is reconnected to in plaintext under sslmode=prefer, keeping bytes after ReadyForQuery', async () => {
      const server = await oldServer();
      try {
        const connection = await connectUpstream(configFor(server.port), {});
        expect(connection.tls).toBe(false);
        expect(connection.authMechanism).toBe('trust');
        expect(connection.backendKey).toEqual({ processId: 12345, secretKey: Buffer.from([1, 2, 3, 4]) });
        expect(connection.startupMessages).toEqual([backendKeyData, readyForQuery]);
        expect(connection.leftover.toString()).toBe('extra');
        connection.socket.destroy();
      } finally {
        server.close();
      }
    });
  });

  it('an unsupported authentication method (GSSAPI) is refused by name', async () => {
    const server = await fakeServer((socket) =>
      socket.once('data', () => socket.write(message('R', Buffer.from([0, 0, 0, 7])))),
    );
    try {
      const error = await refusal(connectUpstream(configFor(server.port, { sslmode: 'disable' }), {}));
      expect(error.message).toMatch(/GSSAPI, which is not supported/);
    } finally {
      server.close();
    }
  });

  it('a server that sends AuthenticationOk in the middle of SCRAM is refused', async () => {
    const sasl = message('R', Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.from('SCRAM-SHA-256\0\0')]));
    const server = await fakeServer((socket) => {
      socket.once('data', () => {
        socket.write(sasl);
        socket.once('data', () =>
          socket.write(Buffer.concat([authenticationOk, backendKeyData, readyForQuery])),
        );
      });
    });
    try {
      const error = await refusal(connectUpstream(configFor(server.port, { sslmode: 'disable' }), {}));
      expect(error.message).toMatch(/without proving its identity/);
    } finally {
      server.close();
    }
  });
});

describe('filterStartupParameters', () => {
  it('keeps the settings the session judged and drops what the upstream leg owns', () => {
    expect(
      filterStartupParameters({
        user: 'alice',
        database: 'prod',
        replication: 'database',
        options: '-c log_statement=none',
        _pq_: 'x',
        '_pq_.compression': 'on',
        application_name: 'psql',
        DateStyle: 'ISO, MDY',
        search_path: 'app, public',
        'some.var': '42',
      }),
    ).toEqual({
      application_name: 'psql',
      DateStyle: 'ISO, MDY',
      search_path: 'app, public',
      'some.var': '42',
    });
  });
});

describe('parseUpstreamUrl', () => {
  it('applies libpq defaults: port 5432, database = user, sslmode prefer', () => {
    expect(parseUpstreamUrl('postgres://alice:s3cret@db.example.com')).toEqual({
      host: 'db.example.com',
      port: 5432,
      user: 'alice',
      password: 's3cret',
      database: 'alice',
      sslmode: 'prefer',
      allowCleartextPassword: false,
      connectTimeoutMs: 10_000,
      channelBinding: 'prefer',
    });
  });

  it('reads every supported part and percent-decodes, leaving + as a literal plus', () => {
    const config = parseUpstreamUrl(
      'postgresql://al%40ice:p%40ss%3Aw%2Frd+x@db.example.com:6432/my%20db?sslmode=verify-full' +
        '&sslrootcert=%2Fetc%2Fca.pem&sslservername=pg.internal&application_name=port+cullis' +
        '&connect_timeout=5&allow_cleartext=1&channel_binding=require&keepalives=1',
    );
    expect(config).toEqual({
      host: 'db.example.com',
      port: 6432,
      user: 'al@ice',
      password: 'p@ss:w/rd+x',
      database: 'my db',
      sslmode: 'verify-full',
      sslrootcert: '/etc/ca.pem',
      sslservername: 'pg.internal',
      applicationName: 'port+cullis',
      allowCleartextPassword: true,
      connectTimeoutMs: 5_000,
      channelBinding: 'require',
    });
  });

  it('keeps fallback_application_name for clients that name none, as libpq does', () => {
    const config = parseUpstreamUrl('postgres://u@h/db?fallback_application_name=portcullis');
    expect(config.fallbackApplicationName).toBe('portcullis');
    expect(config.applicationName).toBeUndefined();
  });

  it('accepts bracketed IPv6 hosts and query-parameter overrides', () => {
    expect(parseUpstreamUrl('postgres://u:p@[::1]:5433/db')).toMatchObject({ host: '::1', port: 5433 });
    expect(
      parseUpstreamUrl('postgres://u@h/db?host=other&port=7000&user=v&password=w&dbname=x'),
    ).toMatchObject({ host: 'other', port: 7000, user: 'v', password: 'w', database: 'x' });
  });

  it('follows libpq for connect_timeout: at least 2 seconds, 0 waits forever', () => {
    expect(parseUpstreamUrl('postgres://u@h?connect_timeout=1').connectTimeoutMs).toBe(2_000);
    expect(parseUpstreamUrl('postgres://u@h?connect_timeout=0').connectTimeoutMs).toBe(0);
  });

  it('sslrootcert=system implies verify-full and refuses a weaker sslmode', () => {
    expect(parseUpstreamUrl('postgres://u@h?sslrootcert=system')).toMatchObject({
      sslmode: 'verify-full',
      sslrootcert: 'system',
    });
    expect(() => parseUpstreamUrl('postgres://u@h?sslrootcert=system&sslmode=require')).toThrow(
      /verify-full/,
    );
  });

  it('keeps sslmode prefer when only sslrootcert is given', () => {
    expect(parseUpstreamUrl('postgres://u@h?sslrootcert=/ca.pem').sslmode).toBe('prefer');
  });

  it.each([
    [
      'postgres://u@h?sslcert=/c.pem&sslkey=/k.pem&service=x',
      /unsupported upstream URI parameters: sslcert, sslkey, service/,
    ],
    ['postgres://u@h?target_session_attrs=read-write', /target_session_attrs=read-write is not supported/],
    ['postgres://u@h?sslmode=verify', /invalid sslmode "verify"/],
    ['postgres://u@h?sslmode=require&sslmode=disable', /given twice/],
    ['postgres://u@h1,h2/db', /several upstream hosts/],
    ['postgres://u@/db', /no host/],
    ['postgres://u@h?host=/var/run/postgresql', /Unix-domain sockets/],
    ['postgres://:p@h/db', /no user/],
    ['postgres://u@h:99999/db', /invalid upstream port/],
    ['postgres://u@::1/db', /\[brackets\]/],
    ['postgres://u@h?allow_cleartext=maybe', /allow_cleartext/],
    ['postgres://u@h?connect_timeout=-1', /connect_timeout/],
    ['mysql://u@h/db', /postgres:\/\//],
  ])('refuses %s', (url, expected) => {
    expect(() => parseUpstreamUrl(url)).toThrow(ConfigError);
    expect(() => parseUpstreamUrl(url)).toThrow(expected);
  });

  it('never puts the password in an error message', () => {
    for (const url of [
      'postgres://u:hunter2%zz@h/db',
      'postgres://u:hun/ter2@h/db',
      'postgres://u:pw@h/db?password=hunter2%&x=1',
      'postgres://u@h/db?password=hun&ter2',
      'postgres://u:hunter2@h:hunter2/db',
    ]) {
      expect(() => parseUpstreamUrl(url), url).toThrow(ConfigError);
      try {
        parseUpstreamUrl(url);
      } catch (error) {
        expect((error as Error).message).not.toMatch(/hunter|hun|ter2/);
      }
    }
  });
});
