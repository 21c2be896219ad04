/**
 * A Server-Sent Events parser (the WHATWG "event stream interpretation"), for fetch bodies: lines end in
 * CRLF, LF or CR; `:` starts a comment; `data` lines join with LF; `id` sets the last event id (also for
 * an event without data, which is not dispatched) once its blank line arrives; `retry` sets the reconnection delay.
 */

export interface SseMessage {
  /** The last event id as of this message ('' when none was ever sent). */
  id: string;
  /** 'message' when the event had no `event:` field. */
  event: string;
  data: string;
}

export interface SseState {
  /** The last event id seen, including from events without data. */
  lastEventId: string;
  /** The server's `retry:` in ms, when it sent one. */
  retryMs: number | undefined;
}

export async function* parseEventStream(
  body: ReadableStream<Uint8Array>,
  state: SseState,
): AsyncGenerator<SseMessage, void, void> {
  const decoder = new TextDecoder('utf-8');
  const reader = body.getReader();
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id = state.lastEventId;
  /** A CR ended the last chunk: an LF starting the next one belongs to it. */
  let pendingCr = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      let text = decoder.decode(value, { stream: true });
      if (pendingCr && text.startsWith('\n')) text = text.slice(1);
      pendingCr = false;
      buffer += text;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        const line = buffer.slice(start, i);
        if (c === 13) {
          if (i + 1 < buffer.length) {
            if (buffer.charCodeAt(i + 1) === 10) i++;
          } else pendingCr = true;
        }
        start = i + 1;

        if (line === '') {
          state.lastEventId = id;
          if (data.length > 0) {
            yield { id: state.lastEventId, event: event || 'message', data: data.join('\n') };
          }
          data = [];
          event = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let fieldValue = colon === -1 ? '' : line.slice(colon + 1);
        if (fieldValue.startsWith(' ')) fieldValue = fieldValue.slice(1);
        if (field === 'data') data.push(fieldValue);
        else if (field === 'event') event = fieldValue;
        else if (field === 'id') {
          if (!fieldValue.includes('\0')) id = fieldValue;
        } else if (field === 'retry' && /^\d+$/.test(fieldValue)) state.retryMs = Number(fieldValue);
      }
      buffer = buffer.slice(start);
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
