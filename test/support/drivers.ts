/**
 * Drivers from Debian packages, driven through the same client-fidelity scenarios: psycopg 3
 * (python3-psycopg, run with /usr/bin/python3) and pgjdbc (libpostgresql-jdbc-java, run with
 * /usr/bin/java). Tests skip with the reason when one is missing; CI installs them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './commands.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PYTHON = '/usr/bin/python3';
export const JAVA = '/usr/bin/java';
export const PGJDBC_JAR = '/usr/share/java/postgresql.jar';

/** Where a scenario connects; `sslrootcert` is the CA file for verify-full. */
export interface DriverTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  dbname: string;
  sslrootcert?: string;
}

export type ScenarioResult =
  | { scenario: string; ok: boolean; detail: string }
  | { scenario: string; skip: string; ok?: undefined; detail?: undefined };

export type Driver = 'psycopg' | 'pgjdbc';

let missing: Partial<Record<Driver, string | null>> = {};

/** Why the driver cannot run on this machine, or undefined when it can. */
export function driverMissing(driver: Driver): string | undefined {
  if (missing[driver] === undefined) missing = { ...missing, [driver]: findMissing(driver) };
  return missing[driver] ?? undefined;
}

function findMissing(driver: Driver): string | null {
  if (driver === 'psycopg') {
    const probe = spawnSync(PYTHON, ['-c', 'import psycopg'], { stdio: 'ignore' });
    return probe.status === 0 ? null : `psycopg 3 is not installed (apt-get install python3-psycopg)`;
  }
  if (!existsSync(JAVA)) return 'java is not installed (apt-get install default-jre-headless)';
  if (!existsSync(PGJDBC_JAR)) return 'pgjdbc is not installed (apt-get install libpostgresql-jdbc-java)';
  return null;
}

/** Runs `scenarios` with `driver` against `target`; one result per scenario, in order. */
export async function runScenarios(
  driver: Driver,
  target: DriverTarget,
  scenarios: readonly string[],
): Promise<ScenarioResult[]> {
  const reason = driverMissing(driver);
  if (reason) return scenarios.map((scenario) => ({ scenario, skip: reason }));
  const { command, args } =
    driver === 'psycopg'
      ? {
          command: PYTHON,
          args: [path.join(HERE, 'drivers', 'psycopg_scenarios.py'), JSON.stringify({ target, scenarios })],
        }
      : {
          command: JAVA,
          args: [
            '-cp',
            PGJDBC_JAR,
            path.join(HERE, 'drivers', 'PgjdbcScenarios.java'),
            target.host,
            String(target.port),
            target.user,
            target.password,
            target.dbname,
            target.sslrootcert ?? '',
            ...scenarios,
          ],
        };
  const { code, stdout, stderr } = await run(command, args, { timeoutMs: 180_000 });
  const results = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ScenarioResult);
  return scenarios.map(
    (scenario) =>
      results.find((r) => r.scenario === scenario) ?? {
        scenario,
        ok: false,
        detail: `no result (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`,
      },
  );
}

/** One scenario's result, for tests that look at one at a time. */
export async function runScenario(
  driver: Driver,
  target: DriverTarget,
  scenario: string,
): Promise<ScenarioResult> {
  const [result] = await runScenarios(driver, target, [scenario]);
  return result!;
}
