/**
 * The terminal side of a recorded SSH session: its channels (one shell or command each) with their
 * asciicast v2 events, as `portcullis replay` plays them and `portcullis export --asciicast` writes them
 * for asciinema's player (https://docs.asciinema.org/manual/asciicast/v2/).
 */
import type { RecordedEvent } from '../../hub/api/types.ts';
import type { SessionEvent } from '../recorder/recording-point.ts';
import { connectionOf } from './transcript.ts';

export type TerminalCode = 'o' | 'i' | 'r';

export interface TerminalEvent {
  /** Seconds since the channel started. */
  t: number;
  code: TerminalCode;
  data: string;
}

export interface TerminalChannel {
  /** The client connection's number in the session (null outside a connected tunnel). */
  connection: number | null;
  channel: number;
  /** "connection:channel", as `--channel` takes it. */
  id: string;
  kind: 'shell' | 'exec' | 'subsystem';
  command?: string;
  cols: number;
  rows: number;
  term?: string;
  /** When the channel started (ISO-8601), from the recording. */
  startedAt: string;
  events: TerminalEvent[];
}

type Payload<T extends SessionEvent['type']> = Omit<Extract<SessionEvent, { type: T }>, 'type'>;

/** The session's terminal channels in the order they started; channels that printed nothing are left out. */
export function terminalChannels(
  events: Iterable<Pick<RecordedEvent, 'type' | 'payload' | 'at'>>,
): TerminalChannel[] {
  const channels = new Map<string, TerminalChannel>();
  for (const event of events) {
    if (event.type !== 'ssh.channel' && event.type !== 'term') continue;
    const connection = connectionOf(event);
    const payload = event.payload as Payload<'ssh.channel'> | Payload<'term'>;
    const id = `${connection ?? 0}:${payload.channel}`;
    if (event.type === 'ssh.channel') {
      const start = payload as Payload<'ssh.channel'>;
      channels.set(id, {
        connection,
        channel: start.channel,
        id,
        kind: start.kind,
        ...(start.command !== undefined ? { command: start.command } : {}),
        cols: start.pty?.cols ?? 80,
        rows: start.pty?.rows ?? 24,
        ...(start.pty?.term ? { term: start.pty.term } : {}),
        startedAt: event.at,
        events: [],
      });
      continue;
    }
    const term = payload as Payload<'term'>;
    channels.get(id)?.events.push({ t: term.t, code: term.code, data: term.data });
  }
  return [...channels.values()].filter((channel) => channel.events.some((e) => e.code === 'o'));
}

/** An asciicast v2 file: the header line, then one `[time, code, data]` line per event. */
export function asciicast(channel: TerminalChannel, title: string): string[] {
  const header = {
    version: 2,
    width: channel.cols,
    height: channel.rows,
    timestamp: Math.floor(Date.parse(channel.startedAt) / 1000),
    title,
    ...(channel.term ? { env: { TERM: channel.term } } : {}),
  };
  return [JSON.stringify(header), ...channel.events.map((e) => JSON.stringify([e.t, e.code, e.data]))];
}

export interface PlaybackOptions {
  /** 2 plays twice as fast. Default 1. */
  speed?: number;
  /** Pauses longer than this many seconds are cut to it. */
  idleLimit?: number;
  write(text: string): Promise<void> | void;
  sleep?(ms: number): Promise<void>;
  signal?: AbortSignal;
}

/** Plays a channel's output with its recorded timing (input and resizes are not written). */
export async function play(channel: TerminalChannel, options: PlaybackOptions): Promise<void> {
  const speed = options.speed ?? 1;
  const sleep = options.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let previous = 0;
  let waiting = 0;
  for (const event of channel.events) {
    if (options.signal?.aborted) return;
    let gap = Math.max(0, event.t - previous);
    if (options.idleLimit !== undefined) gap = Math.min(gap, options.idleLimit);
    previous = event.t;
    waiting += gap;
    if (event.code !== 'o') continue;
    if (waiting > 0) await sleep((waiting * 1000) / speed);
    waiting = 0;
    await options.write(event.data);
  }
}
