import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres } from '../test/support/postgres.ts';
import { startGuard, type GuardProcess } from '../test/support/guard-process.ts';
import {
  directEndpoint,
  pgbenchInit,
  pgbenchSelectOnly,
  streamMBps,
  tunnelEndpoint,
} from './postgres-endpoints.ts';
import { installed, table } from './tools.ts';

/** Streaming masking and `guarded` enforcement against a direct connection, measured in one run. */
export async function benchPolicyTunnel(): Promise<void> {
  console.log('\n## Policy in the data path\n');
  const server = await startPostgres();
  let guard: GuardProcess | undefined;
  try {
    const direct = directEndpoint(server);
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
    const tunnel = tunnelEndpoint(guard.ready, server.database);

    const sql = 'SELECT id, name, email, card_number, note FROM customers';
    const before = guard.memory();
    const d = (await streamMBps(direct, sql)).mbps;
    const t = (await streamMBps(tunnel, sql)).mbps;
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
      await pgbenchInit(direct, 10);
      const dt = (await pgbenchSelectOnly(direct, { mode: 'prepared', clients: 8 })).tps;
      const tt = (await pgbenchSelectOnly(tunnel, { mode: 'prepared', clients: 8 })).tps;
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
