/**
 * `portcullis://` links, so that a link in chat or mail opens the app in the right place:
 *
 *   portcullis://approvals/ID          an approval (held statement or access request)
 *   portcullis://approvals/statement/ID, portcullis://approvals/access/ID
 *   portcullis://approvals             what waits for me
 *   portcullis://targets, portcullis://tunnels/TARGET, portcullis://sessions/ID
 *
 * Anything else is ignored: a link is a destination, never an action.
 */
import type { Destination } from '../../preload/api.ts';

export const linkScheme = 'portcullis';

const ID = /^[A-Za-z0-9._:-]{1,200}$/;

export function destinationOf(link: string): Destination | null {
  // Dot segments are resolved away by the URL parser: a link that has them is not one we made.
  if (/(^|[/\\])\.\.?([/\\?#]|$)|%2e/i.test(link)) return null;
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return null;
  }
  if (url.protocol !== `${linkScheme}:`) return null;
  // portcullis://approvals/ID parses with host "approvals"; portcullis:approvals/ID without one.
  const parts = [url.host, ...url.pathname.split('/')].filter((p) => p !== '').map(decodeURIComponent);
  const [screen, ...rest] = parts;
  if (rest.some((p) => !ID.test(p))) return null;
  switch (screen) {
    case 'approvals':
      if (rest.length === 0) return { screen: 'approvals' };
      if (rest.length === 1) return { screen: 'approvals', id: rest[0]! };
      if (rest.length === 2 && (rest[0] === 'statement' || rest[0] === 'access')) {
        return { screen: 'approvals', kind: rest[0], id: rest[1]! };
      }
      return null;
    case 'targets':
      return rest.length === 0 ? { screen: 'targets' } : null;
    case 'tunnels':
      return rest.length === 1 ? { screen: 'tunnel', targetId: rest[0]! } : null;
    case 'sessions':
      if (rest.length === 0) return { screen: 'sessions' };
      return rest.length === 1 ? { screen: 'sessions', sessionId: rest[0]! } : null;
    default:
      return null;
  }
}

/** The link among a second instance's (or the first start's) command line arguments, if any. */
export function linkInArguments(argv: readonly string[]): string | undefined {
  return argv.find((arg) => arg.startsWith(`${linkScheme}:`));
}
