import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { freePort, startPostgres, type TestPostgres } from '../support/postgres.ts';
import { CLI, runCliToEnd, startGuard } from '../support/guard-process.ts';
import { RawClient } from '../support/raw-client.ts';
import { until } from '../support/waiting.ts';

let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
});

describe('portcullis guard postgres', () => {
  it('prints one ready line whose url a client uses as is, records, and exits 0 on SIGTERM', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-guard-'));
    const record = path.join(dir, 'session.jsonl');
    const guard = await startGuard(['--upstream', server.url({ sslmode: 'disable' }), '--record', record]);
    expect(Object.keys(guard.ready)).toEqual(['event', 'listen', 'user', 'password', 'url', 'ca']);
    expect(guard.ready.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(guard.ready.url).toContain('sslmode=disable');

    const client = new pg.Client({ connectionString: guard.ready.url });
    await client.connect();
    expect((await client.query('SELECT 40 + 2 AS answer')).rows).toEqual([{ answer: 42 }]);
    const errors: string[] = [];
    client.on('error', (error) => errors.push(error.message));

    expect(await guard.stop('SIGTERM')).toBe(0);
    expect(await until('the client to hear why', () => errors[0])).toBe('the tunnel is shutting down');
    const events = readFileSync(record, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; sql?: string });
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['session.start', 'statement', 'result', 'session.end']),
    );
    expect(events.find((e) => e.type === 'statement')?.sql).toBe('SELECT 40 + 2 AS answer');
    expect(readFileSync(record, 'utf8')).not.toContain(server.password);
  });

  it('serves TLS to a client that asks, verified with the ca of its ready line', async () => {
    const guard = await startGuard(['--upstream', server.url({ sslmode: 'disable' })]);
    const { hostname, port } = new URL(guard.ready.url);
    const client = new pg.Client({
      host: hostname,
      port: Number(port),
      user: guard.ready.user,
      password: guard.ready.password,
      database: 'postgres',
      ssl: { ca: guard.ready.ca },
    });
    await client.connect();
    const stream = (client as unknown as { connection: { stream: { encrypted?: boolean } } }).connection
      .stream;
    expect(stream.encrypted).toBe(true);
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await client.end();
    expect(await guard.stop('SIGTERM')).toBe(0);
  });

  it('enforces a policy file: blocks, masks, and names a bad file by line and field', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-policy-'));
    const policy = path.join(dir, 'policy.yaml');
    await writeFile(
      policy,
      'extends: read-only\nmask:\n  - {column: people.email, strategy: email}\ndetect: [card]\n',
    );
    const setup = await server.connect();
    await setup.query(
      "CREATE TABLE IF NOT EXISTS people (id int, email text); INSERT INTO people VALUES (1, 'ada@example.com')",
    );
    await setup.end();
    const guard = await startGuard(['--upstream', server.url(), '--policy', policy]);
    const client = new pg.Client({ connectionString: guard.ready.url });
    await client.connect();
    expect((await client.query('SELECT email FROM people')).rows).toEqual([{ email: '***@example.com' }]);
    await expect(client.query('DELETE FROM people')).rejects.toMatchObject({ code: '42501' });
    await client.end();
    expect(await guard.stop()).toBe(0);

    await writeFile(policy, 'extends: read-only\nblock: [ddl, writes]\n');
    const bad = await runCliToEnd(['guard', 'postgres', '--upstream', server.url(), '--policy', policy]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(
      `portcullis: --policy: ${policy}:2: block[1]: unknown class "writes"; expected one of read, write, ddl, drop, truncate, delete-without-where, update-without-where, privilege, server-access, dynamic, session, unknown`,
    );
  });

  it('listens on the port it is given and stops on SIGINT', async () => {
    const port = await freePort();
    const guard = await startGuard(['--upstream', server.url(), '--listen', `127.0.0.1:${port}`]);
    expect(guard.ready.listen).toBe(`127.0.0.1:${port}`);
    expect(await guard.stop('SIGINT')).toBe(0);
  });

  it('takes the upstream from a file or stdin, and warns when the password is on the command line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-upstream-'));
    const file = path.join(dir, 'upstream');
    await writeFile(file, `\n${server.url()}\n`, { mode: 0o600 });
    const fromFile = await startGuard(['--upstream-file', file]);
    expect(fromFile.stderr()).not.toMatch(/warning/);
    const client = new pg.Client({ connectionString: fromFile.ready.url });
    await client.connect();
    expect((await client.query('SELECT 7 AS seven')).rows).toEqual([{ seven: 7 }]);
    await client.end();
    expect(await fromFile.stop()).toBe(0);

    const child = spawn(process.execPath, [CLI, 'guard', 'postgres', '--upstream-file', '-'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(server.url());
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    expect(JSON.parse(line)).toMatchObject({ event: 'ready' });
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).toBe(0);

    const onCommandLine = await startGuard(['--upstream', server.url()]);
    expect(onCommandLine.stderr()).toContain(
      'warning: the password in --upstream is visible to every local user (ps, /proc)',
    );
    // Once parsed, the command line `ps` shows no longer carries it.
    const cmdline = readFileSync(`/proc/${onCommandLine.child.pid}/cmdline`, 'utf8');
    expect(cmdline).not.toContain(server.password);
    expect(await onCommandLine.stop()).toBe(0);

    const both = await runCliToEnd([
      'guard',
      'postgres',
      '--upstream',
      server.url(),
      '--upstream-file',
      file,
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/not both/);
  });

  it('refuses bad arguments with a one-line error and a non-zero exit', async () => {
    const cases: [string[], RegExp][] = [
      [['guard', 'postgres'], /the upstream is required: PORTCULLIS_UPSTREAM=/],
      [['guard', 'postgres', '--upstream', 'mysql://x@y/z'], /--upstream/],
      [['guard', 'postgres', '--upstream', server.url(), '--listen', '0.0.0.0:5432'], /loopback/],
      [
        ['guard', 'postgres', '--upstream', server.url(), '--policy', 'no-such-preset'],
        /--policy: no-such-preset: policy: not a preset/,
      ],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await runCliToEnd(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(message);
    }
  });

  it('refuses an unreachable upstream or wrong upstream credentials with a one-line error', async () => {
    const port = await freePort();
    const unreachable = await runCliToEnd([
      'guard',
      'postgres',
      '--upstream',
      `postgres://u:p@127.0.0.1:${port}/db`,
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/127\.0\.0\.1/);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);

    const wrong = await runCliToEnd([
      'guard',
      'postgres',
      '--upstream',
      server.url({}, { user: 'postgres', password: 'wrong-password' }),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/password authentication failed/);
    expect(wrong.stderr).not.toContain('wrong-password');
  });

  it('streams results of 100+ MB to a slow client with memory bounded, not growing with the data', async () => {
    const guard = await startGuard(['--upstream', server.url()]);
    const raw = await RawClient.login(
      Number(guard.ready.listen.split(':')[1]),
      guard.ready.user,
      guard.ready.password,
    );
    raw.write(serialize.query('SELECT 1'));
    await raw.until('Z');
    const before = guard.memory();
    // A slow reader: pause for a moment after every few megabytes so backpressure must hold.
    let nextPause = 4 << 20;
    raw.socket.on('data', () => {
      if (raw.bytesReceived > nextPause) {
        nextPause += 4 << 20;
        raw.socket.pause();
        setTimeout(() => raw.socket.resume(), 10);
      }
    });
    const peaks: number[] = [];
    for (let round = 0; round < 3; round++) {
      raw.write(serialize.query("SELECT repeat('x', 1000) FROM generate_series(1, 110000)"));
      let rows = 0;
      for (;;) {
        const message = await raw.next();
        if (message.type === 'D') rows++;
        if (message.type === 'Z') break;
      }
      expect(rows).toBe(110000);
      peaks.push(guard.memory().peak);
    }
    expect(raw.bytesReceived).toBeGreaterThan(300 * 1024 * 1024);
    // Received buffers are freed when V8 next collects, so RSS rises by a bounded amount (about its
    // external-memory threshold) once, and then stays: 330 MB passed through without growing it.
    const growth = peaks[2]! - before.peak;
    const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
    expect(growth, `peak RSS grew by ${mib(growth)}`).toBeLessThan(100 * 1024 * 1024);
    expect(peaks[2]! - peaks[0]!, `peak RSS kept growing: ${peaks.map(mib).join(', ')}`).toBeLessThan(
      24 * 1024 * 1024,
    );
    raw.end();
    expect(await guard.stop()).toBe(0);
  });
});
