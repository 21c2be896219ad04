/** What a tunnel sends of its recording: batches of hash-chained events (see ../recording-chain.ts). */
import { z } from 'zod';
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from '../recording-chain.ts';
import { hash } from './fields.ts';

export const MAX_BATCH_EVENTS = 5000;

/** One recorded event as the tunnel sends it. */
export const recordingEventInput = z.strictObject({
  seq: z.int().min(1),
  at: z.string().min(1).max(64),
  type: z.string().min(1).max(64),
  /** Any JSON; null for none. */
  payload: z
    .unknown()
    .refine((payload): boolean => payload !== undefined, 'is required (null for none)')
    .refine(
      (payload) => !nestsDeeperThan(payload, MAX_PAYLOAD_DEPTH),
      `must not nest deeper than ${MAX_PAYLOAD_DEPTH} levels`,
    ),
  prevHash: hash,
  hash,
});

/** POST /v1/sessions/:id/recordings: one batch of the tunnel's outbox. */
export const recordingBatch = z.strictObject({
  events: z.array(recordingEventInput).max(MAX_BATCH_EVENTS),
});
