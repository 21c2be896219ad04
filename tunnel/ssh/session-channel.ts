/**
 * One SSH session channel, proxied to a channel of its own on the upstream: the pty, allow-listed
 * environment, window changes and signals pass through; the shell, command or subsystem starts only
 * once the gate allows it; output and input are recorded as asciicast events; the exit status or signal
 * reaches the client as the server sent it. A refused or failed start ends the channel with exit status
 * 126 (refused) or 255 (the target could not be reached) and the reason on the client's stderr.
 */
import type { Client, ClientChannel, PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type { ValueDetector } from '../policy/masking/detectors.ts';
import type { Policy } from '../policy/policy.ts';
import { envAllowed } from '../policy/ssh-policy.ts';
import type { SessionEvent, SshChannelKind } from '../recorder/recording-point.ts';
import { ChannelRecording } from './channel-recording.ts';
import { LineWatcher } from './line-watcher.ts';
import { OutputTap } from './output-tap.ts';
import { proxySftp } from './sftp/sftp-proxy.ts';
import type { SshGate } from './ssh-gate.ts';
import { TerminalMasker } from './terminal-masker.ts';

/** What a channel needs from its connection. */
export interface ChannelContext {
  channel: number;
  targetId: string;
  policy: Policy;
  gate: SshGate;
  /** The connection's upstream client, once connected (rejects with why it could not be). */
  upstream(): Promise<Client>;
  detector: ValueDetector | undefined;
  record(event: SessionEvent): void;
  /** Bytes moved, for the tunnel's counts. */
  count(direction: 'fromClient' | 'toClient', bytes: number): void;
  /** Aborts when the client's connection is gone (its channels may never see a close). */
  disconnected: AbortSignal;
  log(message: string): void;
}

export const EXIT_REFUSED = 126;
/** How long a masked terminal's output may be held back waiting for the rest of a value. */
const TERMINAL_HOLD_MS = 20;
export const EXIT_UNREACHABLE = 255;

type Pty = Pick<PseudoTtyInfo, 'term' | 'cols' | 'rows' | 'width' | 'height' | 'modes'>;

export class SessionChannel {
  private pty: Pty | undefined;
  private readonly env: Record<string, string> = {};
  private client: ServerChannel | undefined;
  private upstream: ClientChannel | undefined;
  private recording: ChannelRecording | undefined;
  private watcher: LineWatcher | undefined;
  private readonly gone = new AbortController();
  private started = false;
  private finished = false;
  private bytes = { fromClient: 0, toClient: 0 };

  constructor(
    session: Session,
    private readonly ctx: ChannelContext,
  ) {
    session.on('pty', (accept, _reject, info) => {
      this.pty = info;
      accept?.();
    });
    session.on('env', (accept, reject, info) => this.onEnv(accept, reject, info.key, info.val));
    session.on('window-change', (accept, _reject, info) => {
      this.resize(info.cols, info.rows, info.height, info.width);
      accept?.();
    });
    session.on('signal', (accept, reject, info) => {
      if (!this.upstream) return reject?.();
      this.upstream.signal(info.name);
      accept?.();
    });
    session.on('x11', (_accept, reject) => this.refuse(reject, 'X11 forwarding'));
    session.on('auth-agent', (_accept, reject) => this.refuse(reject, 'agent forwarding'));
    session.on('shell', (accept) => void this.start('shell', accept));
    session.on('exec', (accept, _reject, info) => void this.start('exec', accept, info.command));
    session.on('subsystem', (accept, reject, info) => {
      if (info.name !== 'sftp') return this.refuse(reject, `the ${info.name} subsystem`);
      if (ctx.policy.ssh.sftp === 'deny')
        return this.refuse(reject, 'sftp', `${ctx.policy.name}: ssh.sftp deny`);
      void this.start('subsystem', accept, undefined, info.name);
    });
    session.on('close', () => this.gone.abort());
    ctx.disconnected.addEventListener('abort', () => {
      this.gone.abort();
      this.upstream?.close();
    });
  }

  private onEnv(
    accept: (() => void) | undefined,
    reject: (() => void) | undefined,
    key: string,
    value: string,
  ): void {
    if (envAllowed(this.ctx.policy.ssh, key)) {
      this.env[key] = value;
      accept?.();
    } else {
      this.refuse(reject, 'an environment variable', `${this.ctx.policy.name}: ssh.env`, key);
    }
  }

  private refuse(
    reject: (() => void) | undefined,
    what: string,
    rule = 'not supported by the tunnel',
    detail?: string,
  ): void {
    reject?.();
    this.ctx.record({
      type: 'ssh.refused',
      channel: this.ctx.channel,
      what,
      rule,
      ...(detail ? { detail } : {}),
    });
  }

  private resize(cols: number, rows: number, height: number, width: number): void {
    if (this.pty) this.pty = { ...this.pty, cols, rows, height, width };
    if (!this.upstream) return;
    this.upstream.setWindow(rows, cols, height, width);
    this.recording?.resize(cols, rows);
    this.watcher?.resize(cols, rows);
  }

  private async start(
    kind: SshChannelKind,
    accept: () => ServerChannel,
    command?: string,
    subsystem?: string,
  ): Promise<void> {
    if (this.started) return;
    this.started = true;
    const client = accept();
    this.client = client;
    client.on('close', () => {
      this.gone.abort();
      this.upstream?.close();
    });
    // Nobody is asked to approve a command for a target that cannot be reached.
    let connection: Client;
    try {
      connection = await this.ctx.upstream();
    } catch (error) {
      return this.end(EXIT_UNREACHABLE, `${this.ctx.targetId}: ${(error as Error).message}`);
    }
    const pty = this.pty;
    this.ctx.record({
      type: 'ssh.channel',
      channel: this.ctx.channel,
      kind,
      ...(command !== undefined ? { command } : {}),
      ...(subsystem ? { subsystem } : {}),
      ...(pty ? { pty: { term: pty.term, cols: pty.cols, rows: pty.rows } } : {}),
      ...(Object.keys(this.env).length > 0 ? { env: { ...this.env } } : {}),
    });
    const waiting = { tell: (line: string) => this.tell(line), signal: this.gone.signal };
    if (kind !== 'subsystem') {
      const outcome =
        kind === 'shell'
          ? await this.ctx.gate.shell(this.ctx.channel, waiting)
          : await this.ctx.gate.exec(this.ctx.channel, command!, waiting);
      if (!outcome.allowed) return this.end(EXIT_REFUSED, outcome.message);
    }
    if (this.gone.signal.aborted) return;
    let opened: Opened;
    try {
      opened = await this.openUpstream(connection, kind, command);
    } catch (error) {
      return this.end(EXIT_UNREACHABLE, `${this.ctx.targetId}: ${(error as Error).message}`);
    }
    const upstream = opened.channel;
    if (this.gone.signal.aborted) return void upstream.close();
    this.upstream = upstream;
    if (kind === 'subsystem') this.relaySftp(client, opened);
    else this.relay(client, opened, kind);
  }

  /**
   * Opens the upstream channel. Its exit is watched from the moment it exists: a quick command's
   * exit-status can arrive in the same read as the channel's confirmation, before any await resumes.
   */
  private openUpstream(connection: Client, kind: SshChannelKind, command?: string): Promise<Opened> {
    const pty = this.pty
      ? {
          term: this.pty.term,
          cols: this.pty.cols,
          rows: this.pty.rows,
          height: this.pty.height,
          width: this.pty.width,
          modes: this.pty.modes,
        }
      : undefined;
    const env = { ...this.env };
    return new Promise((resolve, reject) => {
      const done = (error: Error | undefined, channel: ClientChannel): void =>
        error ? reject(error) : resolve(watch(channel));
      if (kind === 'shell') connection.shell(pty ?? false, { env }, done);
      else if (kind === 'exec') connection.exec(command!, { env, ...(pty ? { pty } : {}) }, done);
      else connection.subsys('sftp', done);
    });
  }

  private relay(client: ServerChannel, opened: Opened, kind: SshChannelKind): void {
    const upstream = opened.channel;
    const { policy, detector } = this.ctx;
    const pty = this.pty;
    const recording = new ChannelRecording({
      channel: this.ctx.channel,
      record: (event) => this.ctx.record(event),
      outputLimit: pty ? Infinity : policy.ssh.recordExecOutputBytes,
      recordInput: pty !== undefined && policy.ssh.recordInput,
    });
    this.recording = recording;
    if (kind === 'shell' && pty) this.watcher = new LineWatcher(pty.cols, pty.rows);
    const masker = () => (detector ? new TerminalMasker(detector) : undefined);
    // On a terminal someone waits for each echo; a command's output can wait for its next chunk.
    const holdMs = pty ? TERMINAL_HOLD_MS : undefined;
    const stdout = new OutputTap(
      masker(),
      (bytes) => {
        recording.output(bytes);
        this.watcher?.output(bytes);
        this.moved('toClient', bytes.length);
      },
      holdMs,
    );
    const stderr = new OutputTap(
      masker(),
      (bytes) => {
        recording.output(bytes, 'stderr');
        this.moved('toClient', bytes.length);
      },
      holdMs,
    );
    upstream.pipe(stdout).pipe(client, { end: false });
    upstream.stderr.pipe(stderr).pipe(client.stderr, { end: false });
    client.on('data', (chunk: Buffer) => {
      recording.input(chunk);
      this.moved('fromClient', chunk.length);
      if (this.watcher && chunk.includes(0x0d)) void this.judgeLine();
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    client.on('end', () => upstream.end());
    const outputDone = Promise.all([ended(stdout), ended(stderr)]);
    void opened.closed.then(() => outputDone).then(() => this.finish(opened.exit()));
  }

  private relaySftp(client: ServerChannel, opened: Opened): void {
    const upstream = opened.channel;
    const sftp = proxySftp(client, upstream, {
      channel: this.ctx.channel,
      readOnly: this.ctx.policy.ssh.sftp === 'read-only',
      rule: `${this.ctx.policy.name}: ssh.sftp ${this.ctx.policy.ssh.sftp}`,
      record: (event) => this.ctx.record(event),
      moved: (direction, bytes) => this.moved(direction, bytes),
    });
    void opened.closed.then(() => {
      sftp.end();
      return this.finish(opened.exit());
    });
  }

  private moved(direction: 'fromClient' | 'toClient', bytes: number): void {
    this.bytes[direction] += bytes;
    this.ctx.count(direction, bytes);
  }

  private async judgeLine(): Promise<void> {
    const line = await this.watcher?.currentCommand();
    if (line === undefined) return;
    const { judgement, classification } = this.ctx.gate.judgeLine(line);
    if (judgement.verdict === 'allow') return;
    this.ctx.record({
      type: 'ssh.line',
      channel: this.ctx.channel,
      line,
      verdict: judgement.verdict,
      rule: judgement.rule,
      classes: [...classification.classes],
    });
  }

  /** A line for the person on the client's stderr (a terminal needs its carriage return). */
  private tell(line: string): void {
    this.client?.stderr.write(`${line}${this.pty ? '\r\n' : '\n'}`);
  }

  private async end(status: number, message: string): Promise<void> {
    this.tell(`portcullis: ${message}`);
    await this.finish({ status });
  }

  /** Records the exit and passes it on once everything written to the client has gone out, then closes the channel. */
  private async finish(exit: Exit): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const client = this.client;
    this.watcher?.dispose();
    this.watcher = undefined;
    if (!client) return;
    await Promise.all([drained(client), drained(client.stderr)]);
    // Recorded before the client hears of it: a client that has seen its exit may rely on the record.
    this.ctx.record({
      type: 'ssh.exit',
      channel: this.ctx.channel,
      ...(exit.status !== undefined ? { status: exit.status } : {}),
      ...(exit.signal ? { signal: exit.signal } : {}),
      bytesFromClient: this.bytes.fromClient,
      bytesToClient: this.bytes.toClient,
      ...(this.recording?.unrecordedBytes ? { unrecordedBytes: this.recording.unrecordedBytes } : {}),
    });
    try {
      if (exit.signal)
        client.exit(exit.signal.replace(/^SIG/, ''), exit.core ?? false, exit.description ?? '');
      else if (exit.status !== undefined) client.exit(exit.status);
    } catch (error) {
      // A signal name ssh2 does not know cannot be passed on; say so rather than fail the channel.
      this.ctx.log(`could not pass on the exit ${exit.signal ?? exit.status}: ${(error as Error).message}`);
    }
    client.end();
  }
}

interface Exit {
  status?: number;
  signal?: string;
  core?: boolean;
  description?: string;
}

interface Opened {
  channel: ClientChannel;
  /** How the command ended as the upstream said: an exit status or a signal (or nothing yet). */
  exit: () => Exit;
  closed: Promise<void>;
}

/** Watches a channel's exit and close from the moment it exists. */
function watch(channel: ClientChannel): Opened {
  let exit: Exit = {};
  channel.on('exit', (code: number | null, signal?: string, core?: boolean, description?: string) => {
    exit = code !== null && code !== undefined ? { status: code } : { signal, core, description };
  });
  const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
  return { channel, exit: () => exit, closed };
}

function ended(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}

function drained(
  stream: NodeJS.WritableStream & { writableLength?: number; destroyed?: boolean },
): Promise<void> {
  if (!stream.writableLength || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('drain', () => resolve());
    stream.once('close', () => resolve());
  });
}
