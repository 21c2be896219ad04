/**
 * The hub as a process of its own goes down while a `portcullis connect` process records, comes back, and
 * is killed with SIGKILL while it ingests the backlog: the hub ends up with exactly what the tunnel
 * spooled. The short form of `npm run soak hub-outage` (2 minutes, 10,000 events there).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runHubOutage } from '../../soak/hub-outage.ts';
import { startOutageWorld, type OutageWorld } from '../../soak/outage-world.ts';

let world: OutageWorld;

beforeAll(async () => {
  world = await startOutageWorld();
}, 120_000);

afterAll(async () => {
  await world?.close();
});

it('delivers every event spooled during a hub outage exactly once, though the hub is killed mid-ingest', async () => {
  const report = await runHubOutage(world, {
    events: 1500,
    outageMs: 3000,
    kills: 2,
    seed: 13,
    log: (l) => console.log(`${new Date().toISOString()} ${l}`),
  });
  expect(report.spooledDuringOutage).toBeGreaterThanOrEqual(1500);
  expect(report.killedAt).toHaveLength(2);
  expect({
    missing: report.missing,
    repeated: report.repeated,
    altered: report.altered,
    chainProblems: report.chainProblems,
    anomalies: report.anomalies,
  }).toEqual({ missing: [], repeated: [], altered: [], chainProblems: [], anomalies: [] });
  expect(report.atHub).toBe(report.spooled);
  expect(report.session).toMatchObject({
    status: 'closed',
    chainStatus: 'ok',
    lastSeq: report.spooled,
    maxSeq: report.spooled,
    eventCount: report.spooled,
  });
  expect(report.tunnelExit).toBe(0);
  expect(report.queryErrors).toBe(0);
}, 240_000);
