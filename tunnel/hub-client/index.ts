export {
  createHubClient,
  HubError,
  type EventsOptions,
  type HubClient,
  type HubClientOptions,
  type RequestOptions,
} from './client.ts';
export { parseEventStream, type SseMessage, type SseState } from './sse.ts';
