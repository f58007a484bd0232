/* Live column: applies the server's events (seq-numbered HTML of the one post partial) to the page.
 * Plain JavaScript, no build. The page says where it starts (data-last-seq); every event after that
 * is applied once, in seq order; a gap or a reconnect fetches what is missing from the catch-up URL. */
(function () {
  "use strict";
  var root = document.querySelector(".column[data-live]");
  if (!root) return;

  var slug = root.getAttribute("data-column");
  var eventsUrl = root.getAttribute("data-events-url");
  var socketOrigin = root.getAttribute("data-socket-origin");
  var lastSeq = parseInt(root.getAttribute("data-last-seq") || "0", 10);
  var stream = document.getElementById("posts");
  var button = root.querySelector(".new-updates");
  var announcer = root.querySelector(".live-announcer");
  // Close codes, event kinds and frame fields come from the server (liveblog/protocol.py), never typed here.
  var protocol = JSON.parse(document.getElementById("liveblog-protocol").textContent);
  var FIELD = protocol.fields;
  var SHOWING = {};
  protocol.showing.forEach(function (kind) {
    SHOWING[kind] = true;
  });
  var early = {}; // seq -> event that arrived before its predecessors
  var held = []; // new posts waiting behind the button while the reader is scrolled away

  // ---- Applying events -------------------------------------------------------------

  function receive(event) {
    if (event[FIELD.SEQ] <= lastSeq || early[event[FIELD.SEQ]]) return; // a duplicate
    if (event[FIELD.SEQ] > lastSeq + 1) {
      early[event[FIELD.SEQ]] = event;
      catchUp(true);
      return;
    }
    apply(event);
    lastSeq = event[FIELD.SEQ];
    root.setAttribute("data-last-seq", String(lastSeq));
    var next = early[lastSeq + 1];
    if (next) {
      delete early[lastSeq + 1];
      receive(next);
    }
    for (var seq in early) if (+seq <= lastSeq) delete early[seq];
  }

  function apply(event) {
    var kind = event[FIELD.KIND];
    if (kind === protocol.kinds.COLUMN_ENDED || kind === protocol.kinds.COLUMN_REOPENED) return columnState(kind);
    keyEvent(event);
    var existing = document.getElementById("post-" + event[FIELD.POST_ID]);
    var heldIndex = indexHeld(event[FIELD.POST_ID]);
    if (!SHOWING[kind]) {
      if (existing) existing.remove();
      if (heldIndex >= 0) held.splice(heldIndex, 1);
      return updateButton();
    }
    var post = parse(event[FIELD.HTML]);
    if (!post) return;
    relative(post);
    if (heldIndex >= 0) {
      held[heldIndex] = post;
    } else if (existing && isPinned(existing) === isPinned(post)) {
      existing.replaceWith(post); // an edit replaces in place
    } else {
      if (existing) existing.remove();
      if (!isPinned(post) && stream.getBoundingClientRect().top < 0) {
        held.push(post); // inserting above the reader would move the page: wait behind the button
        updateButton();
      } else {
        place(post, !existing);
      }
      if (kind === protocol.kinds.PUBLISHED) announce(post);
    }
  }

  // The "Key events" list: the server renders each entry (key_html); it goes, newest first, or leaves.
  function keyEvent(event) {
    var nav = root.querySelector(".key-events");
    var list = nav && nav.querySelector("ul");
    if (!list) return;
    var old = list.querySelector('li[data-post-id="' + event[FIELD.POST_ID] + '"]');
    if (old) old.remove();
    if (SHOWING[event[FIELD.KIND]] && event[FIELD.KEY_HTML]) {
      var template = document.createElement("template");
      template.innerHTML = event[FIELD.KEY_HTML];
      var item = template.content.querySelector("li");
      var when = publishedAt(item);
      var before = null;
      for (var i = 0; i < list.children.length && !before; i++) {
        if (publishedAt(list.children[i]) <= when) before = list.children[i];
      }
      list.insertBefore(item, before);
    }
    nav.hidden = list.children.length === 0;
  }

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content.querySelector("article.post");
  }

  function indexHeld(postId) {
    for (var i = 0; i < held.length; i++) if (held[i].getAttribute("data-post-id") === String(postId)) return i;
    return -1;
  }

  function isPinned(post) {
    return post.classList.contains("post-pinned");
  }

  function publishedAt(post) {
    var time = post.querySelector("time[datetime]");
    return time ? Date.parse(time.getAttribute("datetime")) : 0;
  }

  function container(post) {
    if (!isPinned(post)) return stream;
    var pinned = root.querySelector(".pinned-posts");
    if (!pinned) {
      pinned = document.createElement("section");
      pinned.className = "pinned-posts";
      pinned.setAttribute("aria-label", "Pinned");
      var anchor = root.querySelector(".live-bar") || stream;
      anchor.parentNode.insertBefore(pinned, anchor);
    }
    return pinned;
  }

  // Newest first, as the server renders it.
  function place(post, isNew) {
    var box = container(post);
    var empty = box.querySelector(".no-posts");
    if (empty) empty.remove();
    var when = publishedAt(post);
    var siblings = box.querySelectorAll(":scope > article.post");
    var before = null;
    for (var i = 0; i < siblings.length; i++) {
      if (publishedAt(siblings[i]) <= when) {
        before = siblings[i];
        break;
      }
    }
    // Older than everything on this page while older pages exist: it belongs on one of those.
    if (!before && box === stream && root.querySelector(".older-link")) return;
    if (isNew) post.classList.add("live-new");
    box.insertBefore(post, before);
  }

  function updateButton() {
    if (!button) return;
    button.hidden = held.length === 0;
    button.textContent = held.length === 1 ? "1 new update" : held.length + " new updates";
  }

  function showHeld() {
    var posts = held;
    held = [];
    updateButton();
    posts.forEach(function (post) {
      place(post, true);
    });
    stream.scrollIntoView({ behavior: reducedMotion() ? "auto" : "smooth", block: "start" });
  }

  function announce(post) {
    if (!announcer) return;
    var headline = post.querySelector(".post-headline");
    announcer.textContent = "New update: " + (headline ? headline.textContent.trim() : "");
  }

  // The badge for the new state, as the server renders it (templates/liveblog/_state_badge.html).
  function columnState(kind) {
    var badge = root.querySelector(".column-state");
    var badges = document.getElementById("liveblog-badges");
    if (!badge || !badges) return;
    var fresh = badges.content.querySelector(kind === protocol.kinds.COLUMN_ENDED ? ".badge-ended" : ".badge-live");
    badge.replaceWith(fresh.cloneNode(true));
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  if (button) button.addEventListener("click", showHeld);
  window.addEventListener(
    "scroll",
    function () {
      if (held.length && stream.getBoundingClientRect().top >= 0) showHeld();
    },
    { passive: true }
  );

  // ---- Catch-up over HTTP: after a gap, a reconnect, a wake-up; and polling without WebSockets ----

  var fetching = false;
  var again = false;

  function catchUp(fresh) {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    var asked = lastSeq;
    var url = eventsUrl + "?after=" + asked;
    fetch(url, { cache: fresh ? "no-cache" : "default", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("catch-up answered " + response.status);
        return response.json();
      })
      .then(function (data) {
        // Judged against what was asked: the socket may have delivered more while this answer was in
        // flight (or it came from a cache), and that is no reason to reload. Below `after` itself, the
        // column really went back (restored from a backup).
        if (data.last_seq < asked) return location.reload();
        data.events.forEach(receive);
        if (data.more) again = true;
      })
      .catch(function () {
        again = true;
        setTimeout(catchUp, 2000 + Math.random() * 2000);
      })
      .then(function () {
        fetching = false;
        if (again) {
          again = false;
          catchUp(true);
        }
      });
  }

  var pollTimer = null;
  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(function () {
      catchUp(false);
    }, 10000 + Math.random() * 5000);
  }
  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  // ---- The WebSocket ----------------------------------------------------------------

  var socket = null;
  var attempts = 0;
  var failures = 0;
  var reconnectTimer = null;
  var pingTimer = null;
  var pongDue = null;

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (!("WebSocket" in window)) return startPolling();
    if (socket && socket.readyState <= 1) return;
    // The server may serve sockets from an origin of their own (LIVE_SOCKET_ORIGIN, docs/settings.md).
    var origin = socketOrigin || (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
    var ws = new WebSocket(origin + "/ws/live/" + encodeURIComponent(slug) + "/?after=" + lastSeq);
    var opened = false;
    socket = ws;
    ws.onopen = function () {
      opened = true;
      root.setAttribute("data-live-state", "open");
      attempts = 0;
      failures = 0;
      stopPolling();
      pingTimer = setInterval(ping, 30000);
    };
    ws.onmessage = function (message) {
      if (message.data === protocol.pong) {
        clearTimeout(pongDue);
        return;
      }
      receive(JSON.parse(message.data));
    };
    ws.onclose = function (close) {
      root.setAttribute("data-live-state", "closed");
      clearInterval(pingTimer);
      clearTimeout(pongDue);
      if (socket === ws) socket = null;
      if (close.code === protocol.close.UNKNOWN_COLUMN) return; // the column is gone
      if (close.code === protocol.close.AHEAD) return location.reload();
      if (!opened && ++failures >= 3) startPolling(); // WebSockets blocked here: poll, keep trying
      // Dropped as too slow, or too far behind to replay: what was missed comes from the catch-up.
      if (close.code === protocol.close.SLOW || close.code === protocol.close.BEHIND) catchUp(true);
      reconnectLater();
    };
  }

  function ping() {
    if (!socket || socket.readyState !== 1) return;
    socket.send(protocol.ping);
    clearTimeout(pongDue);
    var ws = socket;
    pongDue = setTimeout(function () {
      ws.close(); // no answer: a dead connection (a sleeping laptop, a lost network)
    }, 10000);
  }

  // Backoff with full jitter: each reader waits a random part of the ceiling, so readers of a restarted
  // server come back spread evenly over it, not in waves. The ceiling doubles from 0.5 s to 4 s and stays
  // there for the first minute or so of failures (a restart takes seconds: readers are back within 4 s of
  // the server answering), then doubles on to 30 s for a long outage. bench/reconnect.py measures it.
  var RETRY_CEILINGS = [500, 1000, 2000];
  var RETRY_SHORT = 4000;
  var RETRY_SHORT_ATTEMPTS = 18;
  var RETRY_LONG = 30000;
  function retryCeiling(attempt) {
    if (attempt < RETRY_CEILINGS.length) return RETRY_CEILINGS[attempt];
    if (attempt < RETRY_SHORT_ATTEMPTS) return RETRY_SHORT;
    return Math.min(RETRY_LONG, RETRY_SHORT * Math.pow(2, attempt - RETRY_SHORT_ATTEMPTS + 1));
  }
  function reconnectLater() {
    if (reconnectTimer) return;
    reconnectTimer = setTimeout(connect, 100 + Math.random() * retryCeiling(attempts++));
  }

  function wake() {
    if (document.visibilityState === "hidden") return;
    catchUp(true);
    if (!socket) {
      attempts = 0;
      connect();
    }
  }
  document.addEventListener("visibilitychange", wake);
  window.addEventListener("online", wake);

  // ---- Relative times next to the GMT times -----------------------------------------

  var format = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat("en", { numeric: "auto" }) : null;
  var UNITS = [
    ["year", 31536000],
    ["month", 2592000],
    ["week", 604800],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];

  function describe(seconds) {
    if (seconds < 45) return "just now";
    for (var i = 0; i < UNITS.length; i++) {
      var amount = Math.floor(seconds / UNITS[i][1]);
      if (amount >= 1) return format ? format.format(-amount, UNITS[i][0]) : amount + " " + UNITS[i][0] + "s ago";
    }
    return "just now";
  }

  function relative(scope) {
    var now = Date.now();
    scope.querySelectorAll("time[data-relative]").forEach(function (time) {
      var when = Date.parse(time.getAttribute("datetime"));
      if (isNaN(when)) return;
      var label = time.nextElementSibling;
      if (!label || !label.classList.contains("relative-time")) {
        label = document.createElement("span");
        label.className = "relative-time";
        time.after(label);
      }
      label.textContent = " · " + describe(Math.max(0, (now - when) / 1000));
    });
  }

  relative(document);
  setInterval(function () {
    relative(document);
  }, 30000);

  // The entry point for events, also for debugging from the console (the page's own script could change it anyway).
  window.liveblogLive = { receive: receive };
  connect();
})();
