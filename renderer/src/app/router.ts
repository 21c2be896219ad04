/**
 * Screens by URL fragment (#/targets, #/tunnel/shop-db, #/approvals/statement/ID, #/sessions/ID,
 * #/settings): links are plain <a href>, so the keyboard, the history and the window's navigation guard
 * (only fragment changes are allowed) all work as they should.
 */
import { useEffect, useState } from 'react';
import type { ApprovalKind, Destination } from '../../../preload/api.ts';

export type Route =
  | { screen: 'targets' }
  | { screen: 'tunnel'; targetId?: string }
  | { screen: 'approvals'; kind?: ApprovalKind; id?: string }
  | { screen: 'sessions'; sessionId?: string }
  | { screen: 'settings' };

export function parseRoute(hash: string): Route {
  const [screen, ...rest] = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p));
  switch (screen) {
    case 'tunnel':
      return rest[0] ? { screen: 'tunnel', targetId: rest[0] } : { screen: 'tunnel' };
    case 'approvals':
      if ((rest[0] === 'statement' || rest[0] === 'access') && rest[1]) {
        return { screen: 'approvals', kind: rest[0], id: rest[1] };
      }
      return rest[0] ? { screen: 'approvals', id: rest[0] } : { screen: 'approvals' };
    case 'sessions':
      return rest[0] ? { screen: 'sessions', sessionId: rest[0] } : { screen: 'sessions' };
    case 'settings':
      return { screen: 'settings' };
    default:
      return { screen: 'targets' };
  }
}

export function href(route: Route | Destination): string {
  const e = encodeURIComponent;
  switch (route.screen) {
    case 'tunnel':
      return route.targetId ? `#/tunnel/${e(route.targetId)}` : '#/tunnel';
    case 'approvals':
      if (route.id && route.kind) return `#/approvals/${route.kind}/${e(route.id)}`;
      return route.id ? `#/approvals/${e(route.id)}` : '#/approvals';
    case 'sessions':
      return route.sessionId ? `#/sessions/${e(route.sessionId)}` : '#/sessions';
    case 'settings':
      return '#/settings';
    default:
      return '#/targets';
  }
}

export function go(route: Route | Destination): void {
  window.location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
