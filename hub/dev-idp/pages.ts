// The development IdP's HTML: plain forms with no scripts or external resources, so that a test can drive
// them over HTTP (see http-login.ts) and headless Chromium can drive them by element ids.

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:48px 16px;color:#1d2430}
main{max-width:360px;margin:0 auto;background:#fff;border-radius:8px;padding:24px 28px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.3em;margin:0 0 4px}
.banner{font-size:.8em;color:#8a5300;background:#fff4e0;border-radius:4px;padding:6px 8px;margin:0 0 16px}
label{display:block;font-size:.9em;margin:12px 0 4px}
input{width:100%;box-sizing:border-box;padding:8px;font-size:1em;border:1px solid #c4c9d2;border-radius:4px}
button{margin-top:18px;width:100%;padding:10px;font-size:1em;border:0;border-radius:4px;background:#2f5fd0;color:#fff;cursor:pointer}
.error{color:#b3261e;background:#fdecea;border-radius:4px;padding:8px;margin:12px 0 0}
a{color:#2f5fd0;font-size:.9em}
</style>
</head>
<body>
<main>
<p class="banner">Portcullis development identity provider &mdash; not for production.</p>
${body}
</main>
</body>
</html>
`;
}

export interface LoginPageOptions {
  uid: string;
  clientName: string;
  username?: string;
  error?: string;
}

/** The sign-in form. Element ids (`login-form`, `username`, `password`, `sign-in`, `login-error`) are stable. */
export function loginPage({ uid, clientName, username, error }: LoginPageOptions): string {
  const base = `/interaction/${encodeURIComponent(uid)}`;
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(clientName)}</strong></p>
${error ? `<p class="error" id="login-error" role="alert">${escapeHtml(error)}</p>` : ''}
<form id="login-form" method="post" action="${base}/login" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" required autofocus value="${escapeHtml(username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<button id="sign-in" type="submit">Sign in</button>
</form>
<p><a id="cancel" href="${base}/abort">Cancel</a></p>`,
  );
}

export function messagePage(title: string, message: string, details: Record<string, string> = {}): string {
  const rows = Object.entries(details)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd><code>${escapeHtml(v)}</code></dd>`)
    .join('');
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p id="message">${escapeHtml(message)}</p>
${rows ? `<dl>${rows}</dl>` : ''}`,
  );
}

export function logoutPage(form: string): string {
  // `form` is oidc-provider's own hidden form (id op.logoutForm) carrying the xsrf token.
  return page(
    'Sign out',
    `<h1>Sign out?</h1>
${form}
<button id="sign-out" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`,
  );
}
