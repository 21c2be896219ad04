import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { installed, run, type CommandResult } from '../support/commands.ts';

const havePsql = installed('psql');
const havePgbench = installed('pgbench');
if (!havePsql) console.warn('skipping psql tests: psql is not installed (apt-get install postgresql-client)');
if (!havePgbench)
  console.warn('skipping pgbench tests: pgbench is not installed (apt-get install postgresql-client)');

let server: TestPostgres;
let tunnel: PostgresTunnel;
let endpoint: TunnelEndpoint;

beforeAll(async () => {
  if (!havePsql && !havePgbench) return;
  server = await startPostgres();
  tunnel = new PostgresTunnel({ upstream: parseUpstreamUrl(server.url({ sslmode: 'disable' })) });
  endpoint = await tunnel.listen();
});

afterAll(async () => {
  await tunnel?.close();
  await server?.stop();
});

/** libpq's environment, without whatever the developer's shell happens to set. */
function libpqEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return { ...env, PGCONNECT_TIMEOUT: '10', ...extra };
}

function psql(args: string[], env: Record<string, string> = {}, input?: string): Promise<CommandResult> {
  return run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', ...args], { env: libpqEnv(env), input });
}

describe.skipIf(!havePsql)('psql through the tunnel', () => {
  it('connects with the ready URL and runs queries', async () => {
    const { code, stdout, stderr } = await psql([endpoint.url, '-At', '-c', "SELECT 'hello from psql'"]);
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe('hello from psql');
  });

  it('falls back to plaintext when its default sslmode=prefer asks for TLS on the loopback leg', async () => {
    const target = ['-h', endpoint.host, '-p', String(endpoint.port), '-U', 'anyone', '-d', 'anything'];
    const { code, stdout, stderr } = await psql([...target, '-At', '-c', 'SELECT current_user'], {
      PGPASSWORD: endpoint.password,
      PGSSLMODE: 'prefer',
    });
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe('postgres');
  });

  it('runs the \\d family of introspection commands with the same output as a direct connection', async () => {
    const setup = await psql([
      endpoint.url,
      '-c',
      'CREATE TABLE IF NOT EXISTS psql_t (id int primary key, note text)',
    ]);
    expect(setup.code, setup.stderr).toBe(0);
    const directUrl = server.url({ sslmode: 'disable' });
    for (const command of ['\\dt', '\\d psql_t', '\\dn', '\\df pg_sleep', '\\du', '\\dx', '\\dT', '\\di']) {
      const through = await psql([endpoint.url, '-c', command]);
      const straight = await psql([directUrl, '-c', command]);
      expect(through.code, `${command}: ${through.stderr}`).toBe(0);
      expect(through.stdout, command).toBe(straight.stdout);
    }
  });

  it('copies with \\copy in both directions', async () => {
    const copyIn = await psql([endpoint.url, '-c', '\\copy psql_t FROM STDIN'], {}, '1\tone\n2\ttwo\n\\.\n');
    expect(copyIn.code, copyIn.stderr).toBe(0);
    const copyOut = await psql([endpoint.url, '-c', '\\copy (SELECT * FROM psql_t ORDER BY id) TO STDOUT']);
    expect(copyOut.stdout).toBe('1\tone\n2\ttwo\n');
  });

  it('is refused with a wrong secret', async () => {
    const target = ['-h', endpoint.host, '-p', String(endpoint.port), '-U', 'postgres'];
    const { code, stderr } = await psql([...target, '-c', 'SELECT 1'], { PGPASSWORD: 'wrong' });
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/password authentication failed/);
  });
});

describe.skipIf(!havePgbench)('pgbench through the tunnel', () => {
  it('initialises (COPY) and runs select-only in simple, extended and prepared modes without failures', async () => {
    const env = libpqEnv({ PGPASSWORD: endpoint.password });
    const target = ['-h', endpoint.host, '-p', String(endpoint.port), '-U', endpoint.user, endpoint.database];
    const init = await run('pgbench', ['-i', '-s', '1', '-q', ...target], { env });
    expect(init.code, init.stderr).toBe(0);
    for (const mode of ['simple', 'extended', 'prepared']) {
      const { code, stdout, stderr } = await run(
        'pgbench',
        ['-S', '-M', mode, '-c', '4', '-j', '2', '-t', '200', ...target],
        { env },
      );
      expect(code, stderr).toBe(0);
      expect(stdout, mode).toMatch(/number of transactions actually processed: 800\/800/);
      expect(stdout, mode).toMatch(/number of failed transactions: 0/);
    }
  });
});
