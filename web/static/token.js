// token.js runs on the pages a mailed link opens, and nowhere else. The
// link carries its token in the fragment (#...), which a browser never
// sends to a server; this puts the token in the form's hidden field, shows
// the parts of the form for a link ([data-with-token]) in place of the
// others ([data-without-token]), and takes the token out of the address
// bar, so that it stays out of the history, a bookmark or a screen share.
(function () {
  "use strict";
  var token = location.hash.slice(1);
  if (location.hash) {
    history.replaceState(null, "", location.pathname + location.search);
  }
  var field = document.querySelector('input[type=hidden][name="token"]');
  // A token is base64url; anything else in the fragment is not one.
  if (!field || !/^[A-Za-z0-9_-]{16,128}$/.test(token)) {
    return;
  }
  field.value = token;
  document.querySelectorAll("[data-with-token]").forEach(function (el) { el.hidden = false; });
  // Removed, not hidden: their required fields would stop the form, and
  // the API takes a token or an address and code, never both.
  document.querySelectorAll("[data-without-token]").forEach(function (el) { el.remove(); });
  // The first thing left to fill in or press, for the keyboard.
  var first = field.form.querySelector("input:not([type=hidden]), button");
  if (first) {
    first.focus();
  }
})();
