/* Live Scoreboard page: plain JavaScript, no build step, no dependencies.
 *
 * Data: GET /api/scores/stream (Server-Sent Events, `event: scoreboard`, `id: <version>`,
 * `data: {"topScores": [...], "version": V}`) and GET /api/scores/top (the same JSON, with an
 * ETag). Versions only go up, so a snapshot older than the one shown is ignored.
 *
 * Connection states, shown in #status[data-state]:
 *   live          the EventSource is open;
 *   reconnecting  it failed and the browser is reconnecting by itself (also the first
 *                 "Connecting…" before it opens);
 *   polling       streaming failed repeatedly (or is refused, or EventSource is missing):
 *                 poll /api/scores/top with If-None-Match, and try streaming again now and
 *                 then.
 *
 * Timings can be overridden before this script runs (tests do), e.g.
 *   window.SCOREBOARD_OPTIONS = { pollMs: 500, streamRetryMs: 1000 };
 */
(function () {
  "use strict";

  var DEFAULTS = {
    pollMs: 5000, // how often to poll while streaming is unavailable
    failuresBeforePolling: 3, // stream errors in a row (without an open) before polling
    reconnectGraceMs: 20000, // longest "reconnecting" before polling anyway
    streamRetryMs: 60000, // while polling, how often to try streaming again
    highlightMs: 1800, // how long a changed row stays highlighted
    maxRows: 10,
  };
  var options = Object.assign({}, DEFAULTS, window.SCOREBOARD_OPTIONS || {});

  var body = document.body;
  var STREAM_URL = body.getAttribute("data-stream-url") || "/api/scores/stream";
  var TOP_URL = body.getAttribute("data-top-url") || "/api/scores/top";

  var rowsEl = document.getElementById("board-rows");
  var statusEl = document.getElementById("status");
  var statusText = statusEl.querySelector(".status-text");
  var metaEl = document.getElementById("board-meta");
  var versionEl = document.getElementById("board-version");
  var updatedEl = document.getElementById("board-updated");

  var numberFormat = new Intl.NumberFormat();
  var timeFormat = new Intl.DateTimeFormat(undefined, {
    hour: "numeric", minute: "2-digit", second: "2-digit",
  });
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  var shownVersion = -1;
  var rows = new Map(); // userId -> <tr>

  // ---------------------------------------------------------------- the board

  function render(snapshot) {
    if (!snapshot || typeof snapshot.version !== "number" ||
        !Array.isArray(snapshot.topScores)) {
      return;
    }
    // Versions only go up; the same version is the same board.
    if (snapshot.version <= shownVersion) return;
    var firstRender = shownVersion < 0;
    shownVersion = snapshot.version;

    var entries = snapshot.topScores
      .filter(function (e) { return e && e.userId != null; })
      .sort(function (a, b) { return a.rank - b.rank; })
      .slice(0, options.maxRows);
    var animate = !firstRender && !reducedMotion.matches;

    // FLIP, First: where every row is now (including any transform still running).
    var before = new Map();
    rows.forEach(function (row) { before.set(row, row.getBoundingClientRect().top); });

    Array.prototype.slice.call(rowsEl.querySelectorAll("tr.placeholder"))
      .forEach(function (row) { row.remove(); });

    var next = new Map();
    entries.forEach(function (entry, index) {
      var id = String(entry.userId);
      var row = rows.get(id);
      var isNew = !row;
      if (isNew) row = createRow(id);
      fillRow(row, entry, isNew, firstRender);
      next.set(id, row);
      if (rowsEl.children[index] !== row) {
        rowsEl.insertBefore(row, rowsEl.children[index] || null);
      }
    });
    rows.forEach(function (row, id) {
      if (!next.has(id)) row.remove();
    });
    rows = next;

    if (!entries.length) rowsEl.appendChild(emptyRow());

    // FLIP, Last + Invert + Play: move each row back to where it was, then let it glide.
    if (animate) {
      var moved = [];
      rows.forEach(function (row) {
        if (!before.has(row)) return;
        var dy = before.get(row) - row.getBoundingClientRect().top;
        if (Math.abs(dy) < 1) return;
        row.style.transition = "none";
        row.style.transform = "translateY(" + dy + "px)";
        // A row climbing past others is drawn above them; the ones it passes slide under.
        row.classList.remove("rising", "sinking");
        row.classList.add("moving", dy > 0 ? "rising" : "sinking");
        moved.push(row);
      });
      if (moved.length) {
        void rowsEl.offsetHeight; // commit the inverted positions before playing
        moved.forEach(function (row) {
          row.style.transition = "";
          row.style.transform = "";
          settle(row);
        });
      }
    }
    showMeta(snapshot.version);
  }

  function el(tag, className, decorative) {
    var node = document.createElement(tag);
    node.className = className;
    if (decorative) node.setAttribute("aria-hidden", "true");
    return node;
  }

  function createRow(id) {
    var row = document.createElement("tr");
    row.setAttribute("data-user-id", id);

    var rank = el("td", "rank");
    rank.append(el("span", "rank-badge"), el("span", "move", true));

    var player = el("th", "player");
    player.scope = "row";
    var wrap = el("span", "player-cell");
    var avatar = el("span", "avatar", true);
    avatar.style.setProperty("--hue", String(hue(id)));
    wrap.append(avatar, el("span", "name"));
    player.append(wrap);

    var score = el("td", "score");
    score.append(el("span", "score-value"), el("span", "delta", true));

    row.append(rank, player, score);
    return row;
  }

  function fillRow(row, entry, isNew, firstRender) {
    var rank = Number(entry.rank);
    var score = Number(entry.score);
    var name = String(entry.displayName || entry.userId);
    var oldRank = Number(row.getAttribute("data-rank"));
    var oldScore = Number(row.getAttribute("data-score"));

    row.setAttribute("data-rank", String(rank));
    row.setAttribute("data-score", String(score));
    // Names come from users: always textContent, never HTML.
    row.querySelector(".rank-badge").textContent = String(rank);
    row.querySelector(".name").textContent = name;
    row.querySelector(".name").title = name;
    row.querySelector(".avatar").textContent = initial(name);
    row.querySelector(".score-value").textContent = numberFormat.format(score);

    if (firstRender) return;
    if (isNew) {
      replay(row, "entering", 600); // short: moving a row in the DOM restarts its animations
      replay(row, "changed");
      return;
    }
    if (score !== oldScore) {
      var delta = row.querySelector(".delta");
      var diff = score - oldScore;
      delta.textContent = (diff > 0 ? "+" : "−") + numberFormat.format(Math.abs(diff));
      replay(delta, "show");
      replay(row, "changed");
    }
    if (rank !== oldRank) {
      var move = row.querySelector(".move");
      var up = rank < oldRank;
      move.textContent = (up ? "▲" : "▼") + Math.abs(oldRank - rank);
      move.classList.remove("up", "down");
      move.classList.add(up ? "up" : "down");
      replay(move, "show");
    }
  }

  function emptyRow() {
    var row = document.createElement("tr");
    row.className = "placeholder empty";
    var cell = document.createElement("td");
    cell.colSpan = 3;
    var title = document.createElement("strong");
    title.textContent = "No scores yet";
    var hint = document.createElement("span");
    hint.textContent = "The first points scored will show up here.";
    cell.append(title, hint);
    row.append(cell);
    return row;
  }

  /** Restart a one-shot CSS animation class on an element, and drop it afterwards. */
  function replay(el, cls, ms) {
    el.classList.remove(cls);
    void el.offsetWidth;
    el.classList.add(cls);
    clearTimeout(el["_" + cls]);
    el["_" + cls] = setTimeout(function () {
      el.classList.remove(cls);
    }, ms || options.highlightMs);
  }

  /** Drop the "moving" layer once a row's transform transition has ended. */
  function settle(row) {
    clearTimeout(row._moving);
    row._moving = setTimeout(function () {
      row.classList.remove("moving", "rising", "sinking");
    }, 800);
  }

  function initial(name) {
    var first = Array.from(name.trim())[0];
    return first ? first.toLocaleUpperCase() : "?";
  }

  function hue(id) {
    var h = 0;
    for (var i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  function showMeta(version) {
    var now = new Date();
    versionEl.textContent = numberFormat.format(version);
    updatedEl.textContent = timeFormat.format(now);
    updatedEl.dateTime = now.toISOString();
    metaEl.hidden = false;
  }

  // ---------------------------------------------------------------- connection

  var LABELS = {
    live: "Live",
    reconnecting: "Reconnecting…",
    polling: "Polling every " + Number((options.pollMs / 1000).toFixed(1)) + " s",
  };
  var state = null;
  var source = null; // the EventSource in use (or being tried while polling)
  var failures = 0; // stream errors since it was last open
  var graceTimer = null;
  var pollTimer = null;
  var retryTimer = null;
  var polling = false;
  var inFlight = false;
  var etag = null;

  function setState(next, label) {
    label = label || LABELS[next];
    state = next;
    // Touch the live region only when something changed: it announces changes, not updates.
    if (statusEl.getAttribute("data-state") !== next) statusEl.setAttribute("data-state", next);
    if (statusText.textContent !== label) statusText.textContent = label;
  }

  function openStream() {
    var es;
    try {
      es = new EventSource(STREAM_URL);
    } catch (err) {
      startPolling();
      return;
    }
    source = es;
    if (!polling) armGrace();
    es.addEventListener("open", function () {
      if (es !== source) return;
      failures = 0;
      clearTimeout(graceTimer);
      graceTimer = null;
      stopPolling();
      setState("live");
    });
    es.addEventListener("scoreboard", function (event) {
      if (es !== source) return;
      var snapshot;
      try {
        snapshot = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      render(snapshot);
    });
    es.addEventListener("error", function () {
      if (es !== source) return;
      if (polling) {
        // A try at going back to streaming failed: keep polling, try again later.
        es.close();
        source = null;
        scheduleStreamRetry();
        return;
      }
      failures += 1;
      // CLOSED: the server refused the stream (an error status, not an event stream);
      // the browser will not retry it, so poll at once.
      if (es.readyState === EventSource.CLOSED || failures >= options.failuresBeforePolling) {
        startPolling();
        return;
      }
      setState("reconnecting");
      armGrace();
    });
  }

  /** Poll anyway if the stream stays unopened too long: a connection attempt that hangs
   * (a proxy holding the response back, say) fires no error to count. */
  function armGrace() {
    if (graceTimer) return;
    graceTimer = setTimeout(function () {
      graceTimer = null;
      if (state === "reconnecting") startPolling();
    }, options.reconnectGraceMs);
  }

  function startPolling() {
    clearTimeout(graceTimer);
    graceTimer = null;
    if (source) {
      source.close();
      source = null;
    }
    failures = 0;
    polling = true;
    setState("polling");
    poll();
    scheduleStreamRetry();
  }

  function stopPolling() {
    polling = false;
    clearTimeout(pollTimer);
    clearTimeout(retryTimer);
    pollTimer = retryTimer = null;
  }

  function scheduleStreamRetry() {
    if (!("EventSource" in window)) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () {
      if (polling && !source) openStream();
    }, options.streamRetryMs);
  }

  function poll() {
    clearTimeout(pollTimer);
    if (!polling || inFlight) return; // an answer on its way schedules the next poll
    if (document.hidden) {
      // Nobody is looking: check again when the page is shown (see visibilitychange).
      pollTimer = setTimeout(poll, options.pollMs);
      return;
    }
    inFlight = true;
    var headers = { Accept: "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    fetch(TOP_URL, { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 304) return null;
        if (!response.ok) throw new Error("HTTP " + response.status);
        var tag = response.headers.get("ETag");
        return response.json().then(function (snapshot) {
          if (tag) etag = tag;
          return snapshot;
        });
      })
      .then(function (snapshot) {
        if (snapshot) render(snapshot);
      })
      .catch(function () {
        // Offline or a server error: keep the board as it is and try again next time.
      })
      .then(function () {
        inFlight = false;
        if (polling) pollTimer = setTimeout(poll, options.pollMs);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && polling) poll();
  });
  window.addEventListener("online", function () {
    if (polling && !source && "EventSource" in window) openStream();
  });

  state = statusEl.getAttribute("data-state"); // "Connecting…" until the stream opens
  if ("EventSource" in window) {
    openStream();
  } else {
    startPolling();
  }
})();
