/**
 * `portcullis` as a user installs and runs it: `npm install -g` of the checkout puts the command on PATH;
 * it runs the compiled CLI (no TypeScript loader at run time) from any directory; a signal sent to its pid
 * reaches the process that listens, which stops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { COMMANDS } from '../../tunnel/cli.ts';
import { run } from '../support/commands.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

let prefix: string;
let env: NodeJS.ProcessEnv;
let server: TestPostgres;

beforeAll(async () => {
  prefix = await mkdtemp(path.join(tmpdir(), 'portcullis-global-'));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const installed = await run(npm, [
    'install',
    '--global',
    '--prefix',
    prefix,
    '--offline',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    ROOT,
  ]);
  if (installed.code !== 0) throw new Error(`npm install -g failed: ${installed.stderr}`);
  env = {
    ...process.env,
    PATH: `${path.join(prefix, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
  };
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
  if (prefix) await rm(prefix, { recursive: true, force: true });
});

function portcullis(args: string[]): ReturnType<typeof spawn> {
  return spawn('portcullis', args, { env, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('the installed portcullis command', () => {
  it('is on PATH after npm install -g and answers from outside the checkout', async () => {
    expect(existsSync(path.join(prefix, 'bin', 'portcullis'))).toBe(true);
    const help = await run('portcullis', ['--help'], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: portcullis');
    for (const entry of COMMANDS) expect(help.stdout).toContain(entry.name);
    const shown = await run('portcullis', ['--version'], { env });
    expect(shown.stdout.trim()).toBe(version);
    const usage = await run('portcullis', ['guard', 'postgres'], { env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('PORTCULLIS_UPSTREAM');
  });

  it('runs compiled JavaScript: no TypeScript loader between the command and the CLI', () => {
    const bin = readFileSync(path.join(ROOT, 'bin', 'portcullis.mjs'), 'utf8');
    expect(bin).not.toMatch(/tsx|\.ts['"]/);
    const chunks = readdirSync(path.join(ROOT, 'dist', 'cli'), { recursive: true, encoding: 'utf8' });
    for (const file of chunks.filter((name) => name.endsWith('.js'))) {
      expect(readFileSync(path.join(ROOT, 'dist', 'cli', file), 'utf8')).not.toMatch(/from ["']tsx/);
    }
  });

  it('stops a guard when the signal is sent to the pid the shell started', async () => {
    const guard = portcullis(['guard', 'postgres', '--upstream', server.url({ sslmode: 'disable' })]);
    const exited = once(guard, 'exit');
    const [line] = (await once(createInterface({ input: guard.stdout! }), 'line')) as [string];
    const ready = JSON.parse(line) as { url: string; listen: string };
    const client = new pg.Client({ connectionString: ready.url });
    await client.connect();
    client.on('error', () => {});
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    // The pid is the Node process itself (the shebang execs node): no npm or shell in between to lose it.
    expect(readFileSync(`/proc/${guard.pid}/cmdline`, 'utf8')).toContain('portcullis');
    process.kill(guard.pid!, 'SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    const [host, port] = [ready.listen.split(':')[0]!, Number(ready.listen.split(':')[1])];
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => resolve('connected'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('lists every command by the name its module gives it', async () => {
    for (const entry of COMMANDS) expect((await entry.load()).name()).toBe(entry.name);
  });
});
