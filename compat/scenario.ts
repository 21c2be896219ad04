/**
 * What every driver of the compatibility run is asked: the same named scenarios (connect options,
 * cancel, notifications, terminate, pipelines, cursors, COPY, binary transfer, TLS modes, syntax errors),
 * each run once against the server itself and once through an `observe` tunnel in front of it.
 */
import type { DriverTarget, ScenarioResult } from '../test/support/drivers.ts';

export type { DriverTarget, ScenarioResult };

/** A scenario's verdict: passed or not with what was seen, or why this driver cannot run it. */
export type Outcome = { ok: boolean; detail: string } | { skip: string };

export type Scenario = (target: DriverTarget) => Promise<Outcome>;

/** Every scenario, in the order they are printed; a driver implements those it can. */
export const SCENARIOS = [
  'connect-options',
  'current-schema',
  'connect-then-end',
  'cancel',
  'notifications',
  'terminate',
  'pipeline',
  'cursors',
  'copy',
  'binary',
  'tls-require',
  'tls-verify-full',
  'syntax-error',
] as const;

export type ScenarioName = (typeof SCENARIOS)[number];

/** Runs `scenarios` one after the other; a scenario that throws has failed, with the error as detail. */
export async function runAll(
  scenarios: Partial<Record<ScenarioName, Scenario>>,
  target: DriverTarget,
  names: readonly ScenarioName[],
  timeoutMs = 60_000,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const name of names) {
    const scenario = scenarios[name];
    if (!scenario) {
      results.push({ scenario: name, skip: 'not a scenario this driver has' });
      continue;
    }
    try {
      const outcome = await withTimeout(scenario(target), timeoutMs);
      results.push({ scenario: name, ...outcome });
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      results.push({ scenario: name, ok: false, detail: `${code ? `${code}: ` : ''}${message ?? error}` });
    }
  }
  return results;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The syntax error every driver is given, and what the server says of it. */
export const BAD_SQL = 'SELECT 1 FROM WHERE';
export const BAD_SQL_ERROR = { code: '42601', position: '15', message: 'syntax error at or near "WHERE"' };

/** The settings the connect-options scenario asks for at startup, as libpq's `options` carries them. */
export const STARTUP_OPTIONS =
  '-c statement_timeout=4321 -c default_transaction_isolation=serializable -c some.var=tenant\\ 42';
export const EXPECTED_SETTINGS = ['4321ms', 'serializable', 'tenant 42'];
