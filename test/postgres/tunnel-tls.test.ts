import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { PostgresTunnel } from '../../tunnel/postgres/tunnel.ts';
import { createAuthority } from '../support/certs.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { until } from '../support/waiting.ts';

let server: TestPostgres;
let caFile: string;

beforeAll(async () => {
  const ca = await createAuthority();
  server = await startPostgres({
    tls: await ca.sign('db.internal', { dns: ['db.internal'], ip: ['127.0.0.1'] }),
  });
  caFile = path.join(await mkdtemp(path.join(tmpdir(), 'portcullis-ca-')), 'ca.pem');
  await writeFile(caFile, ca.cert);
});

afterAll(async () => {
  await server?.stop();
});

describe('a tunnel to an upstream that requires verified TLS', () => {
  it('reaches the server over verified TLS with SCRAM-SHA-256-PLUS, and cancels over TLS too', async () => {
    const recorder = new MemoryRecorder();
    const tunnel = new PostgresTunnel({
      upstream: parseUpstreamUrl(server.url({ sslmode: 'verify-full', sslrootcert: caFile })),
      recorder,
    });
    const endpoint = await tunnel.listen();
    const client = new pg.Client({ connectionString: endpoint.url });
    await client.connect();
    const { rows } = await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(rows).toEqual([{ ssl: true }]);
    expect(recorder.ofType('session.start')[0]!.upstream).toMatchObject({
      tls: true,
      authMechanism: 'SCRAM-SHA-256-PLUS',
    });
    await client.end();

    const sql = postgres(endpoint.url, { max: 1 });
    const sleeping = sql`SELECT pg_sleep(30)`;
    const settled = sleeping.catch((error: Error) => error);
    // Cancelled once it runs at the server (on a loaded machine the connection alone may take a while).
    const observer = await server.connect();
    await until('pg_sleep to run', async () => {
      const { rows } = await observer.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(30)'",
      );
      return rows.length > 0 ? true : undefined;
    });
    await observer.end();
    void sleeping.cancel();
    expect(await settled).toMatchObject({
      message: expect.stringMatching(/canceling statement due to user request/),
    });
    await sql.end();
    await tunnel.close();
  });

  it('refuses a server whose certificate does not name the host it was asked for', async () => {
    const tunnel = new PostgresTunnel({
      upstream: parseUpstreamUrl(
        server.url({ sslmode: 'verify-full', sslrootcert: caFile, sslservername: 'other.internal' }),
      ),
    });
    const endpoint = await tunnel.listen();
    const client = new pg.Client({ connectionString: endpoint.url });
    await expect(client.connect()).rejects.toThrow(/other\.internal/);
    await tunnel.close();
  });
});
