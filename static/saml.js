// The SAML post page: submit the form carrying the SAML message to the app at once. A file, not
// an inline script, so the page's Content-Security-Policy (script-src 'self') allows it; the
// Continue button does the same without scripts.
(function () {
  var form = document.getElementById("saml-post");
  if (form) {
    form.submit();
  }
})();
