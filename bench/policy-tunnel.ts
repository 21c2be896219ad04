import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serialize } from 'pg-protocol';
import { startPostgres } from '../test/support/postgres.ts';
import { startGuard, type GuardProcess } from '../test/support/guard-process.ts';
import { RawClient } from '../test/support/raw-client.ts';
import { installed, run, table } from './tools.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

async function streamMBps(target: Target, sql: string): Promise<number> {
  const raw = await RawClient.login(target.port, target.user, target.password, target.database);
  const t0 = performance.now();
  raw.write(serialize.query(sql));
  await raw.discardUntilReady();
  const seconds = (performance.now() - t0) / 1000;
  raw.end();
  return raw.bytesReceived / 1e6 / seconds;
}

async function pgbenchTps(target: Target): Promise<number> {
  const { code, stdout, stderr } = await run(
    'pgbench',
    [
      '-S',
      '-M',
      'prepared',
      '-c',
      '8',
      '-j',
      '2',
      '-T',
      String(SECONDS),
      '-n',
      '-h',
      target.host,
      '-p',
      String(target.port),
      '-U',
      target.user,
      target.database,
    ],
    { env: { ...process.env, PGPASSWORD: target.password, PGSSLMODE: 'disable' } },
  );
  if (code !== 0) throw new Error(`pgbench failed: ${stderr}`);
  return Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
}

/** Streaming masking and `guarded` enforcement against a direct connection, measured in one run. */
export async function benchPolicyTunnel(): Promise<void> {
  console.log('\n## Policy in the data path\n');
  const server = await startPostgres();
  let guard: GuardProcess | undefined;
  try {
    const direct: Target = {
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      database: server.database,
    };
    const setup = await server.connect();
    await setup.query(`CREATE TABLE customers AS
      SELECT g AS id, 'Customer ' || g AS name, 'user' || g || '@example.com' AS email,
             '4539 1488 0343 ' || lpad((g % 10000)::text, 4, '0') AS card_number, md5(g::text) AS note
        FROM generate_series(1, 1000000) g`);
    await setup.end();
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-'));
    const policyFile = path.join(dir, 'policy.yaml');
    await writeFile(
      policyFile,
      'extends: guarded\nmask:\n  - {column: customers.email, strategy: email}\n  - {column: customers.card_number, strategy: partial, keep: 4}\ndetect: [card, email, ssn, iban, phone, secret]\n',
    );
    guard = await startGuard(['--upstream', server.url({ sslmode: 'disable' }), '--policy', policyFile]);
    const [host, port] = guard.ready.listen.split(':');
    const tunnel: Target = {
      host: host!,
      port: Number(port),
      user: guard.ready.user,
      password: guard.ready.password,
      database: server.database,
    };

    const sql = 'SELECT id, name, email, card_number, note FROM customers';
    const before = guard.memory();
    const d = await streamMBps(direct, sql);
    const t = await streamMBps(tunnel, sql);
    const after = guard.memory();
    console.log(
      '1M-row select, two masked columns and all detectors on the rest (target: >= 0.5x direct, RSS flat)\n',
    );
    console.log(
      table(
        ['path', 'MB/s', 'ratio'],
        [
          ['direct', d.toFixed(0), '1.00'],
          ['tunnel', t.toFixed(0), (t / d).toFixed(2)],
        ],
      ),
    );
    console.log(
      `\ntunnel RSS ${(before.rss / 1048576).toFixed(0)} MiB before, ${(after.rss / 1048576).toFixed(0)} MiB after, peak ${(after.peak / 1048576).toFixed(0)} MiB`,
    );

    if (installed('pgbench')) {
      const init = await run(
        'pgbench',
        [
          '-i',
          '-s',
          '10',
          '-q',
          '-h',
          direct.host,
          '-p',
          String(direct.port),
          '-U',
          direct.user,
          direct.database,
        ],
        { env: { ...process.env, PGPASSWORD: direct.password } },
      );
      if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
      const dt = await pgbenchTps(direct);
      const tt = await pgbenchTps(tunnel);
      console.log(`\npgbench -S -M prepared, 8 clients, under the policy above (target: >= 0.8x direct)\n`);
      console.log(
        table(
          ['path', 'tps', 'ratio'],
          [
            ['direct', dt.toFixed(0), '1.00'],
            ['tunnel', tt.toFixed(0), (tt / dt).toFixed(2)],
          ],
        ),
      );
    }
  } finally {
    await guard?.stop();
    await server.stop();
  }
}
