/**
 * `portcullis hub` as a real child process (bin/portcullis.mjs), the way an operator or a supervisor runs
 * it: one ready line on stdout, logs on stderr, exit 0 on SIGTERM/SIGINT, exit 2 on a bad hub.yaml.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT, startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { createHubClient } from '../../tunnel/hub-client/index.ts';
import { runCli, runCliToEnd } from '../support/guard-process.ts';
import { agentToken } from '../support/hub-tokens.ts';
import { exitedWithOutput } from '../support/commands.ts';

const AUDIENCE = 'portcullis-hub';

let idp: DevIdp;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-hub-cli-'));
  idp = await startDevIdp({ audience: AUDIENCE });
});
afterAll(async () => {
  await idp?.close();
  await rm(scratch, { recursive: true, force: true });
});

async function writeConfig(name: string, text: string): Promise<string> {
  const file = path.join(scratch, name);
  await writeFile(file, text);
  return file;
}

const goodConfig = (): string => `identity:
  issuer: ${idp.issuer}
  audience: ${AUDIENCE}
database: hub.db
targets:
  - id: analytics-db
    kind: postgres
    address: 127.0.0.1:5435
    database: analytics
    tls: { sslmode: disable }
    credentials: { user: reporter, password_env: ANALYTICS_DB_PASSWORD }
    access: [agents]
`;

interface Running {
  ready: { event: string; url: string };
  stdout(): string;
  stderr(): string;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

async function startHubProcess(args: string[]): Promise<Running> {
  const child = runCli(['hub', ...args]);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => (stdout += `${line}\n`));
  const exited = exitedWithOutput(child);
  const first = new Promise<string>((resolve) => lines.once('line', resolve));
  const line = await Promise.race([first, exited.then(() => undefined)]);
  if (line === undefined) throw new Error(`portcullis hub exited before it was ready: ${stderr}`);
  return {
    ready: JSON.parse(line) as Running['ready'],
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(signal) {
      child.kill(signal);
      return exited;
    },
  };
}

describe('portcullis hub', () => {
  it('prints one ready line, serves the API with real tokens, and exits 0 on SIGTERM with a stream open', async () => {
    const config = await writeConfig('hub.yaml', goodConfig());
    const hub = await startHubProcess(['--config', config, '--listen', '127.0.0.1:0']);
    let code: number | null = null;
    try {
      expect(Object.keys(hub.ready)).toEqual(['event', 'url']);
      expect(hub.ready.event).toBe('ready');
      expect(hub.ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const token = await agentToken(idp, DEMO_AGENT);
      const agent = createHubClient({ url: hub.ready.url, token: () => token });
      expect(await agent.health()).toEqual({ status: 'ok' });
      expect(await agent.me()).toMatchObject({ subject: DEMO_AGENT.clientId, kind: 'agent' });
      expect((await agent.targets()).map((t) => [t.id, t.status])).toEqual([['analytics-db', 'standing']]);

      const stream = await fetch(`${hub.ready.url}/v1/events`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(stream.status).toBe(200);
      const body = stream.text();
      code = await hub.stop('SIGTERM');
      expect(await body).toMatch(/^retry: \d+\nid: \d+\n\n/); // the stream ended cleanly, not reset
    } finally {
      if (code === null) code = await hub.stop('SIGKILL');
    }
    expect(code).toBe(0);
    expect(hub.stdout().trim().split('\n')).toHaveLength(1);
    expect(hub.stderr()).toMatch(/SIGTERM: shutting down/);
    expect(hub.stderr()).toMatch(/stopped/);
  });

  it('exits 0 on SIGINT, with --database overriding hub.yaml', async () => {
    const config = await writeConfig('hub-sigint.yaml', goodConfig());
    const database = path.join(scratch, 'elsewhere', 'hub.db');
    const hub = await startHubProcess([
      '--config',
      config,
      '--database',
      database,
      '--listen',
      '127.0.0.1:0',
    ]);
    const code = await hub.stop('SIGINT');
    expect(code).toBe(0);
    expect(hub.stderr()).toContain(`store ${database}`);
  });

  it('refuses a bad hub.yaml in one line naming file:line: field, with exit code 2', async () => {
    const config = await writeConfig(
      'bad.yaml',
      `identity:
  issuer: ${idp.issuer}
  audience: ${AUDIENCE}
targets:
  - id: analytics-db
    kind: postgres
    address: 127.0.0.1:5435
    database: analytics
    credentials: { user: reporter, password: hunter2 }
`,
    );
    const result = await runCliToEnd(['hub', '--config', config, '--listen', '127.0.0.1:0']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^portcullis: ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:9: targets\\[0\\]\\.credentials\\.password: `,
      ),
    );

    const missing = await runCliToEnd(['hub', '--config', path.join(scratch, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml: file: cannot be read \(ENOENT\)/);
  });
});
