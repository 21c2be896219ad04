// @ts-check
/**
 * The rooms of the code and the order they stand in: a room may import only rooms below it (and
 * itself). One source for the lint rule (eslint.config.js, eslint-plugin-boundaries) and for the
 * generated picture in docs/architecture.md (scripts/architecture-diagram.ts).
 *
 * Order, bottom up: hub/api (the contract every side shares) < wire format < recorder < policy <
 * session (Postgres; SSH beside it, neither importing the other) < manager < use cases (tunnel/runtime) <
 * composition roots. The sign-in and hub-client
 * rooms sit beside the wire format: below everything that needs them. The hub's internals are a
 * separate service; from outside hub/ only hub/api/ may be imported, except by the CLI commands
 * that run the hub itself (hub, demo, relay).
 */

/** @typedef {{ type: string, pattern: string | string[], label: string, mayImport: string[] }} Room */

/** @type {Room[]} First match wins, so specific rooms come before the folders that hold them. */
export const ROOMS = [
  { type: 'hub-api', pattern: 'hub/api/**', label: 'hub/api (shared contract)', mayImport: [] },
  {
    type: 'wire',
    pattern: 'tunnel/postgres/wire/**',
    label: 'wire format (tunnel/postgres/wire)',
    mayImport: ['hub-api'],
  },
  { type: 'identity', pattern: 'tunnel/identity/**', label: 'tunnel/identity', mayImport: ['hub-api'] },
  { type: 'hub-client', pattern: 'tunnel/hub-client/**', label: 'tunnel/hub-client', mayImport: ['hub-api'] },
  {
    type: 'account',
    pattern: 'tunnel/account/**',
    label: 'tunnel/account',
    mayImport: ['hub-api', 'identity', 'hub-client'],
  },
  {
    type: 'recorder',
    pattern: 'tunnel/recorder/**',
    label: 'tunnel/recorder',
    mayImport: ['hub-api', 'wire'],
  },
  {
    type: 'policy',
    pattern: 'tunnel/policy/**',
    label: 'tunnel/policy',
    mayImport: ['hub-api', 'wire', 'recorder'],
  },
  {
    type: 'session',
    pattern: 'tunnel/postgres/**',
    label: 'session (tunnel/postgres)',
    mayImport: ['hub-api', 'wire', 'recorder', 'policy'],
  },
  {
    type: 'ssh-session',
    pattern: 'tunnel/ssh/**',
    label: 'SSH session (tunnel/ssh)',
    mayImport: ['hub-api', 'identity', 'recorder', 'policy'],
  },
  {
    type: 'manager',
    pattern: 'tunnel/manager/**',
    label: 'tunnel/manager',
    mayImport: ['hub-api', 'wire', 'recorder', 'policy', 'session', 'ssh-session', 'identity', 'hub-client'],
  },
  {
    type: 'runtime',
    pattern: 'tunnel/runtime/**',
    label: 'use cases (tunnel/runtime)',
    mayImport: [
      'hub-api',
      'wire',
      'recorder',
      'policy',
      'session',
      'ssh-session',
      'identity',
      'hub-client',
      'account',
      'manager',
    ],
  },
  {
    type: 'hub-root',
    pattern: ['tunnel/commands/{hub,demo,relay}.ts'],
    label: 'CLI hub/demo/relay commands',
    mayImport: ['*'],
  },
  {
    type: 'root',
    pattern: ['tunnel/cli.ts', 'tunnel/commands/**', 'tunnel/*.ts', 'main/index.ts', 'main/browser/index.ts'],
    label: 'composition roots (CLI, main/index.ts, main/browser/index.ts)',
    mayImport: ['*', '!hub'],
  },
  { type: 'hub', pattern: 'hub/**', label: 'hub internals', mayImport: ['hub-api', 'hub'] },
  { type: 'preload', pattern: 'preload/**', label: 'preload (IPC contract)', mayImport: ['hub-api'] },
  {
    type: 'desktop',
    pattern: 'main/**',
    label: 'desktop main process (main/)',
    mayImport: [
      'hub-api',
      'wire',
      'recorder',
      'policy',
      'session',
      'ssh-session',
      'identity',
      'hub-client',
      'account',
      'manager',
      'runtime',
      'preload',
    ],
  },
  { type: 'renderer', pattern: 'renderer/**', label: 'renderer', mayImport: ['preload', 'hub-api'] },
];

/**
 * Imports that cross the order today and cannot move without editing files other work is changing
 * now. Each is named here so it stays visible; remove the entry when the import is fixed.
 * @type {{ from: string, to: string, why: string }[]}
 */
export const KNOWN_EXCEPTIONS = [];

/** The rooms `type` may import: itself, those it lists, and for '*' every room but those negated. */
export function allowedImports(type) {
  const room = ROOMS.find((r) => r.type === type);
  if (!room) return [];
  if (room.mayImport.includes('*')) {
    const denied = room.mayImport.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
    return ROOMS.map((r) => r.type).filter((t) => !denied.includes(t));
  }
  return [...new Set([type, ...room.mayImport])];
}
