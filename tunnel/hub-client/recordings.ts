/** Recordings: a tunnel's outbox batches in, the audit's JSON-lines export out. */
import type { ExportLine, IngestResult, RecordingEventInput } from '../../hub/api/types.ts';
import { segment, type RequestOptions, type Transport } from './transport.ts';

export interface RecordingsClient {
  ingestRecording(
    sessionId: string,
    events: readonly RecordingEventInput[],
    options?: RequestOptions,
  ): Promise<IngestResult>;
  /** The JSON-lines export, one parsed line at a time, as the hub streams it. */
  exportAudit(since: Date | string, options?: RequestOptions): AsyncGenerator<ExportLine, void, void>;
}

export function recordingsClient(transport: Transport): RecordingsClient {
  return {
    ingestRecording: (sessionId, recorded, o = {}) =>
      transport.json({
        method: 'POST',
        path: `/v1/sessions/${segment(sessionId)}/recordings`,
        body: { events: recorded },
        signal: o.signal,
      }),
    exportAudit: (since, o = {}) => exportAudit(transport, since, o),
  };
}

async function* exportAudit(
  transport: Transport,
  since: Date | string,
  options: RequestOptions,
): AsyncGenerator<ExportLine, void, void> {
  const sinceText = since instanceof Date ? since.toISOString() : since;
  const response = await transport.open(
    { method: 'GET', path: '/v1/audit/export', query: { since: sinceText }, signal: options.signal },
    'application/x-ndjson',
    null,
  );
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line !== '') yield JSON.parse(line) as ExportLine;
      }
    }
    if (buffer.trim() !== '') yield JSON.parse(buffer) as ExportLine;
  } finally {
    await reader.cancel().catch(() => {});
  }
}
