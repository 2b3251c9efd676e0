// A real OpenID Connect provider (oidc-provider) for the end-to-end tests.
//
// Environment:
//   OIDC_PORT           port to listen on, on 127.0.0.1; the issuer is http://127.0.0.1:$OIDC_PORT
//   OIDC_CLIENT_ID      the one confidential client's id
//   OIDC_CLIENT_SECRET  its secret, sent to /token with client_secret_basic (the openidconnect
//                       crate's default) or client_secret_post: oidc-provider accepts either
//   OIDC_REDIRECT_URI   its redirect URI (several may be given, separated by spaces or commas)
//
// Prints `ready <issuer>` on stdout once it listens. Everything is kept in memory, so each
// start is a fresh provider. See README.md.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value || !value.trim()) {
    console.error(`provider.mjs: ${name} must be set`);
    process.exit(2);
  }
  return value.trim();
}

const port = Number(required('OIDC_PORT'));
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`provider.mjs: OIDC_PORT=${process.env.OIDC_PORT} is not a port`);
  process.exit(2);
}
const clientId = required('OIDC_CLIENT_ID');
const clientSecret = required('OIDC_CLIENT_SECRET');
const redirectUris = required('OIDC_REDIRECT_URI').split(/[\s,]+/).filter(Boolean);

const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;

// A fresh RS256 signing key for each start (RS256 is what ID token verifiers such as the
// openidconnect crate accept by default). Clients find it through jwks_uri.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

// Any login is accepted; the account id (and so the ID token's `sub`) is the login text.
function account(accountId) {
  return {
    accountId,
    async claims() {
      return { sub: accountId, name: `Test ${accountId}`, preferred_username: accountId };
    },
  };
}

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    application_type: 'web',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  // Fixed test key: these cookies only ever live on 127.0.0.1 for one test run.
  cookies: {
    keys: ['otop-market-test-oidc-cookie-key'],
    // The default long (session) cookie is SameSite=None, which browsers drop when it is not
    // Secure, and over plain http it is not. Lax keeps it, and every request that needs it is
    // a same-site one or a top-level GET navigation.
    long: { signed: true, httpOnly: true, sameSite: 'lax' },
    short: { signed: true, httpOnly: true, sameSite: 'lax' },
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
  },
  // Put the profile claims in the ID token too, not only in userinfo (by default they are
  // left out of ID tokens issued at the token endpoint).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
  },
  // PKCE is allowed (S256 only); it is required only for public clients (the default).
  pkce: { methods: ['S256'] },
  findAccount(ctx, sub) {
    return account(sub);
  },
  // Consent is automatic: a grant of whatever OIDC scopes and claims the request asks for
  // is established just in time, so the consent prompt never shows.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    if (!grant) {
      grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    }
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    const claims = oidc.requestParamClaims ? [...oidc.requestParamClaims] : [];
    if (claims.length) grant.addOIDCClaims(claims);
    await grant.save();
    return grant;
  },
  interactions: {
    url(ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>oidc error</title></head>`
      + `<body><h1 id="oidc-error">${escapeHtml(out.error)}</h1>`
      + `<p>${escapeHtml(out.error_description ?? '')}</p></body></html>`;
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => console.error('oidc server_error:', error));

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, params, message) {
  return `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Test OpenID Connect provider: sign in</title></head>
<body>
<h1>Sign in</h1>
<p>Client <code id="client-id">${escapeHtml(params.client_id)}</code> asks for <code id="scope">${escapeHtml(params.scope ?? '')}</code>.</p>
${message ? `<p id="login-error">${escapeHtml(message)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="login">Login</label>
<input type="text" id="login" name="login" autofocus>
<button type="submit" id="sign-in">Sign in</button>
</form>
</body>
</html>
`;
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, contentType, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

const oidcCallback = provider.callback();
const interactionRoute = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/;

const server = createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const match = interactionRoute.exec(path);
  if (!match) {
    oidcCallback(req, res);
    return;
  }
  const [, uid, login] = match;
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) {
      send(res, 400, 'text/plain; charset=utf-8', 'interaction mismatch\n');
      return;
    }
    const { prompt, params } = details;
    if (!login && req.method === 'GET') {
      if (prompt.name === 'login') {
        send(res, 200, 'text/html; charset=utf-8', loginPage(uid, params));
        return;
      }
      // Any other prompt (consent should not happen, see loadExistingGrant): agree to it.
      await provider.interactionFinished(req, res, { consent: {} }, { mergeWithLastSubmission: true });
      return;
    }
    if (login && req.method === 'POST') {
      const form = await readForm(req);
      const accountId = (form.get('login') ?? '').trim();
      if (!accountId) {
        send(res, 200, 'text/html; charset=utf-8', loginPage(uid, params, 'Enter a login.'));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
      return;
    }
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  } catch (error) {
    // e.g. the interaction expired or its cookie is missing.
    send(res, 400, 'text/plain; charset=utf-8', `interaction failed: ${error.message}\n`);
  }
});

server.on('error', (error) => {
  console.error(`provider.mjs: cannot listen on ${host}:${port}: ${error.message}`);
  process.exit(1);
});

server.listen(port, host, () => {
  process.stdout.write(`ready ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
