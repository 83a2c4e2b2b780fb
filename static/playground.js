// Playground: a public client running authorization code + PKCE (S256) against this bridge.
(function () {
  "use strict";
  var el = document.getElementById("pg");
  var clientId = el.dataset.clientId, redirectUri = el.dataset.redirectUri, scope = el.dataset.scope;
  var status = document.getElementById("pg-status");
  var store = window.sessionStorage;

  function b64url(bytes) {
    var s = "";
    bytes = new Uint8Array(bytes);
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function random() { var a = new Uint8Array(32); crypto.getRandomValues(a); return b64url(a); }
  function decodeJWT(t) {
    var p = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    while (p.length % 4) p += "=";
    var bin = atob(p), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return JSON.parse(new TextDecoder().decode(bytes));
  }
  function show(id, v) { document.getElementById(id).textContent = typeof v === "string" ? v : JSON.stringify(v, null, 2); }
  function say(s) { status.textContent = s; }

  function tokenRequest(params) {
    var body = new URLSearchParams(params);
    body.set("client_id", clientId);
    return fetch("/oauth/token", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: body })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error + ": " + (j.error_description || "")); return j; }); });
  }
  function received(tok) {
    store.setItem("pg.tokens", JSON.stringify(tok));
    show("pg-tokens", Object.assign({}, tok, { access_token: "(" + tok.access_token.length + " characters)", refresh_token: tok.refresh_token ? "(" + tok.refresh_token.length + " characters)" : undefined, id_token: "(see above)" }));
    if (tok.id_token) show("pg-idtoken", decodeJWT(tok.id_token));
    document.getElementById("pg-refresh").disabled = !tok.refresh_token;
    document.getElementById("pg-logout").disabled = false;
    return fetch("/userinfo", { headers: { Authorization: "Bearer " + tok.access_token } })
      .then(function (r) { return r.json(); }).then(function (u) { show("pg-userinfo", u); });
  }

  document.getElementById("pg-login").addEventListener("click", function () {
    var verifier = random(), state = random(), nonce = random();
    store.setItem("pg.verifier", verifier); store.setItem("pg.state", state); store.setItem("pg.nonce", nonce);
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(function (d) {
      var q = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: scope,
        state: state, nonce: nonce, code_challenge: b64url(d), code_challenge_method: "S256" });
      window.location.assign("/authorize?" + q.toString());
    });
  });
  document.getElementById("pg-refresh").addEventListener("click", function () {
    var tok = JSON.parse(store.getItem("pg.tokens") || "{}");
    say("Refreshing…");
    tokenRequest({ grant_type: "refresh_token", refresh_token: tok.refresh_token })
      .then(received).then(function () { say("Refreshed: a new refresh token replaced the old one."); })
      .catch(function (e) { say("Refresh failed: " + e.message); });
  });
  document.getElementById("pg-logout").addEventListener("click", function () {
    var tok = JSON.parse(store.getItem("pg.tokens") || "{}");
    store.removeItem("pg.tokens");
    var q = new URLSearchParams({ id_token_hint: tok.id_token || "", post_logout_redirect_uri: redirectUri, client_id: clientId });
    window.location.assign("/end_session?" + q.toString());
  });

  var params = new URLSearchParams(window.location.search);
  if (params.get("error")) {
    say("The bridge answered: " + params.get("error") + (params.get("error_description") ? " — " + params.get("error_description") : ""));
  } else if (params.get("code")) {
    if (params.get("state") !== store.getItem("pg.state")) { say("State mismatch: refusing the response."); return; }
    say("Exchanging the code…");
    tokenRequest({ grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri, code_verifier: store.getItem("pg.verifier") })
      .then(function (tok) {
        if (tok.id_token && decodeJWT(tok.id_token).nonce !== store.getItem("pg.nonce")) throw new Error("nonce mismatch");
        window.history.replaceState(null, "", redirectUri);
        return received(tok);
      })
      .then(function () { say("Signed in. This is what an app receives."); })
      .catch(function (e) { say("Sign-in failed: " + e.message); });
  } else if (store.getItem("pg.tokens")) {
    received(JSON.parse(store.getItem("pg.tokens"))).catch(function () {});
  }
})();
