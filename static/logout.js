// The signed-out page: once every app's front-channel logout frame has loaded (or after a few
// seconds, whichever comes first), continue to where the app asked to return. A file, not an
// inline script, so the page's Content-Security-Policy (script-src 'self') allows it; the
// page's Refresh header does the same for browsers without scripts.
(function () {
  var next = document.getElementById("continue");
  if (!next) {
    return;
  }
  var frames = document.querySelectorAll("iframe.frontchannel");
  var left = frames.length;
  var gone = false;
  function go() {
    if (!gone) {
      gone = true;
      window.location.replace(next.href);
    }
  }
  for (var i = 0; i < frames.length; i++) {
    frames[i].addEventListener("load", function () {
      left--;
      if (left <= 0) {
        go();
      }
    });
  }
  if (left === 0) {
    go();
  }
  window.setTimeout(go, 3000);
})();
