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
          var e = new Error(j.error || "That did not work. Reload the page and try again.");
          // A registration's finish refused before it used its ceremony (an invitation code
          // missing, wrong or throttled): the same answer may be sent again (create).
          e.kept = j.kept === true;
          e.invite = j.invite === true;
          throw e;
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

  // create runs a registration: begin -> navigator.credentials.create -> finish -> go on.
  // fields() reads the form (name, invitation code) when each request is sent. A finish refused
  // before it used its ceremony (err.kept) leaves the ceremony and the authenticator's answer
  // usable: they are kept in pending, and the next try sends them again with the form as it is
  // then (a code typed meanwhile), without a new ceremony, which would make another passkey on
  // the device. A code the page had no field for (err.invite: the member's other factor was
  // removed meanwhile) gets one now (pending.addInvite), so the ceremony is kept for it too.
  // Any other refusal forgets them: the next try begins again.
  function create(beginURL, finishURL, fields, box, button, pending) {
    button.disabled = true;
    var answered = pending.answer ? Promise.resolve(pending.answer) :
      post(beginURL, fields()).then(function (b) {
        var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(b.options.publicKey);
        return navigator.credentials.create({ publicKey: publicKey }).then(function (cred) {
          return { ceremony: b.ceremony, credential: JSON.stringify(cred.toJSON()) };
        });
      });
    answered.then(function (a) {
      return post(finishURL, Object.assign(fields(), a)).catch(function (err) {
        // Kept, the answer is sent again at the next try, with the code typed in the field this
        // page shows now if it had none.
        if (err.kept && err.invite && !pending.canInvite()) {
          pending.addInvite();
          err.message += " Type it above, then press the button again.";
        }
        pending.answer = err.kept ? a : null;
        throw err;
      });
    }).then(function (done) {
      pending.answer = null;
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
      var fields = function () {
        return { csrf: add.dataset.csrf, name: document.getElementById("passkey-name").value, invite: invite() };
      };
      // addInvite adds the invitation code's field, as the page shows it when a first factor
      // needs one (templates/security.html), before the button.
      var addInvite = function () {
        var label = document.createElement("label");
        label.htmlFor = "passkey-invite";
        label.textContent = "Invitation code";
        var hint = document.createElement("p");
        hint.className = "small muted";
        hint.id = "passkey-invite-hint";
        hint.textContent = "Setting up your first second factor needs the one-time invitation code the association gave you.";
        var input = document.createElement("input");
        input.id = "passkey-invite";
        input.type = "text";
        input.autocomplete = "off";
        input.setAttribute("autocapitalize", "none");
        input.spellcheck = false;
        input.maxLength = 40;
        input.required = true;
        input.setAttribute("aria-describedby", "passkey-invite-hint");
        add.insertBefore(label, b3);
        add.insertBefore(hint, b3);
        add.insertBefore(input, b3);
        input.focus();
      };
      var pending = { answer: null, addInvite: addInvite, canInvite: function () { return !!document.getElementById("passkey-invite"); } };
      b3.addEventListener("click", function () {
        create("/account/security/passkey/begin", "/account/security/passkey/finish", fields, box, b3, pending);
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
