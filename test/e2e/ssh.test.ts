/**
 * SSH targets end to end, as people use them: priya signs in and runs `portcullis connect web` (the CLI,
 * a child process), then OpenSSH's own ssh, scp and sftp through the ssh_config block it wrote; elena
 * decides held commands with `portcullis approve`/`deny`; tom, an auditor, replays the terminal and exports
 * it as asciicast; the hub verifies the chain and recorded every signature it gave. A Postgres target is
 * reached with psql through the same sshd as a bastion.
 */
import xterm from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installed, run } from '../support/commands.ts';
import {
  AUDITOR,
  startConnectedWorld,
  type ConnectProcess,
  type ConnectedWorld,
} from '../support/connected-world.ts';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { startPane, tmuxMissing } from '../support/tmux.ts';
import { until } from '../support/waiting.ts';

const missing =
  opensshMissing() ?? tmuxMissing() ?? (installed('psql') ? undefined : 'psql is not installed');
if (missing) console.warn(`skipping the end-to-end SSH tests: ${missing}`);

const WEB_POLICY = `extends: guarded
ssh:
  exec:
    block: [{ command: [rm, shutdown] }]
    approve: [privilege]
  mask_output: [card]
hold_timeout: 2m
`;

let sshd: TestSshd;
let world: ConnectedWorld;
let priya: NodeJS.ProcessEnv;
let elena: NodeJS.ProcessEnv;
let web: ConnectProcess;

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  const { writeFile } = await import('node:fs/promises');
  const policyFile = `${sshd.workDir}/../web-policy.yaml`;
  await writeFile(policyFile, WEB_POLICY);
  world = await startConnectedWorld({
    extraTargets: (pg) => `  - id: web
    name: Web server
    kind: ssh
    address: '${sshd.host}:${sshd.port}'
    host_key: '${sshd.hostKey.type} ${sshd.hostKey.blob.toString('base64')}'
    credentials: { user: '${sshd.user}', private_key_file: '${sshd.clientKeyFile}' }
    policy: '${policyFile}'
    access: [engineering]
    approvers: [managers]
  - { id: shop-via, name: Shop through the bastion, kind: postgres, address: '127.0.0.1:${pg.port}',
      database: shop, tls: { sslmode: disable }, credentials: { user: app_user, password_env: APP_DB_PASSWORD },
      policy: read-only, access: [engineering], via: web }
`,
  });
  priya = (await world.signIn('priya')).env;
  elena = (await world.signIn('elena')).env;
  web = await world.connect('web', priya);
});

afterAll(async () => {
  await web?.stop();
  await world?.close();
  await sshd?.stop();
});

const ssh = (args: string[], input?: string) =>
  run('/usr/bin/ssh', ['-F', web.ready.includeFile!, '-o', 'BatchMode=yes', 'web', ...args], {
    ...(input !== undefined ? { input } : {}),
    timeoutMs: 120_000,
  });

describe.skipIf(missing)('an SSH target through the hub', () => {
  it('prints a ready line with a usable ssh_config block, and keeps it in the include file', async () => {
    expect(web.ready).toMatchObject({
      target: 'web',
      url: expect.stringMatching(/^ssh:\/\/.+@127\.0\.0\.1:\d+$/),
    });
    expect(web.ready.sshConfig).toMatch(/^Host web$/m);
    const printed = await world.cli(['ssh-config', 'web'], priya);
    expect(printed.stdout).toBe(web.ready.sshConfig);
    const include = await world.cli(['ssh-config', '--include'], priya);
    expect(include.stdout).toBe(`Include "${web.ready.includeFile}"\n`);
  });

  it('runs commands with their exit status and stderr, and masks what the policy masks', async () => {
    const result = await ssh(["echo out; echo err >&2; printf 'card 4111 1111 1111 1111\\n'; exit 3"]);
    expect(result).toEqual({ code: 3, stdout: 'out\ncard [card]\n', stderr: 'err\n' });
  });

  it('blocks rm and a bash -c that hides it, with exit 126', async () => {
    for (const command of ['rm -rf /tmp/x', "bash -c 'rm -rf /tmp/x'", 'ls $(rm -rf /tmp/x)']) {
      const result = await ssh([command]);
      expect(result.code, command).toBe(126);
      expect(result.stderr, command).toMatch(/portcullis: .*rm is not allowed here/);
    }
  });

  it('holds sudo until a manager approves it with the CLI, and exits 126 when she denies it', async () => {
    const held = ssh(['sudo -n true 2>/dev/null; echo ran-after-approval']);
    const pending = await until('the held command at the hub', async () => {
      const list = await world.cli(['approvals', '--json'], elena);
      return (JSON.parse(list.stdout) as { id: string; sql: string; targetId: string }[]).find(
        (a) => a.targetId === 'web',
      );
    });
    expect(pending.sql).toBe('sudo -n true 2>/dev/null; echo ran-after-approval');
    expect((await world.cli(['approve', pending.id], elena)).code).toBe(0);
    const approved = await held;
    expect(approved.stdout).toBe('ran-after-approval\n');
    expect(approved.stderr).toContain(`waiting for approval: request ${pending.id}`);

    const refused = ssh(['sudo -n systemctl restart nginx']);
    const second = await until('the second held command', async () => {
      const list = await world.cli(['approvals', '--json'], elena);
      return (JSON.parse(list.stdout) as { id: string; targetId: string }[]).find(
        (a) => a.targetId === 'web',
      );
    });
    expect((await world.cli(['deny', second.id, '--reason', 'not in business hours'], elena)).code).toBe(0);
    const denied = await refused;
    expect(denied.code).toBe(126);
    expect(denied.stderr).toMatch(/was denied by .*: not in business hours/);
  });

  it('copies files with scp and lists them with sftp', async () => {
    const copy = await run('/usr/bin/scp', [
      '-F',
      web.ready.includeFile!,
      '-q',
      '/etc/hostname',
      `web:${sshd.workDir}/copied.txt`,
    ]);
    expect(copy.code).toBe(0);
    const listing = await run('/usr/bin/sftp', ['-F', web.ready.includeFile!, '-q', '-b', '-', 'web'], {
      input: `ls -1 ${sshd.workDir}\n`,
    });
    expect(listing.stdout).toContain('copied.txt');
  });

  it('records an interactive shell that replays, at the hub, to the screen the person saw', async () => {
    const pane = await startPane(
      ['/usr/bin/ssh', '-F', web.ready.includeFile!, '-tt', 'web'],
      { cols: 90, rows: 20 },
      { TERM: 'xterm-256color' },
    );
    let seen: string[];
    try {
      await pane.waitFor(/\$$/m);
      await pane.type('clear; echo "interactive $((40+2))"', { enter: true });
      seen = await pane.waitFor(/^interactive 42\n.*\$$/m);
      await pane.type('exit', { enter: true });
      await until('ssh to end', async () => ((await pane.ended()) ? true : undefined));
    } finally {
      await pane.kill();
    }
    expect(await web.stop()).toBe(0);

    const session = await until('the recording to sync and verify', async () => {
      const summary = await world.hub.services.audit.getSession(web.ready.session, AUDITOR);
      return summary.status === 'closed' && summary.chainStatus === 'ok' && summary.lastSeq === summary.maxSeq
        ? summary
        : undefined;
    });
    expect(session.statementCount).toBeGreaterThanOrEqual(6);
    expect(session.deniedCount).toBeGreaterThanOrEqual(4);

    const tomEnv = (await world.signIn('tom')).env;
    const cast = await world.cli(['export', '--asciicast', web.ready.session], tomEnv);
    expect(cast.code).toBe(0);
    const [header, ...lines] = cast.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    expect(header).toMatchObject({ version: 2, width: 90, height: 20 });
    const terminal = new xterm.Terminal({ cols: 90, rows: 20, allowProposedApi: true });
    for (const [, code, data] of lines as [number, string, string][]) {
      if (code === 'o') await new Promise<void>((resolve) => terminal.write(data, resolve));
    }
    // The recording goes on past the screen the person saw: the `exit` typed at its prompt, and logout.
    const screen = Array.from({ length: 20 }, (_, row) =>
      (
        terminal.buffer.active.getLine(terminal.buffer.active.viewportY + row)?.translateToString(true) ?? ''
      ).replace(/\s+$/, ''),
    );
    expect(screen[0]).toBe(seen![0]);
    expect(screen[1]).toBe(`${seen![1]} exit`);

    const shellChannel = /exported channel (\d+:\d+): shell/.exec(cast.stderr)?.[1];
    expect(shellChannel).toBeDefined();
    const played = await world.cli(
      ['replay', web.ready.session, '--speed', '1000', '--channel', shellChannel!],
      tomEnv,
    );
    expect(played.code).toBe(0);
    expect(played.stdout).toContain('interactive 42');
    expect(played.stderr).toMatch(/chain: ok, events 1–\d+ verified/);

    const transcript = await world.cli(['replay', web.ready.session, '--transcript'], tomEnv);
    expect(transcript.stdout).toMatch(/DENIED by .*rm -rf \/tmp\/x/);
    expect(transcript.stdout).toMatch(/HELD for approval/);

    const proofs = await world.hub.services.proofs.list(AUDITOR, web.ready.session);
    expect(proofs.length).toBeGreaterThanOrEqual(5);
    expect(
      proofs.every((p) => p.method === 'ssh-signature' && p.user === sshd.user && p.connection >= 1),
    ).toBe(true);
  });

  it('reaches a Postgres target through the SSH bastion with psql', async () => {
    const via = await world.connect('shop-via', priya);
    try {
      const result = await run('psql', [via.ready.url, '-Atc', 'select count(*) from customers'], {
        timeoutMs: 60_000,
      });
      expect(result).toMatchObject({ code: 0, stdout: '2\n' });
    } finally {
      expect(await via.stop()).toBe(0);
    }
    const proofs = await world.hub.services.proofs.list(AUDITOR, via.ready.session);
    expect(proofs).toContainEqual(
      expect.objectContaining({ method: 'ssh-signature', purpose: 'bastion', connection: 0 }),
    );
  });
});
