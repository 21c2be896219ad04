/**
 * Channel → service method. Each channel's arguments are checked here (zod) before anything runs, and
 * every answer is a value: {ok: true, value} or {ok: false, code, message}.
 */
import { z } from 'zod';
import type { IpcArgs, IpcChannel, IpcValue, Platform } from '../../preload/api.ts';
import type { DesktopServices } from '../services/desktop-services.ts';
import { preferencesChange } from '../services/preferences.ts';

const id = z.string().min(1).max(200);
const text = (max: number) => z.string().max(max);
const port = z.number().int().min(1).max(65_535);
const kind = z.enum(['statement', 'access']);
const field = z.enum(['psql', 'uri', 'jdbc', 'host', 'port', 'user', 'database', 'password']);

const none = z.tuple([]);

/** What each channel accepts: exactly these arguments, nothing more. */
export const argumentSchemas = {
  'app:version': none,
  'app:platform': none,
  'app:state': none,
  'account:sign-in': z.tuple([text(2000).min(1)]),
  'account:cancel-sign-in': none,
  'account:sign-out': none,
  'targets:refresh': none,
  'targets:request-access': z.tuple([
    z.object({ targetId: id, reason: text(2000), duration: text(20).optional() }).strict(),
  ]),
  'targets:cancel-request': z.tuple([id]),
  'tunnels:connect': z.union([z.tuple([id]), z.tuple([id, port])]),
  'tunnels:disconnect': z.tuple([id]),
  'tunnels:set-port': z.tuple([id, port]),
  'tunnels:copy': z.tuple([id, field]),
  'tunnels:reveal-secret': z.tuple([id]),
  'approvals:refresh': none,
  'approvals:get': z.tuple([kind, id]),
  'approvals:decide': z.tuple([
    z.object({ kind, id, approve: z.boolean(), comment: text(2000).optional() }).strict(),
  ]),
  'sessions:search': z.tuple([
    z
      .object({
        text: text(200).optional(),
        targetId: id.optional(),
        subject: id.optional(),
        from: z.iso.datetime().optional(),
        decision: z.enum(['denied', 'held']).optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      })
      .strict(),
  ]),
  'sessions:replay': z.tuple([id]),
  'sessions:export': z.tuple([id]),
  'settings:update': z.tuple([preferencesChange]),
} satisfies { [C in IpcChannel]: z.ZodType };

export type Handlers = { [C in IpcChannel]: (...args: IpcArgs<C>) => IpcValue<C> | Promise<IpcValue<C>> };

export interface AppInfo {
  version: string;
  platform: Platform;
}

export function handlers(services: DesktopServices, info: AppInfo): Handlers {
  return {
    'app:version': () => info.version,
    'app:platform': () => info.platform,
    'app:state': () => services.state.snapshot(),
    'account:sign-in': (hubUrl) => services.account.signIn(hubUrl),
    'account:cancel-sign-in': () => {
      services.account.cancelSignIn();
      return null;
    },
    'account:sign-out': async () => {
      await services.account.signOut();
      return null;
    },
    'targets:refresh': () => services.targets.refresh(),
    'targets:request-access': (input) => services.targets.requestAccess(input),
    'targets:cancel-request': (requestId) => services.targets.cancelRequest(requestId),
    'tunnels:connect': (targetId, port) => services.tunnels.connect(targetId, port),
    'tunnels:disconnect': async (targetId) => {
      await services.tunnels.disconnect(targetId);
      return null;
    },
    'tunnels:set-port': (targetId, port) => services.tunnels.setPort(targetId, port),
    'tunnels:copy': (targetId, what) => {
      services.tunnels.copy(targetId, what);
      return null;
    },
    'tunnels:reveal-secret': (targetId) => services.tunnels.revealSecret(targetId),
    'approvals:refresh': () => services.approvals.refresh(),
    'approvals:get': (kind, approvalId) => services.approvals.get(kind, approvalId),
    'approvals:decide': (input) => services.approvals.decide(input, 'app'),
    'sessions:search': (query) => services.recordings.search(query),
    'sessions:replay': (sessionId) => services.recordings.replay(sessionId),
    'sessions:export': (sessionId) => services.recordings.export(sessionId),
    'settings:update': (changes) => services.preferences.update(changes),
  };
}
