/**
 * How fast the installed `portcullis` command answers: `portcullis --help` (target ≤ 150 ms) and
 * `portcullis targets` against a hub on loopback, signed in as a person (target ≤ 300 ms), each run as a
 * fresh process of the compiled CLI (bin/portcullis.mjs → dist/cli), as a user's shell runs it.
 *
 * Baseline, in the same run: a bare `node -e 0` (what any Node command pays to start on this machine), and
 * for reference the pre-compiled way, the TypeScript sources through tsx. The targets are absolute; the
 * ratios to the baseline say how much of the time is Node itself when the machine is loaded.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseHubConfig } from '../hub/config/hub-config.ts';
import { startDevIdp } from '../hub/dev-idp/index.ts';
import { startHub } from '../hub/server.ts';
import { demoUser, fakeBrowser } from '../test/identity/browser-driver.ts';
import { signInPerson } from '../tunnel/account/account.ts';
import { portcullisHome } from '../tunnel/account/home.ts';
import { median, percentile, table } from './tools.ts';

const RUNS = 15;
const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'portcullis.mjs');

async function timeRun(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${stderr}`);
  return performance.now() - started;
}

async function measure(args: string[], env: NodeJS.ProcessEnv): Promise<number[]> {
  await timeRun(args, env); // warms the file cache
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await timeRun(args, env));
  return times;
}

export async function benchCliStartup(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-cli-'));
  const idp = await startDevIdp({ audience: 'portcullis-hub' });
  const yaml = `identity: { issuer: '${idp.issuer}', audience: portcullis-hub }
targets:
  - { id: app-db, kind: postgres, address: '127.0.0.1:1', database: app, tls: { sslmode: disable },
      credentials: { user: app, password_env: APP_PASSWORD }, policy: guarded, access: [engineering] }
  - { id: admin-db, kind: postgres, address: '127.0.0.1:1', database: app, tls: { sslmode: disable },
      credentials: { user: app, password_env: APP_PASSWORD }, policy: guarded, access: [],
      jit: { requesters: [engineering], approvers: [managers], max_duration: 1h } }
`;
  const hub = await startHub({
    config: parseHubConfig(yaml, path.join(dir, 'hub.yaml')),
    database: path.join(dir, 'hub.db'),
    env: { APP_PASSWORD: 'unused' },
  });
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, PORTCULLIS_HOME: path.join(dir, 'home') };
    delete env.PORTCULLIS_HUB;
    delete env.PORTCULLIS_CLIENT_ID;
    delete env.PORTCULLIS_CLIENT_SECRET;
    await signInPerson({
      hubUrl: hub.url,
      paths: portcullisHome(env),
      openBrowser: fakeBrowser(demoUser('priya')).openBrowser,
    });

    const node = await measure(['-e', '0'], env);
    const help = await measure([BIN, '--help'], env);
    const targets = await measure([BIN, 'targets'], env);
    const fromSources = `process.exitCode = await (await import('${path.join(ROOT, 'tunnel', 'cli.ts')}')).main(['--help'])`;
    const tsxHelp = await measure(['--import', 'tsx', '--input-type=module', '-e', fromSources], env);
    const base = median(node);
    const row = (name: string, times: number[], target?: number): (string | number)[] => [
      name,
      median(times).toFixed(0),
      percentile(times, 90).toFixed(0),
      (median(times) / base).toFixed(2),
      target === undefined ? '' : `≤ ${target}${median(times) <= target ? ' ✓' : ' ✗'}`,
    ];
    console.log(`\n## cli-startup (${RUNS} runs each; load average ${loadavg()[0]!.toFixed(2)})\n`);
    console.log(
      table(
        ['command', 'median ms', 'p90 ms', '× node -e 0', 'target ms'],
        [
          row('node -e 0 (baseline)', node),
          row('portcullis --help', help, 150),
          row('portcullis targets (local hub)', targets, 300),
          row('--help from the sources through tsx', tsxHelp),
        ],
      ),
    );
  } finally {
    await hub.close();
    await idp.close();
    await rm(dir, { recursive: true, force: true });
  }
}
