/**
 * A small, fixed run of the protocol fuzzer (`npm run soak fuzz` sends a million messages): mutated
 * frontend messages before and after sign-in, split at random byte boundaries, against the real
 * `portcullis guard` process. The tunnel must answer or close every connection (none left hanging once the
 * client stops sending), survive it all, still serve a well-behaved client, and release every socket.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFuzz } from '../../soak/fuzz.ts';
import { startGuard, type GuardProcess } from '../support/guard-process.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { until } from '../support/waiting.ts';

let server: TestPostgres;
let guard: GuardProcess;

beforeAll(async () => {
  server = await startPostgres();
  const setup = await server.connect();
  await setup.query(`CREATE TABLE soak_items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO soak_items SELECT g, 'item ' || g FROM generate_series(1, 100) g`);
  await setup.end();
  guard = await startGuard(['--policy', 'guarded', '--authentication-timeout', '5'], {
    env: { ...process.env, PORTCULLIS_UPSTREAM: server.url({ sslmode: 'disable' }) },
  });
}, 120_000);

afterAll(async () => {
  await guard?.stop('SIGTERM');
  await server?.stop();
});

function sockets(): number {
  const dir = `/proc/${guard.child.pid}/fd`;
  return readdirSync(dir).filter((fd) => {
    try {
      return readlinkSync(`${dir}/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

it('answers or closes every fuzzed connection, before and after sign-in, and keeps serving', async () => {
  const idle = sockets();
  const fuzz = startFuzz({
    port: Number(guard.ready.listen.split(':')[1]),
    credentials: { user: guard.ready.user, password: guard.ready.password },
    messages: 4000,
    seed: 1313,
    unauthenticated: 2,
    signedIn: 2,
    // How long the tunnel may take to close after the client's FIN before it counts as hung: a deadline
    // for a loaded machine (a tunnel that never closes is caught just the same).
    closeMs: 30_000,
  });
  const counts = await fuzz.done;
  expect(counts.messages).toBe(4000);
  expect(counts.hung).toBe(0);
  expect(counts.refusedConnects).toBe(0);
  expect(counts.closedByTunnel).toBeGreaterThan(0);
  expect(counts.answered).toBeGreaterThan(0);
  expect(counts.closedByTunnel + counts.closedAfterFin).toBe(counts.connections);
  expect(guard.child.exitCode).toBe(null);

  const client = new pg.Client({ connectionString: guard.ready.url });
  await client.connect();
  expect((await client.query('select count(*)::int AS n from soak_items')).rows).toEqual([{ n: 100 }]);
  await client.end();
  // Every fuzzing connection's socket, and its upstream's, is released.
  await until('the sockets back to idle', () => (sockets() <= idle ? true : undefined), 30_000);
}, 180_000);
