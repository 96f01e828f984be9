/* Entrepairs: small progressive enhancements. Everything works without this file. */
(function () {
  "use strict";

  // After an htmx reply, the server asks (HX-Trigger-After-Settle: forum:posted) to move the
  // focus to the new post, so keyboard and screen-reader users land on what they wrote.
  document.addEventListener("forum:posted", function (event) {
    var id = event.detail && event.detail.post;
    var post = id && document.getElementById(id);
    if (post) {
      post.focus();
      post.scrollIntoView({ block: "nearest" });
    }
  });

  // When htmx swaps a form back with an error, focus the first invalid field (the text kept).
  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.detail && event.detail.target;
    if (!root || !root.querySelector) { return; }
    var invalid = root.querySelector("[aria-invalid=true]");
    if (invalid) { invalid.focus(); return; }
    if (root.id === "alerts" && root.firstElementChild) {
      root.setAttribute("tabindex", "-1");
      root.focus();
    }
  });

  // Clear old alerts when a new request starts.
  document.addEventListener("htmx:beforeRequest", function () {
    var alerts = document.getElementById("alerts");
    if (alerts) { alerts.textContent = ""; }
  });
})();
