/* "Quitter rapidement": one click (or Shift pressed three times, even while typing in a text
   field: what was being written is not kept) blanks the page and leaves for a neutral site.

   So that Back does not show the forum, this page's history entry and a few new ones are first
   given the address WAY_OUT: the forum answers it with a redirect to the same neutral site
   (GET /sortie, forum/web/pages.py). Back from the neutral site lands on one of them; the
   browser asks the forum for it again and is sent on to the neutral site. Only after
   BACK_PRESSES presses does Back reach the forum page read before this one. Measured in
   Chromium in tests/browser/test_crisis_flows.py; what stays in the browser's history is said
   on /help.

   Chromium's Back button skips the entries a page adds before it was ever clicked or typed in
   (its "history manipulation intervention"), and pressing Shift alone is neither: after
   Shift x3 on a page only read, its Back button goes straight to the forum page before.

   Without JavaScript the button is a plain link to the neutral site, and Back returns to the
   page left. Escape is deliberately not used: in most browsers it stops a page from loading. */
(function () {
  "use strict";
  var SHIFT_PRESSES = 3;
  var WINDOW_MS = 1500;
  var WAY_OUT = "/sortie";  /* forum/web/pages.py QUICK_EXIT_PATH */
  var BACK_PRESSES = 5;
  var neutralUrl = null;
  var leaving = false;

  function blank() {
    document.title = "";
    document.documentElement.classList.add("quick-exit-leaving");
    if (document.body) { document.body.textContent = ""; }
  }

  function coverTracks() {
    /* This entry and BACK_PRESSES new ones become WAY_OUT; the last one is then replaced by
       the neutral site itself, which leaves BACK_PRESSES of them behind it. */
    window.history.replaceState(null, "", WAY_OUT);
    for (var i = 0; i < BACK_PRESSES; i++) {
      window.history.pushState(null, "", WAY_OUT);
    }
  }

  function leave(url) {
    if (leaving) { return; }
    leaving = true;
    try {
      blank();
      coverTracks();
    } catch (ignored) {
      /* Leaving matters more than the history: go anyway. */
    } finally {
      window.location.replace(url);
    }
  }

  /* A browser that kept this page in memory may show it again on one of the WAY_OUT entries
     (Back, or a Back pressed before the neutral site answered): leave again at once. */
  function leaveAgainIfOnTheWayOut() {
    if (neutralUrl && window.location.pathname === WAY_OUT) {
      blank();
      window.location.replace(neutralUrl);
    }
  }

  function init() {
    var button = document.querySelector("[data-quick-exit]");
    if (!button) { return; }
    neutralUrl = button.getAttribute("href");
    button.addEventListener("click", function (event) {
      event.preventDefault();
      leave(neutralUrl);
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
      if (presses.length >= SHIFT_PRESSES) { leave(neutralUrl); }
    });
  }

  window.addEventListener("pageshow", leaveAgainIfOnTheWayOut);
  window.addEventListener("popstate", leaveAgainIfOnTheWayOut);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
