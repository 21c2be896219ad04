import { Client } from 'pg';
import { startPostgres } from '../test/support/postgres.ts';
import { startGuard, type GuardProcess } from '../test/support/guard-process.ts';
import { tunnelEndpoint, type Endpoint } from './postgres-endpoints.ts';
import { percentile, table } from './tools.ts';

/** A read whose text is about `bytes` long: one IN list, the shape generated queries take. */
export function largeInList(bytes: number): string {
  const head = 'SELECT count(*) FROM (VALUES (1)) v(id) WHERE id IN (';
  const ids: string[] = [];
  let length = head.length + 1;
  for (let n = 100_000; length < bytes; n++) {
    ids.push(String(n));
    length += String(n).length + 2;
  }
  return `${head}${ids.join(', ')})`;
}

const SIZES = [64 * 1024, 256 * 1024, 1024 * 1024 - 1024];
const ROUNDS = 5;

/**
 * How long one session's large statement holds up another session's `SELECT 1` under `guarded`: the
 * probe's latencies while large statements are judged, against the probe alone in the same run.
 */
export async function benchStatementStall(): Promise<void> {
  console.log('\n## Large statements and the other sessions\n');
  const server = await startPostgres();
  let guard: GuardProcess | undefined;
  try {
    guard = await startGuard(['--upstream', server.url({ sslmode: 'disable' }), '--policy', 'guarded']);
    const tunnel = tunnelEndpoint(guard.ready, server.database);
    const probe = await connect(tunnel);
    const large = await connect(tunnel);
    await probeWhile(probe, () => new Promise((resolve) => setTimeout(resolve, 500))); // warm-up
    const alone = await probeWhile(probe, () => new Promise((resolve) => setTimeout(resolve, 2000)));
    const rows: (string | number)[][] = [row('probe alone', alone, 0)];
    for (const size of SIZES) {
      const sql = largeInList(size);
      await large.query(sql); // once first: worker start-up and caches are not what this measures
      let total = 0;
      const latencies = await probeWhile(probe, async () => {
        for (let i = 0; i < ROUNDS; i++) {
          const t0 = performance.now();
          await large.query(sql);
          total += performance.now() - t0;
        }
      });
      rows.push(row(`${Math.round(size / 1024)} KiB statement`, latencies, total / ROUNDS));
    }
    console.log(`SELECT 1 latency of one session while another sends ${ROUNDS} large reads, one at a time\n`);
    console.log(
      table(
        ['while', 'p50 ms', 'p99 ms', 'max ms', `worst ${ROUNDS} mean ms`, 'large stmt ms', 'stall / large'],
        rows,
      ),
    );
    console.log(
      "\nstall / large: how much of each large statement's time the other session stood still (target ~0)",
    );
    await Promise.all([probe.end(), large.end()]);
  } finally {
    await guard?.stop();
    await server.stop();
  }
}

async function connect(target: Endpoint): Promise<Client> {
  const client = new Client({ ...target, ssl: false });
  await client.connect();
  return client;
}

/** SELECT 1 back to back on `client` until `work` settles; each one's latency in ms. */
async function probeWhile(client: Client, work: () => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let done = false;
  const working = work().finally(() => (done = true));
  while (!done) {
    const t0 = performance.now();
    await client.query('SELECT 1');
    latencies.push(performance.now() - t0);
  }
  await working;
  return latencies;
}

/** The probe's worst ROUNDS latencies: each large statement stalls at most one probe query. */
function row(label: string, latencies: number[], largeMs: number): (string | number)[] {
  const worst = [...latencies].sort((a, b) => b - a).slice(0, ROUNDS);
  const stall = worst.reduce((sum, ms) => sum + ms, 0) / worst.length;
  return [
    label,
    percentile(latencies, 50).toFixed(2),
    percentile(latencies, 99).toFixed(2),
    worst[0]!.toFixed(1),
    stall.toFixed(1),
    largeMs ? largeMs.toFixed(0) : '-',
    largeMs ? (stall / largeMs).toFixed(2) : '-',
  ];
}
