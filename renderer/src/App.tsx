/**
 * The app shell: sign-in until someone is signed in; then the navigation, the hub's status (an
 * unreachable hub is said, not hidden) and the screen the URL fragment names. Main can send the window
 * to a screen (a notification clicked, a portcullis:// link).
 */
import { useEffect, useState } from 'react';
import type { AccountView, AppState } from '../../preload/api.ts';
import { api, unwrap } from './app/api.ts';
import { relative } from './app/format.ts';
import { go, href, useRoute, type Route } from './app/router.ts';
import { useAppState } from './app/use-app-state.ts';
import { Failed, Loading } from './components/ListState.tsx';
import { ApprovalsScreen } from './features/approvals/ApprovalsScreen.tsx';
import { SessionsScreen } from './features/sessions/SessionsScreen.tsx';
import { SettingsScreen } from './features/settings/SettingsScreen.tsx';
import { SignInScreen } from './features/sign-in/SignInScreen.tsx';
import { TargetsScreen } from './features/targets/TargetsScreen.tsx';
import { TunnelScreen } from './features/tunnel/TunnelScreen.tsx';

function useVersion(): string {
  const [version, setVersion] = useState('…');
  useEffect(() => {
    unwrap(api().app.version()).then(setVersion, () => setVersion('unknown'));
  }, []);
  return version;
}

function Nav({ route, state }: { route: Route; state: AppState }) {
  const open = state.tunnels.filter((t) => t.state !== 'closed').length;
  const waiting = state.approvals.waiting.length;
  const items: [Route['screen'], string, number | null][] = [
    ['targets', 'Targets', null],
    ['tunnel', 'Tunnels', open],
    ['approvals', 'Approvals', waiting],
    ['sessions', 'Sessions', null],
    ['settings', 'Settings', null],
  ];
  return (
    <nav className="nav" aria-label="Main">
      <ul>
        {items.map(([screen, label, badge]) => (
          <li key={screen}>
            <a href={href({ screen } as Route)} aria-current={route.screen === screen ? 'page' : undefined}>
              {label}
              {badge ? (
                <span
                  className="count"
                  aria-label={`, ${badge} ${screen === 'approvals' ? 'waiting' : 'open'}`}
                >
                  {badge}
                </span>
              ) : null}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function HubStatus({ state }: { state: AppState }) {
  const { hub } = state;
  if (hub.status !== 'unreachable') return null;
  return (
    <div className="banner banner-bad" role="alert">
      <strong>The hub cannot be reached</strong> {hub.since ? `(since ${relative(hub.since)})` : ''}:{' '}
      {hub.message}. Open tunnels keep running and record locally
      {hub.sync.pending > 0 ? ` (${hub.sync.pending} events waiting)` : ''}; they sync when it is back.
    </div>
  );
}

function Screen({ route, state, version }: { route: Route; state: AppState; version: string }) {
  switch (route.screen) {
    case 'tunnel':
      return <TunnelScreen tunnels={state.tunnels} targetId={route.targetId} />;
    case 'approvals':
      return (
        <ApprovalsScreen
          view={state.approvals}
          {...(route.kind ? { kind: route.kind } : {})}
          {...(route.id ? { id: route.id } : {})}
        />
      );
    case 'sessions':
      return <SessionsScreen {...(route.sessionId ? { sessionId: route.sessionId } : {})} />;
    case 'settings':
      return <SettingsScreen preferences={state.preferences} account={state.account} version={version} />;
    default:
      return <TargetsScreen view={state.targets} />;
  }
}

export function App() {
  const loaded = useAppState();
  const route = useRoute();
  const version = useVersion();
  useEffect(() => api().app.onNavigate((destination) => go(destination)), []);

  if (loaded.status === 'loading') {
    return (
      <main className="starting" id="main">
        <Loading what="Portcullis" />
      </main>
    );
  }
  if (loaded.status === 'error') {
    return (
      <main className="starting" id="main">
        <Failed message={loaded.message} />
      </main>
    );
  }
  const { state } = loaded;
  if (state.account.state === 'starting') {
    return (
      <main className="starting" id="main">
        <Loading what="your sign-in" />
      </main>
    );
  }
  if (state.account.state !== 'signed-in') {
    return <SignInScreen account={state.account} rememberedHub={state.preferences.hubUrl} />;
  }
  return <SignedInApp state={state} account={state.account} route={route} version={version} />;
}

/** Someone is signed in: the top bar, the hub's status, the navigation and the screen the route names. */
function SignedInApp({
  state,
  account,
  route,
  version,
}: {
  state: AppState;
  account: Extract<AccountView, { state: 'signed-in' }>;
  route: Route;
  version: string;
}) {
  return (
    <div className="app">
      <a
        className="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Portcullis</span>
        <span className="who">
          {account.me.name} · <span className="sub">{account.hubUrl}</span>
        </span>
        <span
          className={`hub-dot hub-${state.hub.status}`}
          role="img"
          aria-label={`Hub ${state.hub.status}`}
        />
      </header>
      <HubStatus state={state} />
      <div className="layout">
        <Nav route={route} state={state} />
        <main id="main" className="content" tabIndex={-1}>
          <Screen route={route} state={state} version={version} />
        </main>
      </div>
      <footer className="app-footer">
        Version <span data-testid="app-version">{version}</span>
        {state.hub.sync.pending > 0
          ? ` · ${state.hub.sync.pending} recorded events waiting to sync`
          : ' · recordings synced'}
      </footer>
    </div>
  );
}
