// A real OpenID provider (panva's oidc-provider) for audmw's end-to-end tests and demo.
//
//   node provider.mjs config.json      (or AUDMW_E2E_PROVIDER_CONFIG=config.json node provider.mjs)
//
// config.json:
//   {
//     "issuer": "http://127.0.0.1:PORT",  "port": PORT,  "host": "127.0.0.1",
//     "keys": [<private JWKs; the first key of each type signs>],
//     "clients": [{"client_id": "...", "client_secret": "...", "access_token_alg": "ES256"?,
//                  "token_endpoint_auth_method": "private_key_jwt"?, "jwks": {...}?}],
//     "resources": {"https://api.example.com": {"scope": "a b", "alg": "RS256", "ttl": 300}},
//     "authorization_details_types": ["payment_initiation"],
//     "exit_with_stdin": false
//   }
//
// Tokens are requested the way any client does: POST /token with client_secret_basic (or
// the client's own token_endpoint_auth_method: client_secret_post, private_key_jwt),
// grant_type=client_credentials, resource=<one of "resources">, scope=<space-separated>.
// Without resource= the token is opaque, as RFC 8707 servers issue it. With
// authorization_details=<JSON array> (RFC 9396), entries of the configured types, each an
// object with a "type", are granted as requested and carried in the JWT access token.
import { readFileSync } from 'node:fs';

import Provider, { errors } from 'oidc-provider';

const path = process.argv[2] || process.env.AUDMW_E2E_PROVIDER_CONFIG;
if (!path) {
  console.error('usage: node provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(path, 'utf8'));
const url = new URL(config.issuer);
const port = Number(config.port || url.port);
const host = config.host || url.hostname;

// RFC 9396: every configured type is accepted as the client asks for it (a test provider's
// policy); an entry must be an object, which oidc-provider checks before validate runs.
const detailTypes = Object.fromEntries(
  (config.authorization_details_types || []).map((type) => [type, {
    validate(ctx, detail) {
      if (typeof detail !== 'object' || detail === null) {
        throw new errors.InvalidAuthorizationDetails('an entry must be an object');
      }
    },
  }]),
);

// access_token_alg is this script's own option: which key signs the client's JWT access tokens.
const tokenAlgs = new Map();
const clients = config.clients.map(({ access_token_alg: alg, ...client }) => {
  if (alg) tokenAlgs.set(client.client_id, alg);
  return {
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    ...(Object.keys(detailTypes).length ? { authorization_details_types: Object.keys(detailTypes) } : {}),
    ...client,
  };
});

const provider = new Provider(config.issuer, {
  clients,
  jwks: { keys: config.keys },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // A token request with a DPoP proof gets a DPoP-bound token (cnf.jkt), RFC 9449 §5.
    dPoP: { enabled: true },
    introspection: { enabled: true },
    richAuthorizationRequests: {
      enabled: Object.keys(detailTypes).length > 0,
      types: detailTypes,
      authorizationDetailsForAccessToken: (ctx) => JSON.parse(ctx.oidc.params.authorization_details),
      authorizationDetailsForIntrospection: (ctx, token) => token.rar,
      authorizationDetailsForGrantSource: (ctx, source) => source.rar,
    },
    resourceIndicators: {
      enabled: true,
      // No resource= means no resource server: the token stays opaque.
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator, client) => {
        const resource = config.resources[resourceIndicator];
        if (!resource) throw new errors.InvalidTarget();
        return {
          scope: resource.scope,
          audience: resource.audience || resourceIndicator,
          accessTokenTTL: resource.ttl || 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: tokenAlgs.get(client.clientId) || resource.alg || 'RS256' } },
        };
      },
    },
  },
  ttl: { ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL || 300 },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const server = provider.listen(port, host, () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Started by a parent that keeps our stdin open: stop when it goes away, even if killed.
if (config.exit_with_stdin) {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
