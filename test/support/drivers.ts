/**
 * Drivers from Debian packages, driven through the same client-fidelity scenarios: psycopg 3
 * (python3-psycopg, run with /usr/bin/python3) and pgjdbc (libpostgresql-jdbc-java, run with
 * /usr/bin/java). Tests skip with the reason when one is missing; CI installs them.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
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
            ...(await javaWithPgjdbc(path.join(HERE, 'drivers', 'PgjdbcScenarios.java'))),
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

const compiled = new Map<string, Promise<string[]>>();

/**
 * `java` arguments that run the one-file program `source` with pgjdbc on the class path, compiled once
 * (kept by its content under node_modules/.cache) rather than by the source launcher at every start: that
 * compile took 4–5 s of a run that takes half a second compiled, and many times that on a loaded machine,
 * enough to run tests that start Java twice past their deadline. Should compiling fail, the source
 * launcher runs it as before and reports what is wrong.
 */
export function javaWithPgjdbc(source: string): Promise<string[]> {
  let args = compiled.get(source);
  if (!args) {
    args = compileOnce(source).catch(() => ['-cp', PGJDBC_JAR, source]);
    compiled.set(source, args);
  }
  return args;
}

async function compileOnce(source: string): Promise<string[]> {
  const key = createHash('sha256').update(readFileSync(source)).update(PGJDBC_JAR).digest('hex').slice(0, 16);
  const cache = path.resolve(HERE, '..', '..', 'node_modules', '.cache', 'portcullis-java');
  const classes = path.join(cache, key);
  const runArgs = ['-cp', `${PGJDBC_JAR}${path.delimiter}${classes}`, path.basename(source, '.java')];
  if (existsSync(classes)) return runArgs;
  await mkdir(cache, { recursive: true });
  // Compiled aside and renamed into place: another test process may be compiling it too.
  const scratch = await mkdtemp(path.join(cache, 'compiling-'));
  const javac = ['-m', 'jdk.compiler/com.sun.tools.javac.Main', '-d', scratch, '-cp', PGJDBC_JAR, source];
  const result = await run(JAVA, javac, { timeoutMs: 180_000 });
  if (result.code !== 0) {
    await rm(scratch, { recursive: true, force: true });
    throw new Error(`compiling ${source} failed: ${result.stderr}`);
  }
  await rename(scratch, classes).catch(() => rm(scratch, { recursive: true, force: true }));
  return runArgs;
}
