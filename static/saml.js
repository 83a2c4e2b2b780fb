// The SAML pages: submit the form carrying the SAML message to the app at once, or follow the
// link that carries it (HTTP-Redirect binding). A file, not an inline script, so the page's
// Content-Security-Policy (script-src 'self') allows it; the Continue button and link do the
// same without scripts. A page marked data-history="push" (a step of the single logout chain)
// goes on only once it has loaded: a navigation started while a page loads replaces it in the
// history, and the member who comes back from an app that did not answer is to find it there
// (asked of the bridge again, not restored as it was).
(function () {
  var form = document.getElementById("saml-post");
  var link = document.getElementById("saml-redirect");
  var el = form || link;
  if (!el) {
    return;
  }
  function go() {
    if (form) {
      form.submit();
    } else {
      window.location.assign(link.href);
    }
  }
  if (el.getAttribute("data-history") !== "push") {
    go();
    return;
  }
  // Back from the app (the page restored from the back-forward cache): ask the bridge again,
  // which now offers to go on without the app rather than send the member there again.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) {
      window.location.reload();
    }
  });
  if (document.readyState === "complete") {
    window.setTimeout(go, 0);
  } else {
    window.addEventListener("load", function () {
      window.setTimeout(go, 0);
    });
  }
})();
