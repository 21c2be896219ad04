// The IdP's own pages at /interaction/:uid: the login form, the login POST, the abort link, and the
// consent that Portcullis (the first-party client) implies. Every other path is oidc-provider's.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Interaction, Provider } from 'oidc-provider';
import { readForm, sendHtml } from './html-responses.ts';
import { loginPage, messagePage } from './pages.ts';
import type { DevIdpSettings } from './settings.ts';

/** What one interaction request is about, once its page is known to be current. */
interface InteractionRequest {
  oidc: Provider;
  req: IncomingMessage;
  res: ServerResponse;
  uid: string;
  details: Interaction;
  clientId: string;
  clientName: string;
}

/** Serves REQ: an interaction page here, anything else through oidc-provider's CALLBACK. */
export async function handleRequest(
  oidc: Provider,
  callback: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  settings: DevIdpSettings,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/.exec(path);
  if (!match) {
    await callback(req, res);
    return;
  }
  const [, uid, action] = match;
  const details = await oidc.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendHtml(res, 400, messagePage('Sign-in error', 'This sign-in page is out of date; start again.'));
    return;
  }
  const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
  const client = await oidc.Client.find(clientId);
  const request = { oidc, req, res, uid, details, clientId, clientName: client?.clientName ?? clientId };
  if (action === '/abort') await abort(request);
  else if (action === '/login') await logIn(request, settings);
  else await showPrompt(request, settings);
}

async function abort({ oidc, req, res }: InteractionRequest): Promise<void> {
  await oidc.interactionFinished(
    req,
    res,
    { error: 'access_denied', error_description: 'End-User aborted interaction' },
    { mergeWithLastSubmission: false },
  );
}

async function logIn(request: InteractionRequest, { usersByName }: DevIdpSettings): Promise<void> {
  const { oidc, req, res, uid, details, clientName } = request;
  if (req.method !== 'POST' || details.prompt.name !== 'login') {
    sendHtml(res, 400, messagePage('Sign-in error', 'Unexpected sign-in request; start again.'));
    return;
  }
  const form = await readForm(req);
  const username = (form.get('username') ?? '').trim();
  const user = usersByName.get(username);
  // Compare even for unknown users so timing does not reveal which usernames exist.
  const ok = passwordMatches(user?.password ?? randomBytes(16).toString('hex'), form.get('password') ?? '');
  if (!user || !ok) {
    sendHtml(res, 401, loginPage({ uid, clientName, username, error: 'Invalid username or password.' }));
    return;
  }
  await oidc.interactionFinished(
    req,
    res,
    { login: { accountId: user.username, amr: ['pwd'] } },
    { mergeWithLastSubmission: false },
  );
}

async function showPrompt(request: InteractionRequest, settings: DevIdpSettings): Promise<void> {
  const { req, res, uid, details, clientName } = request;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendHtml(res, 405, messagePage('Sign-in error', 'Method not allowed.'));
    return;
  }
  switch (details.prompt.name) {
    case 'login': {
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : undefined;
      sendHtml(res, 200, loginPage({ uid, clientName, username: hint }));
      return;
    }
    case 'consent':
      await consent(request, settings);
      return;
    default:
      sendHtml(res, 501, messagePage('Sign-in error', `Unsupported prompt ${details.prompt.name}.`));
  }
}

async function consent(request: InteractionRequest, { publicClientId }: DevIdpSettings): Promise<void> {
  const { oidc, req, res, details, clientId, clientName } = request;
  // Portcullis is the first-party client: consent is implied. Any other client is refused.
  if (clientId !== publicClientId || !details.session) {
    sendHtml(res, 403, messagePage('Sign-in error', `Client ${clientName} cannot be authorized here.`));
    return;
  }
  const grant = details.grantId
    ? ((await oidc.Grant.find(details.grantId)) ??
      new oidc.Grant({ accountId: details.session.accountId, clientId }))
    : new oidc.Grant({ accountId: details.session.accountId, clientId });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await oidc.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function passwordMatches(expected: string, actual: string): boolean {
  return timingSafeEqual(digest(expected), digest(actual));
}
