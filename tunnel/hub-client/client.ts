/**
 * A typed client of the hub's HTTP API (hub/http), for the tunnel and the desktop app: one method per
 * route, the hub's own API types, errors as HubError. Plain fetch: no dependency on the hub's server code.
 * One part a resource (catalogue, sessions, recordings, access requests, holds, events), all sharing the
 * one request helper in transport.ts.
 *
 *   const hub = createHubClient({ url: 'http://127.0.0.1:8470', token: () => tokens.accessToken() });
 *   const session = await hub.openSession('payments-db');
 *   for await (const event of hub.events({ signal })) …
 *
 * `token` is asked before every request (and every reconnection of the event stream), so it can refresh.
 */
import { accessRequestsClient, type AccessRequestsClient } from './access-requests.ts';
import { catalogueClient, type CatalogueClient } from './catalogue.ts';
import { eventsClient, type EventsClient } from './events.ts';
import { holdsClient, type HoldsClient } from './holds.ts';
import { recordingsClient, type RecordingsClient } from './recordings.ts';
import { sessionsClient, type SessionsClient } from './sessions.ts';
import { createTransport, type HubClientOptions } from './transport.ts';

export { HubError } from './errors.ts';
export type { EventsOptions } from './events.ts';
export type { HubClientOptions, RequestOptions } from './transport.ts';

export interface HubClient
  extends CatalogueClient, SessionsClient, RecordingsClient, AccessRequestsClient, HoldsClient, EventsClient {
  readonly url: string;
}

export function createHubClient(options: HubClientOptions): HubClient {
  const transport = createTransport(options);
  return {
    url: transport.base,
    ...catalogueClient(transport),
    ...sessionsClient(transport),
    ...recordingsClient(transport),
    ...accessRequestsClient(transport),
    ...holdsClient(transport),
    ...eventsClient(transport),
  };
}
