/**
 * The desktop app's main-process services (main/services, with the test's fake notifier, tray and
 * clipboard in place of Electron's) on the embedded demo — real IdP, hub and PostgreSQL:
 *
 * - cold start: a new DesktopServices restoring a saved sign-in until the targets are listed (target
 *   ≤ 1.5 s), against one bare `GET /v1/targets` of a signed-in client;
 * - an approval decided from a notification: Elena's services raise the notification for Priya's held
 *   UPDATE, the bench presses Approve the moment it is shown (no human time), and measures from that
 *   press to the statement's result at Priya's client (target p50 ≤ 100 ms), against a SELECT 1 round trip
 *   through the same tunnel;
 * - the live-counts push's cost: pgbench -S through a tunnel the app runs, with the stats push on
 *   (every second, serialised as IPC would) and off, alternated in the same run (target < 2 %);
 * - the renderer's JavaScript, raw and gzipped.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { build as esbuild } from 'esbuild';
import pg from 'pg';
import { build, mergeConfig } from 'vite';
import { rendererConfig } from '../electron.vite.config.ts';
import { startDemo, type RunningDemo } from '../hub/demo/index.ts';
import { demoRelayLauncher } from '../tunnel/relay/demo-relay.ts';
import { createTestDesktop, testEncryption, type TestDesktop } from '../test/support/desktop.ts';
import { pgbenchSelectOnly, SECONDS, type Endpoint } from './postgres-endpoints.ts';
import { installed, median, percentile, run, table } from './tools.ts';

const COLD_STARTS = 5;
const repo = path.resolve(import.meta.dirname, '..');
const APPROVALS = 30;
const HOLDS_PER_SESSION = 15;
const PUSH_ROUNDS = 3;

/** bench/desktop-cold-start.ts as one ES module, run by plain node like the packaged app's bundled main. */
async function bundleColdStart(dir: string): Promise<string> {
  const file = path.join(dir, 'cold-start.mjs');
  await esbuild({
    entryPoints: [path.join(import.meta.dirname, 'desktop-cold-start.ts')],
    outfile: file,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    packages: 'external',
    logLevel: 'warning',
  });
  return file;
}

async function coldStart(demo: RunningDemo): Promise<void> {
  const key = randomBytes(32);
  const first = await createTestDesktop({ hubUrl: demo.hubUrl, encryption: testEncryption(true, key) });
  await first.services.start();
  await first.signIn('priya');
  const hub = first.services.account.current()!.account.hub;
  const bare: number[] = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    const t0 = performance.now();
    await hub.targets();
    bare.push(performance.now() - t0);
  }
  await first.services.quit();

  // From the repository, so that the bundle's packages resolve from node_modules.
  await mkdir(path.join(repo, '.tmp'), { recursive: true });
  const entry = await bundleColdStart(await mkdtemp(path.join(repo, '.tmp', 'bench-')));
  const starts: number[] = [];
  const loaded: number[] = [];
  try {
    for (let i = 0; i < COLD_STARTS; i++) {
      const { code, stdout, stderr } = await run(process.execPath, [
        entry,
        demo.hubUrl,
        first.home,
        key.toString('hex'),
      ]);
      if (code !== 0) throw new Error(`the cold start failed: ${stderr}`);
      const answer = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
        ms: number;
        imported: number;
        targets: number;
      };
      if (answer.targets === 0) throw new Error('the cold start listed no targets');
      starts.push(answer.ms);
      loaded.push(answer.imported);
    }
  } finally {
    await rm(path.dirname(entry), { recursive: true, force: true });
  }
  console.log(
    table(
      ['cold start to targets listed (own process)', 'ms', 'vs one GET /v1/targets'],
      [
        [
          'process start → targets listed, median',
          median(starts).toFixed(0),
          `${(median(starts) / median(bare)).toFixed(1)}×`,
        ],
        ['of which loading the modules, median', median(loaded).toFixed(0), ''],
        ['slowest of ' + COLD_STARTS, Math.max(...starts).toFixed(0), ''],
        ['GET /v1/targets, median', median(bare).toFixed(1), '1.0×'],
      ],
    ),
  );
  console.log(`target ≤ 1500 ms: ${median(starts) <= 1500 ? 'met' : 'NOT met'}\n`);
}

/** Priya's tunnel to shop-db and a client through it. */
async function openShopDb(priya: TestDesktop): Promise<pg.Client> {
  await priya.services.tunnels.connect('shop-db');
  priya.services.tunnels.copy('shop-db', 'uri');
  const client = new pg.Client({ connectionString: priya.clipboard.at(-1)! });
  await client.connect();
  return client;
}

async function closeShopDb(priya: TestDesktop, client: pg.Client): Promise<void> {
  await client.end();
  await priya.services.tunnels.disconnect('shop-db');
}

async function approvalsFromNotifications(priya: TestDesktop, elena: TestDesktop): Promise<void> {
  let client = await openShopDb(priya);
  const roundTrip: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await client.query('SELECT 1');
    roundTrip.push(performance.now() - t0);
  }
  const pressToResult: number[] = [];
  const sentToShown: number[] = [];
  for (let i = 0; i < APPROVALS; i++) {
    // The hub takes at most 20 new holds a minute from one session: a new tunnel session every 15.
    if (i > 0 && i % HOLDS_PER_SESSION === 0) {
      await closeShopDb(priya, client);
      client = await openShopDb(priya);
    }
    const before = elena.notifier.shown.length;
    const t0 = performance.now();
    const update = client.query(`UPDATE payments SET status = status WHERE id = ${1 + (i % 50)}`);
    let shown = elena.notifier.shown.slice(before).find((n) => n.model.actions.length > 0);
    while (!shown) {
      await new Promise((r) => setImmediate(r));
      shown = elena.notifier.shown.slice(before).find((n) => n.model.actions.length > 0);
    }
    sentToShown.push(shown.at - t0);
    const pressed = performance.now();
    elena.notifier.act(shown, 'approve');
    await update;
    pressToResult.push(performance.now() - pressed);
  }
  await closeShopDb(priya, client);
  console.log(
    table(
      ['held UPDATE approved from a notification', 'p50 ms', 'p95 ms'],
      [
        [
          'Approve pressed → result at the client',
          median(pressToResult).toFixed(1),
          percentile(pressToResult, 95).toFixed(1),
        ],
        [
          'sent → notification shown to the approver',
          median(sentToShown).toFixed(1),
          percentile(sentToShown, 95).toFixed(1),
        ],
        [
          'baseline: SELECT 1 through the same tunnel',
          median(roundTrip).toFixed(2),
          percentile(roundTrip, 95).toFixed(2),
        ],
      ],
    ),
  );
  console.log(`target p50 ≤ 100 ms: ${median(pressToResult) <= 100 ? 'met' : 'NOT met'}\n`);
}

async function statsPushCost(demo: RunningDemo, priya: TestDesktop): Promise<void> {
  if (!installed('pgbench')) {
    console.log('stats push cost: skipped, pgbench is not installed (apt-get install postgresql-client)\n');
    return;
  }
  const url = new URL(demo.postgres.superuserUrl);
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password) };
  const admin = ['-h', url.hostname, '-p', url.port, '-U', decodeURIComponent(url.username), 'shop'];
  const init = await run('pgbench', ['-i', '-s', '2', '-q', ...admin], { env });
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  const grant = new pg.Client({ connectionString: demo.postgres.superuserUrl });
  await grant.connect();
  await grant.query('GRANT SELECT ON pgbench_accounts, pgbench_branches, pgbench_tellers TO shop_app');
  await grant.end();

  // Every push is serialised as Electron's IPC would (structured clone ~ JSON here).
  let pushedBytes = 0;
  priya.forward((_channel, message) => (pushedBytes += JSON.stringify(message).length));
  const view = await priya.services.tunnels.connect('shop-db');
  const password = priya.services.tunnels.revealSecret('shop-db');
  const endpoint: Endpoint = {
    name: 'app tunnel',
    host: view.connection.host,
    port: view.connection.port,
    user: view.connection.user,
    password,
    database: view.connection.database,
  };
  const on: number[] = [];
  const off: number[] = [];
  for (let round = 0; round < PUSH_ROUNDS; round++) {
    priya.services.windowVisible(true);
    on.push((await pgbenchSelectOnly(endpoint, { mode: 'simple', clients: 4 })).tps);
    priya.services.windowVisible(false);
    off.push((await pgbenchSelectOnly(endpoint, { mode: 'simple', clients: 4 })).tps);
  }
  await priya.services.tunnels.disconnect('shop-db');
  const cost = 1 - median(on) / median(off);
  console.log(
    table(
      [`pgbench -S, 4 clients, ${SECONDS} s × ${PUSH_ROUNDS} each`, 'tps (median)', 'runs'],
      [
        ['live counts pushed every second', median(on).toFixed(0), on.map((t) => t.toFixed(0)).join(' ')],
        ['no push (window hidden)', median(off).toFixed(0), off.map((t) => t.toFixed(0)).join(' ')],
      ],
    ),
  );
  console.log(
    `push cost ${(cost * 100).toFixed(1)} % of throughput (target < 2 %: ${cost < 0.02 ? 'met' : 'NOT met'}); ${pushedBytes} bytes pushed\n`,
  );
}

async function rendererSize(): Promise<void> {
  const out = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-renderer-'));
  try {
    await build(
      mergeConfig(rendererConfig(out), {
        configFile: false,
        base: './',
        mode: 'production',
        logLevel: 'warn',
      }),
    );
    const assets = path.join(out, 'assets');
    const rows: string[][] = [];
    for (const file of await readdir(assets)) {
      const body = await readFile(path.join(assets, file));
      rows.push([
        file.replace(/-[\w-]{8}\./, '.'),
        (body.length / 1024).toFixed(1),
        (gzipSync(body, { level: 9 }).length / 1024).toFixed(1),
      ]);
    }
    console.log(table(['renderer asset', 'KiB', 'gzip KiB'], rows));
    console.log('');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

export async function benchDesktopApp(): Promise<void> {
  console.log('\n== desktop-app: the main-process services on the embedded demo ==\n');
  const scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-app-'));
  await chmod(scratch, 0o755); // as root, PostgreSQL runs as its own user, who must pass through it
  const demo = await startDemo({ dataDir: path.join(scratch, 'demo'), relay: demoRelayLauncher() });
  const desktops: TestDesktop[] = [];
  try {
    await coldStart(demo);
    const priya = await createTestDesktop({ hubUrl: demo.hubUrl, config: { statsIntervalMs: 1000 } });
    const elena = await createTestDesktop({ hubUrl: demo.hubUrl });
    desktops.push(priya, elena);
    for (const [desktop, who] of [
      [priya, 'priya'],
      [elena, 'elena'],
    ] as const) {
      await desktop.services.start();
      await desktop.signIn(who);
    }
    await approvalsFromNotifications(priya, elena);
    await statsPushCost(demo, priya);
    await rendererSize();
  } finally {
    for (const desktop of desktops) await desktop.services.quit().catch(() => undefined);
    await demo.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
