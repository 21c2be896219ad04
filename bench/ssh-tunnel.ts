/**
 * The guarded SSH tunnel against Debian's sshd, each measurement next to its baseline from the same run:
 *
 * - scp (SFTP protocol) of a 512 MB file up and down through the tunnel vs straight to sshd, with the
 *   bench process's RSS (the tunnel runs in it) before, at its peak and after;
 * - keystroke echo in an interactive shell (a pty, bash's readline echoing): the round trip of one key
 *   through the tunnel vs straight to sshd, with an ssh2 client in this process for both;
 * - exec classification: µs to parse and classify one command line (no cache).
 *
 * Targets: scp ≥ 0.5× direct throughput with RSS flat; echo p50 added ≤ 2 ms; classification median
 * ≤ 50 µs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import ssh2, { type ClientChannel } from 'ssh2';
import { classifyExec } from '../tunnel/policy/shell/exec-classifier.ts';
import { opensshMissing, startSshd, type TestSshd } from '../test/support/sshd.ts';
import { startGuardedSsh, TARGET, type GuardedSsh } from '../test/support/ssh-tunnel.ts';
import { median, percentile, run, table } from './tools.ts';

const { Client } = ssh2;
const MB = 1024 * 1024;
const FILE_MB = Number(process.env.BENCH_SCP_MB ?? 512);
const KEYSTROKES = Number(process.env.BENCH_KEYSTROKES ?? 400);
const TARGETS = { scpRatio: 0.5, echoAddedMs: 2, classifyUs: 50 };

export async function benchSshTunnel(): Promise<void> {
  console.log(
    `\nSSH tunnel (load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  benchClassification();
  const missing = opensshMissing();
  if (missing) {
    console.log(`scp and keystroke benchmarks skipped: ${missing}`);
    return;
  }
  const sshd = await startSshd();
  const guarded = await startGuardedSsh(sshd, { policy: 'extends: guarded\nssh:\n  sftp: allow\n' });
  try {
    await benchScp(sshd, guarded);
    await benchEcho(sshd, guarded);
  } finally {
    await guarded.close();
    await sshd.stop();
  }
}

// ---------------------------------------------------------------------------------------------------
// scp

async function writeRandomFile(file: string, megabytes: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    for (let i = 0; i < megabytes; i++) await handle.write(randomBytes(MB));
  } finally {
    await handle.close();
  }
}

/** Seconds a command takes, with the RSS of this process sampled meanwhile. */
async function timed(
  command: () => Promise<{ code: number | null; stderr: string }>,
): Promise<{ seconds: number; peakRss: number }> {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const start = performance.now();
  try {
    const result = await command();
    if (result.code !== 0) throw new Error(`transfer failed: ${result.stderr}`);
  } finally {
    clearInterval(sampler);
  }
  return { seconds: (performance.now() - start) / 1000, peakRss };
}

async function benchScp(sshd: TestSshd, guarded: GuardedSsh): Promise<void> {
  const local = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-scp-'));
  const file = path.join(local, 'payload.bin');
  const back = path.join(local, 'back.bin');
  const remote = path.join(sshd.workDir, 'payload.bin');
  await writeRandomFile(file, FILE_MB);
  const direct = ['-F', '/dev/null', ...sshd.directOptions().slice(2), '-P', String(sshd.port), '-q'];
  const viaDirect = (from: string, to: string) =>
    run('/usr/bin/scp', [...direct, from, to], { timeoutMs: 1_800_000 });
  const viaTunnel = (from: string, to: string) => guarded.scp(['-q', from, to], { timeoutMs: 1_800_000 });
  const rssBefore = process.memoryUsage().rss;
  try {
    const rows: (string | number)[][] = [];
    let worst = Infinity;
    let peak = rssBefore;
    for (const direction of ['up', 'down'] as const) {
      const [from, to] =
        direction === 'up' ? [file, `${sshd.host}:${remote}`] : [`${sshd.host}:${remote}`, back];
      const [tFrom, tTo] = direction === 'up' ? [file, `${TARGET}:${remote}`] : [`${TARGET}:${remote}`, back];
      if (direction === 'down') await viaDirect(file, `${sshd.host}:${remote}`);
      const straight = await timed(() => viaDirect(from, to));
      const tunnelled = await timed(() => viaTunnel(tFrom, tTo));
      peak = Math.max(peak, tunnelled.peakRss);
      const ratio = straight.seconds / tunnelled.seconds;
      worst = Math.min(worst, ratio);
      rows.push([
        `scp ${direction} ${FILE_MB} MB`,
        (FILE_MB / straight.seconds).toFixed(1),
        (FILE_MB / tunnelled.seconds).toFixed(1),
        `${ratio.toFixed(2)}x`,
      ]);
      await rm(remote, { force: true });
    }
    const rssAfter = process.memoryUsage().rss;
    console.log(table(['transfer', 'direct MB/s', 'tunnel MB/s', 'tunnel/direct'], rows));
    console.log(
      `tunnel RSS: ${(rssBefore / MB).toFixed(0)} MB before, ${(peak / MB).toFixed(0)} MB at peak, ${(rssAfter / MB).toFixed(0)} MB after ` +
        `(${FILE_MB} MB moved each way); target ≥ ${TARGETS.scpRatio}x: ${worst >= TARGETS.scpRatio ? 'met' : 'MISSED'}`,
    );
  } finally {
    await rm(local, { recursive: true, force: true });
    await rm(remote, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// keystroke echo

function connectClient(
  config: ConstructorParameters<typeof Object>[0],
): Promise<InstanceType<typeof Client>> {
  const client = new Client();
  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect(config as never);
  });
}

/** Milliseconds from sending one key to seeing it echoed, `count` times, in a shell on a pty. */
async function echoTimes(client: InstanceType<typeof Client>, count: number): Promise<number[]> {
  const shell = await new Promise<ClientChannel>((resolve, reject) =>
    client.shell({ term: 'xterm', rows: 24, cols: 200 }, (error, channel) =>
      error ? reject(error) : resolve(channel),
    ),
  );
  let buffered = '';
  let wake: (() => void) | undefined;
  shell.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    wake?.();
  });
  const waitFor = async (text: string): Promise<void> => {
    while (!buffered.includes(text)) await new Promise<void>((resolve) => (wake = resolve));
  };
  shell.write('export PS1="ready> "\r');
  await waitFor('ready> ');
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    // A line of at most 50 keys, then erased (Ctrl-U), so readline redraws nothing.
    if (i % 50 === 0) shell.write('\x15');
    buffered = '';
    const key = String.fromCharCode(97 + (i % 26));
    const start = performance.now();
    shell.write(key);
    await waitFor(key);
    times.push(performance.now() - start);
  }
  shell.end('\x15exit\r');
  return times;
}

async function benchEcho(sshd: TestSshd, guarded: GuardedSsh): Promise<void> {
  const direct = await connectClient({
    host: sshd.host,
    port: sshd.port,
    username: sshd.user,
    privateKey: sshd.clientPrivateKey,
    hostVerifier: () => true,
  });
  const tunnelKey = await readFile(guarded.endpoint.identityFile, 'utf8');
  const tunnelled = await connectClient({
    host: guarded.endpoint.host,
    port: guarded.endpoint.port,
    username: 'bench',
    privateKey: tunnelKey,
    hostVerifier: () => true,
  });
  try {
    await echoTimes(direct, 50);
    await echoTimes(tunnelled, 50);
    const straight = await echoTimes(direct, KEYSTROKES);
    const through = await echoTimes(tunnelled, KEYSTROKES);
    const added = median(through) - median(straight);
    console.log(
      table(
        ['keystroke echo', 'p50 ms', 'p90 ms', 'p99 ms'],
        [
          [
            'direct',
            median(straight).toFixed(2),
            percentile(straight, 90).toFixed(2),
            percentile(straight, 99).toFixed(2),
          ],
          [
            'through the tunnel',
            median(through).toFixed(2),
            percentile(through, 90).toFixed(2),
            percentile(through, 99).toFixed(2),
          ],
        ],
      ),
    );
    console.log(
      `added p50 ${added.toFixed(2)} ms over ${KEYSTROKES} keys; target ≤ ${TARGETS.echoAddedMs} ms: ${added <= TARGETS.echoAddedMs ? 'met' : 'MISSED'}`,
    );
  } finally {
    direct.end();
    tunnelled.end();
  }
}

// ---------------------------------------------------------------------------------------------------
// exec classification

const COMMANDS = [
  'uptime',
  'df -h',
  'ls -la /var/log',
  'tail -n 200 /var/log/nginx/access.log',
  'grep -i error /var/log/syslog | tail -20',
  'systemctl status nginx',
  'sudo systemctl restart nginx',
  'journalctl -u app --since "1 hour ago" --no-pager',
  'ps aux --sort=-%mem | head -15',
  'cd /srv/app && git pull && npm ci && systemctl restart app',
  "find /var/log -name '*.gz' -mtime +30 -delete",
  'docker ps --format "{{.Names}} {{.Status}}"',
  'kubectl get pods -n shop',
  'bash -c \'for f in /etc/*.conf; do md5sum "$f"; done\'',
  'curl -fsS http://localhost:8080/health || echo down',
  'tar czf /tmp/backup.tgz /srv/app/config',
  "awk '{print $1}' access.log | sort | uniq -c | sort -rn | head",
  'rm -rf /srv/app/releases/old',
  'echo "$(date) deploy" >> /var/log/deploy.log',
  'scp -t /srv/uploads',
];

function benchClassification(): void {
  const runs = Number(process.env.BENCH_SSH_CLASSIFY_RUNS ?? 2000);
  for (const command of COMMANDS) for (let i = 0; i < 200; i++) classifyExec(`${command} # warm ${i}`);
  const medians: number[] = [];
  const rows: (string | number)[][] = [];
  for (const command of COMMANDS) {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const text = `${command} # ${i}`;
      const start = process.hrtime.bigint();
      classifyExec(text);
      times.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    medians.push(median(times));
    rows.push([
      command.length > 48 ? `${command.slice(0, 47)}…` : command,
      median(times).toFixed(1),
      percentile(times, 90).toFixed(1),
    ]);
  }
  const overall = median(medians);
  console.log(
    table(
      ['exec command (µs per classification)', 'median', 'p90'],
      [...rows, ['median of all', overall.toFixed(1), '']],
    ),
  );
  console.log(
    `classification median ${overall.toFixed(1)} µs; target ≤ ${TARGETS.classifyUs} µs: ${overall <= TARGETS.classifyUs ? 'met' : 'MISSED'}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchSshTunnel();
}
