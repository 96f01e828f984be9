/* Entrepairs: small progressive enhancements. Everything works without this file. */
(function () {
  "use strict";

  // focus() alone centres an element taller than the screen (a long post or the pause on a
  // phone), its beginning above it: such an element is shown from its top, below the
  // quick-exit bar (html's scroll-padding-top); a shorter one moves only as far as it must.
  function focusFromTop(element) {
    element.focus({ preventScroll: true });
    var tall = element.getBoundingClientRect().height > window.innerHeight * 0.8;
    element.scrollIntoView({ block: tall ? "start" : "nearest" });
  }

  // After an htmx reply, the server asks (HX-Trigger-After-Settle: forum:posted) to move the
  // focus to the new post, so keyboard and screen-reader users land on what they wrote.
  document.addEventListener("forum:posted", function (event) {
    var id = event.detail && event.detail.post;
    var post = id && document.getElementById(id);
    if (post) {
      // The author's calm line with the lines, under their post, is then in sight in full.
      focusFromTop(post);
      var help = post.querySelector(".crisis-line");
      if (help) { help.scrollIntoView({ block: "nearest" }); }
    }
  });

  // A control that htmx replaces (a support reaction, "Suivre ce fil", "Bloquer …") keeps the
  // focus: how to find it is remembered before the swap and it is found again in the new
  // content (a link may hand the focus to what replaces it by sharing its data-focus-key), and
  // the change is said in the polite live region (#alerts), never by moving the reader.
  // Swaps of elements marked data-quiet-swap (the header counts, polled) never move focus;
  // each event asks its own request's element (a poll may land between a reader's request
  // and its settling).
  function quiet(event) {
    var elt = event.detail.elt || event.detail.target;
    return Boolean(elt && elt.hasAttribute && elt.hasAttribute("data-quiet-swap"));
  }

  // How to find the control again: its data-focus-key, or, for a button with a value (a
  // support reaction: the page holds one per post, so they carry no key), that value inside
  // the swapped element, found again by its id.
  function focusSelector(control, target) {
    var key = control.getAttribute("data-focus-key");
    if (key) { return '[data-focus-key="' + CSS.escape(key) + '"]'; }
    if (!control.form || !control.value || !target.id) { return null; }
    return "#" + CSS.escape(target.id) + ' button[value="' + CSS.escape(control.value) + '"]';
  }

  var refocus = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (quiet(event)) { return; }
    var target = event.detail.target;
    var active = document.activeElement;
    var inside = active && target && target.contains(active);
    refocus = inside ? focusSelector(active, target) : null;
  });

  function announcement(control) {
    var text = control.getAttribute("data-announce");
    if (text) { return text; }
    var strings = document.getElementById("announcements");
    if (!strings || !control.hasAttribute("aria-pressed")) { return ""; }
    var pressed = control.getAttribute("aria-pressed") === "true";
    var template = strings.getAttribute(pressed ? "data-pressed" : "data-unpressed") || "";
    return template.replace("{label}", control.textContent.trim());
  }

  function restoreFocus() {
    if (!refocus) { return false; }
    var selector = refocus;
    refocus = null;
    var control = document.querySelector(selector);
    if (!control) { return false; }
    control.focus();
    var alerts = document.getElementById("alerts");
    var text = announcement(control);
    if (alerts && text) { alerts.textContent = text; }
    return true;
  }

  // After an htmx swap (outerHTML replaces the target, so look in the document): the crisis
  // pause takes the focus first, then the control that was used (or what it handed the focus
  // to), then a field with an error (its text is kept), then alerts.
  var shownPause = null;
  document.addEventListener("htmx:afterSettle", function (event) {
    if (quiet(event)) { return; }
    var pause = document.querySelector("[data-crisis-level]");
    if (pause) {
      // Once per pause: another swap on the page (a reaction) does not scroll back to it.
      refocus = null;
      if (pause !== shownPause) { shownPause = pause; focusFromTop(pause); }
      return;
    }
    if (restoreFocus()) { return; }
    var invalid = document.querySelector("form [aria-invalid=true]");
    if (invalid) { invalid.focus(); return; }
    var alerts = document.getElementById("alerts");
    if (alerts && alerts.firstElementChild) {
      alerts.setAttribute("tabindex", "-1");
      alerts.focus();
    }
  });

  // Clear old alerts when a new request of the reader's starts (not a polled count).
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (quiet(event)) { return; }
    var alerts = document.getElementById("alerts");
    if (alerts) { alerts.textContent = ""; }
  });

  // Live updates (forum/web/live.py): one event stream per page, for a member (their notices,
  // the queues they moderate) and on a thread page (its new posts). An event is only a hint:
  // the page asks the usual route, which checks access. Without this, pages poll as before.
  var posts = document.getElementById("posts");
  var thread = posts && posts.getAttribute("data-thread");
  var queueNews = document.getElementById("queue-news");
  var member = document.getElementById("unread-notifications");
  if (!window.EventSource || !window.htmx || !(thread || member)) { return; }

  function refresh(id) {
    var element = document.getElementById(id);
    if (element) { window.htmx.trigger(element, "forum:live"); }
  }

  var news = document.getElementById("thread-news");
  var newest = posts ? Number(posts.getAttribute("data-last")) || 0 : 0;

  function shown() {
    return Number(posts.getAttribute("data-last")) || 0;
  }

  function showNews() {
    var count = newest - shown();
    if (!news || count <= 0) { if (news) { news.textContent = ""; } return; }
    var onThisPage = newest <= Number(posts.getAttribute("data-page-end"));
    var text = count === 1 ? news.getAttribute("data-one")
      : news.getAttribute("data-many").replace("{count}", String(count));
    var link = document.createElement("a");
    link.className = "button button--small";
    link.href = news.getAttribute("data-href");
    link.textContent = news.getAttribute(onThisPage ? "data-show" : "data-go");
    if (onThisPage) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        showNewPosts();
      });
    }
    news.textContent = text + " ";
    news.appendChild(link);
  }

  function showNewPosts() {
    var before = shown();
    var url = "/t/" + thread + "/nouveaux?apres=" + before;
    window.htmx.ajax("GET", url, { target: "#posts", swap: "beforeend" }).then(function () {
      var cards = posts.querySelectorAll("article.post[data-number]");
      var last = cards.length ? Number(cards[cards.length - 1].getAttribute("data-number")) : before;
      posts.setAttribute("data-last", String(Math.max(before, last)));
      newest = Math.max(newest, last);
      news.textContent = news.getAttribute("data-added");
      var first = posts.querySelector('article.post[data-number="' + (before + 1) + '"]')
        || (cards.length ? cards[cards.length - 1] : null);
      if (first && Number(first.getAttribute("data-number")) > before) {
        focusFromTop(first);
      }
    });
  }

  // A reply of this reader's own, appended by htmx, raises what the page already shows.
  document.addEventListener("htmx:afterSettle", function () {
    if (!posts) { return; }
    var cards = posts.querySelectorAll("article.post[data-number]");
    if (!cards.length) { return; }
    var last = Number(cards[cards.length - 1].getAttribute("data-number"));
    if (last > shown()) { posts.setAttribute("data-last", String(last)); showNews(); }
  });

  var url = "/live" + (thread ? "?thread=" + encodeURIComponent(thread) : "");
  var stream = new EventSource(url);
  stream.addEventListener("notices", function () { refresh("unread-notifications"); });
  stream.addEventListener("queue", function () {
    refresh("mod-link");
    if (queueNews && !queueNews.firstChild) {
      var reload = document.createElement("a");
      reload.className = "button button--small";
      reload.href = window.location.pathname + window.location.search;
      reload.textContent = queueNews.getAttribute("data-reload");
      queueNews.textContent = queueNews.getAttribute("data-text") + " ";
      queueNews.appendChild(reload);
    }
  });
  // A group session's calm pace (templates/thread/_session.html): new messages are announced
  // together, at most every two minutes, for a reader who asks for it (kept in this browser).
  var calm = document.querySelector("[data-calm-pace]");
  var CALM_MS = 120000;
  var calmTimer = null;
  if (calm) {
    try { calm.checked = window.localStorage.getItem("forum:calm-pace") === "1"; } catch (e) { /* private mode */ }
    calm.addEventListener("change", function () {
      try { window.localStorage.setItem("forum:calm-pace", calm.checked ? "1" : "0"); } catch (e) { /* private mode */ }
      if (!calm.checked) { window.clearTimeout(calmTimer); calmTimer = null; showNews(); }
    });
  }

  function announce() {
    if (!(calm && calm.checked)) { showNews(); return; }
    if (calmTimer === null) {
      calmTimer = window.setTimeout(function () { calmTimer = null; showNews(); }, CALM_MS);
    }
  }

  stream.addEventListener("posts", function (event) {
    var data = JSON.parse(event.data || "{}");
    if (!posts || String(data.thread) !== thread) { return; }
    newest = Math.max(newest, Number(data.last) || 0);
    announce();
  });
  stream.addEventListener("ended", function () { stream.close(); });
  window.addEventListener("pagehide", function () { stream.close(); });
})();

// A group session's start, in the reader's own time zone (templates/groups/_when.html): the
// server wrote it in their region's time; this browser knows better where its reader is.
(function () {
  "use strict";
  if (!window.Intl || !window.Intl.DateTimeFormat) { return; }
  var lang = document.documentElement.getAttribute("lang") || "fr";
  var times = document.querySelectorAll("time.local-time[datetime]");
  Array.prototype.forEach.call(times, function (element) {
    var when = new Date(element.getAttribute("datetime"));
    if (isNaN(when.getTime())) { return; }
    var format = new window.Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short" });
    element.textContent = format.format(when);
    var zone = element.parentNode && element.parentNode.querySelector(".local-time__zone");
    if (zone) { zone.textContent = zone.getAttribute("data-local"); }
  });
})();
