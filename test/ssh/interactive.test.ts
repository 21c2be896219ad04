/**
 * Interactive shells through the tunnel, in a real terminal (tmux) with OpenSSH's client: the pty and its
 * size reach the server, window changes reach `stty size`, risky lines are flagged in the recording but
 * never blocked, passwords typed at prompts are not recorded, and the recorded output replays to the
 * screen the person saw.
 */
import xterm from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { startGuardedSsh, TARGET, type GuardedSsh } from '../support/ssh-tunnel.ts';
import { startPane, tmuxMissing, type Pane } from '../support/tmux.ts';
import type { SessionEvent } from '../../tunnel/recorder/recording-point.ts';
import { until } from '../support/waiting.ts';

const missing = opensshMissing() ?? tmuxMissing();
if (missing) console.warn(`skipping the interactive SSH tests: ${missing}`);

let sshd: TestSshd;

beforeAll(async () => {
  if (!missing) sshd = await startSshd();
});

afterAll(async () => {
  await sshd?.stop();
});

const PROMPT = /\$$/m;

function sshPane(guarded: GuardedSsh, size = { cols: 100, rows: 30 }): Promise<Pane> {
  return startPane(['/usr/bin/ssh', '-F', guarded.configFile, '-tt', TARGET], size, {
    TERM: 'xterm-256color',
  });
}

/** Renders recorded terminal events the way a terminal would, at the channel's starting size. */
async function render(
  events: Extract<SessionEvent, { type: 'term' }>[],
  cols: number,
  rows: number,
): Promise<string[]> {
  const terminal = new xterm.Terminal({ cols, rows, allowProposedApi: true });
  for (const event of events) {
    if (event.code === 'r') {
      const [c, r] = event.data.split('x').map(Number);
      terminal.resize(c!, r!);
    } else if (event.code === 'o') {
      await new Promise<void>((resolve) => terminal.write(event.data, resolve));
    }
  }
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let row = 0; row < terminal.rows; row++) {
    lines.push((buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '').replace(/\s+$/, ''));
  }
  terminal.dispose();
  return lines;
}

describe.skipIf(missing)('an interactive shell through the SSH tunnel', () => {
  let guarded: GuardedSsh;
  let pane: Pane;

  beforeAll(async () => {
    guarded = await startGuardedSsh(sshd);
    pane = await sshPane(guarded);
    await pane.waitFor(PROMPT);
  });

  afterAll(async () => {
    await pane?.kill();
    await guarded?.close();
  });

  it('runs commands on a terminal of the client’s size, and follows window changes', async () => {
    await pane.type('echo hello-$((6*7)); echo "term=$TERM"', { enter: true });
    await pane.waitFor(/^hello-42$/m);
    const term = (await pane.waitFor(/^term=\S+$/m)).find((line) => line.startsWith('term='));
    await pane.type('stty size', { enter: true });
    await pane.waitFor(/^30 100$/m);
    await pane.resize(120, 40);
    await pane.type('clear; stty size', { enter: true });
    await pane.waitFor(/^40 120$/m);
    expect(
      guarded.recorder
        .ofType('term')
        .filter((e) => e.code === 'r')
        .map((e) => e.data),
    ).toContain('120x40');
    const channel = guarded.recorder.ofType('ssh.channel').at(-1)!;
    expect(channel).toMatchObject({ kind: 'shell', pty: { term: term!.slice(5), cols: 100, rows: 30 } });
    expect(guarded.recorder.ofType('ssh.shell').at(-1)).toMatchObject({ decision: 'allow' });
  });

  it('flags a risky line in the recording, and does not block it', async () => {
    await pane.type('rm -rf /tmp/portcullis-nothing-here && echo removed-it', { enter: true });
    await pane.waitFor(/^removed-it$/m);
    const flagged = guarded.recorder.ofType('ssh.line').at(-1);
    expect(flagged).toMatchObject({
      line: 'rm -rf /tmp/portcullis-nothing-here && echo removed-it',
      verdict: 'block',
      classes: expect.arrayContaining(['destructive']),
    });
    // What the person sees is the line they ran, history and editing included.
    await pane.type('echo safe-line', { enter: true });
    await pane.waitFor(/^safe-line$/m);
    expect(guarded.recorder.ofType('ssh.line').map((e) => e.line)).not.toContain('echo safe-line');
  });

  it('records what is typed after a password prompt as stars', async () => {
    await pane.type('read -rs -p "Password: " pw; echo; echo "got ${#pw} characters"', { enter: true });
    await pane.waitFor(/Password:$/m);
    await pane.type('hunter2', { enter: true });
    await pane.waitFor(/^got 7 characters$/m);
    const typed = guarded.recorder
      .ofType('term')
      .filter((e) => e.code === 'i')
      .map((e) => e.data)
      .join('');
    expect(typed).not.toContain('hunter2');
    expect(typed).toContain('*******');
  });

  it('records output that replays to the same screen', async () => {
    await pane.type('clear; printf "\\033[1;31mred\\033[0m plain ✓ naïve\\n"; ls -d /tmp', { enter: true });
    await pane.waitFor(/^\/tmp\n.*\$$/m);
    const seen = await pane.screen();
    const channel = guarded.recorder.ofType('ssh.channel').at(-1)!;
    const events = guarded.recorder.ofType('term').filter((e) => e.channel === channel.channel);
    const replayed = await render(events, channel.pty!.cols, channel.pty!.rows);
    expect(replayed.join('\n')).toBe(seen.join('\n'));
  });

  it('passes the exit of the shell on when it ends', async () => {
    await pane.type('exit 5', { enter: true });
    await until('ssh to end', async () => ((await pane.ended()) ? true : undefined));
    expect(guarded.recorder.ofType('ssh.exit').at(-1)).toMatchObject({ status: 5 });
  });
});

describe.skipIf(missing)('interactive shells by policy', () => {
  it('refuses a shell where the policy denies it, saying how to run commands instead', async () => {
    const guarded = await startGuardedSsh(sshd, { policy: 'extends: read-only\n' });
    try {
      const result = await guarded.ssh(['-tt', TARGET]);
      expect(result.code).toBe(126);
      expect(result.stderr + result.stdout).toMatch(
        /interactive shells are not allowed on web; run commands with `ssh web COMMAND`/,
      );
      expect(guarded.recorder.ofType('ssh.shell').at(-1)).toMatchObject({ decision: 'deny' });
    } finally {
      await guarded.close();
    }
  });

  it('starts a shell only once an approver agrees (just-in-time for a shell)', async () => {
    const guarded = await startGuardedSsh(sshd, { policy: 'extends: guarded\nssh:\n  shell: approve\n' });
    const pane = await sshPane(guarded);
    try {
      const request = await guarded.approver.nextRequest();
      await pane.waitFor(new RegExp(`waiting for approval: request ${request.id}`));
      expect(request.request.sql).toBe('(interactive shell)');
      request.decide({ approved: true, by: 'Elena' });
      await pane.waitFor(PROMPT);
      await pane.type('echo approved-shell', { enter: true });
      await pane.waitFor(/^approved-shell$/m);
    } finally {
      await pane.kill();
      await guarded.close();
    }
  });
});
