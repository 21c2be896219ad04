/**
 * TLS on the tunnel's local leg: `sslmode=require` just works, `verify-full` works with the tunnel's own
 * CA as `sslrootcert`, PostgreSQL 17's direct TLS works with ALPN "postgresql", and clients that ask for
 * no TLS keep plaintext.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { serialize } from 'pg-protocol';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import {
  createLocalAuthority,
  expiresAt,
  issueLoopbackCertificate,
} from '../../tunnel/postgres/local-certificate.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { installed, run } from '../support/commands.ts';
import { driverMissing, runScenarios, type Driver, type ScenarioResult } from '../support/drivers.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorField, RawClient } from '../support/raw-client.ts';

let server: TestPostgres;
let tunnel: PostgresTunnel;
let endpoint: TunnelEndpoint;
let recorder: MemoryRecorder;
let caFile: string;
let otherCa: string;

beforeAll(async () => {
  server = await startPostgres();
  const authority = await createLocalAuthority('Portcullis tunnel to postgres (test)');
  const certificate = await issueLoopbackCertificate(authority);
  recorder = new MemoryRecorder();
  tunnel = new PostgresTunnel({
    upstream: parseUpstreamUrl(server.url({ sslmode: 'disable' })),
    tls: { ...certificate, ca: authority.cert },
    recorder,
  });
  endpoint = await tunnel.listen();
  caFile = path.join(await mkdtemp(path.join(tmpdir(), 'portcullis-local-ca-')), 'ca.pem');
  await writeFile(caFile, endpoint.ca!);
  otherCa = (await createLocalAuthority('Some other tunnel')).cert;
});

afterAll(async () => {
  await tunnel?.close();
  await server?.stop();
});

function pgClient(ssl: pg.ClientConfig['ssl'], host = endpoint.host): pg.Client {
  return new pg.Client({
    host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database: endpoint.database,
    ssl,
  });
}

async function encrypted(client: pg.Client): Promise<boolean> {
  const stream = (client as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream;
  return stream.encrypted === true;
}

describe('the certificate', () => {
  it('is signed by the tunnel’s own CA for the loopback names, and the endpoint carries that CA', async () => {
    expect(endpoint.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const authority = await createLocalAuthority('x');
    const leaf = await issueLoopbackCertificate(authority);
    const days = (expiresAt(leaf.cert).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(390);
    expect(days).toBeLessThan(398);
  });
});

describe('node-postgres and postgres.js', () => {
  it('sslmode=verify-full: verifies the tunnel against its CA, by IP address and by name', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const client = pgClient({ ca: endpoint.ca }, host);
      await client.connect();
      expect(await encrypted(client)).toBe(true);
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.end();
    }
  });

  it('refuses to trust the tunnel with another CA: verification is real', async () => {
    const client = pgClient({ ca: otherCa });
    await expect(client.connect()).rejects.toThrow(/certificate/);
  });

  it('sslmode=require: TLS without verification', async () => {
    const client = pgClient({ rejectUnauthorized: false });
    await client.connect();
    expect(await encrypted(client)).toBe(true);
    await client.end();
  });

  it('keeps plaintext for a client that asks for no TLS', async () => {
    const client = pgClient(false);
    await client.connect();
    expect(await encrypted(client)).toBe(false);
    expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    await client.end();
  });

  it("postgres.js ssl: 'require' and verify-full, with a cancel that travels inside TLS too", async () => {
    for (const ssl of ['require', { ca: endpoint.ca }] as const) {
      const sql = postgres({
        host: endpoint.host,
        port: endpoint.port,
        user: endpoint.user,
        password: endpoint.password,
        database: endpoint.database,
        ssl,
        max: 1,
      });
      expect([...(await sql`SELECT 3 AS three`)]).toEqual([{ three: 3 }]);
      const sleeping = sql`SELECT pg_sleep(30)`;
      const settled = sleeping.catch((error: Error) => error);
      const observer = await server.connect();
      for (;;) {
        const { rows } = await observer.query(
          "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(30)'",
        );
        if (rows.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await observer.end();
      void sleeping.cancel();
      expect(await settled).toMatchObject({ message: 'canceling statement due to user request' });
      await sql.end();
    }
  });
});

describe('the TLS handshake on the wire', () => {
  function tlsTo(options: { ALPNProtocols?: string[] }): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({
        host: endpoint.host,
        port: endpoint.port,
        ca: endpoint.ca,
        servername: 'localhost',
        ...options,
      });
      socket.once('secureConnect', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  it('serves direct TLS (sslnegotiation=direct) with ALPN "postgresql", then the whole protocol inside it', async () => {
    const socket = await tlsTo({ ALPNProtocols: ['postgresql'] });
    expect(socket.alpnProtocol).toBe('postgresql');
    const raw = RawClient.over(socket);
    await raw.authenticate(endpoint.user, endpoint.password);
    raw.write(serialize.query('SELECT 40 + 2'));
    const answer = await raw.until('Z');
    expect(answer.find((m) => m.type === 'D')!.bytes.toString('utf8', 11)).toBe('42');
    expect(recorder.ofType('session.start').at(-1)!.client.address).toBe('127.0.0.1');
    raw.end();
  });

  it('refuses direct TLS without the ALPN extension, as PostgreSQL 17 does', async () => {
    const raw = RawClient.over(await tlsTo({}));
    const sent = await raw.closedAfter();
    expect(sent.map((m) => errorField(m.bytes, 'C'))).toEqual(['08P01']);
  });

  it('answers GSSENCRequest N, then SSLRequest S, and a second SSLRequest inside TLS as the server does', async () => {
    const plain = netConnect(endpoint.port, endpoint.host);
    await new Promise((resolve) => plain.once('connect', resolve));
    const answers: string[] = [];
    const gssRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);
    plain.write(gssRequest);
    answers.push((await new Promise<Buffer>((resolve) => plain.once('data', resolve))).toString());
    plain.write(serialize.requestSsl());
    answers.push((await new Promise<Buffer>((resolve) => plain.once('data', resolve))).toString());
    expect(answers).toEqual(['N', 'S']);
    const secure = tlsConnect({ socket: plain, ca: endpoint.ca, servername: 'localhost' });
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    const raw = RawClient.over(secure);
    raw.write(serialize.requestSsl());
    const sent = await raw.closedAfter();
    expect(sent.map((m) => errorField(m.bytes, 'C'))).toEqual(['0A000']);
  });

  it('refuses bytes sent after SSLRequest before TLS (CVE-2021-23214), without answering S', async () => {
    const raw = await RawClient.open(endpoint.port);
    const received: Buffer[] = [];
    raw.socket.prependListener('data', (chunk: Buffer) => received.push(chunk));
    raw.write(Buffer.concat([serialize.requestSsl(), serialize.startup({ user: 'postgres' })]));
    await raw.closedAfter();
    const bytes = Buffer.concat(received);
    expect(bytes[0]).toBe(0x45); // 'E', not 'S'
    expect(bytes.toString()).toContain('received unencrypted data after SSL request');
  });

  it('answers N when the tunnel has no certificate', async () => {
    const plainTunnel = new PostgresTunnel({
      upstream: parseUpstreamUrl(server.url({ sslmode: 'disable' })),
    });
    const plainEndpoint = await plainTunnel.listen();
    expect(plainEndpoint.ca).toBeUndefined();
    const raw = await RawClient.open(plainEndpoint.port);
    const answer = new Promise<Buffer>((resolve) => raw.socket.prependOnceListener('data', resolve));
    raw.write(serialize.requestSsl());
    expect((await answer).toString()).toBe('N');
    raw.socket.destroy();
    await plainTunnel.close();
  });
});

const havePsql = installed('psql');
if (!havePsql)
  console.warn('skipping psql TLS tests: psql is not installed (apt-get install postgresql-client)');

describe.skipIf(!havePsql)('psql (libpq)', () => {
  async function psql(sslmode: string, extra: Record<string, string> = {}) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
    const conninfo = `host=${endpoint.host} port=${endpoint.port} user=${endpoint.user} dbname=${endpoint.database} sslmode=${sslmode}`;
    return run('psql', ['-X', '-At', '-c', 'SELECT 1', conninfo], {
      env: { ...env, PGPASSWORD: endpoint.password, PGCONNECT_TIMEOUT: '10', ...extra },
    });
  }

  it('connects with sslmode=require, and with verify-full against the tunnel’s CA', async () => {
    for (const result of [
      await psql('require'),
      await psql('verify-full', { PGSSLROOTCERT: caFile }),
      await psql('disable'),
    ]) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe('1');
    }
  });

  it('refuses verify-full without the tunnel’s CA', async () => {
    const elsewhere = path.join(path.dirname(caFile), 'other.pem');
    await writeFile(elsewhere, otherCa);
    const result = await psql('verify-full', { PGSSLROOTCERT: elsewhere });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/certificate verify failed/);
  });
});

describe.each(['psycopg', 'pgjdbc'] as Driver[])('%s', (driver) => {
  const reason = driverMissing(driver);
  if (reason) console.warn(`skipping ${driver} TLS tests: ${reason}`);
  const SCENARIOS = ['tls-require', 'tls-verify-full'];
  let results: ScenarioResult[];

  beforeAll(async () => {
    if (reason) return;
    const target = { ...endpoint, dbname: endpoint.database, sslrootcert: caFile };
    results = await runScenarios(driver, target, SCENARIOS);
  }, 300_000);

  it.skipIf(reason !== undefined).each(SCENARIOS)('%s', (scenario) => {
    const result = results.find((r) => r.scenario === scenario)!;
    expect(result, result.detail).toMatchObject({ ok: true });
  });
});
