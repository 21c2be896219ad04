export { buildHubApp, ROUTES, type HubAppOptions, type LogLevel } from './app.ts';
export { toFailure, type HttpFailure } from './errors.ts';
