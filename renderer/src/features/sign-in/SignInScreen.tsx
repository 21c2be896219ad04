import type { AccountView } from '../../../../preload/api.ts';
import { ErrorText } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { useSignIn } from './use-sign-in.ts';

export function SignInScreen({ account, rememberedHub }: { account: AccountView; rememberedHub: string }) {
  const s = useSignIn(account, rememberedHub);
  return (
    <main className="sign-in" id="main">
      <ScreenHeading>Sign in to Portcullis</ScreenHeading>
      <p className="lead">
        Portcullis opens guarded tunnels to the databases your team may use. You sign in once, through your
        organisation’s identity provider, in your browser.
      </p>
      {s.waiting ? (
        <section aria-labelledby="browser-step" className="card">
          <h2 id="browser-step">Continue in your browser</h2>
          <p role="status" aria-busy="true">
            Your identity provider’s sign-in page is open in your browser. Come back here when you are done.
          </p>
          {s.authorizationUrl && (
            <p className="hint">
              If no browser opened, open this address yourself:
              <br />
              <code className="wrap">{s.authorizationUrl}</code>
            </p>
          )}
          <button type="button" onClick={() => void s.cancel.run()} disabled={s.cancel.busy}>
            Cancel sign-in
          </button>
        </section>
      ) : (
        <form
          className="card"
          onSubmit={(event) => {
            event.preventDefault();
            void s.signIn.run();
          }}
        >
          <label htmlFor="hub-url">Hub address</label>
          <input
            id="hub-url"
            type="url"
            required
            autoComplete="url"
            value={s.hubUrl}
            onChange={(event) => s.setHubUrl(event.target.value)}
            aria-describedby="hub-url-hint"
          />
          <p id="hub-url-hint" className="hint">
            The address your administrator gave you, such as https://portcullis.example.com.
          </p>
          <ErrorText message={s.error} />
          <button type="submit" className="primary" disabled={s.signIn.busy}>
            Sign in with your browser
          </button>
        </form>
      )}
    </main>
  );
}
