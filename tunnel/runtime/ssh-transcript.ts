/** What the events of an SSH connection say, for people (the transcript and the app's timeline). */
import type { SessionEvent, SshEvent } from '../recorder/recording-point.ts';

function bytes(n: number | undefined): string {
  return `${n ?? 0} byte${n === 1 ? '' : 's'}`;
}

const isSsh = (event: SessionEvent): event is SshEvent =>
  event.type.startsWith('ssh.') || event.type === 'term' || event.type === 'sftp' || event.type === 'forward';

/** The event's description, or undefined when it is not an SSH event. */
export function describeSshEvent(event: SessionEvent): string | undefined {
  if (!isSsh(event)) return undefined;
  switch (event.type) {
    case 'ssh.start': {
      const via = event.upstream.via ? ` via ${event.upstream.via}` : '';
      return `ssh connection from ${event.client.address} (${event.client.auth}) → ${event.upstream.user}@${event.upstream.host}:${event.upstream.port}${via}, host key ${event.upstream.hostKey}`;
    }
    case 'ssh.channel':
      return describeChannel(event);
    case 'ssh.exec':
      return describeExec(event);
    case 'ssh.shell':
      return `channel ${event.channel}: interactive shell ${event.decision === 'deny' ? `DENIED by ${event.rule}` : 'allowed'}${event.wouldHave ? ` (would ${event.wouldHave} under enforcement)` : ''}`;
    case 'ssh.line':
      return `channel ${event.channel}: FLAGGED in the shell (${event.verdict === 'block' ? 'would be blocked' : 'would need approval'} as a command, ${event.rule}) [${event.classes.join(', ')}]: ${event.line}`;
    case 'term':
      return `channel ${event.channel}: terminal ${event.code === 'o' ? 'output' : event.code === 'i' ? 'input' : 'resize'} at ${event.t.toFixed(3)} s (${event.data.length} characters)`;
    case 'ssh.exit':
      return describeExit(event);
    case 'sftp':
      return describeSftp(event);
    case 'forward':
      return describeForward(event);
    case 'ssh.bastion':
      return `bastion ${event.via} (${event.user}@${event.host}:${event.port}, host key ${event.hostKey}) ${event.state}`;
    case 'ssh.refused':
      return `${event.channel !== undefined ? `channel ${event.channel}: ` : ''}refused ${event.what}${event.detail ? ` (${event.detail})` : ''}: ${event.rule}`;
  }
}

type Of<T extends SshEvent['type']> = Extract<SshEvent, { type: T }>;

function describeChannel(event: Of<'ssh.channel'>): string {
  const pty = event.pty ? ` on a ${event.pty.cols}x${event.pty.rows} ${event.pty.term} terminal` : '';
  const what =
    event.kind === 'exec'
      ? `command: ${event.command}`
      : event.kind === 'shell'
        ? 'interactive shell'
        : `${event.subsystem} subsystem`;
  return `channel ${event.channel}: ${what}${pty}`;
}

function describeExec(event: Of<'ssh.exec'>): string {
  const classes = event.classes.length > 0 ? ` [${event.classes.join(', ')}]` : '';
  const verdict =
    event.decision === 'deny'
      ? `DENIED by ${event.rule}${event.reason ? ` (${event.reason})` : ''}`
      : `allowed${event.wouldHave ? ` (would ${event.wouldHave} under enforcement)` : ''}`;
  return `channel ${event.channel}: ${verdict}${classes}: ${event.command}`;
}

function describeExit(event: Of<'ssh.exit'>): string {
  const how = event.signal
    ? `killed by ${event.signal}`
    : event.status !== undefined
      ? `exit status ${event.status}`
      : 'closed';
  const unrecorded = event.unrecordedBytes
    ? `, ${bytes(event.unrecordedBytes)} of output past the recording limit`
    : '';
  return `channel ${event.channel}: ${how}; ${bytes(event.bytesFromClient)} in, ${bytes(event.bytesToClient)} out${unrecorded}`;
}

function describeSftp(event: Of<'sftp'>): string {
  const paths = `${event.path ?? ''}${event.target ? ` → ${event.target}` : ''}`;
  const moved =
    event.bytesRead || event.bytesWritten
      ? `, ${bytes(event.bytesRead)} read, ${bytes(event.bytesWritten)} written`
      : '';
  const mode = event.mode ? ` (${event.mode})` : '';
  return `channel ${event.channel}: sftp ${event.op} ${paths}${mode}: ${event.decision === 'deny' ? 'DENIED, ' : ''}${event.status ?? ''}${moved}`;
}

function describeForward(event: Of<'forward'>): string {
  const where = `${event.origin.host}:${event.origin.port} → ${event.destination.host}:${event.destination.port}`;
  if (event.decision === 'deny') return `forward ${where} DENIED (${event.rule})`;
  if (event.error) return `forward ${where} failed: ${event.error}`;
  return event.closed
    ? `forward ${where} closed: ${bytes(event.bytesFromClient)} sent, ${bytes(event.bytesToClient)} received`
    : `forward ${where} opened`;
}

export type SshTimelineKind = 'connection' | 'statement' | 'denied' | 'hold' | 'other';

export function sshTimelineKind(event: SessionEvent): SshTimelineKind | undefined {
  if (!isSsh(event)) return undefined;
  switch (event.type) {
    case 'ssh.start':
    case 'ssh.channel':
    case 'ssh.exit':
      return 'connection';
    case 'ssh.bastion':
      return 'other';
    case 'ssh.exec':
    case 'ssh.shell':
      return event.decision === 'deny' ? 'denied' : 'statement';
    case 'ssh.line':
      return 'hold';
    case 'sftp':
    case 'forward':
      return event.decision === 'deny' ? 'denied' : 'statement';
    case 'ssh.refused':
      return 'denied';
    default:
      return 'other';
  }
}
