/**
 * `npm run soak hub-outage`: the hub down for SOAK_OUTAGE_SECONDS (default 120) while SOAK_OUTAGE_EVENTS
 * (default 10,000) recorded events are spooled, then SIGKILLed SOAK_KILLS times (default 3) while it
 * ingests the backlog. Prints what arrived against what was spooled, and the tunnel's memory; exits 1 when
 * anything was lost, repeated, altered or the chain does not verify.
 */
import { loadAverage } from '../bench/process-stats.ts';
import { table } from '../bench/tools.ts';
import { runHubOutage, type OutageReport } from './hub-outage.ts';
import { startOutageWorld } from './outage-world.ts';

const mib = (n: number): string => n.toFixed(0);

function print(report: OutageReport): boolean {
  const { memory } = report;
  console.log(
    table(
      [
        'tunnel RSS MiB',
        'before the outage',
        'outage: first quarter',
        'last quarter',
        'peak',
        'end of outage',
        'after delivery',
      ],
      [
        [
          '',
          mib(memory.beforeOutage.rssMiB),
          mib(memory.outage.early),
          mib(memory.outage.late),
          mib(memory.outage.peak),
          mib(memory.endOfOutage.rssMiB),
          mib(memory.end.rssMiB),
        ],
      ],
    ),
  );
  const faults = {
    missing: report.missing.length,
    repeated: report.repeated.length,
    altered: report.altered.length,
    'chain problems': report.chainProblems.length,
    anomalies: report.anomalies.length,
  };
  console.log(
    table(
      [
        'spooled',
        'during the outage',
        'at the hub',
        ...Object.keys(faults),
        'chain',
        'session',
        'tunnel exit',
      ],
      [
        [
          report.spooled,
          report.spooledDuringOutage,
          report.atHub,
          ...Object.values(faults),
          report.session.chainStatus,
          report.session.status,
          String(report.tunnelExit),
        ],
      ],
    ),
  );
  console.log(
    `hub down ${(report.outageMs / 1000).toFixed(0)} s; killed mid-ingest with verified prefixes through seq ${report.killedAt.join(', ')}; backlog delivered ${(report.deliveredAfterMs / 1000).toFixed(1)} s after the hub came back; ${report.queries} queries, ${report.queryErrors} errors`,
  );
  return (
    Object.values(faults).every((n) => n === 0) && report.atHub === report.spooled && report.tunnelExit === 0
  );
}

export async function runHubOutageSoak(): Promise<boolean> {
  const events = Number(process.env['SOAK_OUTAGE_EVENTS'] ?? 10_000);
  const outageMs = Number(process.env['SOAK_OUTAGE_SECONDS'] ?? 120) * 1000;
  const kills = Number(process.env['SOAK_KILLS'] ?? 3);
  const seed = Number(process.env['SOAK_SEED'] ?? Date.now() % 1_000_000);
  console.log(
    `hub outage: ${events} events in ${outageMs / 1000} s, ${kills} SIGKILLs, seed ${seed}, load ${loadAverage()}`,
  );
  const world = await startOutageWorld();
  try {
    const report = await runHubOutage(world, {
      events,
      outageMs,
      kills,
      seed,
      deliveryTimeoutMs: 300_000,
      log: (line) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${line}`),
    });
    console.log(`load ${loadAverage()}`);
    return print(report);
  } finally {
    await world.close();
  }
}
