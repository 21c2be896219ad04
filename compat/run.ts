/**
 * `npm run compat [driver…]`: real drivers through the same scenarios, once against PostgreSQL itself and
 * once through `portcullis guard --policy observe` in front of it, with the pass counts side by side.
 * node-postgres and postgres.js come from npm; psycopg 3 and pgjdbc from Debian packages
 * (python3-psycopg, libpostgresql-jdbc-java with default-jre-headless) and are skipped, saying why, when
 * missing. Exits 1 when a scenario passes directly but not through the tunnel. Not part of `npm test`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAuthority } from '../test/support/certs.ts';
import { driverMissing, runScenarios, type Driver } from '../test/support/drivers.ts';
import { startGuard } from '../test/support/guard-process.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { nodePostgres } from './node-postgres.ts';
import { postgresJs } from './postgres-js.ts';
import { runAll, SCENARIOS, type DriverTarget, type ScenarioName, type ScenarioResult } from './scenario.ts';

type Route = 'direct' | 'tunnel';

interface CompatDriver {
  name: string;
  /** Why it cannot run here, if it cannot. */
  missing(): string | undefined;
  run(target: DriverTarget): Promise<ScenarioResult[]>;
}

/** What the Debian-packaged drivers' scenario scripts (test/support/drivers) implement. */
const EXTERNAL_SCENARIOS = SCENARIOS.filter((s) => s !== 'connect-then-end');

function external(driver: Driver): CompatDriver {
  return {
    name: driver,
    missing: () => driverMissing(driver),
    run: (target) => runScenarios(driver, target, EXTERNAL_SCENARIOS),
  };
}

const DRIVERS: CompatDriver[] = [
  { name: 'node-postgres', missing: () => undefined, run: (t) => runAll(nodePostgres, t, SCENARIOS) },
  { name: 'postgres.js', missing: () => undefined, run: (t) => runAll(postgresJs, t, SCENARIOS) },
  external('psycopg'),
  external('pgjdbc'),
];

async function main(wanted: string[]): Promise<number> {
  const drivers = wanted.length ? DRIVERS.filter((d) => wanted.includes(d.name)) : DRIVERS;
  const unknown = wanted.filter((w) => !DRIVERS.some((d) => d.name === w));
  if (unknown.length) {
    console.error(
      `unknown driver(s) ${unknown.join(', ')}; choose from ${DRIVERS.map((d) => d.name).join(', ')}`,
    );
    return 2;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-compat-'));
  const authority = await createAuthority('Portcullis compat CA');
  const server = await startPostgres({
    tls: await authority.sign('127.0.0.1', { ip: ['127.0.0.1'], dns: ['localhost'] }),
  });
  const guard = await startGuard(['--upstream', server.url({ sslmode: 'disable' }), '--policy', 'observe']);
  try {
    const targets = await targetsOf(dir, server, guard.ready, authority.cert);
    console.log(
      `PostgreSQL on ${server.host}:${server.port}; portcullis guard --policy observe on ${guard.ready.listen}\n`,
    );
    const results = new Map<string, Record<Route, ScenarioResult[]>>();
    for (const driver of drivers) {
      const reason = driver.missing();
      if (reason) {
        console.log(`${driver.name}: skipped, ${reason}`);
        continue;
      }
      process.stdout.write(`${driver.name}: running…`);
      const direct = await driver.run(targets.direct);
      const tunnel = await driver.run(targets.tunnel);
      results.set(driver.name, { direct, tunnel });
      process.stdout.write(' done\n');
    }
    return report(results);
  } finally {
    await guard.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function targetsOf(
  dir: string,
  server: { host: string; port: number; user: string; password: string },
  ready: { url: string; user: string; password: string; ca: string },
  serverCa: string,
): Promise<Record<Route, DriverTarget>> {
  const serverCaFile = path.join(dir, 'server-ca.pem');
  const tunnelCaFile = path.join(dir, 'tunnel-ca.pem');
  await writeFile(serverCaFile, serverCa);
  await writeFile(tunnelCaFile, ready.ca);
  const url = new URL(ready.url);
  return {
    direct: { ...server, dbname: 'postgres', sslrootcert: serverCaFile },
    tunnel: {
      host: url.hostname,
      port: Number(url.port),
      user: ready.user,
      password: ready.password,
      dbname: decodeURIComponent(url.pathname.slice(1)),
      sslrootcert: tunnelCaFile,
    },
  };
}

const mark = (result: ScenarioResult | undefined): string =>
  !result ? '' : result.ok === undefined ? 'skip' : result.ok ? 'pass' : 'FAIL';

/** The table, the counts per driver, and what failed; 1 when the tunnel fails what the server passes. */
function report(results: Map<string, Record<Route, ScenarioResult[]>>): number {
  const names = [...results.keys()];
  const rows = [
    ['scenario', ...names.flatMap((n) => [`${n} direct`, `${n} tunnel`])],
    ...SCENARIOS.map((scenario) => [
      scenario,
      ...names.flatMap((n) => {
        const { direct, tunnel } = results.get(n)!;
        return [mark(find(direct, scenario)), mark(find(tunnel, scenario))];
      }),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log('');
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));

  console.log('\npassed (of the scenarios the driver has):');
  let regressions = 0;
  const failures: string[] = [];
  for (const [name, { direct, tunnel }] of results) {
    const count = (list: ScenarioResult[]): string =>
      `${list.filter((r) => r.ok).length}/${list.filter((r) => r.ok !== undefined).length}`;
    console.log(`  ${name.padEnd(14)} direct ${count(direct).padEnd(6)} through the tunnel ${count(tunnel)}`);
    for (const route of ['direct', 'tunnel'] as Route[]) {
      for (const result of results.get(name)![route]) {
        if (result.ok !== false) continue;
        failures.push(`  ${name} ${route} ${result.scenario}: ${result.detail}`);
        if (route === 'tunnel' && find(direct, result.scenario)?.ok) regressions++;
      }
    }
  }
  if (failures.length) console.log(`\nfailures:\n${failures.join('\n')}`);
  console.log(
    regressions
      ? `\n${regressions} scenario(s) pass directly but fail through the tunnel`
      : '\nthrough the tunnel, every scenario that passes directly passes too',
  );
  return regressions ? 1 : 0;
}

const find = (list: ScenarioResult[], scenario: ScenarioName | string): ScenarioResult | undefined =>
  list.find((r) => r.scenario === scenario);

process.exitCode = await main(process.argv.slice(2));
