import { useEffect, useState } from 'react';
import type { AccountView, Preferences } from '../../../../preload/api.ts';
import { ErrorText } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { Toggle } from './Toggle.tsx';
import { useSettings, type Settings } from './use-settings.ts';

export function SettingsScreen({
  preferences,
  account,
  version,
}: {
  preferences: Preferences;
  account: AccountView;
  version: string;
}) {
  const s = useSettings();
  return (
    <>
      <ScreenHeading>Settings</ScreenHeading>
      <AccountSection account={account} s={s} />
      <HubSection preferences={preferences} s={s} />
      <NotificationsSection notifications={preferences.notifications} s={s} />
      <AppSection preferences={preferences} version={version} s={s} />
      <ErrorText message={s.update.error} />
    </>
  );
}

function AccountSection({ account, s }: { account: AccountView; s: Settings }) {
  return (
    <section aria-labelledby="account-heading" className="card">
      <h2 id="account-heading">Account</h2>
      {account.state === 'signed-in' ? (
        <>
          <p>
            Signed in to <code>{account.hubUrl}</code> as <strong>{account.me.name}</strong> (
            {account.me.subject})
            {account.me.groups.length > 0 ? `, member of ${account.me.groups.join(', ')}` : ''}
            {account.me.auditor ? '; auditor' : ''}
            {account.me.admin ? '; administrator' : ''}.
          </p>
          <button type="button" onClick={() => void s.signOut.run()} disabled={s.signOut.busy}>
            Sign out
          </button>
          <p className="hint">Signing out closes every open tunnel first.</p>
          <ErrorText message={s.signOut.error} />
        </>
      ) : (
        <p>Not signed in.</p>
      )}
    </section>
  );
}

function HubSection({ preferences, s }: { preferences: Preferences; s: Settings }) {
  const [hubUrl, setHubUrl] = useState(preferences.hubUrl);
  useEffect(() => setHubUrl(preferences.hubUrl), [preferences.hubUrl]);
  return (
    <section aria-labelledby="hub-heading" className="card">
      <h2 id="hub-heading">Hub</h2>
      <form
        className="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void s.update.run({ hubUrl: hubUrl.trim() });
        }}
      >
        <label htmlFor="settings-hub">Hub address</label>
        <input
          id="settings-hub"
          type="url"
          required
          value={hubUrl}
          onChange={(event) => setHubUrl(event.target.value)}
        />
        <button type="submit" disabled={s.update.busy || hubUrl.trim() === preferences.hubUrl}>
          Save
        </button>
        <p className="hint">Used the next time you sign in.</p>
      </form>
    </section>
  );
}

function NotificationsSection({
  notifications: n,
  s,
}: {
  notifications: Preferences['notifications'];
  s: Settings;
}) {
  return (
    <section aria-labelledby="notifications-heading" className="card">
      <h2 id="notifications-heading">Notifications</h2>
      <Toggle
        id="notify-approvals"
        label="Approvals waiting for me"
        hint="Held statements and access requests you may decide, with Approve and Deny."
        checked={n.approvals}
        onChange={(approvals) => s.update.run({ notifications: { approvals } })}
      />
      <Toggle
        id="notify-statements"
        label="My held statements"
        hint="When a statement of yours is held, and when it is approved or denied."
        checked={n.statements}
        onChange={(statements) => s.update.run({ notifications: { statements } })}
      />
      <Toggle
        id="notify-access"
        label="My access"
        hint="Requests granted or denied, grants about to end, tunnels the hub closed."
        checked={n.access}
        onChange={(access) => s.update.run({ notifications: { access } })}
      />
    </section>
  );
}

function AppSection({ preferences, version, s }: { preferences: Preferences; version: string; s: Settings }) {
  return (
    <section aria-labelledby="app-heading" className="card">
      <h2 id="app-heading">App</h2>
      <Toggle
        id="close-to-tray"
        label="Keep running in the tray when the window closes"
        hint="Open tunnels stay up; Quit from the tray closes them."
        checked={preferences.closeToTray}
        onChange={(closeToTray) => s.update.run({ closeToTray })}
      />
      <Toggle
        id="start-at-login"
        label="Start Portcullis when I log in"
        hint="So approvals reach you without opening the app."
        checked={preferences.startAtLogin}
        onChange={(startAtLogin) => s.update.run({ startAtLogin })}
      />
      <p className="hint">Portcullis {version}</p>
    </section>
  );
}
