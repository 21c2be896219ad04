/**
 * The recording batch schema, the one check of a batch (the route and RecordingService.ingest both use it):
 * what it refuses, with the words the 400 names it by.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_DEPTH } from '../../hub/api/recording-chain.ts';
import { MAX_BATCH_EVENTS, recordingBatch } from '../../hub/api/requests/recordings.ts';
import { zodValidatorCompiler } from '../../hub/http/validation.ts';

const event = {
  seq: 1,
  at: '2026-12-06T05:00:00Z',
  type: 'query',
  payload: null,
  prevHash: '0'.repeat(64),
  hash: 'a'.repeat(64),
};
const validate = zodValidatorCompiler({
  schema: recordingBatch,
  method: 'POST',
  url: '/',
  httpPart: 'body',
}) as (data: unknown) => { value?: unknown; error?: Error };

describe('a recording batch', () => {
  it('takes events whose payload is null or nested up to the limit', () => {
    let nested: unknown = 'leaf';
    for (let i = 0; i < MAX_PAYLOAD_DEPTH - 1; i++) nested = [nested];
    expect(validate({ events: [event, { ...event, seq: 2, payload: nested }] }).error).toBeUndefined();
  });

  it('refuses an event without a payload, one nested too deep, and too many events', () => {
    const { payload: _left, ...bare } = event;
    expect(validate({ events: [bare] }).error?.message).toBe(
      'events[0].payload: is required (null for none)',
    );
    let nested: unknown = 'leaf';
    for (let i = 0; i <= MAX_PAYLOAD_DEPTH; i++) nested = [nested];
    expect(validate({ events: [event, { ...event, payload: nested }] }).error?.message).toBe(
      `events[1].payload: must not nest deeper than ${MAX_PAYLOAD_DEPTH} levels`,
    );
    const many = Array.from({ length: MAX_BATCH_EVENTS + 1 }, (_, i) => ({ ...event, seq: i + 1 }));
    expect(validate({ events: many }).error?.message).toBe(
      `events: must hold at most ${MAX_BATCH_EVENTS} items`,
    );
  });

  it('refuses a seq below 1 and a hash that is not 64 lowercase hex digits', () => {
    expect(validate({ events: [{ ...event, seq: 0 }] }).error?.message).toBe(
      'events[0].seq: must be at least 1',
    );
    expect(validate({ events: [{ ...event, hash: 'A'.repeat(64) }] }).error?.message).toBe(
      'events[0].hash: must be 64 lowercase hex digits',
    );
  });
});
