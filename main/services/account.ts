/**
 * Who is signed in to the app: a person, through the system browser (authorization code + PKCE with a
 * loopback redirect, tunnel/identity), with the tokens kept by the injected TokenStore (safeStorage in
 * the app). The other services follow the sign-in: they start when someone signs in and stop, tunnels
 * closed, before the tokens are forgotten.
 */
import type { Me } from '../../hub/api/types.ts';
import type { Person } from '../../preload/api.ts';
import {
  NotSignedInError,
  openAccount,
  signInPerson,
  signOut,
  type Account,
} from '../../tunnel/account/account.ts';
import type { HomePaths } from '../../tunnel/account/home.ts';
import { IdentityError, type TokenStore } from '../../tunnel/identity/index.ts';
import type { AppStateStore } from './app-state.ts';
import { AppError, classify } from './errors.ts';
import type { Browser } from './ports.ts';

export interface SignedIn {
  account: Account;
  me: Me;
}

/** Told when someone signs in (`signedIn`) or before they sign out (undefined); awaited. */
export type AccountListener = (signedIn: SignedIn | undefined) => Promise<void> | void;

export interface AccountOptions {
  state: AppStateStore;
  paths: HomePaths;
  tokenStore: TokenStore;
  browser: Browser;
  /** How long the browser step may take. Default 5 minutes. */
  signInTimeoutMs?: number;
}

export function personOf(me: Me): Person {
  return { subject: me.subject, name: me.name, groups: [...me.groups], admin: me.admin, auditor: me.auditor };
}

function checkedHubUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new AppError('invalid', `"${value}" is not a hub address; it looks like https://hub.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('invalid', 'The hub address must start with https:// (or http:// on this machine)');
  }
  return url.href.replace(/\/+$/, '');
}

export class AccountService {
  private signedIn: SignedIn | undefined;
  private signingIn: AbortController | undefined;
  private readonly listeners: AccountListener[] = [];

  constructor(private readonly options: AccountOptions) {}

  current(): SignedIn | undefined {
    return this.signedIn;
  }

  onChange(listener: AccountListener): void {
    this.listeners.push(listener);
  }

  /** At start: the sign-in kept from last time, if it still works. */
  async restore(hubUrl: string): Promise<void> {
    try {
      // No environment: the app signs people in, never an agent configured for the CLI.
      const account = await openAccount({
        paths: this.options.paths,
        env: {},
        store: this.options.tokenStore,
      });
      await this.become(account);
    } catch (error) {
      const { message } = classify(error);
      const expected = error instanceof NotSignedInError && /^not signed in/.test(message);
      this.signedOutView(hubUrl, expected ? null : message);
    }
  }

  async signIn(hubUrl: string): Promise<Person> {
    const hub = checkedHubUrl(hubUrl);
    if (this.signedIn) throw new AppError('conflict', `Already signed in as ${this.signedIn.me.name}`);
    this.signingIn?.abort();
    const abort = new AbortController();
    this.signingIn = abort;
    this.options.state.set('account', { state: 'signing-in', hubUrl: hub, authorizationUrl: null });
    try {
      const account = await signInPerson({
        hubUrl: hub,
        paths: this.options.paths,
        store: this.options.tokenStore,
        signal: abort.signal,
        ...(this.options.signInTimeoutMs ? { timeoutMs: this.options.signInTimeoutMs } : {}),
        openBrowser: async (url) => {
          this.options.state.set('account', { state: 'signing-in', hubUrl: hub, authorizationUrl: url });
          await this.options.browser.open(url);
        },
      });
      await this.become(account);
      return personOf(this.signedIn!.me);
    } catch (error) {
      const { code, message } = classify(error);
      this.signedOutView(hub, code === 'cancelled' ? null : message);
      throw error;
    } finally {
      if (this.signingIn === abort) this.signingIn = undefined;
    }
  }

  cancelSignIn(): void {
    this.signingIn?.abort();
  }

  async signOut(): Promise<void> {
    const current = this.signedIn;
    if (!current) return;
    for (const listener of this.listeners) await listener(undefined);
    this.signedIn = undefined;
    await signOut(this.options.paths, this.options.tokenStore);
    this.signedOutView(current.account.profile.hub, null);
  }

  /**
   * After sleep or a network change: renews the access token now. A sign-in the identity provider no
   * longer honours signs the person out, saying so.
   */
  async renew(): Promise<void> {
    const current = this.signedIn;
    if (!current) return;
    try {
      await current.account.tokens.renew();
    } catch (error) {
      const ended =
        error instanceof IdentityError &&
        (error.code === 'session_expired' || error.code === 'not_signed_in');
      if (!ended) throw error;
      for (const listener of this.listeners) await listener(undefined);
      this.signedIn = undefined;
      await this.options.tokenStore.clear();
      this.signedOutView(current.account.profile.hub, 'Your sign-in has ended; sign in again.');
    }
  }

  private async become(account: Account): Promise<void> {
    const me = await account.hub.me();
    this.signedIn = { account, me };
    this.options.state.set('account', { state: 'signed-in', hubUrl: account.profile.hub, me: personOf(me) });
    for (const listener of this.listeners) await listener(this.signedIn);
  }

  private signedOutView(hubUrl: string, error: string | null): void {
    this.options.state.set('account', { state: 'signed-out', hubUrl, error });
  }
}
