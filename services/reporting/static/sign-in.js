// Signing in to the dashboard with the OpenID Connect provider: the authorization-code flow with
// PKCE (S256), `state` and `nonce` checked, endpoints from the issuer's discovery document.
// The tokens live in this page's memory only (never localStorage or sessionStorage): a reload
// forgets them, and "Sign in" brings them back in one click while the provider's session lasts.
// sessionStorage holds only the sign-in in flight (state, nonce, code verifier, where the user
// was) for the round trip to the provider's page, and loses it as soon as the page is back.
"use strict";

const PENDING_SIGN_IN = "jiph.reporting.sign-in";

const session = {
  config: null, // `/dashboard/config.json`: {sign_in, issuer, client_id}
  provider: null, // the issuer's discovery document
  tokens: null, // {access, refresh, id}: memory only
  renewal: null, // the timer that renews the tokens before the access token expires
  changed: (reason) => {}, // set by the page: signed in (reason undefined) or out (why)
};

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const randomText = () => base64url(crypto.getRandomValues(new Uint8Array(32)));
const redirectUri = () => `${location.origin}${location.pathname}`;

function claimsOf(jwt) {
  const text = atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
}

/** Reads the sign-in configuration and the provider's endpoints; false when there is none. */
async function loadProvider() {
  session.config = await (await fetch("/dashboard/config.json")).json();
  if (!session.config.sign_in) return false;
  const answer = await fetch(`${session.config.issuer}/.well-known/openid-configuration`);
  if (!answer.ok) throw new Error(`the provider's discovery document answered ${answer.status}`);
  session.provider = await answer.json();
  if (session.provider.issuer !== session.config.issuer) throw new Error("the provider names another issuer");
  return true;
}

/** Off to the provider's login page; back at this page (`returnTo`: its fragment) after. */
async function signIn(returnTo) {
  const pending = { state: randomText(), nonce: randomText(), verifier: randomText(), returnTo };
  const challenge = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pending.verifier));
  sessionStorage.setItem(PENDING_SIGN_IN, JSON.stringify(pending));
  const url = new URL(session.provider.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    response_mode: "fragment", // the code never reaches a server's logs or a Referer
    client_id: session.config.client_id,
    redirect_uri: redirectUri(),
    scope: "openid",
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: base64url(challenge),
    code_challenge_method: "S256",
  });
  location.assign(url.toString());
}

/** The provider's answer in the fragment (`#state=…&code=…` or `…&error=…`), if this is one. */
function providerAnswer() {
  const params = new URLSearchParams(location.hash.slice(1));
  return params.has("state") && (params.has("code") || params.has("error")) ? params : null;
}

/** Exchanges the provider's code for tokens; the URL is the user's page again at once. */
async function completeSignIn(params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_SIGN_IN) || "null");
  sessionStorage.removeItem(PENDING_SIGN_IN);
  history.replaceState(null, "", `${location.pathname}${location.search}${pending?.returnTo || ""}`);
  if (!pending || params.get("state") !== pending.state) throw new Error("an answer to a sign-in this page did not start");
  if (params.has("error")) throw new Error(params.get("error_description") || params.get("error"));
  if (params.has("iss") && params.get("iss") !== session.config.issuer) throw new Error("an answer from another issuer");
  const tokens = await tokenRequest({
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  const id = claimsOf(tokens.id_token);
  const audiences = [].concat(id.aud);
  if (id.nonce !== pending.nonce) throw new Error("the ID token is not this sign-in's (nonce)");
  if (id.iss !== session.config.issuer || !audiences.includes(session.config.client_id)) {
    throw new Error("the ID token is not for this dashboard");
  }
  keep(tokens);
}

async function tokenRequest(fields) {
  const answer = await fetch(session.provider.token_endpoint, {
    method: "POST",
    body: new URLSearchParams({ client_id: session.config.client_id, ...fields }),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.error_description || body.error || `${answer.status}`);
  return body;
}

function keep(tokens) {
  session.tokens = {
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    id: tokens.id_token || session.tokens?.id,
  };
  clearTimeout(session.renewal);
  const lifetime = Number(tokens.expires_in) || 60;
  // Renewed a minute before it expires (half-way for short lives), so no call meets an expired one.
  session.renewal = setTimeout(renew, Math.max(lifetime / 2, lifetime - 60) * 1000);
  session.changed();
}

/** A new access token with the refresh token; signed out (and told why) when that fails. */
async function renew() {
  if (!session.tokens?.refresh) return forget("Signed out: the session ended.");
  try {
    keep(await tokenRequest({ grant_type: "refresh_token", refresh_token: session.tokens.refresh }));
  } catch (error) {
    forget(`Signed out: the session could not be renewed (${error.message}).`);
  }
}

function forget(reason) {
  clearTimeout(session.renewal);
  session.tokens = null;
  session.changed(reason || "Signed out.");
}

/** Ends the provider's session too, and comes back to this page signed out. */
function signOut() {
  const idToken = session.tokens?.id;
  forget();
  const endpoint = session.provider?.end_session_endpoint;
  if (!endpoint || !idToken) return;
  const url = new URL(endpoint);
  url.search = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: redirectUri() });
  location.assign(url.toString());
}

const accessToken = () => session.tokens?.access || null;
