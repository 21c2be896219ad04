import { useEffect, useState } from 'react';

type Version = { state: 'loading' } | { state: 'known'; version: string } | { state: 'unavailable' };

function useAppVersion(): Version {
  const [version, setVersion] = useState<Version>({ state: 'loading' });
  useEffect(() => {
    let current = true;
    window.portcullis.app.version().then(
      (v) => current && setVersion(v.ok ? { state: 'known', version: v.value } : { state: 'unavailable' }),
      () => current && setVersion({ state: 'unavailable' }),
    );
    return () => {
      current = false;
    };
  }, []);
  return version;
}

export function App() {
  const version = useAppVersion();
  return (
    <div className="app">
      <header className="app-header">
        <h1>Portcullis</h1>
      </header>
      <main className="sign-in" aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        <p>You are not signed in. Signing in through your identity provider is not available yet.</p>
        <button type="button" disabled>
          Sign in
        </button>
      </main>
      <footer className="app-footer">
        Version{' '}
        <span data-testid="app-version">
          {version.state === 'known' ? version.version : version.state === 'loading' ? '…' : 'unknown'}
        </span>
      </footer>
    </div>
  );
}
