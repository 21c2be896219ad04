/**
 * The SQL classifier's cost per statement: uncached (parse with libpg-query + walk the tree), by shape
 * (a text seen before with other constants: libpg-query's normaliser and a lookup) and cached (an LRU
 * lookup by exact text), for the statements a tunnel sees most. The baselines are libpg-query's
 * parseSync and normalizeSync alone, measured in the same run.
 *
 * Targets: uncached ≤ 20 µs, cached ≤ 1 µs (medians); by shape well under uncached.
 */
import { loadModule, normalizeSync, parseSync } from 'libpg-query';
import { createClassifier, loadClassifier } from '../tunnel/policy/classifier.ts';
import { median, table } from './tools.ts';

const UNCACHED_TARGET_US = 20;
const CACHED_TARGET_US = 1;

const STATEMENTS: readonly (readonly [name: string, sql: string])[] = [
  ['BEGIN', 'BEGIN'],
  ['SET', "SET application_name = 'reports'"],
  ['pgbench select', 'SELECT abalance FROM pgbench_accounts WHERE aid = 10427'],
  ['pgbench update', 'UPDATE pgbench_accounts SET abalance = abalance + -1609 WHERE aid = 10427'],
  [
    'pgbench insert',
    'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (6, 1, 10427, -1609, CURRENT_TIMESTAMP)',
  ],
  ['ORM lookup', 'SELECT id, name, email, created_at FROM users WHERE id = $1 LIMIT 1'],
  [
    'join + order',
    "SELECT u.id, u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.created_at > now() - interval '7 days' ORDER BY o.total DESC LIMIT 50",
  ],
  [
    'CTE + window',
    'WITH recent AS (SELECT * FROM orders WHERE created_at > current_date - 7) SELECT account_id, total, rank() OVER (PARTITION BY account_id ORDER BY total DESC) FROM recent',
  ],
  [
    'psql \\dt',
    `SELECT n.nspname as "Schema", c.relname as "Name", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type", pg_catalog.pg_get_userbyid(c.relowner) as "Owner" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2`,
  ],
];

const UNCACHED_RUNS = Number(process.env.BENCH_CLASSIFIER_RUNS ?? 5000);
const CACHED_BATCHES = 200;
const CACHED_BATCH = 1000;

/** CPU µs (this process, user + system) per call of f over `texts`, median of batches of 50. */
function cpuPerCall(texts: readonly string[], f: (text: string) => unknown): number {
  const batch = 50;
  const times: number[] = [];
  for (let b = 0; b + batch <= texts.length; b += batch) {
    const start = process.cpuUsage();
    for (let i = b; i < b + batch; i++) f(texts[i]!);
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / batch);
  }
  return median(times);
}

/** Median µs of f over distinct texts (a trailing comment makes each text new). */
function perCall(sql: string, f: (text: string) => unknown): number {
  return cpuPerCall(
    Array.from({ length: UNCACHED_RUNS }, (_, i) => `${sql} -- ${i}`),
    f,
  );
}

/**
 * The statement with its last constant in a comparison replaced by `n` (ordinals, as in ORDER BY 1,
 * are not constants to the normaliser), or undefined if it has none.
 */
function withConstant(sql: string, n: number): string | undefined {
  const match = /(?<=[=(,] ?-?)(\d+)(?!.*\d)/.exec(sql);
  if (!match || sql.includes('$') || /ORDER BY [\d, ]+$/.test(sql)) return undefined;
  return sql.slice(0, match.index) + String(n) + sql.slice(match.index + match[1]!.length);
}

/** Median µs of f over texts that differ only in a constant. */
function perShapedCall(sql: string, f: (text: string) => unknown): number | undefined {
  if (withConstant(sql, 1) === undefined) return undefined;
  return cpuPerCall(
    Array.from({ length: UNCACHED_RUNS }, (_, i) => withConstant(sql, 100_000 + i)!),
    f,
  );
}

/** Median µs per call of f on one text, timed in batches (a single hit is below the timer's grain). */
function perCachedCall(sql: string, f: (text: string) => unknown): number {
  const times: number[] = [];
  for (let b = 0; b < CACHED_BATCHES; b++) {
    const start = process.cpuUsage();
    for (let i = 0; i < CACHED_BATCH; i++) f(sql);
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / CACHED_BATCH);
  }
  return median(times);
}

export async function benchClassifier(): Promise<void> {
  await loadClassifier();
  await loadModule();
  const uncached = createClassifier({ cacheSize: 0 });
  const cached = createClassifier();
  for (const [, sql] of STATEMENTS) {
    // Warm up the JIT on both paths.
    for (let i = 0; i < 500; i++) {
      parseSync(`${sql} -- warm ${i}`);
      uncached.classify(`${sql} -- warm ${i}`);
    }
    cached.classify(sql);
  }

  const rows: (string | number)[][] = [];
  const uncachedAll: number[] = [];
  const cachedAll: number[] = [];
  for (const [name, sql] of STATEMENTS) {
    const parse = perCall(sql, (text) => parseSync(text));
    const classify = perCall(sql, (text) => uncached.classify(text));
    const normalize = perShapedCall(sql, (text) => normalizeSync(text));
    const shaped = perShapedCall(sql, (text) => cached.classify(text));
    const hit = perCachedCall(sql, (text) => cached.classify(text));
    uncachedAll.push(classify);
    cachedAll.push(hit);
    rows.push([
      name,
      sql.length,
      parse.toFixed(1),
      classify.toFixed(1),
      (classify - parse).toFixed(1),
      `${(classify / parse).toFixed(2)}x`,
      normalize?.toFixed(1) ?? 'n/a',
      shaped?.toFixed(1) ?? 'n/a',
      hit.toFixed(3),
    ]);
  }
  const uncachedMedian = median(uncachedAll);
  const cachedMedian = median(cachedAll);
  console.log('\nSQL classifier (median CPU µs per statement)');
  console.log(
    table(
      [
        'statement',
        'chars',
        'parseSync',
        'uncached',
        'walk',
        'vs parse',
        'normalizeSync',
        'by shape',
        'cached',
      ],
      [
        ...rows,
        ['median of all', '', '', uncachedMedian.toFixed(1), '', '', '', '', cachedMedian.toFixed(3)],
        ['target', '', '', `≤ ${UNCACHED_TARGET_US}`, '', '', '', '', `≤ ${CACHED_TARGET_US}`],
      ],
    ),
  );
  const verdict = (value: number, target: number): string => (value <= target ? 'met' : 'MISSED');
  console.log(
    `uncached target ${verdict(uncachedMedian, UNCACHED_TARGET_US)}, cached target ${verdict(cachedMedian, CACHED_TARGET_US)}` +
      ' (parseSync = libpg-query parse + JSON decode of its tree; walk = the classifier on top; by shape =' +
      ' the same statement with another constant, served from its shape; n/a = no constant to vary)',
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchClassifier();
}
