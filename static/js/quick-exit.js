/* "Quitter rapidement": one click (or Shift pressed three times) blanks the page and replaces
   the location with a neutral site, so that this page is not the one Back returns to.
   Without JavaScript the button is a plain link to the same site. Escape is deliberately not
   used: in most browsers it stops a page from loading. */
(function () {
  "use strict";
  var SHIFT_PRESSES = 3;
  var WINDOW_MS = 1500;

  function leave(url) {
    try {
      document.title = "";
      document.documentElement.classList.add("quick-exit-leaving");
      document.body.textContent = "";
    } finally {
      window.location.replace(url);
    }
  }

  function init() {
    var button = document.querySelector("[data-quick-exit]");
    if (!button) { return; }
    var url = button.getAttribute("href");
    button.addEventListener("click", function (event) {
      event.preventDefault();
      leave(url);
    });
    var presses = [];
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Shift" || event.repeat) {
        if (event.key !== "Shift") { presses = []; }
        return;
      }
      var now = Date.now();
      presses = presses.filter(function (t) { return now - t < WINDOW_MS; });
      presses.push(now);
      button.setAttribute("data-presses", String(presses.length));
      if (presses.length >= SHIFT_PRESSES) { leave(url); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
