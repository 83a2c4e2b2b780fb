// Passkeys (WebAuthn) on the login page, the second-factor step and the security page. The
// server keeps each ceremony's state; this script only carries the options to the browser's
// authenticator and its answer back (form posts with the page's CSRF token).
(function () {
  "use strict";

  function post(url, fields) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      body: new URLSearchParams(fields),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          throw new Error(j.error || "That did not work. Reload the page and try again.");
        }
        return j;
      });
    });
  }

  function supported() {
    return window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON &&
      PublicKeyCredential.parseCreationOptionsFromJSON;
  }

  function fail(box, err) {
    var msg = err && err.message ? err.message : String(err);
    if (err && err.name === "NotAllowedError") {
      msg = "The passkey request was cancelled or timed out. Try again.";
    }
    box.textContent = msg;
    box.classList.remove("hidden");
  }

  // get runs an assertion: begin -> navigator.credentials.get -> finish -> go on.
  function get(beginURL, finishURL, fields, box, button) {
    button.disabled = true;
    post(beginURL, fields).then(function (b) {
      var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(b.options.publicKey);
      return navigator.credentials.get({ publicKey: publicKey }).then(function (cred) {
        var f = Object.assign({}, fields, { ceremony: b.ceremony, credential: JSON.stringify(cred.toJSON()) });
        return post(finishURL, f);
      });
    }).then(function (done) {
      window.location.assign(done.next);
    }).catch(function (err) {
      button.disabled = false;
      fail(box, err);
    });
  }

  function create(beginURL, finishURL, fields, box, button) {
    button.disabled = true;
    post(beginURL, fields).then(function (b) {
      var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(b.options.publicKey);
      return navigator.credentials.create({ publicKey: publicKey }).then(function (cred) {
        var f = Object.assign({}, fields, { ceremony: b.ceremony, credential: JSON.stringify(cred.toJSON()) });
        return post(finishURL, f);
      });
    }).then(function (done) {
      window.location.assign(done.next);
    }).catch(function (err) {
      button.disabled = false;
      fail(box, err);
    });
  }

  function init() {
    var box = document.getElementById("passkey-error");
    var signin = document.getElementById("passkey-signin");
    var step = document.getElementById("passkey-step");
    var add = document.getElementById("passkey-add");
    var parts = [signin, step, add].filter(Boolean);
    if (!supported()) {
      parts.forEach(function (p) { p.classList.add("hidden"); });
      return;
    }
    if (signin) {
      var b1 = document.getElementById("passkey-signin-button");
      b1.addEventListener("click", function () {
        get("/login/passkey/begin", "/login/passkey/finish",
          { csrf: signin.dataset.csrf, id: signin.dataset.request }, box, b1);
      });
    }
    if (step) {
      var b2 = document.getElementById("passkey-use");
      b2.addEventListener("click", function () {
        get("/login/mfa/passkey/begin", "/login/mfa/passkey/finish",
          { csrf: step.dataset.csrf, c: step.dataset.challenge }, box, b2);
      });
    }
    if (add) {
      // A first passkey may need an invitation code (mfa.first_enrolment: invitation).
      var invite = function () {
        var i = document.getElementById("passkey-invite");
        return i ? i.value : "";
      };
      var b3 = document.getElementById("passkey-register");
      b3.addEventListener("click", function () {
        create("/account/security/passkey/begin", "/account/security/passkey/finish",
          { csrf: add.dataset.csrf, name: document.getElementById("passkey-name").value, invite: invite() }, box, b3);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
