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

  // After an htmx swap (outerHTML replaces the target, so look in the document): the crisis
  // pause takes the focus first, then a field with an error (its text is kept), then alerts.
  document.addEventListener("htmx:afterSettle", function () {
    var pause = document.querySelector("[data-crisis-level]");
    if (pause) { pause.focus(); return; }
    var invalid = document.querySelector("form [aria-invalid=true]");
    if (invalid) { invalid.focus(); return; }
    var alerts = document.getElementById("alerts");
    if (alerts && alerts.firstElementChild) {
      alerts.setAttribute("tabindex", "-1");
      alerts.focus();
    }
  });

  // Clear old alerts when a new request starts.
  document.addEventListener("htmx:beforeRequest", function () {
    var alerts = document.getElementById("alerts");
    if (alerts) { alerts.textContent = ""; }
  });
})();
