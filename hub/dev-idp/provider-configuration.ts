// How oidc-provider is set up for Portcullis: which clients exist, which claims a token carries, and the
// features and lifetimes that make the IdP issue what the header of index.ts promises.

import type * as OidcProviderModule from 'oidc-provider';
import type { Account, ClientMetadata, Configuration, Interaction, TokenModel } from 'oidc-provider';
import type { DevUser } from './demo.ts';
import { logoutPage, messagePage } from './pages.ts';
import { SIGNING_ALG, type DevIdpSettings } from './settings.ts';
import type { SigningState } from './signing-state.ts';

type ProviderErrors = (typeof OidcProviderModule)['errors'];

export function providerConfiguration(
  settings: DevIdpSettings,
  state: SigningState,
  errors: ProviderErrors,
): Configuration {
  const { publicClientId } = settings;
  return {
    adapter: state.store.adapter,
    jwks: { keys: [state.signingKey as Record<string, unknown>] },
    cookies: {
      keys: state.cookieKeys,
      // Browsers share cookies across ports of one host: keep clear of anything else on 127.0.0.1.
      names: {
        session: 'portcullis_idp_session',
        interaction: 'portcullis_idp_interaction',
        resume: 'portcullis_idp_resume',
      },
    },
    clients: clients(settings),
    ...tokenClaims(settings),
    // Refresh tokens for the desktop app whether or not it asked for offline_access: OIDC Core §11 only
    // honours offline_access together with prompt=consent, and the loopback client should not need that.
    // They do not end with the IdP browser session either (the browser is not the app).
    issueRefreshToken: (_ctx, client, source) =>
      client.grantTypeAllowed('refresh_token') &&
      (client.clientId === publicClientId || source.scopes.has('offline_access')),
    expiresWithSession: () => false,
    features: features(settings, errors),
    interactions: { url: (_ctx, interaction: Interaction) => `/interaction/${interaction.uid}` },
    clientBasedCORS: () => false,
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = messagePage('Sign-in error', out.error_description ?? out.error, { error: out.error });
    },
    ttl: lifetimes(settings.accessTokenTtl),
  };
}

/** The public client of people (desktop app, CLI) and one confidential client per agent. */
function clients({ publicClientId, redirectUris, agents }: DevIdpSettings): ClientMetadata[] {
  return [
    {
      client_id: publicClientId,
      client_name: 'Portcullis',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      post_logout_redirect_uris: redirectUris,
    },
    ...agents.map((agent): ClientMetadata => ({
      client_id: agent.clientId,
      client_secret: agent.clientSecret,
      client_name: agent.name,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: agent.tokenEndpointAuthMethod ?? 'client_secret_basic',
    })),
  ];
}

/** Who a token names: a person's profile and groups, or an agent's name and groups. */
function tokenClaims(
  settings: DevIdpSettings,
): Pick<Configuration, 'claims' | 'findAccount' | 'extraTokenClaims'> {
  const { groupsClaim, usersByName, agentsById } = settings;
  const personClaims = (user: DevUser): Record<string, unknown> => ({
    name: user.name,
    preferred_username: user.username,
    email: user.email,
    email_verified: true,
    [groupsClaim]: [...user.groups],
  });
  return {
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: [groupsClaim],
    },
    findAccount(_ctx, sub): Account | undefined {
      const user = usersByName.get(sub);
      if (!user) return undefined;
      return { accountId: user.username, claims: () => ({ sub: user.username, ...personClaims(user) }) };
    },
    extraTokenClaims(_ctx, token: TokenModel) {
      if (token.kind === 'ClientCredentials') {
        const agent = token.clientId === undefined ? undefined : agentsById.get(token.clientId);
        return agent ? { name: agent.name, [groupsClaim]: [...agent.groups] } : undefined;
      }
      const user = token.accountId === undefined ? undefined : usersByName.get(token.accountId);
      return user ? personClaims(user) : undefined;
    },
  };
}

function features(settings: DevIdpSettings, errors: ProviderErrors): Configuration['features'] {
  const { resource, audience, accessTokenTtl } = settings;
  return {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: {
      enabled: true,
      allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
    },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource(ctx, form) {
        ctx.type = 'html';
        ctx.body = logoutPage(form);
      },
      postLogoutSuccessSource(ctx) {
        ctx.type = 'html';
        ctx.body = messagePage('Signed out', 'You have signed out of the development identity provider.');
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf ?? resource,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, indicator) {
        if (indicator !== resource) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        return {
          scope: '',
          audience,
          accessTokenTTL: accessTokenTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: SIGNING_ALG } },
        };
      },
    },
  };
}

function lifetimes(accessTokenTtl: number): Configuration['ttl'] {
  return {
    AccessToken: accessTokenTtl,
    ClientCredentials: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    Grant: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
    RefreshToken: 14 * 24 * 3600,
  };
}
