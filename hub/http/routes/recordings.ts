/** Recordings in (a tunnel's outbox batches) and out (the audit export, JSON lines streamed page by page). */
import { Readable } from 'node:stream';
import { exportQuery, idParams, recordingBatch } from '../../api/requests/index.ts';
import { ValidationError } from '../../services/index.ts';
import type { RouteModule } from '../route-context.ts';

export const recordingRoutes: RouteModule = (router, { services, caller, recordingBodyLimit }) => {
  router.post(
    '/sessions/:id/recordings',
    { schema: { params: idParams, body: recordingBatch }, bodyLimit: recordingBodyLimit },
    async (request) => services.recordings.ingest(caller(request), request.params.id, request.body.events),
  );

  router.get('/audit/export', { schema: { querystring: exportQuery } }, async (request, reply) => {
    const since = new Date(request.query.since);
    if (Number.isNaN(since.getTime())) throw new ValidationError('since', 'must be an ISO-8601 time');
    const lines = services.audit.exportJsonLines(since, caller(request));
    return reply
      .type('application/x-ndjson; charset=utf-8')
      .send(Readable.from(lines, { objectMode: false }));
  });
};
