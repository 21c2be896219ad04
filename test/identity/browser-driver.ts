/**
 * A stand-in for the system browser, for tests: drives the development IdP's sign-in over HTTP and then
 * delivers the redirect to the app's loopback listener with a plain fetch, as a browser would.
 */
import { DEMO_USERS, signInOverHttp, type DevUser } from '../../hub/dev-idp/index.ts';

export interface BrowserVisit {
  /** The authorization URL the app handed to the browser. */
  authorizationUrl: URL;
  /** The loopback URL the IdP redirected to (after `tamper`). */
  redirect: URL;
  /** The loopback listener's answer. */
  status: number;
  page: string;
}

export function demoUser(username: string): DevUser {
  const user = DEMO_USERS.find((u) => u.username === username);
  if (!user) throw new Error(`no demo user ${username}`);
  return user;
}

export interface FakeBrowser {
  openBrowser: (url: string) => Promise<void>;
  /** Resolves once the loopback listener has answered. */
  visited: Promise<BrowserVisit>;
}

export function fakeBrowser(
  user: DevUser,
  options: {
    /** Changes the authorization URL before the IdP sees it. */
    tamperRequest?: (url: URL) => void;
    /** Changes the redirect before it reaches the loopback listener. */
    tamperRedirect?: (url: URL) => void;
  } = {},
): FakeBrowser {
  let resolve!: (visit: BrowserVisit) => void;
  let reject!: (error: unknown) => void;
  const visited = new Promise<BrowserVisit>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  visited.catch(() => undefined);
  return {
    visited,
    // Like a real browser opener, this returns at once; the sign-in goes on "in the browser".
    openBrowser: async (url) => {
      void (async () => {
        const authorizationUrl = new URL(url);
        const request = new URL(url);
        options.tamperRequest?.(request);
        const redirect = await signInOverHttp(request, { username: user.username, password: user.password });
        options.tamperRedirect?.(redirect);
        const res = await fetch(redirect);
        resolve({ authorizationUrl, redirect, status: res.status, page: await res.text() });
      })().catch(reject);
    },
  };
}

/** Whether something still listens at the origin of `url`. */
export async function listening(url: URL | string): Promise<boolean> {
  try {
    await fetch(new URL('/callback', url), { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}
